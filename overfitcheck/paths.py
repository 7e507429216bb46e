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

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from scipy.special import expit, log_softmax, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, enet_path
from threadpoolctl import threadpool_limits

from .metrics import classification_errors, metric_names, regression_errors
from .splits import Fold

# Coordinate descent stops when the duality gap falls below TOL (scaled by ||y||^2 as in
# scikit-learn): tight enough that errors agree with scikit-learn's own estimators to 1e-6.
CD_TOL = 1e-10
CD_MAX_ITER = 100_000
# The inner weighted lassos of proximal Newton need less: the outer loop fixes what they leave.
INNER_CD_TOL = 1e-10
INNER_CD_MAX_ITER = 10_000
# Logistic fits: gradient tolerance and iteration cap. An unpenalized fit on separable classes
# never converges (its coefficients diverge); the cap ends it and the warning is recorded.
LOGISTIC_TOL = 1e-8
LOGISTIC_MAX_ITER = 1_000
# Proximal Newton (L1 logistic): stop when the objective changes by less than this, relatively.
NEWTON_TOL = 1e-9
# On standardized features: far below any coefficient a report shows. Near separation the
# class-by-class Newton cycle converges linearly, so the cycle cap is generous.
COEF_TOL = 1e-6
NEWTON_MAX_ITER = 500
# Newton-Cholesky forms the (p*K)^2 Hessian: only worth it for small problems with n > p.
NEWTON_CHOLESKY_MAX_PARAMS = 1_000
# glmnet's saturation stop: once a fold's training log loss is below 0.1% of the null model's
# (deviance explained > 99.9%), the classes are separated and smaller alphas only inflate the
# coefficients. Those fits are skipped in cross-validation folds (left out of the choice of
# alpha, and reported); the fit on all rows always runs the whole grid.
SATURATION = 1e-3
# IRLS weights p(1-p) below this are floored, as glmnet does, so z = eta + (y-p)/w stays finite.
MIN_WEIGHT = 1e-5


@dataclass(frozen=True)
class PenaltyPath:
    """Errors along one penalty's alpha grid: metric -> array (n_alphas, n_folds)."""

    penalty: str
    alphas: np.ndarray
    train: dict[str, np.ndarray]
    validation: dict[str, np.ndarray]
    coef: np.ndarray | None  # (n_alphas, n_outputs, n_features), fitted on all rows
    intercept: np.ndarray | None  # (n_alphas, n_outputs)
    not_converged: np.ndarray  # (n_alphas,) fits that warned they did not converge
    fitted: np.ndarray  # (n_alphas, n_folds) False where a saturated fold skipped the alpha


@dataclass(frozen=True)
class _Fit:
    coef: np.ndarray  # (A, K', p); NaN where the path stopped early (saturated)
    intercept: np.ndarray  # (A, K')
    not_converged: np.ndarray  # (A,)


def fit_paths(X: np.ndarray, y: np.ndarray, task: str, n_classes: int, folds: Sequence[Fold],
              grids: Mapping[str, np.ndarray], *, coef_on_all_rows: bool = True, jobs: int = 1,
              on_fit_done=None) -> dict[str, PenaltyPath]:
    """Fit and score every penalty along its grid on every fold; optionally refit on all rows.

    grids maps "baseline", "none", "l1", "l2" to alphas (ignored for baseline and none).
    Folds run in parallel on `jobs` workers, each with BLAS held to one thread (measured: 2
    OpenBLAS threads are many times slower than 1 for the small Gram and LAPACK calls here).
    """
    tasks = [(f.train, f.validation) for f in folds]
    if coef_on_all_rows:
        tasks.append((np.arange(len(y)), np.arange(0)))

    def run(train: np.ndarray, validation: np.ndarray):
        with threadpool_limits(1):
            result = _fit_fold(X, y, train, validation, task, n_classes, grids)
        if on_fit_done is not None:
            on_fit_done()
        return result

    if jobs != 1 and len(tasks) > 1:
        results = Parallel(n_jobs=jobs, prefer="threads")(delayed(run)(tr, va) for tr, va in tasks)
    else:
        results = [run(tr, va) for tr, va in tasks]
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


