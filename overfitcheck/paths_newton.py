"""Binary logistic paths by Newton steps: the exact gradient over every row, the Hessian from
a fixed sample of rows, warm-started down the alpha grid (L1 by proximal Newton on the Gram).

Each step costs two passes over the rows (X d along the step, which serves every trial of the
line search, and the gradient X'r at its end, made together in one read of each block of rows
when the step is taken whole, as most are) plus, now and then, a p x p Hessian from at most
HESSIAN_ROWS rows, instead of an n x p^2 weighted Gram (what scikit-learn's newton-cholesky and
glmnet pay at every step). The Hessian is kept across steps and alphas while it gives good
steps, corrected after each step by the exact gradient's change (BFGS secant updates, which
cut the passes of a 30-alpha L1 or L2 path on 160,000 x 132 by about a quarter). It only
shapes the steps: the fixed point is where the exact gradient (L1: the exact subgradient
condition) vanishes, so the model is the one LogisticRegression(C=1/(n alpha)) finds; a step
that does not lower the exact objective is shortened. Below HESSIAN_ROWS rows the Hessian is
exact and this is plain Newton; above, a path whose fresh sampled Hessian stops helping (the
sample misjudges some direction's curvature, and the steps creep along it) renews it from
every row from then on (a certified L2 path from its start).

Above HESSIAN_ROWS rows the steps' two passes read a float32 copy of the rows (2.5 times
faster here: a pass is bound by memory traffic), and a fit is only called converged after a
float64 pass recomputes its linear predictor and exact gradient: the float64 certificate is
the same test as below HESSIAN_ROWS, so the tolerance means what it says. A
tolerance of FLOAT32_TOL or looser (the learning curves') is met by the float32 gradient alone.

Exactly collinear columns (one-hot levels beside the intercept) leave the loss flat along a
direction. Plain Newton's least-norm steps never move along it; above HESSIAN_ROWS rows the
sampled Hessian's exact diagonal and float32 sums give it a small curvature, so an unpenalized
fit's coefficients can move along it (the predictions cannot: the direction does not change
them).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import enet_path

from .paths import MIN_WEIGHT, SATURATION, Precision, _Fit, _null_loss, _stop, take_rows

# Rows the Hessian is computed from: with p features its relative error is about sqrt(p / rows),
# so each step still cuts the distance to the optimum several times (25,000 rows: 7% for 130
# features), at a fraction of a full weighted Gram's cost on hundreds of thousands of rows.
HESSIAN_ROWS = 25_000
# Newton steps per alpha, below Precision.newton_max_iter (which budgets glmnet-style inner
# solves). An unpenalized fit on separable classes never converges (its coefficients grow by
# about the same amount each step): the cap ends it, recorded.
MAX_STEPS = 100
# One-dimensional Newton steps for a warm start's intercept: it converges quadratically from
# the class log-odds, and the path's own steps refine whatever is left.
INTERCEPT_STEPS = 8
# Hessian eigenvalues below this fraction of the largest are treated as zero (LinearRegression's
# lstsq cutoff, squared: these are curvatures, not singular values).
SINGULAR = 1e-12
# A step whose gain is more than this fraction of the last one means the kept Hessian models the
# loss poorly: it is renewed. Exact Newton gains shrink tenfold or more, but with the secant
# updates of _Hessian.learn they often shrink only three- to tenfold; measured on 160,000 x 132,
# a tenth renewed the Hessian at most steps of the small L2 alphas and saved no passes.
GAIN_RENEW = 0.3
# Rows per block of a pass: each block's X'r is summed in float64. In float32 one sum over
# 160,000 rows was measured 1.6e-8 off the float64 gradient (the tolerance is 1e-8), blocks of
# 4,096 rows 3e-9 off. A block of about BLOCK_BYTES stays in a core's 2 MB L2 cache between
# a step's X d and the X'r at its end (Design.step reads the rows once for both). Fold 0's L1
# and L2 paths on the 200k binary benchmark file, 3 runs each in alternation: 4.7-5.4 s with
# 512 KB blocks (992 float32 rows of 132), 5.2-5.6 s with 1 MB, 4.9-6.0 s with 256 KB. A float64
# pass was no faster with 512 KB than with 1 MB blocks (25.0 against 27.0 ms, 160,000 x 132).
BLOCK_ROWS = 4_096
BLOCK_BYTES = 1 << 19
# Gains below this fraction of the objective may be rounding (a mean log loss over 10^5-10^7
# rows is good to about 1e-15 of itself): they do not show that a sampled Hessian fails, so
# they do not switch a path to Hessians from every row (fold 0 of the 200k binary benchmark
# file takes the same steps with this floor as without).
ROUNDING = 1e-14
# A fast path's last steps are float64 ones, the first of them taken by the certificate's pass
# (instead of a float32 step and then the certificate), once the gap it starts from, shrunk by
# the ratio the last step shrank it by (at most FINISH_RATIO), is within FINISH times the
# tolerance: near the tolerance float32 steps stall (their gradient is a few 1e-9 off and the
# eta they add up drifts), and creep on for several passes. Measured on three folds of the 200k
# binary benchmark file (L1 and L2 paths, passes weighted by time: a float64 one is 1.8 float32
# ones): 8-16% fewer than with every fast path ending in a certificate; FINISH 5-20 within 3%
# of each other, 100 and more worse.
FINISH = 10.0
FINISH_RATIO = 1.0
# Gradient tolerances from this one up are met by the float32 gradient alone (300 times its
# measured error), without the float64 certificate: the learning curves' PLOT precision (1e-5).
FLOAT32_TOL = 1e-6


def certifies(precision: Precision) -> bool:
    """Do fits at this precision end at a float64 certificate (a tolerance below FLOAT32_TOL),
    rather than trust the float32 gradient (the learning curves' PLOT)?"""
    return precision.logistic_tol < FLOAT32_TOL


class Design:
    """A fold's standardized rows as the steps use them, made once for all its penalties:
    column-major (the two passes of a step, X d and X'r, run about 20% faster, measured on
    160,000 x 132), the Hessian's sample rows, and, above HESSIAN_ROWS rows, float32 copies of
    the rows (the steps' passes) and of their squares (the Hessian's diagonal).

    certified=False (fits whose tolerance is FLOAT32_TOL or looser: the learning curves'):
    above HESSIAN_ROWS rows, the float32 rows alone serve every pass and the Hessian's sample,
    without the float64 column-major copy that only certificates read (X is then None)."""

    def __init__(self, Xt: np.ndarray, certified: bool = True):
        n = Xt.shape[0]
        self.hessian: np.ndarray | None = None  # the last converged fit's, for a warm start
        if n > HESSIAN_ROWS:
            self.rows = np.sort(np.random.default_rng(0).choice(n, HESSIAN_ROWS, replace=False))
            self.X = np.asfortranarray(Xt) if certified else None
            # Float32 rows given (paths.standardize32) are used as they are, not copied.
            self.X32 = np.asarray(self.X if certified else Xt, dtype=np.float32, order="F")
            self.Xh = take_rows(self.X if certified else self.X32, self.rows)
            self.squares = np.square(self.X32)
        else:
            self.X = np.asfortranarray(Xt)
            self.rows, self.Xh, self.X32, self.squares = None, self.X, None, None

    @property
    def rows_read(self) -> np.ndarray:
        """The rows a pass reads by default: float64 unless only float32 ones were kept."""
        return self.X if self.X is not None else self.X32

    def _blocks(self, fast: bool):
        """(X, rows per block) of a pass: float32 or float64 rows, as many as BLOCK_BYTES of
        float32 (float64 blocks are twice that: no faster either way), at most BLOCK_ROWS."""
        X = self.X32 if fast or self.X is None else self.X
        return X, max(64, min(BLOCK_ROWS, BLOCK_BYTES // (4 * max(X.shape[1], 1))))

    def gradient(self, residual: np.ndarray, fast: bool) -> np.ndarray:
        """X'r / n, in blocks (float32 ones for a fast step) summed in float64."""
        X, rows = self._blocks(fast)
        r = residual.astype(X.dtype, copy=False)
        total = np.zeros(X.shape[1])
        for i in range(0, r.size, rows):
            total += X[i:i + rows].T @ r[i:i + rows]
        return total / r.size

    def step(self, d_beta: np.ndarray, d_b0: float, eta: np.ndarray, y: np.ndarray,
             fast: bool) -> tuple[np.ndarray, Ahead]:
        """X d_beta + d_b0 (a step's change of eta), and what the full step's point needs
        (Ahead: its eta, probabilities and gradient X'r / n), each block of rows read once for
        all of it: most steps are taken whole, and their next gradient is then ready (the same
        blocks and numbers as `gradient`). Measured on 160,000 x 132 float32 rows: 13.5 ms
        against 17.6 ms for the two passes apart."""
        X, rows = self._blocks(fast)
        n = eta.size
        direction = d_beta.astype(X.dtype)
        d, at, prob = np.empty(n), np.empty(n), np.empty(n)
        total = np.zeros(X.shape[1])
        with np.errstate(over="ignore"):
            for i in range(0, n, rows):
                block = X[i:i + rows]
                part = d[i:i + rows]
                part[:] = block @ direction
                part += d_b0
                np.add(eta[i:i + rows], part, out=at[i:i + rows])
                _expit_into(at[i:i + rows], prob[i:i + rows])
                residual = prob[i:i + rows] - y[i:i + rows]
                total += block.T @ residual.astype(X.dtype, copy=False)
        return d, Ahead(at, prob, total / n)

    def exact(self, beta: np.ndarray, b0: float, y: np.ndarray) -> Ahead:
        """eta = X beta + b0, the probabilities and the gradient X'r / n there, from the
        float64 rows, each block read once for all of it (a fast fit's certificate): a float64
        step from eta = 0 to the point."""
        return self.step(beta, b0, np.zeros(y.size), y, fast=False)[1]


@dataclass
class Ahead:
    """A point's eta, probabilities and loss gradient over the features (X'r / n), computed by
    the pass that reached it (Design.step at a full step, Design.exact)."""

    eta: np.ndarray
    prob: np.ndarray
    gradient: np.ndarray


def binary_path(Xt: np.ndarray | Design, y: np.ndarray, penalty: str, alphas: np.ndarray,
                saturate: str | None, precision: Precision,
                start: np.ndarray | None = None) -> _Fit:
    """Coefficients (A, 1, p) and intercepts along a descending grid (none: one fit).

    The first alpha's steps begin at the intercept-only model, or at the coefficients `start`
    with the intercept that best fits them.
    """
    design = Xt if isinstance(Xt, Design) else Design(Xt)
    X = design.rows_read
    n, p = X.shape
    A = alphas.size
    yf = (y == 1).astype(float)
    coef = np.zeros((A, 1, p))
    intercept = np.zeros((A, 1))
    not_converged = np.zeros(A, dtype=int)
    ybar = yf.mean()
    b0 = float(np.log(ybar / (1 - ybar)))
    if start is None:
        point = _Point(np.zeros(p), b0, np.full(n, b0), yf)
    else:
        eta = np.asarray(X @ start.astype(X.dtype), dtype=float)
        b0 = _best_intercept(eta, yf, b0)
        point = _Point(start.copy(), b0, eta + b0, yf)
    hessian = _Hessian(design.Xh, design.rows, design.squares, design.X32)
    if penalty == "l2" and certifies(precision):
        # A certified L2 path takes its Hessians from every row from the start: its small
        # alphas' steps creep along directions the sample's curvature gets wrong. Measured on
        # the 200k binary benchmark file's 5 folds and all rows (EXACT): 385 float32 and 284
        # float64 passes against 466 and 346, 6 Hessians (every row) against 18 (sampled),
        # 12.8-13.9 s of CPU against 16.5 s. Not L1's (no fewer passes on folds 0-2, more
        # CPU); PLOT's fits start from a kept Hessian and took the same 468 steps either way
        # (that file's learning curves, before their unpenalized fits started from L2's).
        hessian.from_every_row()
    if start is not None and design.hessian is not None:
        # A warm start near the optimum (a learning subset's fit from the model on all rows)
        # begins with the Hessian the design's last converged fit ended with: another
        # penalty's, at its own alpha (the learning curves' are each family's best, mostly
        # small), a model of the loss near this point; renewed like any kept Hessian if it
        # misleads a step.
        hessian.H = design.hessian.copy()
    order = np.argsort(-alphas, kind="stable") if penalty != "none" else np.arange(1)
    separated = SATURATION * _null_loss(y)
    converged = False  # an empty grid fits nothing, and keeps no Hessian
    for position, a in enumerate(order):
        alpha = 0.0 if penalty == "none" else float(alphas[a])
        point, converged = _fit_alpha(design, yf, hessian, point, penalty, alpha, precision,
                                      separated)
        not_converged[a] = 0 if converged else 1
        coef[a, 0], intercept[a, 0] = point.beta, point.b0
        if penalty == "none":  # one fit serves the whole (single-alpha) grid
            coef[:], intercept[:], not_converged[:] = coef[a], intercept[a], not_converged[a]
            break
        if saturate and point.loss < separated:  # paths._saturated, from the loss at hand
            _stop(coef, intercept, order, position, saturate)
            break
    # Kept for the next warm start unless the last fit stopped at its cap (on separable
    # classes, where the weights have collapsed: no model of the loss elsewhere).
    design.hessian = hessian.latest if converged else None
    return _Fit(coef, intercept, not_converged)


def _best_intercept(eta: np.ndarray, y: np.ndarray, b0: float) -> float:
    """The intercept minimizing the log loss of eta + b0 (one-dimensional Newton from b0)."""
    for _ in range(INTERCEPT_STEPS):
        prob = expit(eta + b0)
        step = (prob.mean() - y.mean()) / max(float(np.mean(prob * (1 - prob))), MIN_WEIGHT)
        b0 -= step
        if abs(step) < 1e-8:
            break
    return float(b0)


def _log_loss(eta: np.ndarray, y: np.ndarray) -> float:
    """Mean log loss: log(1 + e^eta) - y eta by np.logaddexp's own formula, max(eta, 0) +
    log1p(e^-|eta|), in one scratch array and a dot product: several times faster than
    np.logaddexp (whose loop is not vectorized) and than the formula with a temporary per term
    (measured 0.9 ms against 3.4 ms on 160,000 rows, the same value to the last bit or two)."""
    scratch = np.abs(eta)
    np.negative(scratch, out=scratch)
    np.exp(scratch, out=scratch)
    np.log1p(scratch, out=scratch)
    total = float(scratch.sum()) + float(np.maximum(eta, 0.0, out=scratch).sum())
    return (total - float(y @ eta)) / eta.size


def _expit(eta: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-eta) in place on one array: a third of scipy's expit time on 160,000 rows,
    within an ulp or two (e^-eta overflows to inf below eta = -709, giving 0)."""
    with np.errstate(over="ignore"):
        return _expit_into(eta, np.empty_like(eta))


def _expit_into(eta: np.ndarray, out: np.ndarray) -> np.ndarray:
    """_expit's numbers written into `out` (overflow warnings are the caller's to silence)."""
    np.negative(eta, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def _penalty(beta: np.ndarray, penalty: str, alpha: float) -> float:
    if penalty == "l1":
        return alpha * float(np.abs(beta).sum())
    if penalty == "l2":
        return 0.5 * alpha * float(beta @ beta)
    return 0.0


class _Point:
    """A fit with what the steps need of it, each computed once: eta, probabilities, the mean
    log loss and, on demand, the loss gradient (its X'r is a pass over every row). A converged
    fit's gradient starts the next alpha: only the penalty's part changes with alpha. `exact`:
    eta and the gradient come from float64 passes (else from a fast step's float32 ones)."""

    def __init__(self, beta: np.ndarray, b0: float, eta: np.ndarray, y: np.ndarray,
                 loss: float | None = None, exact: bool = True, ahead: Ahead | None = None):
        self.beta, self.b0, self.eta, self.exact = beta, b0, eta, exact
        self.prob = _expit(eta) if ahead is None else ahead.prob
        self.loss = _log_loss(eta, y) if loss is None else loss
        self.residual = self.prob - y
        # From the pass that reached this point, when it computed the gradient (`ahead`).
        self._grad = None if ahead is None else np.append(ahead.gradient, self.residual.mean())
        # The point and gradient the last step left (for _Hessian.learn), once taken.
        self.came_from: tuple[np.ndarray, np.ndarray] | None = None

    def grad(self, design: Design) -> np.ndarray:
        """Gradient of the mean log loss, the intercept's last."""
        if self._grad is None:
            self._grad = np.append(design.gradient(self.residual, fast=not self.exact),
                                   self.residual.mean())
        return self._grad


class _Hessian:
    """The loss Hessian, kept while it still gives good steps: weights change little between
    neighbouring alphas of a warm path, and recomputing it is the dearest part of a step."""

    def __init__(self, Xh: np.ndarray, rows: np.ndarray | None, squares: np.ndarray | None,
                 X32: np.ndarray | None = None):
        self.Xh, self.rows, self.squares, self.H = Xh, rows, squares, None
        self.X32 = X32  # every row, for when the sample models the loss too poorly
        self.fresh = False  # computed at the current point
        self.last: np.ndarray | None = None  # the matrix stale() last set aside

    def from_every_row(self) -> None:
        """From now on (this path), renew the Hessian from every row, not the sample: a fresh
        sampled one just gave a full step whose gain is still above GAIN_RENEW of the last
        (steps creeping along a direction whose curvature the sample gets badly wrong, e.g. a
        rare one-hot level), and renewing it from the same sample would not help."""
        if self.rows is not None and self.X32 is not None:
            self.Xh, self.rows, self.squares = self.X32, None, None

    def learn(self, step: np.ndarray, change: np.ndarray) -> None:
        """Correct the kept Hessian along the last step (BFGS): the exact loss gradient changed
        by `change` over `step`, so H step = change from now on, and the sampled Hessian's error
        shrinks along every direction the steps explore."""
        if self.H is None:
            return
        curvature = float(change @ step)
        Hs = self.H @ step
        modelled = float(step @ Hs)
        if curvature <= 1e-12 * modelled or modelled <= 0:
            return
        self.H += np.outer(change, change) / curvature - np.outer(Hs, Hs) / modelled

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
                exact = (w.astype(np.float32) @ self.squares) / w.size
                self.H[np.arange(p), np.arange(p)] += np.maximum(exact - np.diag(self.H)[:p],
                                                                 0.0)
        return self.H.copy()

    def stale(self) -> None:
        if self.H is not None:
            self.last = self.H  # no longer trusted here, still a start for another fit
        self.H = None

    @property
    def latest(self) -> np.ndarray | None:
        """The kept matrix, or the last one made stale: the model of the loss the fit ended
        with."""
        return self.H if self.H is not None else self.last


def _fit_alpha(design: Design, y, hessian: _Hessian, point: _Point, penalty, alpha, precision,
               separated):
    """Newton steps at one alpha from `point`: the fit and whether it converged.

    Converged: the exact gradient (the float32 one at a tolerance of FLOAT32_TOL or looser;
    L1: its distance from the subdifferential) is below LogisticRegression's tolerance (it
    vanishes at the optimum, so a flat direction, e.g. exactly collinear columns, cannot keep
    it stepping), or a step changes neither the objective nor any coefficient.
    A fit whose training loss falls below `separated` (the classes are separable) is not called
    converged on its gradient: its coefficients diverge, and the cap records it.
    Fast (float32) steps end at a float64 certificate, unless the tolerance is FLOAT32_TOL or
    looser; a fit that fails it goes on in float64.
    """
    fast = design.X32 is not None
    # A tolerance float32 gradients resolve needs no float64 certificate.
    trusted = not certifies(precision)
    current = point.loss + _penalty(point.beta, penalty, alpha)
    last_gain = last_gap = None
    for _ in range(min(precision.newton_max_iter, MAX_STEPS)):
        beta, b0 = point.beta, point.b0
        if point.came_from is not None:
            last, last_grad = point.came_from
            hessian.learn(np.append(beta, b0) - last, point.grad(design) - last_grad)
            point.came_from = None
        grad = _objective_grad(design, point, penalty, alpha)
        gap = _optimality_gap(grad, beta, penalty, alpha)
        if gap <= precision.logistic_tol and point.loss > separated:
            if point.exact or trusted:
                return point, True
            point, current = _certify(design, y, point, penalty, alpha)
            fast, last_gain, last_gap = False, None, None
            continue
        # Near the tolerance, the step is taken by the certificate's float64 pass (FINISH).
        finish = fast and not trusted and last_gap is not None and last_gap > 0 \
            and point.loss > separated \
            and gap * min(gap / last_gap, FINISH_RATIO) <= FINISH * precision.logistic_tol
        last_gap = gap
        H = hessian.at(point.prob)
        if penalty == "l1":
            new_beta, new_b0 = _prox_newton(H, grad, beta, b0, alpha, precision)
        else:
            if penalty == "l2":
                H[:-1, :-1] += alpha * np.eye(beta.size)
            step = _solve(H, grad, definite=penalty == "l2" and alpha > 0)
            new_beta, new_b0 = beta - step[:-1], b0 - step[-1]
        if finish:
            # Taken whole: this close to the optimum the quadratic model is all but exact.
            # Should the float64 gradient at its end miss the tolerance, float64 steps (with
            # their line search) go on from there, as after a certificate that fails.
            point, current = _certify(design, y, _Moved(new_beta, new_b0), penalty, alpha)
            fast, last_gain, last_gap = False, None, None
            continue
        # Shorten a step that does not lower the exact objective (the Hessian is a model).
        # Along the step eta moves by d: one pass over the rows serves every trial size.
        d_beta, d_b0 = new_beta - beta, new_b0 - b0
        d, ahead = design.step(d_beta, d_b0, point.eta, y, fast)
        size, start = 1.0, current
        while True:
            trial_beta, trial_b0 = beta + size * d_beta, b0 + size * d_b0
            trial_eta = ahead.eta if size == 1.0 else point.eta + size * d
            loss = _log_loss(trial_eta, y)
            value = loss + _penalty(trial_beta, penalty, alpha)
            if value <= current + 1e-15 * abs(current):
                break
            size /= 2
            if size < 1e-4:  # no descent left along this step: stop where we are
                break
        if size < 1e-4:
            if not hessian.fresh:  # a kept Hessian misled the step: renew it
                hessian.stale()
                continue
            hessian.stale()  # a step changes nothing: converged, as far as steps can tell
            if point.exact or trusted:
                return point, True
            point, current = _certify(design, y, point, penalty, alpha)
            fast, last_gain, last_gap = False, None, None
            continue
        moved = max(float(np.max(np.abs(trial_beta - beta), initial=0.0)), abs(trial_b0 - b0))
        gain = start - value
        # A shortened step, or a gain above GAIN_RENEW of the last one, means the kept Hessian
        # no longer models the loss well: renew it.
        if size < 1.0 or (last_gain is not None and gain > GAIN_RENEW * last_gain > 0):
            if hessian.fresh and size == 1.0 and gain > ROUNDING * max(abs(value), 1.0):
                hessian.from_every_row()
            hessian.stale()
        last_gain = gain
        last = (np.append(beta, b0), point.grad(design))
        point = _Point(trial_beta, trial_b0, trial_eta, y, loss, exact=point.exact and not fast,
                       ahead=ahead if size == 1.0 else None)  # a full step: its pass's numbers
        current = value
        point.came_from = last
        if abs(start - current) <= precision.newton_tol * max(abs(current), 1.0) \
                and moved < precision.coef_tol:
            if point.exact or trusted:
                return point, True
            # Fast steps stall at the float32 gradient's zero: the exact one decides.
            point, current = _certify(design, y, point, penalty, alpha)
            fast, last_gain, last_gap = False, None, None
    if not point.exact and not trusted:  # capped: the model stands, exact for the next alpha
        point, _ = _certify(design, y, point, penalty, alpha)
    # A certificate taken on the last step has not been read yet.
    return point, point.exact and _converged(design, point, penalty, alpha, precision, separated)


@dataclass
class _Moved:
    """Coefficients a step reached, not yet evaluated (_certify evaluates them)."""

    beta: np.ndarray
    b0: float


def _certify(design: Design, y, point: _Point | _Moved, penalty, alpha
             ) -> tuple[_Point, float]:
    """The point recomputed by a float64 pass (eta and the gradient) and its objective. A fit
    whose float32 steps looked converged but whose exact gradient says otherwise goes on with
    float64 steps, which settle on the exact optimum."""
    ahead = design.exact(point.beta, point.b0, y)
    exact = _Point(point.beta, point.b0, ahead.eta, y, ahead=ahead)
    return exact, exact.loss + _penalty(exact.beta, penalty, alpha)


def _converged(design: Design, point: _Point, penalty, alpha, precision, separated) -> bool:
    """_fit_alpha's gradient test, at a point that has not stepped since."""
    if point.loss <= separated:
        return False
    return _optimality_gap(_objective_grad(design, point, penalty, alpha), point.beta, penalty,
                           alpha) <= precision.logistic_tol


def _objective_grad(design: Design, point: _Point, penalty, alpha) -> np.ndarray:
    """The loss gradient plus L2's penalty gradient (L1's enters the optimality gap), a copy."""
    grad = point.grad(design).copy()
    if penalty == "l2":
        grad[:-1] += alpha * point.beta
    return grad


def _optimality_gap(grad: np.ndarray, beta: np.ndarray, penalty: str, alpha: float) -> float:
    """How far the gradient (penalty included, except L1's) is from certifying the optimum:
    its largest entry, or for L1 the largest distance of a coefficient's loss gradient from
    -alpha sign(beta) (non-zero) or from [-alpha, alpha] (zero). Checked on the exact gradient,
    it stops proximal Newton where an inexact inner lasso would keep it stepping in place."""
    if penalty != "l1":
        return float(np.max(np.abs(grad)))
    g = grad[:-1]
    gap = np.where(beta != 0, np.abs(g + alpha * np.sign(beta)),
                   np.maximum(np.abs(g) - alpha, 0.0))
    return max(float(np.max(gap, initial=0.0)), abs(float(grad[-1])))


def _weighted_gram(Xh: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mean of w x x' over the Hessian rows, with the intercept as the last coordinate, summed
    in Xh's precision: float32 for every row of a large design (half the time of float64,
    and a model of the loss either way)."""
    m, p = Xh.shape
    sw = np.sqrt(w).astype(Xh.dtype)
    Xw = Xh * sw[:, None]
    H = np.empty((p + 1, p + 1))
    H[:p, :p] = Xw.T @ Xw
    H[:p, p] = H[p, :p] = Xw.T @ sw
    H[p, p] = w.sum()
    return H / m


def _solve(H: np.ndarray, g: np.ndarray, definite: bool = False) -> np.ndarray:
    """The Newton step H^-1 g, least-norm where H is singular: exactly collinear columns (both
    levels of a yes/no column beside the intercept) leave the loss flat along a direction, and
    a plain solve would step far along it on rounding noise. (A sampled or float32 Hessian is
    not exactly singular there: see the module's note on collinear columns.)

    definite: H is positive definite (L2's alpha I added to a positive semi-definite loss
    Hessian whose intercept curvature is positive), so no direction is flat and a Cholesky
    solve gives the same step as the eigenvalues, about 13 times faster (133 x 133: 0.14
    against 1.9 ms; fold 0's 30-alpha L2 path on 160,000 x 132 took 3.52 s against 3.92 s).
    Should rounding leave it not quite definite, the eigenvalues decide."""
    if definite:
        try:
            return cho_solve(cho_factor(H, check_finite=False), g, check_finite=False)
        except LinAlgError:
            pass
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
