"""The engine agrees with scikit-learn's own estimators on the same folds, alphas, preprocessing."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import DATA, ROOT, reference_frame, reference_pipeline
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import cross_validate

from overfitcheck import forked
from overfitcheck.config import Config
from overfitcheck.dataset import load_dataset
from overfitcheck.grid import alpha_grids
from overfitcheck.paths import EXACT, fit_paths, nested_order, standardize
from overfitcheck.splits import Fold, learning_subsets, make_splits

REGRESSION_SCORING = {"rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error",
                      "r2": "r2"}
CLASS_SCORING = {"log_loss": "neg_log_loss", "accuracy": "accuracy",
                 "balanced_accuracy": "balanced_accuracy"}


def _as_error(metric: str, sklearn_scores: np.ndarray) -> np.ndarray:
    """scikit-learn's scorers are 'greater is better'; ours are errors."""
    if metric in ("rmse", "mae", "log_loss"):
        return -sklearn_scores
    return 1 - sklearn_scores


def _setup(path, **options):
    config = Config(**options)
    dataset = load_dataset(path, config)
    splits = make_splits(dataset, config)
    grids = alpha_grids(dataset, config)
    return config, dataset, splits, grids


def _telco_first_fold():
    """telco_churn's first training fold, standardized (5,634 rows, 41 features), its targets
    and the alpha grids: the Newton paths' tests fit it."""
    _, dataset, splits, grids = _setup(ROOT / "sample_data" / "telco_churn.csv", target="churn")
    train = splits.folds[0].train
    return standardize(dataset.X, train)[0], dataset.y[train], grids


def _objective(Xt, y, path, a, alpha, penalty):
    """A binary path's penalized mean log loss at its a-th alpha (y as 0/1), and its eta."""
    beta = path.coef[a, 0]
    eta = Xt @ beta + path.intercept[a, 0]
    penalty_term = alpha * (np.abs(beta).sum() if penalty == "l1" else 0.5 * beta @ beta)
    return np.mean(np.logaddexp(0, eta) - y * eta) + penalty_term, eta


def _reference(frame, dataset, splits, make_model, scoring, drop_first=False):
    """cross_validate fold by fold: the alpha -> sklearn mapping depends on n_train."""
    out = {f"{side}_{m}": [] for side in ("train", "test") for m in scoring}
    for fold in splits.folds:
        pipe = reference_pipeline(frame, dataset, make_model(fold.train.size), drop_first)
        ref = cross_validate(pipe, frame, dataset.y, cv=[(fold.train, fold.validation)],
                             scoring=scoring, return_train_score=True)
        for key in out:
            out[key].append(ref[key][0])
    return {key: np.array(values) for key, values in out.items()}


@pytest.mark.parametrize("drop_first", [False, True])
def test_regression_paths_match_sklearn_estimators(drop_first):
    path = DATA / "hitters.csv"
    config, dataset, splits, grids = _setup(path, target="Salary", drop_first=drop_first,
                                            cv=4)
    alphas = {"l1": grids["l1"][[3, 12, 25]], "l2": grids["l2"][[3, 12, 25]]}
    ours = fit_paths(dataset.X, dataset.y, "regression", 0, splits.folds,
                     {"none": np.array([0.0]), **alphas}, jobs=1)
    frame = reference_frame(path, dataset)
    cases = [("none", 0, lambda n: LinearRegression())]
    cases += [("l1", i, lambda n, a=a: Lasso(alpha=a, tol=1e-12, max_iter=1_000_000))
              for i, a in enumerate(alphas["l1"])]
    cases += [("l2", i, lambda n, a=a: Ridge(alpha=n * a)) for i, a in enumerate(alphas["l2"])]
    for penalty, i, make_model in cases:
        ref = _reference(frame, dataset, splits, make_model, REGRESSION_SCORING, drop_first)
        for metric in REGRESSION_SCORING:
            np.testing.assert_allclose(ours[penalty].validation[metric][i],
                                       _as_error(metric, ref[f"test_{metric}"]), rtol=1e-6,
                                       err_msg=f"{penalty} alpha #{i} {metric} validation")
            np.testing.assert_allclose(ours[penalty].train[metric][i],
                                       _as_error(metric, ref[f"train_{metric}"]), rtol=1e-6,
                                       err_msg=f"{penalty} alpha #{i} {metric} training")


def test_lasso_coefficients_on_all_rows_match_lasso():
    path = DATA / "diabetes.csv"
    config, dataset, splits, grids = _setup(path, target="target")
    ours = fit_paths(dataset.X, dataset.y, "regression", 0, splits.folds, {"l1": grids["l1"]})
    frame = reference_frame(path, dataset)
    for i in (0, 10, 29):
        pipe = reference_pipeline(frame, dataset, Lasso(alpha=grids["l1"][i], tol=1e-12,
                                                         max_iter=1_000_000))
        pipe.fit(frame, dataset.y)
        np.testing.assert_allclose(ours["l1"].coef[i, 0], pipe[-1].coef_, rtol=1e-6,
                                   atol=1e-8)
    # at alpha_max every coefficient is zero: the grid starts where glmnet's does
    assert np.all(ours["l1"].coef[0] == 0)
    assert np.any(ours["l1"].coef[1] != 0)


