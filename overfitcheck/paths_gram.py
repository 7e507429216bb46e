"""Cell statistics -> regression paths: every fold's least squares, ridge and lasso fitted from
its Gram, scored by quadratic forms; the MAE, which no Gram holds, from one pass over the rows.

A fold's training Gram is a sum of cell Grams. Its mean imputation and standardization follow
algebraically from the sums (the training mean of each column's observed values fills its
holes; centring and scaling are a congruence of the Gram), so the models equal the in-memory
ones of paths.py: minimum-norm least squares with LinearRegression's cutoff and ridge for every
alpha from one eigendecomposition, the lasso by homotopy on the Gram (paths_homotopy.py), with
scikit-learn's coordinate descent on the Gram where the homotopy cannot certify its answer.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np

from .cells import CellStats, FeatureMap, Sums, design_map
from .paths import EXACT, LSTSQ_COND, PenaltyPath, Precision, enet_path, load_solvers
from .paths_homotopy import lasso_path_homotopy
from .splits import Fold

# Rows scored per block in the MAE pass: the block's residuals for every model (512 rows x ~300
# models, 1.2 MB) stay in cache, instead of a rows x models matrix the size of the file. Measured
# on 1,000,000 rows: blocks of 1024 took 1.4-1.8 s against 1.6-2.0 s for blocks of 4096; later,
# three runs each in alternation, 512 rows 1.42-1.51 s, 1024 rows 1.50-1.76 s, 256 rows
# 1.47-1.52 s (512 and 256 within each other's noise).
MAE_BLOCK_ROWS = 512
# The MAE pass uses both cores of a CI runner (threads: the work is in numpy, which frees the
# GIL), BLAS held to one thread each by the caller. One block more than threads is in flight,
# so a thread never waits for the next block to be handed out (1,000,000 rows: 2.2 -> 1.5 s).
MAE_THREADS = 2

# Rows accumulated per block when an in-memory design is reduced to cell statistics.
STATS_BLOCK_ROWS = 65_536
# Learning levels that fit in an in-memory cell key (the diagnosis uses 8).
LEVELS_MAX = 64
# A centred sum of squares below this many eps of the column's second moment is rounding dust.
CONSTANT_DUST = 64 * np.finfo(float).eps

# A block of rows: (Z, shifted y, cell, which accumulated columns Z holds; None: all).
Block = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
# rows() -> one callable per block that builds it: the MAE pass builds blocks on its scoring
# threads, not on the thread handing them out.
Rows = Callable[[], Iterable[Callable[[], Block]]]


@dataclass(frozen=True)
class RegressionData:
    """A regression design reduced to cell statistics, and how to replay its rows.

    train / validation: (folds, cells) masks of the cells making each fold's rows. level: each
    cell's learning level (learning subset i of a fold is its training cells of level <= i).
    rows(): the rows again, as callables that each build one Block, for the mean absolute
    error.
    """

    stats: CellStats
    fmap: FeatureMap
    train: np.ndarray
    validation: np.ndarray
    level: np.ndarray
    rows: Rows

    @property
    def n_rows(self) -> int:
        return int(self.stats.count.sum())


@dataclass(frozen=True)
class _Design:
    """One fold's standardized design, in terms of its sums."""

    T: np.ndarray  # (q, p): imputed, shifted features = Z @ T
    mean: np.ndarray  # (p,) training mean of the shifted, imputed features
    scale: np.ndarray  # (p,)
    S: np.ndarray  # (p, p) standardized Gram
    c: np.ndarray  # (p,) standardized X'y (centred)
    ybar: float  # training mean of the shifted y
    yyc: float  # centred y'y
    n: float

    @cached_property
    def eigen(self) -> tuple[np.ndarray, np.ndarray]:
        """The eigendecomposition of S (eigenvalues clipped at 0), shared by least squares
        and ridge."""
        lam, V = np.linalg.eigh(self.S)
        return np.maximum(lam, 0.0), V