def standardize(X: np.ndarray, train: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training-fold mean imputation and scaling: (imputed X[train] standardized, mean, scale).

    Equals SimpleImputer(strategy="mean", keep_empty_features=True) then StandardScaler, both
    fitted on the training rows only (tests prove it), so validation rows never leak in.
    """
    Xt = X[train]
    missing = np.isnan(Xt)
    counts = (~missing).sum(axis=0)
    fill = np.where(counts > 0, np.where(missing, 0.0, Xt).sum(axis=0) / np.maximum(counts, 1),
                    0.0)
    if missing.any():
        Xt = np.where(missing, fill, Xt)
    mean = Xt.mean(axis=0)
    Xt = Xt - mean
    scale = np.sqrt(np.mean(Xt**2, axis=0))
    # StandardScaler leaves (near-)constant columns unscaled rather than dividing by ~0.
    scale = np.where(scale < 10 * np.finfo(float).eps * np.maximum(np.abs(mean), 1.0), 1.0,
                     scale)
    Xt /= scale
    # Impute with the fill value, then centre with the mean of the imputed column: both learnt
    # on training rows; applying them to other rows is `apply_standardize`.
    return Xt, np.vstack([fill, mean]), scale


def apply_standardize(X: np.ndarray, rows: np.ndarray, params: np.ndarray, scale: np.ndarray
                      ) -> np.ndarray:
    Xv = X[rows]
    Xv = np.where(np.isnan(Xv), params[0], Xv)
    return (Xv - params[1]) / scale


def _fit_fold(X, y, train, validation, task, n_classes, grids):
    Xt, params, scale = standardize(X, train)
    Xv = apply_standardize(X, validation, params, scale)
    yt, yv = y[train], y[validation]
    fits: dict[str, _Fit] = {}
    for penalty, alphas in grids.items():
        alphas = np.asarray(alphas, dtype=float)
        if task == "regression":
            fits[penalty] = _fit_regression(Xt, yt, penalty, alphas)
        else:
            fits[penalty] = _fit_classifier(Xt, yt, n_classes, task, penalty, alphas,
                                            stop_when_saturated=validation.size > 0)
    train_errors = {p: _errors(Xt, yt, f, task, n_classes) for p, f in fits.items()}
    val_errors = {p: _errors(Xv, yv, f, task, n_classes) for p, f in fits.items()}
    return train_errors, val_errors, fits


def _errors(Xs, y, fit: _Fit, task, n_classes) -> dict[str, np.ndarray]:
    out = {m: np.full(fit.coef.shape[0], np.nan) for m in metric_names(task)}
    fitted = ~np.isnan(fit.coef).any(axis=(1, 2))
    if y.size == 0 or not fitted.any():
        return out
    eta = np.einsum("np,akp->ank", Xs, fit.coef[fitted]) + fit.intercept[fitted][:, None, :]
    if task == "regression":
        errors = regression_errors(y, eta[:, :, 0].T)
    else:
        errors = classification_errors(y, probabilities(eta), n_classes)
    for m, values in errors.items():
        out[m][fitted] = values
    return out


def probabilities(eta: np.ndarray) -> np.ndarray:
    """Linear predictors (..., K') -> class probabilities (..., K); K' = 1 means binary."""
    if eta.shape[-1] == 1:
        p1 = expit(eta[..., 0])
        return np.stack([1 - p1, p1], axis=-1)
    with np.errstate(invalid="ignore"):
        return softmax(eta, axis=-1)


# --- regression --------------------------------------------------------------------------


def _fit_regression(Xt: np.ndarray, yt: np.ndarray, penalty: str, alphas: np.ndarray) -> _Fit:
    n, p = Xt.shape
    ybar = yt.mean()
    yc = yt - ybar
    A = alphas.size
    intercept = np.full((A, 1), ybar)
    none = np.zeros(A, dtype=int)
    if penalty == "baseline":
        return _Fit(np.zeros((A, 1, p)), intercept, none)
    if penalty == "l1":
        return _Fit(_lasso_path(Xt, yc, alphas)[:, None, :], intercept, none)
    U, s, Vt = np.linalg.svd(Xt, full_matrices=False)
    uty = U.T @ yc
    if penalty == "none":
        # Minimum-norm least squares, as LinearRegression's lstsq: drop singular values below
        # numpy's default rcond (eps * max(n, p)) of the largest.
        keep = s > s[0] * np.finfo(float).eps * max(n, p) if s.size else s > 0
        coef = Vt[keep].T @ (uty[keep] / s[keep])
        return _Fit(np.broadcast_to(coef, (A, 1, p)).copy(), intercept, none)
    # Ridge for every alpha from one SVD: w = V diag(s / (s^2 + n alpha)) U'y.
    shrink = s[None, :] / (s[None, :] ** 2 + n * alphas[:, None])
    coef = (shrink * uty[None, :]) @ Vt
    return _Fit(coef[:, None, :], intercept, none)


def _lasso_path(Xt: np.ndarray, yc: np.ndarray, alphas: np.ndarray,
                coef_init: np.ndarray | None = None, tol: float = CD_TOL,
                max_iter: int = CD_MAX_ITER) -> np.ndarray:
    """Lasso along a descending grid with warm starts (coordinate descent on the Gram if n > p)."""
    n, p = Xt.shape
    order = np.argsort(-alphas, kind="stable")
    gram = Xt.T @ Xt if n > p else False
    xy = Xt.T @ yc if n > p else None
    if n <= p:
        Xt = np.asfortranarray(Xt)  # coordinate descent on X itself walks its columns
    _, coefs, _ = enet_path(Xt, yc, l1_ratio=1.0, alphas=alphas[order], precompute=gram, Xy=xy,
                            coef_init=coef_init, tol=tol, max_iter=max_iter,
                            check_input=False)
    out = np.empty((alphas.size, p))
    out[order] = coefs.T
    return out


# --- classification ----------------------------------------------------------------------


def _fit_classifier(Xt, yt, n_classes, task, penalty, alphas, stop_when_saturated) -> _Fit:
    n, p = Xt.shape
    A = alphas.size
    outputs = 1 if task == "binary" else n_classes
    present = np.unique(yt)
    counts = np.bincount(yt, minlength=n_classes).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        prior = np.log(counts / n)  # -inf for a class this fold never saw
        base = np.array([prior[1] - prior[0]]) if task == "binary" else prior
    if task == "binary":
        base = np.nan_to_num(base, posinf=np.log(1 / np.finfo(float).eps),
                             neginf=-np.log(1 / np.finfo(float).eps))
    if penalty == "baseline" or present.size < 2:
        return _Fit(np.zeros((A, outputs, p)), np.tile(base, (A, 1)), np.zeros(A, dtype=int))
    if penalty == "l1":
        fit = _l1_logistic_path(Xt, yt, n_classes, task, alphas, present, stop_when_saturated)
    else:
        fit = _sklearn_logistic_path(Xt, yt, n_classes, task, penalty, alphas, present,
                                     stop_when_saturated and penalty == "l2")
    return fit


def _saturated(Xt, yt, coef, intercept, null_loss) -> bool:
    """True when the training log loss is below SATURATION times the null model's."""
    proba = probabilities(Xt @ coef.T + intercept)
    loss = -np.mean(np.log(np.maximum(proba[np.arange(yt.size), yt], 1e-300)))
    return bool(loss < SATURATION * null_loss)


def _null_loss(yt) -> float:
    freq = np.bincount(yt) / yt.size
    freq = freq[freq > 0]
    return float(-np.sum(freq * np.log(freq)))


def _sklearn_logistic_path(Xt, yt, n_classes, task, penalty, alphas, present, saturate
                           ) -> _Fit:
    n, p = Xt.shape
    A = alphas.size
    outputs = 1 if task == "binary" else n_classes
    small = n > p and p * max(1, present.size - 1) <= NEWTON_CHOLESKY_MAX_PARAMS
    clf = LogisticRegression(C=np.inf, l1_ratio=0.0, tol=LOGISTIC_TOL,
                             max_iter=LOGISTIC_MAX_ITER, warm_start=True,
                             solver="newton-cholesky" if small else "lbfgs")
    coef = np.zeros((A, outputs, p))
    intercept = np.full((A, outputs), -np.inf)
    not_converged = np.zeros(A, dtype=int)
    order = np.argsort(-alphas, kind="stable") if penalty == "l2" else np.arange(A)
    null_loss = _null_loss(yt)
    for a in order:
        clf.set_params(C=np.inf if penalty == "none" else 1.0 / (n * alphas[a]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf.fit(Xt, yt)
        not_converged[a] = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        _raise_unexpected(caught)
        if task == "binary":
            coef[a, 0], intercept[a, 0] = clf.coef_[0], clf.intercept_[0]
        elif present.size == 2:  # a multiclass fold that saw two classes: one binary model
            coef[a, present[1]], intercept[a, present[1]] = clf.coef_[0], clf.intercept_[0]
            intercept[a, present[0]] = 0.0
        else:
            coef[a, present], intercept[a, present] = clf.coef_, clf.intercept_
        if penalty == "none":  # the unpenalized model has no alpha: one fit serves the grid
            coef[:], intercept[:], not_converged[:] = coef[a], intercept[a], not_converged[a]
            break
        if saturate and _saturated(Xt, yt, coef[a], intercept[a], null_loss):
            rest = order[list(order).index(a) + 1:]
            coef[rest] = np.nan
            break
    return _Fit(coef, intercept, not_converged)


def _raise_unexpected(caught) -> None:
    """Convergence trouble is data (it is counted); any other warning is a bug to surface."""
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning | RuntimeWarning | UserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _l1_logistic_path(Xt, yt, n_classes, task, alphas, present, saturate) -> _Fit:
    """L1 logistic along a descending grid by proximal Newton, glmnet's way.

    Each Newton step replaces the log loss by its quadratic model at the current fit (IRLS
    weights w = p(1-p), working response z) and solves that weighted lasso by coordinate descent
    (scikit-learn's enet_path, on the Gram when n > p), warm-started; multinomial models cycle
    over the classes, one weighted lasso each. A step that does not lower the objective is
    halved. Minimizes exactly LogisticRegression(C=1/(n alpha), l1_ratio=1)'s objective.
    """
    n, p = Xt.shape
    A = alphas.size
    binary = task == "binary"
    K = 1 if binary else n_classes
    Y = (yt == 1).astype(float)[:, None] if binary else np.eye(n_classes)[yt]
    coef = np.zeros((A, K, p))
    intercept = np.full((A, K), -np.inf)
    not_converged = np.zeros(A, dtype=int)
    classes = [0] if binary else list(present)
    beta = np.zeros((K, p))
    b0 = np.zeros(K)
    if binary:
        ybar = Y.mean()
        b0[0] = np.log(ybar / (1 - ybar))
    else:
        b0[:] = -np.inf
        b0[present] = np.log(Y[:, present].mean(axis=0))

    def objective(beta, b0, alpha):
        eta = Xt @ beta.T + b0
        if binary:
            loss = np.mean(np.logaddexp(0, eta[:, 0]) - Y[:, 0] * eta[:, 0])
        else:
            logp = log_softmax(eta[:, present], axis=1)
            loss = -np.mean(np.sum(Y[:, present] * logp, axis=1))
        return loss + alpha * np.abs(beta).sum()

    order = np.argsort(-alphas, kind="stable")
    null_loss = _null_loss(yt)
    for step_index, a in enumerate(order):
        alpha = alphas[a]
        current = objective(beta, b0, alpha)
        converged = False
        caught_here = warnings.catch_warnings(record=True)
        caught = caught_here.__enter__()
        warnings.simplefilter("always")
        for _ in range(NEWTON_MAX_ITER):
            start, start_beta, start_b0 = current, beta.copy(), b0.copy()
            for k in classes:
                eta = Xt @ beta.T + b0
                prob = expit(eta[:, 0]) if binary else softmax(eta[:, present], axis=1)[
                    :, list(present).index(k)]
                w = np.maximum(prob * (1 - prob), MIN_WEIGHT)
                z = eta[:, k] + (Y[:, k] - prob) / w
                new_beta_k, new_b0_k = _weighted_lasso(Xt, z, w, alpha, beta[k])
                step = 1.0
                old_beta_k, old_b0_k = beta[k].copy(), b0[k]
                while True:
                    beta[k] = old_beta_k + step * (new_beta_k - old_beta_k)
                    b0[k] = old_b0_k + step * (new_b0_k - old_b0_k)
                    value = objective(beta, b0, alpha)
                    if value <= current + 1e-15 * abs(current) or step < 1e-4:
                        break
                    step /= 2
                current = value
            if not binary:  # softmax ignores a common shift of the intercepts: pin it
                b0[present] -= b0[present].mean()
            # Converged when a whole cycle moves neither the objective nor any coefficient: near
            # separation the objective is flat while coefficients still drift.
            moved = max(np.max(np.abs(beta - start_beta)),
                        np.max(np.abs(np.nan_to_num(b0 - start_b0))))
            if abs(start - current) <= NEWTON_TOL * max(abs(current), 1.0) and moved < COEF_TOL:
                converged = True
                break
        caught_here.__exit__(None, None, None)
        _raise_unexpected(caught)
        not_converged[a] = 0 if converged else 1
        coef[a], intercept[a] = beta, b0
        if saturate and _saturated(Xt, yt, beta, b0, null_loss):
            coef[order[step_index + 1:]] = np.nan
            break
    return _Fit(coef, intercept, not_converged)


def _weighted_lasso(Xt, z, w, alpha, beta_init) -> tuple[np.ndarray, float]:
    """min (1/2n) sum w_i (z_i - b - x_i beta)^2 + alpha |beta|_1 with an unpenalized b."""
    sw = np.sqrt(w)
    xm = (w @ Xt) / w.sum()
    zm = (w @ z) / w.sum()
    Xw = (Xt - xm) * sw[:, None]
    zw = (z - zm) * sw
    beta = _lasso_path(Xw, zw, np.array([alpha]), coef_init=beta_init, tol=INNER_CD_TOL,
                       max_iter=INNER_CD_MAX_ITER)[0]
    return beta, float(zm - xm @ beta)
