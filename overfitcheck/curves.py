"""Fitted paths -> curves: fold means and standard errors, chosen alphas, learning curves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataset import Dataset
from .errors import MetricUndefined
from .paths import NEWTON_MAX_FEATURES, PLOT, PenaltyPath, column_scaling, fit_paths
from .splits import LEARNING_FRACTIONS, Fold, Splits, learning_subsets

# At most this many warm-start steps down the grid to a learning-curve fit's alpha: enough to
# stay near each solution, a fraction of the cost of walking all 30.
LEARNING_WALK = 8
# Coefficients below this (on standardized features) count as zero: coordinate descent sets
# dropped features to exactly 0, so this only guards against float dust.
ZERO_COEF = 1e-12
# A fold's learning subsets go to this many runs of about equal rows (fit_paths' runs): one
# run per fold would leave one of two workers idle for a fifth of the time with 5 folds.
RUNS_PER_FOLD = 2


@dataclass(frozen=True)
class Curve:
    """One family's validation curve over alpha: fold means, standard errors and its choices."""

    penalty: str
    alphas: np.ndarray
    train_folds: np.ndarray  # (n_alphas, n_folds), primary metric
    validation_folds: np.ndarray
    train_mean: np.ndarray
    validation_mean: np.ndarray
    validation_se: np.ndarray  # fold standard deviation / sqrt(k), as cv.glmnet
    train_se: np.ndarray
    gap_se: np.ndarray  # standard error of the per-fold (validation - training) gap
    index_min: int
    index_1se: int
    coef: np.ndarray | None  # (n_alphas, n_outputs, n_features) fitted on all rows
    n_nonzero: np.ndarray  # (n_alphas,)
    not_converged: np.ndarray
    all_train: dict[str, np.ndarray]  # every metric's fold means, for the report
    all_validation: dict[str, np.ndarray]

    @property
    def alpha_min(self) -> float:
        return float(self.alphas[self.index_min])

    @property
    def alpha_1se(self) -> float:
        return float(self.alphas[self.index_1se])

    @property
    def at_edge(self) -> str | None:
        """"largest" or "smallest" when alpha_min sits at an end of a grid of 3+ alphas."""
        if self.penalty not in ("l1", "l2") or self.alphas.size < 3:
            return None
        if self.index_min == int(np.argmax(self.alphas)):
            return "largest"
        if self.index_min == int(np.argmin(self.alphas)):
            return "smallest"
        return None


@dataclass(frozen=True)
class LearningCurve:
    """Errors at growing training-set sizes, for one family at its chosen alpha."""

    penalty: str
    alpha: float
    fractions: tuple[float, ...]
    n_train: np.ndarray  # (n_sizes,) mean training rows over folds
    train_folds: np.ndarray  # (n_sizes, n_folds)
    validation_folds: np.ndarray

    @property
    def train_mean(self) -> np.ndarray:
        return _mean(self.train_folds, np.ones(self.train_folds.shape[0], dtype=bool))

    @property
    def validation_mean(self) -> np.ndarray:
        return _mean(self.validation_folds, np.ones(self.validation_folds.shape[0], dtype=bool))

    @property
    def validation_sd(self) -> np.ndarray:
        return _sd(self.validation_folds)

    @property
    def train_sd(self) -> np.ndarray:
        return _sd(self.train_folds)


def summarize(path: PenaltyPath, metric: str) -> Curve:
    """Means over folds, standard errors, alpha_min and alpha_1se (the cv.glmnet rule)."""
    train, val = path.train[metric], path.validation[metric]
    # An alpha that a saturated fold skipped is left out of the choice, as cv.glmnet truncates
    # its lambda sequence to the shortest fold path.
    complete = path.fitted.all(axis=1)
    if not np.any(complete & np.any(np.isfinite(val), axis=1)):
        raise MetricUndefined(f"the {metric} error is undefined on every validation fold (a "
                              "fold lacks a class it needs)", "choose another --metric, e.g. "
                              "log_loss, or folds that hold every class")
    val_mean, train_mean = _mean(val, complete), _mean(train, complete)
    se = _se(val)
    gap_se = _se(val - train)
    index_min = int(np.nanargmin(val_mean))
    # alpha_1se: the largest alpha whose mean error is within one SE of the minimum's. Grids
    # are searched by value, not position, so it is >= alpha_min whatever the grid's order.
    within = np.flatnonzero(val_mean <= val_mean[index_min] + se[index_min])
    index_1se = int(within[np.argmax(path.alphas[within])])
    if path.coef is not None:
        n_nonzero = np.sum(np.any(np.abs(path.coef) > ZERO_COEF, axis=1), axis=1)
    else:
        n_nonzero = np.zeros(path.alphas.size, dtype=int)
    return Curve(path.penalty, path.alphas, train, val, train_mean, val_mean, se, _se(train),
                 gap_se, index_min, index_1se, path.coef, n_nonzero, path.not_converged,
                 {m: _mean(v, complete) for m, v in path.train.items()},
                 {m: _mean(v, complete) for m, v in path.validation.items()})


