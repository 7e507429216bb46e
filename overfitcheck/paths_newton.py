"""Binary logistic paths by Newton steps: the exact gradient over every row, the Hessian from
a fixed sample of rows, warm-started down the alpha grid (L1 by proximal Newton on the Gram).

Each step costs one pass over the rows for the gradient (O(np)) plus a p x p Hessian from at
most HESSIAN_ROWS rows, instead of an n x p^2 weighted Gram (what scikit-learn's
newton-cholesky and glmnet pay at every step). The Hessian only shapes the steps: the fixed
point is where the exact gradient (L1: the exact subgradient condition) vanishes, so the model
is the one LogisticRegression(C=1/(n alpha)) finds; a step that does not lower the exact
objective is shortened. Below HESSIAN_ROWS rows the Hessian is exact and this is plain Newton.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import enet_path

from .paths import MIN_WEIGHT, SATURATION, Precision, _Fit, _null_loss, _saturated, _stop

# Rows the Hessian is computed from: with p features its relative error is about sqrt(p / rows),
# so each step still cuts the distance to the optimum several times (25,000 rows: 7% for 130
# features), at a fraction of a full weighted Gram's cost on hundreds of thousands of rows.
HESSIAN_ROWS = 25_000
# Newton steps per alpha, below Precision.newton_max_iter (which budgets glmnet-style inner
# solves). An unpenalized fit on separable classes never converges (its coefficients grow by
# about the same amount each step): the cap ends it, recorded.
MAX_STEPS = 100
# Hessian eigenvalues below this fraction of the largest are treated as zero (LinearRegression's
# lstsq cutoff, squared: these are curvatures, not singular values).
SINGULAR = 1e-12


def binary_path(Xt: np.ndarray, y: np.ndarray, penalty: str, alphas: np.ndarray,
                saturate: str | None, precision: Precision) -> _Fit:
    """Coefficients (A, 1, p) and intercepts along a descending grid (none: one fit)."""
    n, p = Xt.shape
    A = alphas.size
    yf = (y == 1).astype(float)
    coef = np.zeros((A, 1, p))
    intercept = np.zeros((A, 1))
    not_converged = np.zeros(A, dtype=int)
    if n > HESSIAN_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(n, HESSIAN_ROWS, replace=False))
        Xh, squares = Xt[rows], Xt * Xt
    else:
        rows, Xh, squares = None, Xt, None
    ybar = yf.mean()
    beta, b0 = np.zeros(p), float(np.log(ybar / (1 - ybar)))
    hessian = _Hessian(Xh, rows, squares)
    order = np.argsort(-alphas, kind="stable") if penalty != "none" else np.arange(1)
    null_loss = _null_loss(y)
    for position, a in enumerate(order):
        alpha = 0.0 if penalty == "none" else float(alphas[a])
        beta, b0, converged = _fit_alpha(Xt, yf, hessian, beta, b0, penalty, alpha, precision,
                                         SATURATION * null_loss)
        not_converged[a] = 0 if converged else 1
        coef[a, 0], intercept[a, 0] = beta, b0
        if penalty == "none":  # one fit serves the whole (single-alpha) grid
            coef[:], intercept[:], not_converged[:] = coef[a], intercept[a], not_converged[a]
            break
        if saturate and _saturated(Xt, y, coef[a], intercept[a], null_loss):
            _stop(coef, intercept, order, position, saturate)
            break
    return _Fit(coef, intercept, not_converged)


def _objective(eta: np.ndarray, y: np.ndarray, beta: np.ndarray, penalty: str, alpha: float
               ) -> float:
    loss = float(np.mean(np.logaddexp(0.0, eta) - y * eta))
    if penalty == "l1":
        return loss + alpha * float(np.abs(beta).sum())
    if penalty == "l2":
        return loss + 0.5 * alpha * float(beta @ beta)
    return loss


class _Hessian:
    """The loss Hessian, kept while it still gives good steps: weights change little between
    neighbouring alphas of a warm path, and recomputing it is the dearest part of a step."""

    def __init__(self, Xh: np.ndarray, rows: np.ndarray | None, squares: np.ndarray | None):
        self.Xh, self.rows, self.squares, self.H = Xh, rows, squares, None
        self.fresh = False  # computed at the current point

    def at(self, prob: np.ndarray) -> np.ndarray:
        self.fresh = self.H is None
        if self.H is None:
            w = np.maximum(prob * (1 - prob), MIN_WEIGHT)
            sample = w if self.rows is None else w[self.rows]
            self.H = _weighted_gram(self.Xh, sample)
            if self.squares is not None:
                # A rare column (a level on a handful of rows) can miss the sample and look
                # flat there: raise each curvature to its exact value over every row (adding
                # to the diagonal keeps the model convex), so no direction is left unstepped.
                p = self.Xh.shape[1]
                exact = (w @ self.squares) / w.size
                self.H[np.arange(p), np.arange(p)] += np.maximum(exact - np.diag(self.H)[:p],
                                                                 0.0)
        return self.H.copy()

    def stale(self) -> None:
        self.H = None


def _fit_alpha(Xt, y, hessian: _Hessian, beta, b0, penalty, alpha, precision, separated):
    """Newton steps at one alpha from (beta, b0): the fit and whether it converged.

    Converged: the exact gradient is below LogisticRegression's tolerance (L2 and none; their
    gradient vanishes at the optimum, so a flat direction, e.g. exactly collinear columns,
    cannot keep it stepping), or a step changes neither the objective nor any coefficient.
    A fit whose training loss falls below `separated` (the classes are separable) is not called
    converged on its gradient: its coefficients diverge, and the cap records it.
    """
    n = y.size
    eta = Xt @ beta + b0
    current = _objective(eta, y, beta, penalty, alpha)
    last_gain = None
    for _ in range(min(precision.newton_max_iter, MAX_STEPS)):
        prob = expit(eta)
        residual = prob - y
        grad = np.append(Xt.T @ residual / n, residual.mean())
        if penalty != "l1":
            if penalty == "l2":
                grad[:-1] += alpha * beta
            loss = _objective(eta, y, beta, "none", 0.0)
            if np.max(np.abs(grad)) <= precision.logistic_tol and loss > separated:
                return beta, b0, True
        H = hessian.at(prob)
        if penalty == "l1":
            new_beta, new_b0 = _prox_newton(H, grad, beta, b0, alpha, precision)
        else:
            if penalty == "l2":
                H[:-1, :-1] += alpha * np.eye(beta.size)
            step = _solve(H, grad)
            new_beta, new_b0 = beta - step[:-1], b0 - step[-1]
        # Shorten a step that does not lower the exact objective (the Hessian is a model).
        size, start = 1.0, current
        while True:
            trial_beta = beta + size * (new_beta - beta)
            trial_b0 = b0 + size * (new_b0 - b0)
            trial_eta = Xt @ trial_beta + trial_b0
            value = _objective(trial_eta, y, trial_beta, penalty, alpha)
            if value <= current + 1e-15 * abs(current):
                break
            size /= 2
            if size < 1e-4:  # no descent left along this step: stop where we are
                trial_beta, trial_b0, trial_eta, value = beta, b0, eta, current
                break
        if size < 1e-4 and not hessian.fresh:  # a kept Hessian misled the step: renew it
            hessian.stale()
            continue
        moved = max(float(np.max(np.abs(trial_beta - beta), initial=0.0)), abs(trial_b0 - b0))
        gain = start - value
        # A shortened step, or a gain more than a tenth of the last one (Newton's gains shrink
        # much faster), means the kept Hessian no longer models the loss well: renew it.
        if size < 1.0 or (last_gain is not None and gain > 0.1 * last_gain > 0):
            hessian.stale()
        last_gain = gain
        beta, b0, eta, current = trial_beta, trial_b0, trial_eta, value
        if abs(start - current) <= precision.newton_tol * max(abs(current), 1.0) \
                and moved < precision.coef_tol:
            return beta, b0, True
    return beta, b0, False


def _weighted_gram(Xh: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mean of w x x' over the Hessian rows, with the intercept as the last coordinate."""
    m, p = Xh.shape
    sw = np.sqrt(w)
    Xw = Xh * sw[:, None]
    H = np.empty((p + 1, p + 1))
    H[:p, :p] = Xw.T @ Xw
    H[:p, p] = H[p, :p] = Xw.T @ sw
    H[p, p] = w.sum()
    return H / m


