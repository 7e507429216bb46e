"""Splits -> fitted paths: the engine. Fits every (penalty, alpha, fold) and scores it.

This module is the one narrow boundary between the diagnosis and the numerics: `fit_paths`
takes the design, the target, the folds and an alpha grid per penalty, and returns errors per
metric, alpha and fold (plus the coefficients fitted on all rows). Nothing above it knows how
the fits were made.

Alphas are on glmnet's scale, on standardized features: a model minimizes
    mean loss + alpha * P(w)
where mean loss is half the mean squared error (regression) or the mean log loss (classes), and
P(w) = ||w||_1 for L1 and ||w||^2 / 2 for L2; the intercept is never penalized. In scikit-learn
terms, with n the number of training rows: Lasso(alpha=alpha), Ridge(alpha=n * alpha),
LogisticRegression(C=1 / (n * alpha), l1_ratio=1 for L1 or 0 for L2).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from threadpoolctl import threadpool_limits

from . import forked
from .memory import keep_freed_heap
from .metrics import binary_errors, classification_errors, metric_names, regression_errors
from .splits import Fold


@dataclass(frozen=True)
class Precision:
    """Solver tolerances. `EXACT` is what agrees with scikit-learn to 1e-6 (1e-4 for logistic);
    `PLOT` serves learning curves, which are read off a chart and a 1%-of-baseline slope test,
    and whose tiny subsets (5 rows for 2308 features) make exact fits needlessly slow."""

    cd_tol: float  # duality-gap tolerance of coordinate descent (scaled by ||y||^2 as sklearn)
    inner_cd_tol: float  # the weighted lassos inside proximal Newton
    logistic_tol: float  # gradient tolerance of LogisticRegression
    newton_tol: float  # proximal Newton: relative objective change...
    coef_tol: float  # ...and largest coefficient move (standardized features) of one step
    newton_max_iter: int  # proximal Newton steps per alpha
    inner_cd_max_iter: int  # coordinate-descent sweeps of each inner weighted lasso
    cd_max_iter: int = 100_000  # sweeps of a lasso on a Gram (paths_gram)


# Near separation the proximal Newton steps shrink slowly, so the exact cap is generous.
EXACT = Precision(cd_tol=1e-10, inner_cd_tol=1e-10, logistic_tol=1e-8, newton_tol=1e-9,
                  coef_tol=1e-6, newton_max_iter=500, inner_cd_max_iter=10_000)
# One-hot levels make a centred design singular; a lasso jumping to one alpha there can creep
# along the flat direction for 10^4-10^5 sweeps (0.1-1 s each learning subset, measured on
# 200,000 x 132) while its fitted values no longer move at chart precision: PLOT stops it.
PLOT = Precision(cd_tol=1e-8, inner_cd_tol=1e-6, logistic_tol=1e-5, newton_tol=1e-6,
                 coef_tol=1e-4, newton_max_iter=20, inner_cd_max_iter=500, cd_max_iter=5_000)
CD_MAX_ITER = 100_000
# An unpenalized logistic fit on separable classes never converges (its coefficients diverge):
# the cap ends it and the non-convergence is recorded.
LOGISTIC_MAX_ITER = 1_000
# Wide single-alpha lassos (the inner solves of proximal Newton) work on a screened subset of
# features, verified by the KKT conditions afterwards; a feature enters the first working set
# when its gradient at the warm start exceeds this fraction of alpha.
SCREEN_MIN_FEATURES = 200
SCREEN_FRACTION = 0.5
LSTSQ_COND = 1e-6  # LinearRegression().tol (tests/test_paths.py checks it)
# The full-Hessian multinomial step builds an n(K-1) x Kp design: up to this many cells (160 MB)
# it does; above, the class-by-class step keeps memory at the size of X.
EXPANDED_MAX_CELLS = 20_000_000
# standardize masks every column at once when more than 1/4 of them have missing values, and
# only those columns otherwise.
HOLES_MASKED_WHOLE = 4
# column_scaling and standardize32 standardize this many columns at a time: a small copy
# instead of all X, whose passes stay in the cache (standardize32 on 140,000 of the 200k binary
# benchmark file's rows, one process, 3 rounds: 82-97 ms with 4 columns, 125-260 ms with 16).
SCALING_COLUMNS = 4
# _any_nonzero looks at this many columns at a time.
ANY_COLUMNS = 8
# Predictions one matrix product of _errors makes at most (bytes): the three penalties of a
# learning subset in one product, a binary fold's 62 alphas on 160,000 rows in three (one
# product for all of them was no faster: the metrics, not the product, take the time there).
SCORE_BYTES = 32 << 20
# Float32 rows are scored this many at a time in float64 (8 MB of 132 columns).
SCORE_ROWS = 8_192
# Binary paths take Newton steps with a p x p Hessian (paths_newton.py) up to this many features;
# wider designs go through scikit-learn's solvers on the SVD scores.
NEWTON_MAX_FEATURES = 2_000
# Newton-Cholesky forms the (p*(K-1))^2 Hessian: only worth it for small problems with n > p.
NEWTON_CHOLESKY_MAX_PARAMS = 1_000
# glmnet's saturation stop: once a fold's training log loss is below 0.1% of the null model's
# (deviance explained > 99.9%), the classes are separated and smaller alphas only inflate the
# coefficients. Those fits are skipped in cross-validation folds (left out of the choice of
# alpha, and reported); the fit on all rows always runs the whole grid.
SATURATION = 1e-3
# IRLS weights p(1-p) below this are floored, as glmnet does, so z = eta + (y-p)/w stays finite.
MIN_WEIGHT = 1e-5


# Cell statistics hold a q x q Gram per cell (q columns, a few cells per fold): worth it while
# the folds are taller than wide and those Grams stay within this many bytes.
GRAM_MAX_BYTES = 1 << 30


# scikit-learn and scipy take about a second to import, more than reading a 200,000-row CSV:
# they load on first use, and diagnose() starts loading them on a thread while it reads a file
# whose target is not a regression's (a regression on cell statistics, streamed or read whole,
# needs them only where its lasso's homotopy falls back to coordinate descent,
# paths_gram._lasso_gram).
def enet_path(*args, **kwargs):
    """sklearn.linear_model.enet_path, imported on first use."""
    from sklearn.linear_model import enet_path as path

    return path(*args, **kwargs)


def expit(x):
    from scipy.special import expit as function

    return function(x)


def softmax(x, axis):
    from scipy.special import softmax as function

    return function(x, axis=axis)


def log_softmax(x, axis):
    from scipy.special import log_softmax as function

    return function(x, axis=axis)


# Held while load_solvers imports: a second caller waits for the first.
_SOLVERS_LOADING = threading.Lock()


def load_solvers() -> None:
    """Import scikit-learn's linear models and scipy's special functions now; a caller while
    another thread imports them waits until it is done.

    diagnose() runs this on a thread while it reads (the import holds the GIL only between its
    file reads and C initializers), and again before anything else imports scikit-learn: two
    threads importing it at once can meet a module half initialized (sklearn.base's circular
    imports), an ImportError that CI met when a small file was read before the thread's import
    had finished. Best effort: the process may be ending (Ctrl-C, a bad file) while this runs,
    and a real import problem shows where the fit imports them."""
    with _SOLVERS_LOADING:
        try:
            _import_solvers()
        except Exception:  # noqa: BLE001, S110 - see above
            pass
        except BaseException:  # never a traceback from the preload thread; Ctrl-C stops diagnose
            if threading.current_thread() is threading.main_thread():
                raise


def _import_solvers() -> None:
    import scipy.special  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection  # noqa: F401 - splits.make_splits' (0.4 s more)


class StartedWorkers:
    """fit_paths' worker processes where they are joblib's (not Linux: see forked.usable),
    started now so that their start (each one a fresh Python importing numpy, scipy and
    scikit-learn: 2 s on 2 cores before its first fit) overlaps the reading of a file whose
    fits will need them. joblib sends each a task that imports what the fits use; `ready()`
    waits for those before fitting, and the fits reuse the processes (joblib keeps its
    executor between calls)."""

    def __init__(self, jobs: int) -> None:
        from joblib import Parallel, delayed, effective_n_jobs

        count = effective_n_jobs(jobs)
        # Returned as soon as the tasks are sent; their results are read by ready().
        self._results = Parallel(n_jobs=jobs, return_as="generator")(
            delayed(_ready_worker)() for _ in range(count))

    def ready(self) -> None:
        """Wait until the processes have started. Should they have failed (a worker killed),
        the fits start their own; a Ctrl-C while waiting is raised."""
        try:
            for _ in self._results:
                pass
        except Exception:  # noqa: BLE001, S110 - see above
            pass

    def cancel(self) -> None:
        """The diagnosis ends before fitting (bad data, Ctrl-C): kill the processes rather
        than wait out their imports (2 s), then shut joblib's executor down so that the next
        call makes a new one. Dropping the tasks instead (closing the results) races with
        joblib's own thread, which then prints a traceback."""
        executor = getattr(sys.modules.get("joblib.externals.loky.reusable_executor"),
                           "_executor", None)
        for process in list(getattr(executor, "_processes", {}).values()):
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGKILL)
        self.ready()
        if executor is not None:
            # Idle workers killed are found dead by joblib's thread only later; until then the
            # next call would reuse the executor and fail (TerminatedWorkerError).
            executor.shutdown(wait=True, kill_workers=True)