def _mean(values: np.ndarray, complete: np.ndarray) -> np.ndarray:
    """Mean over the folds that have a value; NaN where none has (a metric undefined on every
    fold, a learning subset no fold could fit) or the row is not `complete`. np.nanmean's
    numbers (its sum over the values, over their count) without its "Mean of empty slice"
    warning: silencing that takes warnings.catch_warnings, which is not thread-safe, and the
    diagnosis summarizes while its MAE pass runs on another thread."""
    counts = np.sum(~np.isnan(values), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.nansum(values, axis=1) / counts
    return np.where(complete & (counts > 0), means, np.nan)


def learning_curves(dataset: Dataset, splits: Splits, curves: dict[str, Curve], metric: str,
                    seed: int, jobs: int = 1, on_fit_done=None,
                    scaling: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> dict[str, LearningCurve]:
    """Each family at its chosen alpha, refitted on nested stratified subsets of every fold.

    Iterative fits walk down the grid (at most LEARNING_WALK steps) to the chosen alpha, so
    each step starts warm (a cold L1 logistic fit at a small alpha costs more than the path
    above it), at the PLOT precision. `scaling`: paths.column_scaling(dataset.X) when the
    caller has it (else computed here if needed).
    """
    folds: list[Fold] = []
    runs: list[list[int]] = []
    sizes = np.zeros((len(LEARNING_FRACTIONS), splits.n_splits))
    whole = np.zeros((len(LEARNING_FRACTIONS), splits.n_splits), dtype=bool)
    # A subset holding the whole training fold is that fold's own fit at the chosen alpha: its
    # errors are already on the validation curve. Unless a fit there stopped at its cap (an
    # unpenalized model on separable classes): where capped steps stop depends on the cap, so
    # the whole fold is then fitted as the other subsets are, with the same cap.
    reuse = all(curve.not_converged[curve.index_min] == 0 for curve in curves.values())
    for j, fold in enumerate(splits.folds):
        subsets = learning_subsets(fold.train, dataset.y, dataset.task, seed + j)
        fitted = []
        for i, subset in enumerate(subsets):
            sizes[i, j] = subset.size
            whole[i, j] = reuse and np.array_equal(subset, fold.train)
            if not whole[i, j]:
                fitted.append(len(folds))
                folds.append(Fold(subset, fold.validation))
        runs += _balanced_runs(fitted, [folds[i].train.size for i in fitted])
    if on_fit_done is not None:
        for _ in range(int(whole.sum())):
            on_fit_done()
    grids = {}
    starts = {}
    scale = None  # of every row: puts a model fitted on all rows back on the raw features
    newton = dataset.task == "binary" and dataset.n_features <= NEWTON_MAX_FEATURES \
        and dataset.n_features < min((f.train.size for f in folds), default=0)
    for penalty, curve in curves.items():
        walk = curve.alphas[curve.alphas >= curve.alpha_min]
        if newton and penalty in ("l1", "l2") and curve.coef is not None \
                and np.isfinite(curve.coef[curve.index_min]).all():
            # Newton steps start from the model fitted on all rows at the chosen alpha, a few
            # steps from each subset's (unique, penalized) optimum. Not the unpenalized fit:
            # a coefficient a subset cannot determine (a level none of its rows has) would
            # keep that model's value. It starts from the subset's own L2 fit instead
            # (fit_paths' unpenalized_from_l2), which reaches the model a start from zero
            # reaches: on the 200k binary benchmark file's learning curves, 64 Newton steps
            # against 205, and L1 and L2, fitted first, 73 and 78 against 123 and 140.
            if scale is None:
                scale = (scaling if scaling is not None else column_scaling(dataset.X))[1]
            starts[penalty] = curve.coef[curve.index_min] / scale
        if dataset.task == "regression" or penalty == "none" or newton:
            # Exact solvers, and binary Newton steps (paths_newton.py), which start well from
            # zero or from the model on all rows: no warm walk needed.
            walk = walk[-1:]
        elif walk.size > LEARNING_WALK:  # every k-th alpha, always ending at the chosen one
            walk = walk[::-1][:: -(-walk.size // LEARNING_WALK)][::-1]
        grids[penalty] = walk
    paths = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, folds, grids,
                      coef_on_all_rows=False, jobs=jobs, precision=PLOT,
                      on_saturation="hold", on_fit_done=on_fit_done, start=starts,
                      metrics=(metric,), runs=runs, unpenalized_from_l2=True) if folds else {}
    out = {}
    for penalty, curve in curves.items():
        train = np.tile(curve.train_folds[curve.index_min], (len(LEARNING_FRACTIONS), 1))
        validation = np.tile(curve.validation_folds[curve.index_min],
                             (len(LEARNING_FRACTIONS), 1))
        if folds:
            path = paths[penalty]
            at = int(np.argmin(path.alphas))  # the chosen alpha ends each walk
            fitted = ~whole.T  # (folds, sizes), in the order the subsets were listed
            train.T[fitted] = path.train[metric][at]
            validation.T[fitted] = path.validation[metric][at]
        out[penalty] = LearningCurve(penalty, curve.alpha_min, LEARNING_FRACTIONS,
                                     sizes.mean(axis=1), train, validation)
    return out


def _balanced_runs(indices: list[int], sizes: list[int], n_runs: int = RUNS_PER_FOLD
                   ) -> list[list[int]]:
    """A fold's learning subsets dealt to n_runs runs of about equal rows, largest first (each
    run takes its largest subset's rows once: fit_paths' runs)."""
    runs: list[list[int]] = [[] for _ in range(n_runs)]
    load = [0] * n_runs
    for k in np.argsort(sizes, kind="stable")[::-1]:
        lightest = int(np.argmin(load))
        runs[lightest].append(indices[k])
        load[lightest] += sizes[k]
    return [run for run in runs if run]


def learning_curves_gram(data, curves: dict[str, Curve], metric: str, on_fit_done=None
                         ) -> dict[str, LearningCurve]:
    """learning_curves for a regression design held as cell statistics (paths_gram.py).

    Learning subset i of a fold is its training rows of learning level <= i (splits.
    level_of_rows): whole cells, so every size is fitted exactly from the same statistics.
    """
    from .paths_gram import fit_regression_paths

    levels = len(LEARNING_FRACTIONS)
    n_folds = data.train.shape[0]
    train = np.array([data.train[j] & (data.level <= i) for j in range(n_folds)
                      for i in range(levels)])
    validation = np.repeat(data.validation, levels, axis=0)
    sizes = (train @ data.stats.count).reshape(n_folds, levels).T
    # A lasso the homotopy cannot certify falls back to coordinate descent, which starts from
    # the previous subset's model (chain): nested subsets have nearly the same solution, and a
    # cold start at a small alpha costs it ten times more (measured: 0.34 s against 0.03 s for
    # a warm 30-alpha path on 200,000 x 110).
    grids = {penalty: np.array([curve.alpha_min]) for penalty, curve in curves.items()}
    paths = fit_regression_paths(data, grids, train=train, validation=validation,
                                 coef_on_all_rows=False, absolute=metric == "mae",
                                 precision=PLOT, chain=levels, on_fit_done=on_fit_done)
    shape = (n_folds, levels)
    out = {}
    for penalty, path in paths.items():
        at = int(np.argmin(path.alphas))  # the chosen alpha ends each walk
        out[penalty] = LearningCurve(penalty, curves[penalty].alpha_min, LEARNING_FRACTIONS,
                                     sizes.mean(axis=1), path.train[metric][at].reshape(shape).T,
                                     path.validation[metric][at].reshape(shape).T)
    return out


def _se(values: np.ndarray) -> np.ndarray:
    """Standard error over the folds that have a value (a metric can be undefined on some)."""
    counts = np.sum(~np.isnan(values), axis=1)
    return _sd(values) / np.sqrt(np.maximum(counts, 1))


def _sd(values: np.ndarray) -> np.ndarray:
    counts = np.sum(~np.isnan(values), axis=1)
    out = np.full(values.shape[0], 0.0)
    ok = counts > 1
    if ok.any():
        out[ok] = np.nanstd(values[ok], axis=1, ddof=1)
    return out