def _classification_agreement(path, target, with_none=True, **options):
    config, dataset, splits, grids = _setup(path, target=target, **options)
    picks = [8, 16]
    alphas = {"l1": grids["l1"][picks], "l2": grids["l2"][picks]}
    ours = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds,
                     {"none": np.array([0.0]), **alphas}, jobs=1)
    frame = reference_frame(path, dataset)
    cases = [("none", 0, lambda n: LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000))]
    cases = cases if with_none else []
    cases += [("l1", i, lambda n, a=a: LogisticRegression(
        C=1 / (n * a), l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=200_000))
        for i, a in enumerate(alphas["l1"])]
    cases += [("l2", i, lambda n, a=a: LogisticRegression(
        C=1 / (n * a), l1_ratio=0.0, tol=1e-10, max_iter=10_000))
        for i, a in enumerate(alphas["l2"])]
    for penalty, i, make_model in cases:
        ref = _reference(frame, dataset, splits, make_model, CLASS_SCORING)
        for metric in CLASS_SCORING:
            np.testing.assert_allclose(ours[penalty].validation[metric][i],
                                       _as_error(metric, ref[f"test_{metric}"]), rtol=1e-4,
                                       atol=1e-9, err_msg=f"{penalty} #{i} {metric}")
            np.testing.assert_allclose(ours[penalty].train[metric][i],
                                       _as_error(metric, ref[f"train_{metric}"]), rtol=1e-4,
                                       atol=1e-9, err_msg=f"{penalty} #{i} {metric} train")


def test_multiclass_logistic_paths_match_logistic_regression():
    # penguins: three classes, categoricals, missing values in numerics and categoricals. Its
    # classes are separable, so the unpenalized fit has no finite optimum to agree on.
    _classification_agreement(DATA / "penguins.csv", "species", with_none=False, cv=4, seed=1)


def test_binary_logistic_paths_match_logistic_regression(tmp_path):
    rng = np.random.default_rng(7)
    n = 320
    x = rng.normal(size=(n, 4))
    colour = rng.choice(["red", "green", "blue"], size=n)
    logit = 0.8 * x[:, 0] - 0.6 * x[:, 1] + (colour == "red") * 0.7
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    x[rng.random((n, 4)) < 0.05] = np.nan
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "d": x[:, 3],
                          "colour": colour, "label": y})
    path = tmp_path / "binary.csv"
    frame.to_csv(path, index=False)
    _classification_agreement(path, "label")


def test_standardization_never_sees_validation_rows():
    """No leakage: changing every validation row leaves all training-side numbers unchanged."""
    config, dataset, splits, grids = _setup(DATA / "penguins.csv", target="species")
    fold = splits.folds[0]
    poisoned = dataset.X.copy(order="A")  # same memory order: the same sums, bit for bit
    poisoned[fold.validation] = poisoned[fold.validation] * 1000 + 7
    poisoned[fold.validation[::3]] = np.nan
    for X in (dataset.X, poisoned):
        Xt, params, scale = standardize(X, fold.train)
        if X is dataset.X:
            clean = (Xt, params, scale)
    for got, want in zip((Xt, params, scale), clean, strict=True):
        np.testing.assert_array_equal(got, want)
    small = {"l1": grids["l1"][[5, 15]], "l2": grids["l2"][[5, 15]], "none": np.array([0.0])}
    a = fit_paths(dataset.X, dataset.y, dataset.task, 3, [fold], small, coef_on_all_rows=False)
    b = fit_paths(poisoned, dataset.y, dataset.task, 3, [fold], small, coef_on_all_rows=False)
    for penalty in small:
        for metric in a[penalty].train:
            np.testing.assert_array_equal(a[penalty].train[metric], b[penalty].train[metric])
        assert not np.allclose(a[penalty].validation["log_loss"],
                               b[penalty].validation["log_loss"])


def test_standardize_equals_simple_imputer_then_standard_scaler():
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 5)) * [1, 10, 100, 1e-3, 0]
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 4] = np.nan  # all missing in training: SimpleImputer keeps it as zeros
    train = np.arange(0, 50, 2)
    Xt, params, scale = standardize(X, train)
    pipe = make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True),
                         StandardScaler()).fit(X[train])
    np.testing.assert_allclose(Xt, pipe.transform(X[train]), rtol=1e-12, atol=1e-12)
    from overfitcheck.paths import apply_standardize
    rest = np.arange(1, 50, 2)
    np.testing.assert_allclose(apply_standardize(X, rest, params, scale), pipe.transform(X[rest]),
                               rtol=1e-12, atol=1e-12)


def test_standardize_leaves_the_callers_rows_alone():
    """It works in place on its copy of the rows; a slice of rows would be a view of X."""
    X = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 8.0]])
    before = X.copy()
    Xt, mean, scale = standardize(X, slice(0, 2))
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(mean, [2.0, 4.0])
    np.testing.assert_array_equal(Xt, [[-1.0, 0.0], [1.0, 0.0]])
    standardize(X, np.arange(3))
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("fork", [True, False], ids=["forked copies", "joblib"])
def test_class_fold_results_do_not_depend_on_jobs(monkeypatch, fork):
    """Folds fitted in two processes (forked copies on Linux, joblib's workers elsewhere) give
    the very numbers fitted in this one."""
    config, dataset, splits, grids = _setup(ROOT / "sample_data" / "telco_churn.csv",
                                            target="churn", cv=3)
    small = {"none": np.array([0.0]), **{p: a[[3, 9, 20]] for p, a in grids.items()}}
    one = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds, small,
                    jobs=1)
    monkeypatch.setattr(forked, "usable", lambda: fork)
    forks = []
    run = forked.run
    monkeypatch.setattr(forked, "run", lambda *a: forks.append(a) or run(*a))
    two = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds, small,
                    jobs=2)
    assert len(forks) == int(fork)
    for penalty in small:
        for side in ("train", "validation"):
            for metric, errors in getattr(one[penalty], side).items():
                np.testing.assert_array_equal(getattr(two[penalty], side)[metric], errors)
        np.testing.assert_array_equal(two[penalty].coef, one[penalty].coef)