def _solve(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The Newton step H^-1 g, least-norm where H is singular: exactly collinear columns (both
    levels of a yes/no column beside the intercept) leave the loss flat along a direction, and
    a plain solve would step far along it on rounding noise."""
    lam, V = np.linalg.eigh((H + H.T) / 2)
    keep = lam > SINGULAR * lam[-1]
    return V[:, keep] @ ((V[:, keep].T @ g) / lam[keep])


def _prox_newton(H, grad, beta, b0, alpha, precision):
    """Minimize the quadratic model + alpha |beta|_1: the unpenalized intercept solved out
    (a Schur complement), the lasso on the reduced Gram by scikit-learn's coordinate descent,
    fed as one pseudo-row (see paths_gram._lasso_gram)."""
    p = beta.size
    h00, hb0 = H[p, p], H[:p, p]
    reduced = H[:p, :p] - np.outer(hb0, hb0) / h00
    g = grad[:p] - hb0 * grad[p] / h00
    xy = reduced @ beta - g
    scale = max(float(beta @ reduced @ beta + 2 * abs(float(xy @ beta))), 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the outer loop checks progress
        _, coefs, _ = enet_path(np.zeros((1, p)), np.array([np.sqrt(scale)]), l1_ratio=1.0,
                                alphas=np.array([alpha]), precompute=(reduced + reduced.T) / 2,
                                Xy=xy, coef_init=beta.copy(), tol=precision.inner_cd_tol,
                                max_iter=precision.inner_cd_max_iter, check_input=False)
    new_beta = coefs[:, 0]
    new_b0 = b0 - (grad[p] + hb0 @ (new_beta - beta)) / h00
    return new_beta, new_b0