def _ready_worker() -> None:
    """In a worker: import what its fits use."""
    from . import metrics, paths_newton  # noqa: F401

    load_solvers()


def gram_suits(q: int, n_train: int, n_cells: int) -> bool:
    """Should a regression design of q accumulated columns, split in n_cells cells of rows, go
    through cell statistics?"""
    return n_train > q and n_cells * q * q * 8 <= GRAM_MAX_BYTES


@dataclass(frozen=True)
class PenaltyPath:
    """Errors along one penalty's alpha grid: metric -> array (n_alphas, n_folds)."""

    penalty: str
    alphas: np.ndarray
    train: dict[str, np.ndarray]
    validation: dict[str, np.ndarray]
    coef: np.ndarray | None  # (n_alphas, n_outputs, n_features), fitted on all rows
    intercept: np.ndarray | None  # (n_alphas, n_outputs)
    not_converged: np.ndarray  # (n_alphas,) fits that stopped at their iteration cap
    fitted: np.ndarray  # (n_alphas, n_folds) False where a saturated fold skipped the alpha


@dataclass(frozen=True)
class _Fit:
    coef: np.ndarray  # (A, K', p); NaN where the path stopped early (saturated)
    intercept: np.ndarray  # (A, K')
    not_converged: np.ndarray  # (A,)