# Run in a fresh interpreter, where nothing has imported scikit-learn yet (with fit_paths'
# load_solvers() before the fork taken out, it prints [False, False]).
_SOLVERS_AT_FORK = """
import sys
import numpy as np
import overfitcheck.paths as engine
from overfitcheck import forked
from overfitcheck.splits import Fold

loaded, fork = [], forked.fork

def spy():
    loaded.append("sklearn.linear_model" in sys.modules)
    return fork()

forked.fork = spy
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 80))  # wider than tall: fitted fold by fold, not from a Gram
y = X[:, 0] + rng.normal(size=60)
rows = np.arange(60)
folds = [Fold(rows[rows % 3 != k], rows[rows % 3 == k]) for k in range(3)]
engine.fit_paths(X, y, "regression", 0, folds, {"l1": np.array([0.5, 0.1])}, jobs=2)
print(loaded)
"""


def test_the_solvers_are_imported_once_before_the_copies_fork():
    """A wide regression's folds fit in forked copies: scikit-learn is imported before they
    fork, or each copy would import it for itself (over a second of CPU each)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _SOLVERS_AT_FORK], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[True, True]"  # at each of the two copies' forks


def test_a_class_target_starts_no_worker_ahead_where_folds_fork(monkeypatch):
    """On Linux the folds fit in copies forked when they start: no joblib worker is started
    while the file is read (each would import scikit-learn for nothing)."""
    from overfitcheck import diagnose
    from overfitcheck.paths import StartedWorkers

    started = []
    monkeypatch.setattr(StartedWorkers, "__init__", lambda self, jobs: started.append(jobs))
    monkeypatch.setattr(forked, "usable", lambda: True)
    report = diagnose(ROOT / "sample_data" / "telco_churn.csv", "churn", cv=3, n_alphas=4,
                      jobs=2)
    assert report.task == "binary" and started == []


def test_fold_results_do_not_depend_on_jobs():
    config, dataset, splits, grids = _setup(DATA / "diabetes.csv", target="target")
    one = fit_paths(dataset.X, dataset.y, "regression", 0, splits.folds, grids, jobs=1)
    two = fit_paths(dataset.X, dataset.y, "regression", 0, splits.folds, grids, jobs=2)
    for penalty in grids:
        np.testing.assert_array_equal(one[penalty].validation["rmse"],
                                      two[penalty].validation["rmse"])


def test_fold_with_one_class_predicts_that_class():
    X = np.arange(20, dtype=float)[:, None]
    y = np.array([0] * 19 + [1])
    fold = Fold(np.arange(10), np.arange(10, 20))
    paths = fit_paths(X, y, "binary", 2, [fold], {"l2": np.array([0.1]),
                                                  "none": np.array([0.0])})
    assert paths["l2"].validation["accuracy"][0, 0] == pytest.approx(0.1)


def test_large_multinomial_designs_take_the_memory_light_step(monkeypatch):
    """Both multinomial Newton steps reach the same L1 solution."""
    import overfitcheck.paths as engine

    config, dataset, splits, grids = _setup(DATA / "penguins.csv", target="species")
    fold = splits.folds[0]
    small = {"l1": grids["l1"][[6, 12]]}
    full = fit_paths(dataset.X, dataset.y, dataset.task, 3, [fold], small,
                     coef_on_all_rows=False)
    monkeypatch.setattr(engine, "EXPANDED_MAX_CELLS", 0)
    light = fit_paths(dataset.X, dataset.y, dataset.task, 3, [fold], small,
                      coef_on_all_rows=False)
    np.testing.assert_allclose(light["l1"].validation["log_loss"],
                               full["l1"].validation["log_loss"], rtol=1e-4)


def test_the_least_squares_cutoff_is_linear_regressions():
    from overfitcheck.paths import LSTSQ_COND

    assert LSTSQ_COND == LinearRegression().tol


def test_the_command_line_starts_without_the_solvers_or_matplotlib():
    """scikit-learn, scipy and matplotlib take seconds to import: the CLI module loads none of
    them, so diagnose() can read the file while they load on threads."""
    import subprocess
    import sys

    code = ("import sys, overfitcheck.cli\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'sklearn', 'scipy', 'matplotlib'})\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


def test_load_solvers_waits_for_a_thread_importing_them(monkeypatch):
    """diagnose() imports the solvers on a thread while it reads, then calls load_solvers
    itself before anything else imports scikit-learn: that call returns only once the thread's
    import is done (two threads importing scikit-learn at once met a half-initialized
    sklearn.base in CI)."""
    import threading
    import time

    import overfitcheck.paths as paths

    events = []

    def slow_import():
        events.append("thread imports")
        time.sleep(0.5)
        events.append("thread done")

    monkeypatch.setattr(paths, "_import_solvers", slow_import)
    thread = threading.Thread(target=paths.load_solvers)
    thread.start()
    while not events:
        time.sleep(0.01)
    monkeypatch.setattr(paths, "_import_solvers", lambda: events.append("main imports"))
    paths.load_solvers()
    events.append("main returns")
    thread.join()
    assert events == ["thread imports", "thread done", "main imports", "main returns"]


def test_diagnose_also_loads_the_solvers_on_its_own_thread(monkeypatch):
    import sys
    import threading

    import overfitcheck.diagnose  # noqa: F401 - the module, not the function of that name

    module = sys.modules["overfitcheck.diagnose"]
    callers = []
    real = module.load_solvers
    monkeypatch.setattr(module, "load_solvers",
                        lambda: callers.append(threading.current_thread()) or real())
    module.diagnose(DATA / "penguins.csv", target="species", cv=3)
    assert threading.main_thread() in callers  # not only the preload thread


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_binary_paths_from_a_hessian_sample_equal_exact_newton(monkeypatch, penalty):
    """The sampled Hessian and the float32 passes (above HESSIAN_ROWS rows) only shape the
    steps: the path reaches the fits plain Newton reaches (telco_churn: 5,634 training rows, 41
    features, a 2,000-row sample). Its one-hot levels are exactly collinear, so L1
    coefficients are not unique: the models are compared by their predictions and
    objectives."""
    import overfitcheck.paths_newton as newton

    Xt, yt, grids = _telco_first_fold()
    alphas = grids[penalty][:15]

    def predictions_and_objectives(fit):
        eta = np.einsum("np,ap->an", Xt, fit.coef[:, 0]) + fit.intercept
        loss = np.mean(np.logaddexp(0, eta) - (yt == 1) * eta, axis=1)
        beta = fit.coef[:, 0]
        penalty_term = alphas * (np.abs(beta).sum(axis=1) if penalty == "l1"
                                 else 0.5 * (beta**2).sum(axis=1))
        return eta, loss + penalty_term

    exact = newton.binary_path(Xt, yt, penalty, alphas, None, EXACT)
    monkeypatch.setattr(newton, "HESSIAN_ROWS", 2_000)
    assert newton.Design(Xt).X32 is not None  # the steps' passes are float32 ones
    sampled = newton.binary_path(Xt, yt, penalty, alphas, None, EXACT)
    assert not sampled.not_converged.any()
    eta, objective = predictions_and_objectives(sampled)
    eta_exact, objective_exact = predictions_and_objectives(exact)
    np.testing.assert_allclose(objective, objective_exact, rtol=1e-9)
    np.testing.assert_allclose(eta, eta_exact, rtol=0, atol=1e-4)


@pytest.mark.parametrize("fast", [False, True])
def test_a_step_reads_the_rows_once_for_the_two_passes(monkeypatch, fast):
    """Design.step gives X d + d_b0 and the eta, probabilities and gradient at its end, and
    Design.exact those at a point, as the separate passes do (telco_churn's first fold;
    float32 passes above HESSIAN_ROWS rows, so it is lowered for them)."""
    import overfitcheck.paths_newton as newton

    Xt, yt, _ = _telco_first_fold()
    if fast:
        monkeypatch.setattr(newton, "HESSIAN_ROWS", 2_000)
    design = newton.Design(Xt)
    assert (design.X32 is not None) == fast
    rng = np.random.default_rng(0)
    y = (yt == 1).astype(float)
    eta = rng.normal(size=y.size)
    d_beta = rng.normal(scale=0.1, size=Xt.shape[1])
    d, ahead = design.step(d_beta, 0.25, eta, y, fast)
    expected_d = Xt @ d_beta + 0.25
    np.testing.assert_allclose(d, expected_d, rtol=0, atol=1e-5 if fast else 1e-12)
    np.testing.assert_array_equal(ahead.eta, eta + d)  # the point a full step reaches
    np.testing.assert_array_equal(ahead.prob, newton._expit(eta + d))
    residual = 1 / (1 + np.exp(-(eta + d))) - y
    np.testing.assert_allclose(ahead.gradient, design.gradient(residual, fast), rtol=0,
                               atol=1e-7 if fast else 1e-15)
    np.testing.assert_allclose(ahead.gradient, Xt.T @ residual / y.size, rtol=0,
                               atol=1e-7 if fast else 1e-15)
    beta = rng.normal(scale=0.1, size=Xt.shape[1])
    exact = design.exact(beta, -0.5, y)
    np.testing.assert_allclose(exact.eta, Xt @ beta - 0.5, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(exact.prob, newton._expit(exact.eta))
    residual = 1 / (1 + np.exp(-exact.eta)) - y
    np.testing.assert_allclose(exact.gradient, Xt.T @ residual / y.size, rtol=0, atol=1e-15)


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_float32_steps_end_at_the_float64_optimum(monkeypatch, penalty):
    """Fast steps' gradients are float32 sums; the float64 certificate decides convergence.
    Here every fast gradient (Design.gradient's, and Design.step's at the end of a step) is
    made 1e-5 wrong (a thousand times the tolerance): steps that trusted it would stop at
    another model, but the paths still end where float64 Newton does, with an exact gradient
    at the tolerance."""
    import overfitcheck.paths_newton as newton

    Xt, yt, grids = _telco_first_fold()
    alphas = grids[penalty][:10]
    exact = newton.binary_path(Xt, yt, penalty, alphas, None, EXACT)
    monkeypatch.setattr(newton, "HESSIAN_ROWS", 2_000)
    fast_gradient, fast_step = newton.Design.gradient, newton.Design.step
    monkeypatch.setattr(newton.Design, "gradient", lambda self, r, fast: (
        fast_gradient(self, r, fast) + (1e-5 if fast else 0.0)))

    def step(self, d_beta, d_b0, eta, y, fast):  # the gradient a step's pass computes
        d, ahead = fast_step(self, d_beta, d_b0, eta, y, fast)
        return d, newton.Ahead(ahead.eta, ahead.prob,
                               ahead.gradient + (1e-5 if fast else 0.0))
    monkeypatch.setattr(newton.Design, "step", step)
    certified = newton.binary_path(Xt, yt, penalty, alphas, None, EXACT)
    assert not certified.not_converged.any()
    eta = np.einsum("np,ap->an", Xt, certified.coef[:, 0]) + certified.intercept
    eta_exact = np.einsum("np,ap->an", Xt, exact.coef[:, 0]) + exact.intercept
    np.testing.assert_allclose(eta, eta_exact, rtol=0, atol=1e-5)
    y = (yt == 1).astype(float)
    for a, alpha in enumerate(alphas):
        residual = 1 / (1 + np.exp(-eta[a])) - y
        grad = np.append(Xt.T @ residual / y.size, residual.mean())
        beta = certified.coef[a, 0]
        if penalty == "l2":
            grad[:-1] += alpha * beta
        assert newton._optimality_gap(grad, beta, penalty, alpha) <= 1e-7


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_a_fast_paths_last_step_is_taken_by_the_certificates_pass(monkeypatch, penalty):
    """Near the tolerance a fast path steps in float64 (FINISH): its first such step is
    evaluated by the certificate's pass. The fits are the ones a path ending each alpha in
    float32 steps and a certificate reaches: the same objectives and predictions."""
    import overfitcheck.paths_newton as newton

    Xt, yt, grids = _telco_first_fold()
    alphas = grids[penalty][:12]
    monkeypatch.setattr(newton, "HESSIAN_ROWS", 2_000)
    real = newton._certify
    finished = []
    monkeypatch.setattr(newton, "_certify", lambda design, y, point, *a: (
        finished.append(isinstance(point, newton._Moved)) or real(design, y, point, *a)))
    fit = newton.binary_path(Xt, yt, penalty, alphas, None, EXACT)
    assert any(finished)
    monkeypatch.setattr(newton, "FINISH", 0.0)  # never: float32 steps, then the certificate
    finished.clear()
    plain = newton.binary_path(Xt, yt, penalty, alphas, None, EXACT)
    assert finished and not any(finished)
    assert not fit.not_converged.any() and not plain.not_converged.any()
    y = (yt == 1).astype(float)
    for a, alpha in enumerate(alphas):
        objective_fit, eta_fit = _objective(Xt, y, fit, a, alpha, penalty)
        objective, eta = _objective(Xt, y, plain, a, alpha, penalty)
        np.testing.assert_allclose(objective_fit, objective, rtol=1e-9)
        np.testing.assert_allclose(eta_fit, eta, rtol=0, atol=1e-4)


@pytest.mark.parametrize(("name", "target"), [("telco_churn", "churn"), ("penguins", "species")])
def test_nested_folds_in_one_run_fit_as_they_do_alone(name, target):
    """fit_paths' runs take nested learning subsets' rows once, in another order: the fits and
    every score are the ones each subset gets on its own (sums in another order: 1e-6; the ROC
    AUC ranks rows, and telco's near-tied predictions can trade places: 1e-5)."""
    path = ROOT / "sample_data" / f"{name}.csv" if name == "telco_churn" else DATA / f"{name}.csv"
    config, dataset, splits, grids = _setup(path, target=target, cv=3)
    grids = {"none": np.array([0.0]), **{p: a[[4, 12]] for p, a in grids.items()}}
    fold = splits.folds[1]
    folds = [Fold(subset, fold.validation)
             for subset in learning_subsets(fold.train, dataset.y, dataset.task, 7)[:-1]]
    alone = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, folds, grids,
                      coef_on_all_rows=False)
    together = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, folds, grids,
                         coef_on_all_rows=False, runs=[[6, 0, 3], [1, 5, 2, 4]], jobs=2)
    for penalty in grids:
        for side in ("train", "validation"):
            for metric, errors in getattr(alone[penalty], side).items():
                np.testing.assert_allclose(getattr(together[penalty], side)[metric], errors,
                                           rtol=1e-5 if metric == "roc_auc" else 1e-6, atol=1e-9,
                                           err_msg=f"{penalty} {side} {metric}")