def standardized_design(sums: Sums, fmap: FeatureMap) -> _Design:
    """The fold's SimpleImputer(mean) + StandardScaler, fitted on its sums."""
    n = sums.count
    T = fmap.linear.copy()
    observed_sum = sums.zsum @ fmap.linear
    has_marker = fmap.marker >= 0
    observed = np.full(fmap.n_features, n)
    observed[has_marker] = n - sums.zsum[fmap.marker[has_marker]]
    with np.errstate(invalid="ignore", divide="ignore"):
        # The mean of the observed values (a column empty in this fold imputes 0, as
        # SimpleImputer(keep_empty_features=True)), on the shifted scale.
        fill = np.where(observed > 0, observed_sum / np.maximum(observed, 1), -fmap.shift)
    T[fmap.marker[has_marker], np.flatnonzero(has_marker)] += fill[has_marker]
    mean = (sums.zsum @ T) / n
    moment = T.T @ sums.gram @ T
    gram = moment - n * np.outer(mean, mean)
    ybar = sums.ysum / n
    xy = T.T @ sums.zy - n * mean * ybar
    variance = np.maximum(np.diag(gram), 0.0) / n
    # A column constant on these rows: its centred sum of squares is a difference of equal
    # numbers, so rounding leaves dust of about eps times its (shifted) second moment; call it
    # 0, as a column centred row by row is. StandardScaler also leaves it unscaled, as it does
    # a column whose spread is below 10 eps of its mean (as standardize() in paths.py).
    constant = variance <= CONSTANT_DUST * np.diag(moment) / n
    gram[constant, :] = 0.0
    gram[:, constant] = 0.0
    xy[constant] = 0.0
    scale = np.sqrt(np.where(constant, 0.0, variance))
    true_mean = mean + fmap.shift
    scale = np.where(scale < 10 * np.finfo(float).eps * np.maximum(np.abs(true_mean), 1.0), 1.0,
                     scale)
    S = gram / np.outer(scale, scale)
    return _Design(T, mean, scale, (S + S.T) / 2, xy / scale, ybar,
                   max(sums.yy - n * ybar**2, 0.0), n)