def fit_paths(X: np.ndarray, y: np.ndarray, task: str, n_classes: int, folds: Sequence[Fold],
              grids: Mapping[str, np.ndarray], *, coef_on_all_rows: bool = True, jobs: int = 1,
              precision: Precision = EXACT, on_saturation: str = "skip",
              on_fit_done=None, start: Mapping[str, np.ndarray] | None = None,
              metrics: Sequence[str] | None = None,
              runs: Sequence[Sequence[int]] | None = None,
              unpenalized_from_l2: bool = False) -> dict[str, PenaltyPath]:
    """Fit and score every penalty along its grid on every fold; optionally refit on all rows.

    grids maps "baseline", "none", "l1", "l2" to alphas (ignored for baseline and none).
    on_saturation: once a fold's classes are separated along a logistic path (see SATURATION),
    "skip" leaves the smaller alphas unfitted (NaN, left out of the choice of alpha) and "hold"
    carries the last fit forward, as glmnet's truncated path predicts (learning curves).
    Folds run in parallel on `jobs` processes (-1: one per core; see _fit_fold): copies of
    this process forked as the fits start on Linux (forked.py), joblib's workers elsewhere.
    start maps a penalty to coefficients (K', p) on the raw features' scale that each fold's
    fit begins from, put on the fold's standardization (the intercept is solved for). Only
    binary Newton paths (paths_newton.py) use it: it saves steps, the optimum stays the same.
    metrics: the metrics to score (default every one of the task's); the others are NaN. The
    fit on all rows is never scored (its coefficients are what it is for).
    runs: groups of folds (indices) that share their validation rows and whose training rows
    are nested, as learning subsets are: each group goes to one worker, which takes its rows
    out of X once (the largest set, ordered so that every smaller one is a prefix) instead of
    once per fold. Default: every fold on its own.
    unpenalized_from_l2: binary Newton paths only: each fold's unpenalized fit begins at that
    fold's L2 fit at its smallest alpha (fitted first) instead of at zero. An L2 optimum is a
    combination of the fold's standardized rows (its gradient condition says so), as zero is,
    so the steps reach the same model: a coefficient the rows cannot determine (a level no row
    of the fold has) stays 0, where a start from another fold's model would leave it. A fit
    that reaches its cap from there (separable rows, no optimum: where the steps stop depends
    on the start) is fitted again from zero.
    A tall regression design is reduced to cell statistics instead (paths_gram.py): exact and
    much faster, the same numbers.
    """
    if task == "regression" and gram_suits(X.shape[1] + int(np.isnan(X).any(axis=0).sum()),
                                           min((f.train.size for f in folds), default=0),
                                           2 * len(folds) + 1):
        from .paths_gram import fit_regression_paths, in_memory  # it builds on this module

        with threadpool_limits(1):  # see _fit_fold
            return fit_regression_paths(in_memory(X, y, folds), grids,
                                        coef_on_all_rows=coef_on_all_rows,
                                        precision=precision, on_fit_done=on_fit_done)
    groups = [list(run) for run in runs] if runs is not None else \
        [[i] for i in range(len(folds))]
    if sorted(i for run in groups for i in run) != list(range(len(folds))):
        raise ValueError("runs must hold every fold once")
    if any(not np.array_equal(folds[i].validation, folds[run[0]].validation)
           for run in groups for i in run):
        raise ValueError("the folds of a run must share their validation rows")
    tasks = [([folds[i].train for i in run], folds[run[0]].validation) for run in groups]
    if coef_on_all_rows:
        groups.append([len(folds)])
        tasks.append(([np.arange(len(y))], np.arange(0)))

    # The fit on all rows is kept for its coefficients alone: it is not scored (()).
    calls = [partial(_fit_run, X, y, trains, va, task, n_classes, grids, precision,
                     on_saturation if va.size else None, start or {},
                     metrics if va.size else (), unpenalized_from_l2)
             for trains, va in tasks]
    # Processes, not threads: warning filters are process-wide and scikit-learn flips them
    # inside its solvers (catch_warnings is not thread-safe), so threads would turn one fold's
    # internal warning into another fold's exception.
    if jobs == 1 or len(calls) == 1:
        finished = ((i, call()) for i, call in enumerate(calls))
    elif forked.usable():  # copies of this process: nothing to start, import or send
        load_solvers()  # what the fits import: once, here, not in each copy
        if task == "binary":
            from . import paths_newton  # noqa: F401
        finished = forked.run(calls, forked.processes(jobs))
    else:
        # joblib imports asyncio and more (0.05 s): only here, never for a streamed regression.
        from joblib import Parallel, delayed

        finished = enumerate(Parallel(n_jobs=jobs, return_as="generator")(
            delayed(call)() for call in calls))
    results: list = [None] * (len(folds) + int(coef_on_all_rows))
    try:
        for g, run_results in finished:
            for i, result in zip(groups[g], run_results, strict=True):
                results[i] = result
                if on_fit_done is not None:
                    on_fit_done()
    finally:  # stopped early (a progress callback's error): no copy is left fitting
        if hasattr(finished, "close"):
            finished.close()
    fold_results = results[: len(folds)]
    full = results[len(folds)] if coef_on_all_rows else None
    paths = {}
    for penalty, alphas in grids.items():
        train = {m: np.stack([r[0][penalty][m] for r in fold_results], axis=1)
                 for m in metric_names(task)}
        validation = {m: np.stack([r[1][penalty][m] for r in fold_results], axis=1)
                      for m in metric_names(task)}
        not_converged = sum(r[2][penalty].not_converged for r in results)
        fitted = np.stack([~np.isnan(r[2][penalty].coef).any(axis=(1, 2)) for r in fold_results],
                          axis=1)
        fit = full[2][penalty] if full is not None else None
        paths[penalty] = PenaltyPath(penalty, np.asarray(alphas, dtype=float), train, validation,
                                     None if fit is None else fit.coef,
                                     None if fit is None else fit.intercept, not_converged,
                                     fitted)
    return paths