def test_nested_order_makes_every_set_a_prefix():
    rows = np.random.default_rng(3).permutation(50)
    sets = [np.sort(rows[:k]) for k in (30, 5, 45, 12)]
    order, sizes = nested_order(sets)
    assert sizes == [30, 5, 45, 12]
    for size, rows_of_set in zip(sizes, sets, strict=True):
        assert np.array_equal(np.sort(order[:size]), rows_of_set)
    for not_nested in ([np.array([1, 2, 3]), np.array([2, 4])],
                       [np.arange(10), np.array([0, 1, 2]), np.array([3, 4, 5, 6])],
                       [np.arange(4), np.array([1, 1])]):
        with pytest.raises(ValueError, match="nested"):
            nested_order(not_nested)


def test_only_tolerances_below_float32_resolution_take_the_float64_certificate(monkeypatch):
    """PLOT's gradient tolerance (1e-5) is far above the float32 gradient's error: its fits
    stop on float32 passes alone; EXACT's (1e-8) is certified by float64 passes."""
    import overfitcheck.paths_newton as newton
    from overfitcheck.paths import PLOT

    Xt, yt, grids = _telco_first_fold()
    monkeypatch.setattr(newton, "HESSIAN_ROWS", 2_000)
    certified = []
    real = newton._certify
    monkeypatch.setattr(newton, "_certify", lambda *a: certified.append(1) or real(*a))
    plot = newton.binary_path(Xt, yt, "l2", grids["l2"][10:11], None, PLOT)
    assert not certified
    exact = newton.binary_path(Xt, yt, "l2", grids["l2"][10:11], None, EXACT)
    assert certified
    eta = Xt @ plot.coef[0, 0] + plot.intercept[0]
    eta_exact = Xt @ exact.coef[0, 0] + exact.intercept[0]
    np.testing.assert_allclose(eta, eta_exact, rtol=0, atol=1e-3)