def fit_design(d: _Design, penalty: str, alphas: np.ndarray, precision: Precision = EXACT,
               coef_init: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Standardized coefficients (A, p) along the grid, and which fits hit their iteration cap.
    coef_init: a warm start for the lasso at its largest alpha (_lasso_gram)."""
    A, p = alphas.size, d.c.size
    capped = np.zeros(A, dtype=int)
    if penalty == "baseline":
        return np.zeros((A, p)), capped
    if penalty == "l1":
        return _lasso_gram(d, alphas, precision, coef_init)
    lam, V = d.eigen
    cv = V.T @ d.c
    if penalty == "none":
        # LinearRegression's lstsq drops singular values below tol * the largest; the Gram's
        # eigenvalues are the squared singular values.
        keep = lam > (LSTSQ_COND**2) * lam[-1] if lam[-1] > 0 else np.zeros(p, dtype=bool)
        coef = V[:, keep] @ (cv[keep] / lam[keep])
        return np.broadcast_to(coef, (A, p)).copy(), capped
    # Ridge for every alpha from one eigendecomposition: w = V (Lambda + n alpha)^-1 V'c.
    return (cv[None, :] / (lam[None, :] + d.n * alphas[:, None])) @ V.T, capped


def _lasso_gram(d: _Design, alphas: np.ndarray, precision: Precision,
                coef_init: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The lasso along the grid: by homotopy (paths_homotopy.py), exact at every alpha and
    certified by the duality gap coordinate descent stops on; by scikit-learn's coordinate
    descent on the Gram where the homotopy cannot certify its answer. coef_init: a warm start
    at the largest alpha (a similar problem's answer), for either."""
    yy = d.yyc / d.n
    coefs = lasso_path_homotopy(d.S / d.n, d.c / d.n, yy, alphas, precision.cd_tol, coef_init)
    if coefs is not None:
        return coefs, np.zeros(alphas.size, dtype=int)
    return _lasso_descent(d, alphas, precision, coef_init)


def _lasso_descent(d: _Design, alphas: np.ndarray, precision: Precision,
                   coef_init: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's coordinate descent on the Gram, fed as one pseudo-row: the objective
    (1/2n)(y'y - 2w'c + w'Sw) + alpha|w|_1 is enet_path's with Gram S/n, Xy c/n and a y of norm
    sqrt(y'y/n); its duality-gap tolerance scales with that norm exactly as on the rows."""
    p = d.c.size
    order = np.argsort(-alphas, kind="stable")
    y = np.array([np.sqrt(d.yyc / d.n)])
    load_solvers()  # one thread imports scikit-learn, never two at once (paths.load_solvers)
    # Non-convergence is counted from n_iter; the ConvergenceWarning is ignored by the caller,
    # around its threads (see fit_regression_paths_deferred).
    _, coefs, _, n_iter = enet_path(
        np.zeros((1, p)), y, l1_ratio=1.0, alphas=alphas[order], precompute=d.S / d.n,
        Xy=d.c / d.n, coef_init=coef_init, tol=precision.cd_tol,
        max_iter=precision.cd_max_iter, check_input=False, return_n_iter=True)
    out = np.empty((alphas.size, p))
    out[order] = coefs.T
    capped = np.empty(alphas.size, dtype=int)
    capped[order] = np.asarray(n_iter) >= precision.cd_max_iter
    return out, capped


def _in_z(d: _Design, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Models in standardized space -> prediction = a + Z @ U on the shifted scale."""
    Ws = W / d.scale
    return d.T @ Ws.T, d.ybar - Ws @ d.mean


def squared_errors(sums: Sums, U: np.ndarray, a: np.ndarray) -> dict[str, np.ndarray]:
    """RMSE and 1 - R^2 of the models (U, a) on a set of rows, from its sums alone."""
    n = sums.count
    GU = sums.gram @ U
    sse = (sums.yy - 2 * a * sums.ysum - 2 * (sums.zy @ U) + n * a**2 + 2 * a * (sums.zsum @ U)
           + np.einsum("qm,qm->m", U, GU))
    sse = np.maximum(sse, 0.0)
    total = sums.yy - sums.ysum**2 / n
    # scikit-learn's r2_score: a constant y predicted exactly scores 1, otherwise 0.
    if total > 1e-13 * max(sums.yy, np.finfo(float).tiny):
        r2 = sse / total
    else:
        r2 = np.where(sse > 1e-13 * max(sums.yy, 1.0), 1.0, 0.0)
    return {"rmse": np.sqrt(sse / n), "r2": r2}


@dataclass(frozen=True)
class _FoldFit:
    coef: dict[str, np.ndarray]  # penalty -> (A, p) standardized
    capped: dict[str, np.ndarray]
    intercept: dict[str, np.ndarray]  # penalty -> (A,) on the original scale
    U: dict[str, np.ndarray]  # penalty -> (q, A)
    a: dict[str, np.ndarray]
    scale: np.ndarray  # the fold's feature scales


def fit_regression_paths(data: RegressionData, grids: Mapping[str, np.ndarray], *,
                         absolute: bool = True, **options) -> dict[str, PenaltyPath]:
    """Fit and score every penalty along its grid on every fold (the main folds unless other
    train/validation cell masks are given), like paths.fit_paths for a regression target.

    absolute: also compute the MAE (one pass over the rows); otherwise it is NaN. The options
    are fit_regression_paths_deferred's.
    """
    paths, absolute_errors = fit_regression_paths_deferred(data, grids, **options)
    if absolute:
        absolute_errors()
    return paths


def fit_regression_paths_deferred(
        data: RegressionData, grids: Mapping[str, np.ndarray], *,
        train: np.ndarray | None = None, validation: np.ndarray | None = None,
        coef_on_all_rows: bool = True, precision: Precision = EXACT, chain: int = 0,
        on_fit_done=None
) -> tuple[dict[str, PenaltyPath], Callable[..., None]]:
    """fit_regression_paths without the MAE pass: the paths, their MAE still NaN, and the pass
    that fills it in place (the rest of the diagnosis can run beside it; the pass takes an
    optional threading.Event that stops it, leaving the MAE NaN).

    A fold with fewer than two training rows (a learning subset of a tiny file) is left NaN.
    chain: the folds come in runs of this many nested subsets, each lasso that falls back to
    coordinate descent starting from the previous one's model (a cold one at a small alpha
    costs ten times the warm one). Runs (or single folds) and the all-rows fit go to two
    threads: most of the work is in BLAS and LAPACK, which release the GIL.
    """
    train = data.train if train is None else train
    validation = data.validation if validation is None else validation
    grids = {p: np.asarray(a, dtype=float) for p, a in grids.items()}
    n_folds = train.shape[0]
    fits: list[_FoldFit | None] = [None] * n_folds
    errors = {side: {p: {m: np.full((a.size, n_folds), np.nan) for m in ("rmse", "mae", "r2")}
                     for p, a in grids.items()} for side in ("train", "validation")}

    def run(folds: range) -> None:
        previous = None
        for f in folds:
            sums = data.stats.total(train[f])
            if sums.count < 2:
                continue
            fit = _fit_fold(sums, data.fmap, grids, precision, previous)
            fits[f] = fit
            previous = fit if chain else None
            held = data.stats.total(validation[f])
            for side, rows in (("train", sums), ("validation", held)):
                if rows.count == 0:
                    continue
                for penalty in grids:
                    for m, values in squared_errors(rows, fit.U[penalty],
                                                    fit.a[penalty]).items():
                        errors[side][penalty][m][:, f] = values
            if on_fit_done is not None:
                on_fit_done()

    step = chain or 1

    def fit_all_rows() -> _FoldFit:
        fit = _fit_fold(data.stats.total(np.ones(train.shape[1], dtype=bool)), data.fmap,
                        grids, precision)
        if on_fit_done is not None:
            on_fit_done()
        return fit

    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=MAE_THREADS) as pool:
        # Warning filters are process-wide and catch_warnings is not thread-safe: a lasso
        # that falls back to coordinate descent has its ConvergenceWarning (a UserWarning)
        # ignored here, around the threads (the caps are counted from n_iter), by the module
        # that warns: naming the class would import scikit-learn, which most runs never need.
        warnings.filterwarnings("ignore", category=UserWarning,
                                module=r"sklearn\.linear_model\._coordinate_descent")
        futures = [pool.submit(run, range(start, min(start + step, n_folds)))
                   for start in range(0, n_folds, step)]
        full = pool.submit(fit_all_rows) if coef_on_all_rows else None
        for future in futures:
            future.result()
        full = full.result() if full is not None else None
    paths = {}
    for penalty, alphas in grids.items():
        capped = sum((f.capped[penalty] for f in fits if f is not None),
                     np.zeros(alphas.size, dtype=int))
        fitted = np.tile(np.array([f is not None for f in fits], dtype=bool), (alphas.size, 1))
        coef = intercept = None
        if full is not None:
            capped = capped + full.capped[penalty]
            coef = full.coef[penalty][:, None, :]
            intercept = full.intercept[penalty][:, None]
        paths[penalty] = PenaltyPath(penalty, alphas, errors["train"][penalty],
                                     errors["validation"][penalty], coef, intercept,
                                     np.asarray(capped, dtype=int), fitted)
    return paths, partial(_absolute_errors, data, fits, train, validation, errors)


def _fit_fold(sums: Sums, fmap: FeatureMap, grids, precision, warm: _FoldFit | None = None
              ) -> _FoldFit:
    d = standardized_design(sums, fmap)
    coef, capped, intercept, U, a = {}, {}, {}, {}, {}
    for penalty, alphas in grids.items():
        init = None
        if warm is not None and penalty == "l1":  # the same model on this fold's scale
            top = int(np.argmax(grids[penalty]))  # the lasso starts at the largest alpha
            init = warm.coef[penalty][top] / warm.scale * d.scale
        coef[penalty], capped[penalty] = fit_design(d, penalty, alphas, precision, init)
        U[penalty], a[penalty] = _in_z(d, coef[penalty])
        intercept[penalty] = np.full(alphas.size, d.ybar + fmap.y_shift)
    return _FoldFit(coef, capped, intercept, U, a, d.scale)


def _absolute_errors(data: RegressionData, fits, train, validation, errors,
                     stop: threading.Event | None = None) -> None:
    """Mean absolute errors of every fold's models, summed per cell over one pass of the rows.
    Once `stop` is set (the diagnosis beside it failed or was interrupted) the pass ends at the
    next block and leaves the MAE NaN.

    Every row is scored by every fold's models (it trains four folds and validates one), as one
    matrix product per block of rows; blocks go to two threads (numpy releases the GIL in its
    products and ufuncs), each with BLAS at one thread.
    """
    penalties = list(errors["train"])
    models, owners = [], []  # the models as columns of one matrix, and (fold, penalty, index)
    for f, fit in enumerate(fits):
        if fit is None:
            continue
        for penalty in penalties:
            models.append((fit.U[penalty], fit.a[penalty]))
            owners.append((f, penalty, fit.a[penalty].size))
    if not models:
        return
    n_cells = train.shape[1]
    # Columns that are zero on every row (a missing marker where nothing is missing) add
    # nothing to a prediction: leave them out of the products.
    live = np.flatnonzero(np.diag(data.stats.total(np.ones(n_cells, dtype=bool)).gram) > 0)
    U = np.concatenate([m[0] for m in models], axis=1)
    a = np.concatenate([m[1] for m in models])

    def score(block: Callable[[], Block]) -> np.ndarray:
        Z, y, cell, columns = block()
        sums = np.zeros((n_cells, a.size))
        if columns is None:
            Zl, Ul = Z[:, live], U[live]
        else:
            Zl, Ul = Z, U[columns]
        # Every model's residual y - Z u - a in one product, [Z, 1, y] @ [-U; -a; 1], rows
        # copied beside their 1 and y a few hundred at a time: the intercept and y added by
        # the product instead of two passes over the residuals (a block of 16,384 x 132 with
        # 310 models, the 1M benchmark file's shape: 33-39 ms against 44-46 ms).
        width = Zl.shape[1]
        models = np.vstack([-Ul, -a[None, :], np.ones((1, a.size))])
        rows = np.empty((min(MAE_BLOCK_ROWS, y.size), width + 2))
        rows[:, width] = 1.0
        residual = np.empty((rows.shape[0], a.size))
        for lo in range(0, y.size, MAE_BLOCK_ROWS):
            hi = min(lo + MAE_BLOCK_ROWS, y.size)
            m = hi - lo
            rows[:m, :width] = Zl[lo:hi]
            rows[:m, width + 1] = y[lo:hi]
            np.matmul(rows[:m], models, out=residual[:m])
            np.abs(residual[:m], out=residual[:m])
            _add_by_cell(sums, cell[lo:hi], residual[:m])
        return sums

    sums = np.zeros((n_cells, a.size))
    with ThreadPoolExecutor(max_workers=MAE_THREADS) as pool:
        pending: list = []
        stopped = stop.is_set if stop is not None else lambda: False
        if stopped():
            return
        for block in data.rows():  # one block more than threads in flight: memory stays flat
            pending.append(pool.submit(score, block))
            if len(pending) > MAE_THREADS:
                sums += pending.pop(0).result()
            if stopped():  # before the next block is read
                pool.shutdown(cancel_futures=True)
                return
        for future in pending:
            sums += future.result()
    counts = data.stats.count
    start = 0
    for f, penalty, width in owners:
        model_sums = sums[:, start:start + width]
        start += width
        for side, mask in (("train", train[f]), ("validation", validation[f])):
            n = counts[mask].sum()
            if n > 0:
                errors[side][penalty]["mae"][:, f] = model_sums[mask].sum(axis=0) / n


def _take_rows(index: np.ndarray, Z: np.ndarray, ys: np.ndarray, cell: np.ndarray) -> Block:
    return Z[index], ys[index], cell[index], None


def _add_by_cell(sums: np.ndarray, cell: np.ndarray, residual: np.ndarray) -> None:
    """sums[c] += the rows of residual in cell c (rows already grouped by cell: no sorting)."""
    if cell.size > 1 and np.any(cell[1:] < cell[:-1]):
        order = np.argsort(cell, kind="stable")
        cell, residual = cell[order], residual[order]
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    # A sum per run of rows: 5x faster than np.add.reduceat over the rows (measured).
    for lo, hi in zip(starts, np.append(starts[1:], cell.size), strict=True):
        sums[cell[lo]] += residual[lo:hi].sum(axis=0)


def alpha_grids_gram(data: RegressionData, config) -> dict[str, np.ndarray]:
    """grid.alpha_grids from the statistics of all rows (as grid.py computes them from X)."""
    from .grid import grids_from_tops, user_grids

    if config.alphas is not None:
        return user_grids(config)
    d = standardized_design(data.stats.total(np.ones(data.stats.count.size, dtype=bool)),
                            data.fmap)
    top = float(np.linalg.eigvalsh(d.S)[-1]) / d.n if d.c.size else 0.0
    return grids_from_tops(config, float(np.max(np.abs(d.c), initial=0.0)) / d.n, top,
                           d.n >= d.c.size)


def in_memory(X: np.ndarray, y: np.ndarray, folds: Sequence[Fold],
              levels: np.ndarray | None = None) -> RegressionData:
    """An in-memory design and its folds as RegressionData.

    A cell is a set of rows with the same role (unused, training, validation) in every fold,
    and the same learning level when `levels` (per row) is given.
    """
    n = y.size
    key = np.zeros(n, dtype=np.int64)
    roles = []
    for fold in folds:
        role = np.zeros(n, dtype=np.int64)
        role[fold.train] = 1
        role[fold.validation] = 2
        key = key * 3 + role
        if key.max(initial=0) > 2**50:  # keep the key small: renumber the cells so far
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
        roles.append(role)
    if levels is not None:
        key = key * LEVELS_MAX + levels
    cells, cell = np.unique(key, return_inverse=True)
    cell = cell.astype(np.int64)
    first = np.zeros(cells.size, dtype=np.int64)
    first[cell[::-1]] = np.arange(n)[::-1]  # one row of each cell
    train = np.array([role[first] == 1 for role in roles]).reshape(len(folds), cells.size)
    validation = np.array([role[first] == 2 for role in roles]).reshape(len(folds), cells.size)
    level = levels[first] if levels is not None else np.zeros(cells.size, dtype=np.int64)
    Z, fmap = design_map(X, y)
    ys = y - fmap.y_shift
    stats = CellStats.zeros(cells.size, Z.shape[1])
    for lo in range(0, n, STATS_BLOCK_ROWS):
        rows = slice(lo, lo + STATS_BLOCK_ROWS)
        stats.add(Z[rows], ys[rows], cell[rows])
    order = np.argsort(cell, kind="stable")

    def rows():  # grouped by cell, so each block's sums per cell are a few slices
        for lo in range(0, n, STATS_BLOCK_ROWS):
            index = order[lo:lo + STATS_BLOCK_ROWS]
            yield partial(_take_rows, index, Z, ys, cell)

    return RegressionData(stats, fmap, train, validation, level, rows)