def standardize(X: np.ndarray, train: np.ndarray | slice
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training-fold mean imputation and scaling: (imputed X[train] standardized, mean, scale).

    Equals SimpleImputer(strategy="mean", keep_empty_features=True) then StandardScaler, both
    fitted on the training rows only (tests prove it), so validation rows never leak in.
    """
    # Few passes over the rows and no temporary of their size: the column sums (a NaN in a sum
    # marks a column with missing values), the centred copy, the sums of squares, the scaling.
    # Measured on 160,000 x 132 without missing values: 205 -> 91 ms for a slice of rows.
    rows = np.asarray(take_rows(X, train), dtype=float)
    owned = not np.may_share_memory(rows, X)  # a slice of rows is a view: never touch X
    n, p = rows.shape
    sums = rows.sum(axis=0)
    holes = np.flatnonzero(np.isnan(sums))
    counts = np.full(p, n)
    if holes.size > p // HOLES_MASKED_WHOLE:
        # Missing values in many columns: one mask over every column, worked in place.
        Xt = rows if owned else rows.copy(order="K")
        missing = np.isnan(Xt)
        counts = n - missing.sum(axis=0)
        np.copyto(Xt, 0.0, where=missing)
        sums = Xt.sum(axis=0)
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        Xt -= mean
        np.copyto(Xt, 0.0, where=missing)  # the imputed mean, centred
    else:
        if holes.size:  # only those columns are masked
            block = rows[:, holes]
            missing = np.isnan(block)
            counts[holes] = n - missing.sum(axis=0)
            np.copyto(block, 0.0, where=missing)
            sums[holes] = block.sum(axis=0)
        # The mean of the observed values (0 for a column empty in this fold) imputes the
        # missing ones; imputing with the mean keeps it the mean, so it also centres the column.
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        Xt = np.subtract(rows, mean, out=rows if owned else None)
        if holes.size:
            block = Xt[:, holes]
            np.copyto(block, 0.0, where=missing)  # the imputed mean, centred
            Xt[:, holes] = block
    with np.errstate(invalid="ignore"):  # no rows: NaN scale, as before
        scale = np.sqrt(np.einsum("ij,ij->j", Xt, Xt) / n)
    # StandardScaler leaves (near-)constant columns unscaled rather than dividing by ~0.
    scale = np.where(scale < 10 * np.finfo(float).eps * np.maximum(np.abs(mean), 1.0), 1.0,
                     scale)
    Xt /= scale
    return Xt, mean, scale


def column_scaling(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """standardize's mean and scale over every row of X, a few columns at a time (each column's
    numbers are standardize's own): no copy of all X."""
    mean, scale = np.empty(X.shape[1]), np.empty(X.shape[1])
    for columns, _, block_mean, block_scale in _column_blocks(X, slice(None)):
        mean[columns], scale[columns] = block_mean, block_scale
    return mean, scale


def _column_blocks(X: np.ndarray, rows: np.ndarray | slice):
    """standardize(X[:, columns], rows) for SCALING_COLUMNS columns at a time, with the
    columns: (columns, standardized rows, mean, scale)."""
    for columns in _blocks(X.shape[1]):
        yield columns, *standardize(X[:, columns], rows)


def _blocks(p: int) -> list[slice]:
    """SCALING_COLUMNS columns at a time, none alone unless p is 1: numpy sums the squares of
    a lone column another way (a block that is also row-major), which can differ from
    standardize's scale in the last bit, where a block of 2 or more gives its very numbers."""
    starts = list(range(0, p, SCALING_COLUMNS))
    if len(starts) > 1 and p - starts[-1] == 1:
        starts.pop()
    return [slice(j, stop) for j, stop in zip(starts, [*starts[1:], p], strict=True)]


def apply_standardize(X: np.ndarray, rows: np.ndarray, mean: np.ndarray, scale: np.ndarray
                      ) -> np.ndarray:
    """The training fold's imputation and scaling applied to other rows."""
    Xv = np.asarray(take_rows(X, rows), dtype=float)
    if np.may_share_memory(Xv, X):
        Xv = Xv.copy(order="K")
    np.copyto(Xv, mean, where=np.isnan(Xv))
    Xv -= mean
    Xv /= scale
    return Xv


def take_rows(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """X[rows], in X's memory order: a column-major X (the dataset's design, dataset.py) gives
    column-major rows, which Newton steps and coordinate descent want, 3x faster than taking
    them row-major and converting (measured on 160,000 of 200,000 x 132)."""
    if X.ndim == 2 and X.flags.f_contiguous and not X.flags.c_contiguous \
            and isinstance(rows, np.ndarray) and rows.dtype.kind in "iu":
        return np.take(X.T, rows, axis=1).T
    return X[rows]


def _fit_run(X, y, trains, validation, task, n_classes, grids, precision, saturate, start,
             metrics, unpenalized_from_l2=False):
    """_fit_fold for each of nested training sets sharing `validation` (fit_paths' runs), with
    the rows taken out of X once: ordered so that each set is a prefix of the largest."""
    if task != "regression":
        keep_freed_heap()  # a Newton step's temporaries would be fresh pages every time
    if len(trains) == 1:
        return [_fit_fold(X, y, trains[0], validation, task, n_classes, grids, precision,
                          saturate, start, metrics, unpenalized_from_l2=unpenalized_from_l2)]
    order, sizes = nested_order(trains)
    Xr, Vr = take_rows(X, order), take_rows(X, validation)
    yr = y[order]
    return [_fit_fold(Xr, yr, slice(0, size), slice(None), task, n_classes, grids, precision,
                      saturate, start, metrics, Xv=Vr, yv=y[validation],
                      unpenalized_from_l2=unpenalized_from_l2) for size in sizes]


def nested_order(trains: Sequence[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """The rows of the largest of nested sorted row sets, ordered so that every set is a
    prefix (the smallest set's rows first, each in file order), and each set's length."""
    largest = trains[int(np.argmax([t.size for t in trains]))]
    first = np.full(largest.size, len(trains))  # the earliest set (by size) holding the row
    by_size = sorted(range(len(trains)), key=lambda i: trains[i].size)
    for rank, i in enumerate(reversed(by_size)):
        at = np.searchsorted(largest, trains[i])
        if at.size and (at.max() >= largest.size or np.any(largest[at] != trains[i])):
            raise ValueError("runs must hold nested training sets")
        first[at] = len(trains) - 1 - rank
    # Nested, each set holds the rows first marked for it and for every smaller set: their
    # counts add up to its size (rows of sets that are not nested, or repeated, do not).
    held = np.cumsum(np.bincount(first, minlength=len(trains))[:len(trains)])
    if not np.array_equal(held, [trains[i].size for i in by_size]):
        raise ValueError("runs must hold nested training sets")
    return largest[np.argsort(first, kind="stable")], [int(t.size) for t in trains]


def _fit_fold(X, y, train, validation, task, n_classes, grids, precision, saturate,
              start=None, metrics=None, Xv=None, yv=None, unpenalized_from_l2=False):
    """One fold (or all rows): standardize on its training rows, fit every path, score them.
    Validation rows come from X, or are `Xv` (raw) with targets `yv` when given.

    BLAS is held to one thread (measured: 2 OpenBLAS threads are many times slower than 1 for
    the small Gram and LAPACK calls here); the second core goes to another fold's process.
    Non-convergence is counted from iteration counts, as scikit-learn decides to warn, so its
    warnings are silenced here; an ill-conditioned Newton-Cholesky system makes scikit-learn
    fall back to lbfgs by itself.
    """
    from scipy.linalg import LinAlgWarning
    from sklearn.exceptions import ConvergenceWarning

    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", LinAlgWarning)
        # A small fold where most rows have a class of their own: the report's notes already
        # say the classes are rare; scikit-learn would repeat it for every fit.
        warnings.filterwarnings("ignore", "The number of unique classes is greater than 50%",
                                UserWarning)
        return _fit_fold_paths(X, y, train, validation, task, n_classes, grids, precision,
                               saturate, start or {}, metrics, Xv, yv, unpenalized_from_l2)


def _fit_fold_paths(X, y, train, validation, task, n_classes, grids, precision, saturate,
                    start, metrics=None, Xv=None, yv=None, unpenalized_from_l2=False):
    if _float32_rows(task, _n_rows(X, train), X.shape[1], precision):
        # Only float32 rows are fitted on (paths_newton.Design, certified=False): made
        # without a float64 copy of the standardized rows; scoring reads the float32 ones.
        Xt, mean, scale, varies = standardize32(X, train)
        design = newton_design(Xt, task, precision)
    else:
        Xt, mean, scale = standardize(X, train)
        design = newton_design(Xt, task, precision) if task != "regression" else None
        if design is not None and design.X is not None:
            Xt = design.X  # the same rows, column-major: one copy, not two
        varies = task == "regression" or _any_nonzero(Xt)
    if Xv is None:
        Xv, yv = X, y
    Xv = apply_standardize(Xv, validation, mean, scale)
    yt, yv = y[train], yv[validation]
    fits: dict[str, _Fit] = {}
    from_l2 = unpenalized_from_l2 and design is not None and "l2" in grids
    # The unpenalized fit after L2 when it starts from L2's (a stable sort: the others keep
    # the grid's order).
    for penalty in sorted(grids, key=lambda p: from_l2 and p == "none"):
        alphas = np.asarray(grids[penalty], dtype=float)
        if task == "regression":
            fits[penalty] = _fit_regression(Xt, yt, penalty, alphas, precision)
            continue

        def fit(begin, penalty=penalty, alphas=alphas):
            return _fit_classifier(Xt, yt, n_classes, task, penalty, alphas, saturate,
                                   precision, begin, design, varies)

        if penalty == "none" and from_l2:
            begin = _l2_start(fits["l2"], grids["l2"])
            fits[penalty] = fit(begin)
            if begin is not None and fits[penalty].not_converged.any():
                fits[penalty] = fit(None)  # capped from L2's start: from zero instead
        else:
            fits[penalty] = fit(start[penalty][0] * scale if penalty in start else None)  # rescaled
    fits = {penalty: fits[penalty] for penalty in grids}
    train_errors = _errors(Xt, yt, fits, task, n_classes, metrics)
    val_errors = _errors(Xv, yv, fits, task, n_classes, metrics)
    return train_errors, val_errors, fits


def _l2_start(fit: _Fit, alphas: np.ndarray) -> np.ndarray | None:
    """An L2 fit's coefficients at its smallest alpha, where it converged (else None)."""
    at = int(np.argmin(alphas))
    coef = fit.coef[at, 0]
    return coef.copy() if fit.not_converged[at] == 0 and np.isfinite(coef).all() else None


def _any_nonzero(X: np.ndarray) -> bool:
    """X.any(), a few columns at a time: a standardized column that varies has a non-zero in
    the first of them, so this reads a few columns, not all X (X.any() took 20 ms on
    124,000 x 132)."""
    return any(X[:, j:j + ANY_COLUMNS].any() for j in range(0, X.shape[1], ANY_COLUMNS))


def _n_rows(X: np.ndarray, rows: np.ndarray | slice) -> int:
    """How many rows of X `rows` (indices or a slice) selects."""
    return len(range(X.shape[0])[rows]) if isinstance(rows, slice) else len(rows)


def _newton_suits(task: str, n: int, p: int) -> bool:
    """Are n x p training rows fitted by Newton steps (paths_newton.py), not scikit-learn?"""
    return task == "binary" and p < n and p <= NEWTON_MAX_FEATURES


def _float32_rows(task: str, n: int, p: int, precision: Precision) -> bool:
    """Are n x p training rows fitted on float32 rows alone (binary Newton steps above
    HESSIAN_ROWS rows, at a tolerance float32 gradients meet: the learning curves')?"""
    if not _newton_suits(task, n, p):
        return False
    from .paths_newton import HESSIAN_ROWS, certifies  # it builds on this module

    return n > HESSIAN_ROWS and not certifies(precision)


def standardize32(X: np.ndarray, train: np.ndarray | slice
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """standardize's rows as column-major float32, its mean and scale, and whether any
    standardized value is non-zero; made SCALING_COLUMNS columns at a time (each column's
    numbers are standardize's own, then rounded), so no float64 copy of all the rows exists
    and the Newton design takes these rows as they are, with no conversion of its own (the
    learning subsets of the 200k binary benchmark file: standardizing takes about as long as
    before, the conversion and the 'does any column vary' pass are gone)."""
    p = X.shape[1]
    rows = np.empty((_n_rows(X, train), p), dtype=np.float32, order="F")
    mean, scale = np.empty(p), np.empty(p)
    varies = False
    for columns, block, block_mean, block_scale in _column_blocks(X, train):
        rows[:, columns], mean[columns], scale[columns] = block, block_mean, block_scale
        varies = varies or _any_nonzero(block)
    return rows, mean, scale, varies


def newton_design(Xt: np.ndarray, task: str, precision: Precision = EXACT):
    """The rows Newton steps fit a binary target on (paths_newton.Design), shared by every
    penalty of a fold; None where scikit-learn's solvers fit it (wider than tall, or above
    NEWTON_MAX_FEATURES). Fits at a tolerance float32 gradients meet need no float64 copy."""
    if not _newton_suits(task, *Xt.shape):
        return None
    from .paths_newton import Design, certifies  # it builds on this module

    return Design(Xt, certified=certifies(precision))


def _errors(Xs, y, fits: Mapping[str, _Fit], task, n_classes, metrics=None
            ) -> dict[str, dict[str, np.ndarray]]:
    """Each fit's errors on the rows Xs: {penalty: {metric: an error per alpha}} (NaN where
    not fitted, or a metric not asked for).

    The models of every penalty are scored together, in as few matrix products as SCORE_BYTES
    of predictions allow (BLAS; einsum's loop took 4x longer on 160,000 rows): the rows are
    read once for all of them, not once per penalty."""
    out = {penalty: {m: np.full(fit.coef.shape[0], np.nan) for m in metric_names(task)}
           for penalty, fit in fits.items()}
    models = [(penalty, int(a)) for penalty, fit in fits.items()
              for a in np.flatnonzero(~np.isnan(fit.coef).any(axis=(1, 2)))]
    if y.size == 0 or not models or (metrics is not None and not metrics):
        return out
    K = next(iter(fits.values())).coef.shape[1]
    per_product = max(1, SCORE_BYTES // (8 * K * y.size))
    for lo in range(0, len(models), per_product):
        group = models[lo:lo + per_product]
        coef = np.stack([fits[penalty].coef[a] for penalty, a in group])
        A, _, p = coef.shape
        eta = _products(coef.reshape(A * K, p), Xs).reshape(A, K, -1).transpose(0, 2, 1) \
            + np.stack([fits[penalty].intercept[a] for penalty, a in group])[:, None, :]
        if task == "regression":
            errors = regression_errors(y, eta[:, :, 0].T)
        else:
            errors = binary_errors(y, expit(eta[:, :, 0]), metrics) if task == "binary" \
                else classification_errors(y, probabilities(eta), n_classes)
        for k, (penalty, a) in enumerate(group):
            for m in out[penalty]:  # a two-class target modelled as multiclass also gets a
                if metrics is None or m in metrics:  # ROC AUC: not asked
                    out[penalty][m][a] = errors[m][k]
    return out


def _products(coef: np.ndarray, Xs: np.ndarray) -> np.ndarray:
    """coef @ Xs.T in float64: float32 rows are converted SCORE_ROWS at a time (exactly), not
    all at once."""
    if Xs.dtype == np.float64:
        return coef @ Xs.T
    out = np.empty((coef.shape[0], Xs.shape[0]))
    for lo in range(0, Xs.shape[0], SCORE_ROWS):
        out[:, lo:lo + SCORE_ROWS] = coef @ Xs[lo:lo + SCORE_ROWS].astype(np.float64).T
    return out


def probabilities(eta: np.ndarray) -> np.ndarray:
    """Linear predictors (..., K') -> class probabilities (..., K); K' = 1 means binary."""
    if eta.shape[-1] == 1:
        p1 = expit(eta[..., 0])
        return np.stack([1 - p1, p1], axis=-1)
    with np.errstate(invalid="ignore"):
        return softmax(eta, axis=-1)


# --- regression --------------------------------------------------------------------------


def _fit_regression(Xt: np.ndarray, yt: np.ndarray, penalty: str, alphas: np.ndarray,
                    precision: Precision) -> _Fit:
    n, p = Xt.shape
    ybar = yt.mean()
    yc = yt - ybar
    A = alphas.size
    intercept = np.full((A, 1), ybar)
    none = np.zeros(A, dtype=int)
    if penalty == "baseline":
        return _Fit(np.zeros((A, 1, p)), intercept, none)
    if penalty == "l1":
        coef, capped = _lasso_path(Xt, yc, alphas, tol=precision.cd_tol, with_cap=True)
        return _Fit(coef[:, None, :], intercept, capped.astype(int))
    U, s, Vt = np.linalg.svd(Xt, full_matrices=False)
    uty = U.T @ yc
    if penalty == "none":
        # Minimum-norm least squares, as LinearRegression: scipy's lstsq(cond=tol) drops singular
        # values below tol = 1e-6 of the largest, so near-collinear columns do not blow up.
        # Standardized columns have singular values near sqrt(n); one below eps * sqrt(n) comes
        # from dust that standardizing left unscaled (values like 1e-244 beside zeros), and
        # dividing by it would overflow: it is dropped too.
        keep = s > max(LSTSQ_COND * s[0], np.finfo(float).eps * np.sqrt(n))
        coef = Vt[keep].T @ (uty[keep] / s[keep])
        return _Fit(np.broadcast_to(coef, (A, 1, p)).copy(), intercept, none)
    # Ridge for every alpha from one SVD: w = V diag(s / (s^2 + n alpha)) U'y.
    shrink = s[None, :] / (s[None, :] ** 2 + n * alphas[:, None])
    coef = (shrink * uty[None, :]) @ Vt
    return _Fit(coef[:, None, :], intercept, none)


def _lasso_path(Xt: np.ndarray, yc: np.ndarray, alphas: np.ndarray,
                coef_init: np.ndarray | None = None, tol: float = EXACT.cd_tol,
                max_iter: int = CD_MAX_ITER, with_cap: bool = False):
    """Lasso along a descending grid with warm starts (coordinate descent on the Gram if n > p).

    A single alpha on a wide design is solved on a screened working set (see _screened_lasso).
    with_cap: also return which alphas stopped at max_iter (did not converge) for the report.
    """
    n, p = Xt.shape
    if alphas.size == 1 and p > SCREEN_MIN_FEATURES:
        beta = _screened_lasso(Xt, yc, float(alphas[0]), coef_init, tol, max_iter)[None, :]
        return (beta, np.zeros(1, dtype=bool)) if with_cap else beta
    order = np.argsort(-alphas, kind="stable")
    gram = Xt.T @ Xt if n > p else False
    xy = Xt.T @ yc if n > p else None
    if n <= p:
        Xt = np.asfortranarray(Xt)  # coordinate descent on X itself walks its columns
    _, coefs, _, n_iter = enet_path(Xt, yc, l1_ratio=1.0, alphas=alphas[order],
                                    precompute=gram, Xy=xy, coef_init=coef_init, tol=tol,
                                    max_iter=max_iter, check_input=False, return_n_iter=True)
    out = np.empty((alphas.size, p))
    out[order] = coefs.T
    if not with_cap:
        return out
    capped = np.empty(alphas.size, dtype=bool)
    capped[order] = np.asarray(n_iter) >= max_iter
    return out, capped


def _screened_lasso(X: np.ndarray, y: np.ndarray, alpha: float, beta: np.ndarray | None,
                    tol: float, max_iter: int) -> np.ndarray:
    """One lasso solve restricted to a working set, then checked against every feature's KKT.

    The working set holds the warm start's non-zero features and those whose gradient there
    exceeds SCREEN_FRACTION * alpha (a strong-rule-like screen). After solving on it, any left-out
    feature with |x_j'(y - X beta)| / n > alpha (a KKT violation) joins and the solve repeats,
    so the result is the lasso on all features; only the work shrinks (2308 genes -> a few
    dozen).
    """
    n, p = X.shape
    beta = np.zeros(p) if beta is None else beta.copy()
    grad = np.abs(X.T @ (y - X @ beta)) / n
    active = (beta != 0) | (grad > SCREEN_FRACTION * alpha)
    while True:
        idx = np.flatnonzero(active)
        start, beta = beta[idx], np.zeros(p)
        if idx.size:
            sub = X[:, idx]
            gram = sub.T @ sub if n > idx.size else False
            xy = sub.T @ y if n > idx.size else None
            _, coefs, _ = enet_path(np.asfortranarray(sub), y, l1_ratio=1.0,
                                    alphas=np.array([alpha]), precompute=gram, Xy=xy,
                                    coef_init=start, tol=tol, max_iter=max_iter,
                                    check_input=False)
            beta[idx] = coefs[:, 0]
        grad = np.abs(X.T @ (y - X @ beta)) / n
        violators = ~active & (grad > alpha)
        if not violators.any():
            return beta
        active |= violators


# --- classification ----------------------------------------------------------------------


def _fit_classifier(Xt, yt, n_classes, task, penalty, alphas, on_saturation,
                    precision: Precision = EXACT, start=None, design=None, varies=True
                    ) -> _Fit:
    """Every alpha's fit on the standardized training rows Xt. `design` (paths_newton.Design,
    made once per fold by newton_design) sends a binary target to Newton steps; `varies` is
    False when no column of Xt varies."""
    n, p = Xt.shape
    A = alphas.size
    outputs = 1 if task == "binary" else n_classes
    counts = np.bincount(yt, minlength=n_classes).astype(float)
    present = np.flatnonzero(counts)  # np.unique(yt) without sorting yt's rows
    with np.errstate(divide="ignore", invalid="ignore"):
        prior = np.log(counts / n)  # -inf for a class this fold never saw
        base = np.array([prior[1] - prior[0]]) if task == "binary" else prior
    if task == "binary":
        base = np.nan_to_num(base, posinf=np.log(1 / np.finfo(float).eps),
                             neginf=-np.log(1 / np.finfo(float).eps))
    # One class, or no feature varies in this fold (every standardized column is 0, e.g. p >> n
    # with constant columns): the best model is the intercept, the training class frequencies.
    if penalty == "baseline" or present.size < 2 or not varies:
        return _Fit(np.zeros((A, outputs, p)), np.tile(base, (A, 1)), np.zeros(A, dtype=int))
    if design is not None:
        from .paths_newton import binary_path  # it builds on this module

        return binary_path(design, yt, penalty, alphas,
                           on_saturation if penalty != "none" else None, precision, start)
    if penalty == "l1":
        fit = _l1_logistic_path(Xt, yt, n_classes, task, alphas, present, on_saturation,
                                precision)
    else:
        fit = _sklearn_logistic_path(Xt, yt, n_classes, task, penalty, alphas, present,
                                     on_saturation if penalty == "l2" else None, precision)
    return fit


def _saturated(Xt, yt, coef, intercept, null_loss) -> bool:
    """True when the training log loss is below SATURATION times the null model's."""
    proba = probabilities(Xt @ coef.T + intercept)
    loss = -np.mean(np.log(np.maximum(proba[np.arange(yt.size), yt], 1e-300)))
    return bool(loss < SATURATION * null_loss)


def _stop(coef, intercept, order, done: int, mode: str) -> None:
    """End a saturated path after order[done]: NaN ("skip") or the last fit carried ("hold")."""
    rest, last = order[done + 1:], order[done]
    if mode == "hold":
        coef[rest], intercept[rest] = coef[last], intercept[last]
    else:
        coef[rest] = np.nan


def _null_loss(yt) -> float:
    freq = np.bincount(yt) / yt.size
    freq = freq[freq > 0]
    return float(-np.sum(freq * np.log(freq)))


def _sklearn_logistic_path(Xt, yt, n_classes, task, penalty, alphas, present, saturate,
                           precision: Precision) -> _Fit:
    n, p = Xt.shape
    A = alphas.size
    outputs = 1 if task == "binary" else n_classes
    rotation = None
    design = Xt
    if p > n:
        # The L2 (and the lbfgs-from-zero unpenalized) solution lies in X's row space: fitting
        # on the n x r scores U S with the same C gives the same model, coef = gamma @ V'.
        U, S, rotation = np.linalg.svd(Xt, full_matrices=False)
        keep = S > S[0] * np.finfo(float).eps * p
        design, rotation = U[:, keep] * S[keep], rotation[keep]
    small = n > design.shape[1] and \
        design.shape[1] * max(1, present.size - 1) <= NEWTON_CHOLESKY_MAX_PARAMS
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=np.inf, l1_ratio=0.0, tol=precision.logistic_tol,
                             max_iter=LOGISTIC_MAX_ITER, warm_start=True,
                             solver="newton-cholesky" if small else "lbfgs")
    coef = np.zeros((A, outputs, p))
    intercept = np.full((A, outputs), -np.inf)
    not_converged = np.zeros(A, dtype=int)
    order = np.argsort(-alphas, kind="stable") if penalty == "l2" else np.arange(A)
    null_loss = _null_loss(yt)
    for position, a in enumerate(order):
        clf.set_params(C=np.inf if penalty == "none" else 1.0 / (n * alphas[a]))
        clf.fit(design, yt)
        # As scikit-learn decides to warn: the iteration cap was reached.
        not_converged[a] = int(np.max(clf.n_iter_) >= LOGISTIC_MAX_ITER)
        fitted = clf.coef_ if rotation is None else clf.coef_ @ rotation
        if task == "binary":
            coef[a, 0], intercept[a, 0] = fitted[0], clf.intercept_[0]
        elif present.size == 2:  # a multiclass fold that saw two classes: one binary model
            coef[a, present[1]], intercept[a, present[1]] = fitted[0], clf.intercept_[0]
            intercept[a, present[0]] = 0.0
        else:
            coef[a, present], intercept[a, present] = fitted, clf.intercept_
        if penalty == "none":  # the unpenalized model has no alpha: one fit serves the grid
            coef[:], intercept[:], not_converged[:] = coef[a], intercept[a], not_converged[a]
            break
        if saturate and _saturated(Xt, yt, coef[a], intercept[a], null_loss):
            _stop(coef, intercept, order, position, saturate)
            break
    return _Fit(coef, intercept, not_converged)


def _l1_logistic_path(Xt, yt, n_classes, task, alphas, present, saturate,
                      precision: Precision = EXACT) -> _Fit:
    """L1 logistic along a descending grid by proximal Newton, glmnet's way.

    Each Newton step replaces the mean log loss by its quadratic model at the current fit and
    solves that penalized least-squares problem by coordinate descent (scikit-learn's
    enet_path, on the Gram when it is the smaller side), warm-started. Binary: IRLS weights
    p(1-p) and a working response. Multinomial: the full Hessian, each row's K x K block
    factored so the model becomes least squares on an expanded design (no class-by-class
    cycling, so convergence stays quadratic near separation). A step that does not lower the
    objective is halved. Minimizes LogisticRegression(C=1/(n alpha), l1_ratio=1)'s objective.
    """
    n, p = Xt.shape
    A = alphas.size
    binary = task == "binary"
    K = 1 if binary else n_classes
    cols = [0] if binary else list(present)  # outputs this fold can fit
    Y = (yt == 1).astype(float)[:, None] if binary else np.eye(n_classes)[yt][:, cols]
    coef = np.zeros((A, K, p))
    intercept = np.full((A, K), -np.inf)
    not_converged = np.zeros(A, dtype=int)
    beta = np.zeros((len(cols), p))
    ybar = Y.mean(axis=0)
    b0 = np.log(ybar / (1 - ybar)) if binary else np.log(ybar) - np.log(ybar).mean()

    def objective(beta, b0, alpha):
        eta = Xt @ beta.T + b0
        if binary:
            loss = np.mean(np.logaddexp(0, eta[:, 0]) - Y[:, 0] * eta[:, 0])
        else:
            loss = -np.mean(np.sum(Y * log_softmax(eta, axis=1), axis=1))
        return loss + alpha * np.abs(beta).sum()

    order = np.argsort(-alphas, kind="stable")
    null_loss = _null_loss(yt)
    for step_index, a in enumerate(order):
        alpha = alphas[a]
        current = objective(beta, b0, alpha)
        converged = False
        for _ in range(precision.newton_max_iter):
            if binary:
                new_beta, new_b0 = _binary_newton_target(Xt, Y[:, 0], beta, b0, alpha,
                                                         precision)
            elif n * (len(cols) - 1) * len(cols) * p <= EXPANDED_MAX_CELLS:
                new_beta, new_b0 = _multinomial_newton_target(Xt, Y, beta, b0, alpha,
                                                              precision)
            else:
                new_beta, new_b0 = _class_by_class_newton_target(Xt, Y, beta, b0, alpha,
                                                                 precision)
            step, start = 1.0, current
            while True:
                trial_beta = beta + step * (new_beta - beta)
                trial_b0 = b0 + step * (new_b0 - b0)
                value = objective(trial_beta, trial_b0, alpha)
                if value <= current + 1e-15 * abs(current):
                    break
                step /= 2
                if step < 1e-4:  # no descent left along this step: stop where we are
                    trial_beta, trial_b0, value = beta, b0, current
                    break
            moved = max(np.max(np.abs(trial_beta - beta)), np.max(np.abs(trial_b0 - b0)))
            beta, b0, current = trial_beta, trial_b0, value
            if not binary:  # softmax ignores a common shift of the intercepts: pin it
                b0 = b0 - b0.mean()
            # Converged when a step moves neither the objective nor any coefficient: near
            # separation the objective is flat while coefficients can still drift.
            if abs(start - current) <= precision.newton_tol * max(abs(current), 1.0) \
                    and moved < precision.coef_tol:
                converged = True
                break
        not_converged[a] = 0 if converged else 1
        coef[a][cols], intercept[a][cols] = beta, b0
        if saturate and _saturated(Xt, yt, coef[a], intercept[a], null_loss):
            _stop(coef, intercept, order, step_index, saturate)
            break
    return _Fit(coef, intercept, not_converged)


def _binary_newton_target(Xt, y, beta, b0, alpha, precision):
    """The minimizer of the quadratic model (IRLS weights, working response) plus the penalty."""
    eta = Xt @ beta[0] + b0[0]
    prob = expit(eta)
    w = np.maximum(prob * (1 - prob), MIN_WEIGHT)
    z = eta + (y - prob) / w
    new_beta, new_b0 = _weighted_lasso(Xt, z, w, alpha, beta[0], precision)
    return new_beta[None, :], np.array([new_b0])


def _class_by_class_newton_target(Xt, Y, B, b, alpha, precision):
    """Memory-light multinomial step for large designs: one IRLS weighted lasso per class with
    the others held (glmnet's partial Newton). Converges linearly rather than quadratically
    near separation, which large n makes rare."""
    B, b = B.copy(), b.copy()
    for k in range(B.shape[0]):
        eta = Xt @ B.T + b
        prob = softmax(eta, axis=1)[:, k]
        w = np.maximum(prob * (1 - prob), MIN_WEIGHT)
        z = eta[:, k] + (Y[:, k] - prob) / w
        B[k], b[k] = _weighted_lasso(Xt, z, w, alpha, B[k], precision)
    return B, b


def _multinomial_newton_target(Xt, Y, B, b, alpha, precision):
    """The minimizer of the full multinomial quadratic model plus the L1 penalty.

    Row i's Hessian block W_i = diag(p_i) - p_i p_i' is singular along the all-ones direction
    (softmax ignores a common shift), so it is restricted to the complement U of that
    direction, factored as V diag(lam) V' with lam floored like the IRLS weights, and the
    model 1/(2n) sum_i |M_i (eta_i' - eta_i) - t_i|^2, M_i = diag(sqrt(lam)) V' U', becomes
    least squares on an expanded design with n(K-1) rows and K p columns. The unpenalized
    intercepts are projected out (Frisch-Waugh-Lovell) and recovered after the lasso.
    """
    n, p = Xt.shape
    K = B.shape[0]
    eta = Xt @ B.T + b
    P = softmax(eta, axis=1)
    U = np.linalg.qr(np.eye(K) - 1.0 / K)[0][:, : K - 1]  # orthonormal, orthogonal to ones
    W = (P[:, :, None] * np.eye(K)) - P[:, :, None] * P[:, None, :]
    lam, V = np.linalg.eigh(U.T @ W @ U)
    lam = np.maximum(lam, MIN_WEIGHT)
    M = np.sqrt(lam)[:, :, None] * np.swapaxes(V, 1, 2) @ U.T  # (n, K-1, K)
    grad = (P - Y) @ U  # n times the gradient, in the U basis
    t = -np.einsum("idc,id->ic", V, grad) / np.sqrt(lam)  # -diag(lam)^-1/2 V' grad
    target = t + np.einsum("ick,ik->ic", M, eta)
    m = n * (K - 1)
    Z = np.einsum("ick,ij->ickj", M, Xt).reshape(m, K * p)
    C = M.reshape(m, K)
    target = target.reshape(m)
    CtC_pinv = np.linalg.pinv(C.T @ C)
    project = C @ CtC_pinv
    Zt = Z - project @ (C.T @ Z)
    tt = target - project @ (C.T @ target)
    # enet_path scales by 1/(2 rows); the model is 1/(2n): rescale rows by sqrt(K-1).
    scale = np.sqrt(K - 1)
    beta = _lasso_path(Zt * scale, tt * scale, np.array([alpha]), coef_init=B.reshape(-1),
                       tol=precision.inner_cd_tol,
                       max_iter=precision.inner_cd_max_iter)[0]
    new_b = CtC_pinv @ (C.T @ (target - Z @ beta))
    return beta.reshape(K, p), new_b


def _weighted_lasso(Xt, z, w, alpha, beta_init, precision) -> tuple[np.ndarray, float]:
    """min (1/2n) sum w_i (z_i - b - x_i beta)^2 + alpha |beta|_1 with an unpenalized b."""
    sw = np.sqrt(w)
    xm = (w @ Xt) / w.sum()
    zm = (w @ z) / w.sum()
    Xw = (Xt - xm) * sw[:, None]
    zw = (z - zm) * sw
    beta = _lasso_path(Xw, zw, np.array([alpha]), coef_init=beta_init,
                       tol=precision.inner_cd_tol, max_iter=precision.inner_cd_max_iter)[0]
    return beta, float(zm - xm @ beta)