def test_a_design_for_float32_tolerances_keeps_no_float64_rows_and_fits_the_same(monkeypatch):
    """Fits at PLOT's tolerance read only float32 rows: a design made for them (the learning
    curves') holds no float64 copy, and its fits, warm-started or not, are those of a design
    that holds one, to far below the tolerance's own effect."""
    import overfitcheck.paths_newton as newton
    from overfitcheck.paths import PLOT, newton_design

    Xt, yt, grids = _telco_first_fold()
    monkeypatch.setattr(newton, "HESSIAN_ROWS", 2_000)
    lean, full = newton_design(Xt, "binary", PLOT), newton_design(Xt, "binary", EXACT)
    assert lean.X is None and lean.X32.dtype == np.float32 and lean.Xh.dtype == np.float32
    assert full.X is not None and full.X.dtype == np.float64
    start = newton.binary_path(Xt, yt, "l2", grids["l2"][12:13], None, EXACT).coef[0, 0]
    for begin in (None, start):
        a = newton.binary_path(lean, yt, "l2", grids["l2"][10:11], None, PLOT, begin)
        b = newton.binary_path(full, yt, "l2", grids["l2"][10:11], None, PLOT, begin)
        np.testing.assert_allclose(Xt @ a.coef[0, 0] + a.intercept[0],
                                   Xt @ b.coef[0, 0] + b.intercept[0], rtol=0, atol=1e-5)


