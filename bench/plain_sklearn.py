"""The plain scikit-learn script: the benchmark's baseline, doing overfitcheck's work by hand.

What a data scientist would write: pandas reads the CSV, one preprocessing Pipeline (mean
imputation with missing indicators and scaling for numbers, one-hot for text) feeds each model,
and scikit-learn's own `cross_validate`, `validation_curve` and `learning_curve` do the fits,
n_jobs=1, default solver settings. The work matches `overfitcheck diagnose` with its defaults:

    unregularized  cross_validate on 5 folds                                  5 fits
    L1 and L2      validation_curve over 30 alphas x 5 folds each           300 fits
    all three      learning_curve at the best alpha, 8 sizes x 5 folds      120 fits
    all three      a final fit on all rows at the best alpha                  3 fits
                                                                            428 fits

`--alphas-subset K` and `--folds-subset F` fit only K of the 30 alphas (spread evenly over the
grid, both ends included) and F of the 5 folds, so bench/run.py can extrapolate a run that would
take too long: every phase reports its seconds, the fits it did and the fits the full run does.
A subset's best alphas are not the full grid's (of two alphas, the smaller one usually wins),
and a lasso's or saga's fit costs more the smaller its alpha: `--learning-alphas l1=A,l2=B`
gives the learning curves the alphas the full grid chooses (bench/run.py passes overfitcheck's,
which agree with scikit-learn's), so their phase costs what it costs in a full run.

    python bench/plain_sklearn.py data.csv --target y [--alphas-subset 3 --folds-subset 1]
        [--learning-alphas l1=0.002,l2=0.0003] [--json]
"""

from __future__ import annotations

from time import perf_counter

STARTED = perf_counter()  # before the heavy imports: they are part of the script's cost

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    KFold,
    StratifiedKFold,
    cross_validate,
    learning_curve,
    validation_curve,
)
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

N_ALPHAS = 30
N_FOLDS = 5
TRAIN_SIZES = np.linspace(0.1, 1.0, 8)
# The same grids as overfitcheck's defaults (overfitcheck/grid.py), on the scale of the
# preprocessed design: L1 from the smallest alpha that zeroes every coefficient down 1e-4x
# (glmnet's and scikit-learn's lasso_path rule); L2 from 100x the top eigenvalue of the
# centred Gram / n (predicts ~ the mean) down 1e-6x (~ least squares).
L1_RATIO = 1e-4
L2_TOP_FACTOR = 1e2
L2_RATIO = 1e-6
FAMILIES = ("none", "l1", "l2")


def preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    numbers = Pipeline([("impute", SimpleImputer(strategy="mean", add_indicator=True)),
                        ("scale", StandardScaler())])
    return ColumnTransformer([("num", numbers, numeric),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)])


def estimator(task: str, family: str, alpha: float, n_train: float):
    """The scikit-learn model for `family` at an alpha on overfitcheck's scale (see README)."""
    if task == "regression":
        if family == "none":
            return LinearRegression()
        if family == "l1":
            return Lasso(alpha=alpha)
        return Ridge(alpha=n_train * alpha)
    if family == "none":
        return LogisticRegression(C=np.inf)
    if family == "l1":
        # saga minimizes the same objective as ours (liblinear would penalize the intercept).
        return LogisticRegression(C=1 / (n_train * alpha), l1_ratio=1, solver="saga")
    return LogisticRegression(C=1 / (n_train * alpha))


def pipeline(prep: ColumnTransformer, task: str, family: str, alpha: float,
             n_train: float) -> Pipeline:
    return Pipeline([("prep", prep), ("model", estimator(task, family, alpha, n_train))])