def test_a_hessian_renewed_from_every_row_is_the_exact_one(monkeypatch):
    """After a fresh sampled Hessian gave a step no better than a stale one, renewals use
    every row (float32): the exact loss Hessian, to float32's precision."""
    import overfitcheck.paths_newton as newton

    Xt, _, _ = _telco_first_fold()
    monkeypatch.setattr(newton, "HESSIAN_ROWS", 2_000)
    design = newton.Design(Xt)
    hessian = newton._Hessian(design.Xh, design.rows, design.squares, design.X32)
    prob = 1 / (1 + np.exp(-(Xt[:, 0] - 1)))
    sampled = hessian.at(prob)
    hessian.from_every_row()
    hessian.stale()
    every_row = hessian.at(prob)
    exact = newton._weighted_gram(Xt, np.maximum(prob * (1 - prob), newton.MIN_WEIGHT))
    np.testing.assert_allclose(every_row, exact, rtol=1e-5, atol=1e-7)
    assert np.max(np.abs(sampled - exact)) > 1e-3  # the sample was not it


def test_a_warm_start_begins_with_the_hessian_of_the_designs_last_converged_fit():
    """A learning subset's warm-started fit takes the Hessian the same rows' last converged fit
    ended with (not a fresh one); a cold start computes its own."""
    import overfitcheck.paths_newton as newton

    Xt, yt, grids = _telco_first_fold()
    design = newton.Design(Xt)
    unpenalized = newton.binary_path(design, yt, "none", np.array([0.0]), None, EXACT)
    assert not unpenalized.not_converged.any()
    kept = design.hessian.copy()
    first_use = []
    real_at = newton._Hessian.at

    def at(self, prob):
        H = real_at(self, prob)
        first_use.append((self.fresh, H.copy()))  # the caller adds the penalty to H
        return H

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(newton._Hessian, "at", at)
        newton.binary_path(design, yt, "l2", grids["l2"][25:26], None, EXACT,
                           start=unpenalized.coef[0, 0])
        fresh, H = first_use[0]
        assert not fresh
        np.testing.assert_array_equal(H, kept)
        first_use.clear()
        newton.binary_path(design, yt, "l2", grids["l2"][25:26], None, EXACT)
        assert first_use[0][0]  # cold: computed afresh


def test_an_empty_alpha_grid_fits_nothing():
    import overfitcheck.paths_newton as newton

    Xt, yt, _ = _telco_first_fold()
    design = newton.Design(Xt)
    fit = newton.binary_path(design, yt, "l2", np.array([]), None, EXACT)
    assert fit.coef.shape == (0, 1, Xt.shape[1]) and design.hessian is None


def _live_children() -> set[int]:
    """Worker processes of this one still running (joblib's are multiprocessing children)."""
    import multiprocessing

    return {process.pid for process in multiprocessing.active_children()}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: folds fit in-process")
def test_workers_started_ahead_are_the_processes_the_folds_fit_on(monkeypatch):
    """Where folds do not fit in forked copies (not Linux), StartedWorkers (started while a
    class target's file is read) leaves joblib's executor warm: the fits reuse its processes
    instead of starting their own."""
    from overfitcheck.paths import StartedWorkers

    monkeypatch.setattr(forked, "usable", lambda: False)

    config, dataset, splits, grids = _setup(ROOT / "sample_data" / "telco_churn.csv",
                                            target="churn", cv=3)
    started = StartedWorkers(2)
    started.ready()
    ahead = _live_children()
    assert len(ahead) == 2
    small = {"none": np.array([0.0]), "l2": grids["l2"][[5, 10]]}
    fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds, small,
              jobs=2)
    assert _live_children() == ahead


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no workers start")
def test_a_class_target_file_that_cannot_be_diagnosed_leaves_no_worker_running(tmp_path,
                                                                             monkeypatch):
    """Where folds do not fit in forked copies (not Linux), the workers a class target starts
    while its file is read are killed, not waited for, when the file turns out unusable; the
    next diagnosis starts its own and fits."""
    from overfitcheck import diagnose
    from overfitcheck.errors import NoFeatures
    from overfitcheck.paths import StartedWorkers

    monkeypatch.setattr(forked, "usable", lambda: False)

    cancelled = []
    cancel = StartedWorkers.cancel
    monkeypatch.setattr(StartedWorkers, "cancel",
                        lambda self: cancelled.append(_live_children()) or cancel(self))

    rng = np.random.default_rng(0)
    unusable = tmp_path / "ids.csv"
    pd.DataFrame({"id": [f"customer {i}" for i in range(3000)],
                  "left": rng.choice(["yes", "no"], 3000)}).to_csv(unusable, index=False)
    with pytest.raises(NoFeatures):
        diagnose(unusable, "left")
    assert len(cancelled) == 1 and cancelled[0]  # workers were running, then cancelled
    for _ in range(50):  # killed by then: gone once their exit is collected
        if not _live_children():
            break
        time.sleep(0.1)
    assert not _live_children()
    report = diagnose(ROOT / "sample_data" / "telco_churn.csv", "churn", cv=3, n_alphas=4)
    assert report.task == "binary" and np.isfinite(report.curves["l2"].validation_mean).all()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no workers start")
def test_workers_cancelled_once_idle_leave_the_next_fits_a_working_executor(monkeypatch):
    """Workers that finished starting before the diagnosis ended are killed idle; joblib
    would find them dead only later, so a fit right after (a notebook's next diagnosis) met
    the dead executor (CI at 765f608). cancel() shuts it down: the next fits get new ones.
    (Not Linux: there the folds fit in forked copies.)"""
    from overfitcheck.paths import StartedWorkers

    monkeypatch.setattr(forked, "usable", lambda: False)

    config, dataset, splits, grids = _setup(ROOT / "sample_data" / "telco_churn.csv",
                                            target="churn", cv=3)
    small = {"none": np.array([0.0])}
    for _ in range(3):
        started = StartedWorkers(2)
        started.ready()
        started.cancel()
        paths = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds,
                          small, jobs=2)
        assert np.isfinite(paths["none"].validation["log_loss"]).all()


@pytest.mark.parametrize("rows", ["index", "slice"])
def test_float32_standardized_rows_are_standardizes_own_rounded(rows):
    """standardize32 (the learning subsets' rows, made a few columns at a time) gives
    standardize's mean, scale and rows, the rows rounded to float32 and column-major: missing
    values, a column missing in many rows and a constant column included."""
    from overfitcheck.paths import standardize32

    rng = np.random.default_rng(3)
    X = rng.normal(5.0, 2.0, (3_000, 37))
    X[rng.random(X.shape) < 0.03] = np.nan
    X[rng.random(3_000) < 0.6, 4] = np.nan
    X[:, 9] = 7.5
    X = np.asfortranarray(X)
    train = np.sort(rng.choice(3_000, 2_100, replace=False)) if rows == "index" \
        else slice(100, 2_600)
    Xt, mean, scale = standardize(X, train)
    X32, mean32, scale32, varies = standardize32(X, train)
    assert X32.dtype == np.float32 and X32.flags.f_contiguous and varies
    np.testing.assert_array_equal(X32, Xt.astype(np.float32))
    np.testing.assert_array_equal(mean32, mean)
    np.testing.assert_array_equal(scale32, scale)
    assert not standardize32(np.asfortranarray(np.full((500, 3), 2.0)), train=slice(None))[3]


def test_float32_standardized_rows_never_scale_a_column_alone(monkeypatch):
    """With 9 columns, 4 at a time, the ninth is not standardized alone: numpy sums a lone
    column's squares in another order (from about 9,000 rows), and its scale would then
    differ from standardize's in the last bit."""
    import overfitcheck.paths as paths_module
    from overfitcheck.paths import standardize32

    monkeypatch.setattr(paths_module, "SCALING_COLUMNS", 4)
    X = np.asfortranarray(np.random.default_rng(3).normal(5.0, 2.0, (20_000, 9)))
    Xt, mean, scale = standardize(X, slice(None))
    X32, mean32, scale32, _ = standardize32(X, slice(None))
    np.testing.assert_array_equal(scale32, scale)
    np.testing.assert_array_equal(mean32, mean)
    np.testing.assert_array_equal(X32, Xt.astype(np.float32))


def test_learning_subsets_above_hessian_rows_fit_and_score_float32_rows(monkeypatch):
    """Above HESSIAN_ROWS rows a PLOT fit (the learning curves') reads float32 rows alone:
    they are made without a float64 copy (standardize32) and also score its training rows. The
    models are those fitted from the float64 copy's rounding (the same float32 rows), so the
    validation errors are the same numbers; the training errors move by the rows' rounding
    alone (far below PLOT's own tolerance): about 1e-10 for the log loss and the Brier score,
    and for the counts (accuracy, ROC AUC) at most a pair or a row whose order or side moved
    (one pair of telco's fold is 1.6e-7 of the AUC)."""
    import overfitcheck.paths as paths_module
    import overfitcheck.paths_newton as newton
    from overfitcheck.paths import PLOT

    _, dataset, splits, grids = _setup(ROOT / "sample_data" / "telco_churn.csv", target="churn")
    monkeypatch.setattr(newton, "HESSIAN_ROWS", 2_000)
    made = []
    real = paths_module.standardize32
    monkeypatch.setattr(paths_module, "standardize32", lambda *a: made.append(1) or real(*a))
    picked = {p: alphas[[10]] for p, alphas in grids.items()}
    picked["none"] = np.array([0.0])

    def fit():
        return fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes,
                         splits.folds[:2], picked, coef_on_all_rows=False, precision=PLOT)

    lean = fit()
    assert len(made) == 2
    monkeypatch.setattr(paths_module, "_float32_rows", lambda *a: False)
    full = fit()
    assert len(made) == 2
    for penalty in picked:
        for metric, values in lean[penalty].validation.items():
            np.testing.assert_array_equal(values, full[penalty].validation[metric])
        for metric, values in lean[penalty].train.items():
            smooth = metric in ("log_loss", "brier")
            np.testing.assert_allclose(values, full[penalty].train[metric],
                                       rtol=1e-8 if smooth else 0,
                                       atol=0 if smooth else 1e-6, err_msg=f"{penalty} {metric}")