def alpha_grids(Z: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    n = len(Z)
    Zc = Z - Z.mean(axis=0)
    r = y - y.mean()
    l1_top = float(np.max(np.abs(Zc.T @ r)) / n)
    l2_top = L2_TOP_FACTOR * float(np.linalg.eigvalsh(Zc.T @ Zc / n)[-1])
    return {"l1": np.logspace(np.log10(l1_top), np.log10(l1_top * L1_RATIO), N_ALPHAS),
            "l2": np.logspace(np.log10(l2_top), np.log10(l2_top * L2_RATIO), N_ALPHAS)}


def model_param(task: str, family: str, alphas: np.ndarray, n_train: float):
    """validation_curve's (param_name, param_range) for our alphas."""
    if task == "regression":
        return "model__alpha", alphas if family == "l1" else n_train * alphas
    return "model__C", 1 / (n_train * alphas)


def subset_indices(k: int) -> list[int]:
    """k alphas spread evenly over the grid, both ends included: a fit's cost depends on where
    its alpha sits (small alphas are the slow ones), so the first k would underestimate."""
    k = max(1, min(k, N_ALPHAS))
    if k == 1:
        return [N_ALPHAS - 1]
    return sorted({int(round(i)) for i in np.linspace(0, N_ALPHAS - 1, k)})


def learning_alphas(text: str) -> dict[str, float]:
    """--learning-alphas "l1=A,l2=B" -> {"l1": A, "l2": B}."""
    given: dict[str, float] = {}
    for item in filter(None, text.split(",")):
        family, _, value = item.partition("=")
        if family not in ("l1", "l2") or not value:
            raise argparse.ArgumentTypeError(f"expected l1=A,l2=B, got {text!r}")
        given[family] = float(value)
    return given


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--target", required=True)
    parser.add_argument("--alphas-subset", type=int, default=N_ALPHAS, metavar="K",
                        help="fit K of the 30 alphas of each family (spread over the grid)")
    parser.add_argument("--folds-subset", type=int, default=N_FOLDS, metavar="F",
                        help="fit F of the 5 folds")
    parser.add_argument("--learning-alphas", type=learning_alphas, default={},
                        metavar="l1=A,l2=B", help="the learning curves' alphas (on overfitcheck's "
                        "scale) instead of the best of those fitted")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the timings as JSON")
    args = parser.parse_args()
    folds_subset = max(1, min(args.folds_subset, N_FOLDS))
    indices = subset_indices(args.alphas_subset)

    phases: list[dict] = []

    def phase(name: str, fits_done: int, fits_total: int, started: float) -> None:
        phases.append({"name": name, "seconds": perf_counter() - started,
                       "fits_done": fits_done, "fits_total": fits_total})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = perf_counter()
        df = pd.read_csv(args.csv)
        y = df.pop(args.target).to_numpy()
        numeric = df.select_dtypes("number").columns.tolist()
        categorical = [c for c in df.columns if c not in numeric]
        task = "regression" if np.issubdtype(y.dtype, np.number) and len(np.unique(y)) > 10 \
            else "binary"
        phase("read", 0, 0, t)

        t = perf_counter()
        prep = preprocessor(numeric, categorical)
        Z = np.asarray(prep.fit_transform(df), dtype=float)
        y_num = y.astype(float) if task == "regression" else (y == np.unique(y)[-1]) * 1.0
        grids = alpha_grids(Z, y_num)
        n_features = Z.shape[1]
        del Z
        splitter = (KFold(N_FOLDS, shuffle=True, random_state=0) if task == "regression"
                    else StratifiedKFold(N_FOLDS, shuffle=True, random_state=0))
        folds = list(splitter.split(df, y))[:folds_subset]
        n_train = float(np.mean([len(train) for train, _ in folds]))
        scoring = "neg_root_mean_squared_error" if task == "regression" else "neg_log_loss"
        phase("grid", 0, 0, t)

        t = perf_counter()
        cross_validate(pipeline(prep, task, "none", 0.0, n_train), df, y, cv=folds,
                       scoring=scoring, return_train_score=True, n_jobs=args.n_jobs)
        phase("unregularized", folds_subset, N_FOLDS, t)

        best = {"none": 0.0}
        for family in ("l1", "l2"):
            t = perf_counter()
            alphas = grids[family][indices]
            name, values = model_param(task, family, alphas, n_train)
            _, validation = validation_curve(
                pipeline(prep, task, family, float(alphas[0]), n_train), df, y,
                param_name=name, param_range=values, cv=folds, scoring=scoring,
                n_jobs=args.n_jobs)
            best[family] = float(alphas[int(np.argmax(validation.mean(axis=1)))])
            phase(f"{family} validation_curve", len(indices) * folds_subset,
                  N_ALPHAS * N_FOLDS, t)

        chosen = dict(best)  # the validation curves' choice, reported as it is
        best.update(args.learning_alphas)
        t = perf_counter()
        for family in FAMILIES:
            learning_curve(pipeline(prep, task, family, best[family], n_train), df, y,
                           train_sizes=TRAIN_SIZES, cv=folds, scoring=scoring,
                           shuffle=True, random_state=0, n_jobs=args.n_jobs)
        per_family = len(TRAIN_SIZES) * len(FAMILIES)
        phase("learning_curve", per_family * folds_subset, per_family * N_FOLDS, t)

        t = perf_counter()
        for family in FAMILIES:
            pipeline(prep, task, family, best[family], len(df)).fit(df, y)
        phase("final fits", len(FAMILIES), len(FAMILIES), t)

    result = {
        "csv": args.csv, "task": task, "n_rows": len(df), "n_features": n_features,
        "alphas_subset": len(indices), "alpha_indices": indices, "folds_subset": folds_subset,
        "n_jobs": args.n_jobs, "phases": phases,
        "fits_done": sum(p["fits_done"] for p in phases),
        "fits_total": sum(p["fits_total"] for p in phases),
        "seconds": perf_counter() - STARTED,
        "best_alpha": chosen, "learning_alphas": best,
        "warnings": dict(Counter(w.category.__name__ for w in caught)),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"plain scikit-learn: {result['seconds']:.1f} s, {result['fits_done']} of "
              f"{result['fits_total']} model fits ({len(indices)} of {N_ALPHAS} alphas, "
              f"{folds_subset} of {N_FOLDS} folds), warnings: {result['warnings'] or 'none'}")
        for p in phases:
            print(f"  {p['name']:<24} {p['seconds']:8.2f} s  {p['fits_done']:>3} of "
                  f"{p['fits_total']:>3} fits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