def test_penalties_scored_together_score_as_apart(monkeypatch):
    """_errors scores every penalty's alphas in a few matrix products: the numbers each
    penalty gets alone, whether the products hold every model or one each."""
    import overfitcheck.paths as paths_module
    from overfitcheck.paths import _errors, _Fit

    rng = np.random.default_rng(5)
    Xs = np.asfortranarray(rng.standard_normal((4_000, 12)))
    y = (rng.random(4_000) < 0.3).astype(int)
    fits = {"baseline": _Fit(np.zeros((1, 1, 12)), np.full((1, 1), -0.8), np.zeros(1, int)),
            "l1": _Fit(rng.normal(0, 0.3, (6, 1, 12)), rng.normal(size=(6, 1)),
                       np.zeros(6, int)),
            "l2": _Fit(rng.normal(0, 0.3, (6, 1, 12)), rng.normal(size=(6, 1)),
                       np.zeros(6, int))}
    fits["l1"].coef[4:] = np.nan  # saturated: not fitted, NaN errors
    apart = {p: _errors(Xs, y, {p: fit}, "binary", 2)[p] for p, fit in fits.items()}
    for budget in (paths_module.SCORE_BYTES, 1):
        monkeypatch.setattr(paths_module, "SCORE_BYTES", budget)
        together = _errors(Xs, y, fits, "binary", 2)
        for penalty, errors in apart.items():
            for metric, values in errors.items():
                np.testing.assert_allclose(together[penalty][metric], values, rtol=1e-14,
                                           err_msg=f"{penalty} {metric}")
        assert np.isnan(together["l1"]["log_loss"][4:]).all()
        assert not np.isnan(together["l1"]["log_loss"][:4]).any()


def test_a_certified_l2_path_takes_its_hessians_from_every_row(monkeypatch):
    """Above HESSIAN_ROWS rows a certified (EXACT) L2 path computes its Hessians from every
    row, an L1 path and a PLOT fit from the sample; the L2 fits are the optimum either way
    (the Hessian only shapes the steps): the objective of a path with sampled Hessians."""
    import overfitcheck.paths_newton as newton
    from overfitcheck.paths import PLOT

    Xt, yt, grids = _telco_first_fold()
    monkeypatch.setattr(newton, "HESSIAN_ROWS", 2_000)
    rows_seen = []
    real = newton._weighted_gram
    monkeypatch.setattr(newton, "_weighted_gram",
                        lambda Xh, w: rows_seen.append(Xh.shape[0]) or real(Xh, w))
    alphas = grids["l2"][:15]
    every = newton.binary_path(Xt, yt, "l2", alphas, None, EXACT)
    assert rows_seen and set(rows_seen) == {Xt.shape[0]}
    for penalty, precision in (("l1", EXACT), ("l2", PLOT)):
        rows_seen.clear()
        newton.binary_path(Xt, yt, penalty, grids[penalty][:3], None, precision)
        assert rows_seen and set(rows_seen) == {2_000}, penalty
    monkeypatch.setattr(newton._Hessian, "from_every_row", lambda self: None)
    rows_seen.clear()
    sampled = newton.binary_path(Xt, yt, "l2", alphas, None, EXACT)
    assert set(rows_seen) == {2_000}
    assert not every.not_converged.any() and not sampled.not_converged.any()
    y = (yt == 1).astype(float)
    for a, alpha in enumerate(alphas):
        np.testing.assert_allclose(_objective(Xt, y, every, a, alpha, "l2")[0],
                                   _objective(Xt, y, sampled, a, alpha, "l2")[0], rtol=1e-12)


def _children() -> set[int]:
    """This process's child processes (each thread's, from /proc)."""
    found = set()
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(FileNotFoundError):
            found.update(int(pid) for pid in
                         Path(f"/proc/self/task/{task}/children").read_text().split())
    return found


@pytest.mark.skipif(not forked.usable() or (os.cpu_count() or 1) < 2,
                    reason="folds fork only on Linux with two cores")
def test_fits_stopped_by_a_failing_progress_callback_leave_no_copy_running():
    """The copies are killed as the error leaves fit_paths, not when the generator that holds
    them is collected (the traceback, kept here by pytest, still refers to it)."""
    config, dataset, splits, grids = _setup(ROOT / "sample_data" / "telco_churn.csv",
                                            target="churn", cv=3)
    small = {"none": np.array([0.0]), "l2": grids["l2"][[5, 10]]}
    before = _children()

    def progress():
        raise RuntimeError("the progress bar broke")

    with pytest.raises(RuntimeError, match="the progress bar broke") as raised:
        fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds, small,
                  jobs=2, on_fit_done=progress)
    assert raised.traceback  # still held: the generator in fit_paths' frame is not collected
    assert _children() - before == set()
