"""A Gram's lasso path by homotopy: exact at every alpha of the grid, in numpy alone.

The lasso's coefficients are piecewise linear in alpha (Osborne, Presnell and Turlach 2000;
Efron et al.'s LARS with its lasso modification). From alpha_max, where every coefficient is
zero, the path is followed event by event: between events the active set A and its signs s
are fixed and w_A moves along G_AA^-1 s_A as alpha falls; an event is an inactive feature's
correlation reaching +-alpha (it joins) or an active coefficient reaching zero (it leaves).
Each grid alpha is a stop on the way, where the coefficients are solved afresh and certified
by the duality gap scikit-learn's coordinate descent stops on, so an answer is never less
converged than coordinate descent's. A path the homotopy cannot certify returns None and the
caller runs coordinate descent instead.

Why here: the streamed regression needs no other part of scikit-learn, whose import costs a
second of CPU on a 2-core runner, and a path of a few dozen events on a 132-feature Gram takes
milliseconds.
"""

from __future__ import annotations

import numpy as np

# A feature whose column is this close to the active columns' span (its squared distance,
# relative to its own squared norm) cannot join: its Gram block would be singular. One-hot
# levels of one categorical, all centred, are such a set. It is skipped until the active set
# changes, and the duality gap judges the result.
SPAN_TOL = 1e-10
# Events per path before the homotopy gives up: BASE_EVENTS plus this many per feature (a path
# has about as many events as features; cycling on rounding ties would have many more).
EVENTS_PER_FEATURE = 20
BASE_EVENTS = 100
# Events between refreshes of the inverse of the active Gram, which rank-one updates carry.
REFRESH_EVENTS = 32
# Events (or correlations) this close, relative to alpha, are a tie, broken towards the first
# feature: exactly collinear columns (two levels of a yes/no column) tie exactly, and rounding
# must not pick between them differently for the same data summed in another order (a file
# read whole or in chunks gives the same answer).
TIE = 1e-9
# Rounds of correcting a guessed active set (a warm start) before the path starts from
# alpha_max instead: nested learning subsets mostly share their support, off by a few features.
GUESS_ROUNDS = 12


def lasso_path_homotopy(G: np.ndarray, b: np.ndarray, yy: float, alphas: np.ndarray,
                        tol: float, guess: np.ndarray | None = None) -> np.ndarray | None:
    """Coefficients (A, p) minimizing 1/2 w'Gw - b'w + alpha |w|_1 at each alpha, or None.

    G = X'X / n, b = X'y / n, yy = y'y / n: enet_path's objective with a precomputed Gram.
    Each answer's duality gap is at most tol * yy, scikit-learn's stopping rule for
    coordinate descent at tolerance tol; None if any is not (the caller then runs it).
    guess: coefficients near the answer at the largest alpha (a similar problem's); the path
    starts from there if its support, corrected a few times, solves this problem.
    """
    alphas = np.asarray(alphas, dtype=float)
    p = b.size
    out = np.zeros((alphas.size, p))
    if p == 0 or alphas.size == 0:
        return out
    order = np.argsort(-alphas, kind="stable")
    path = _Homotopy(G, b)
    if guess is not None and np.any(guess):
        path.start_near(guess, float(alphas[order[0]]), yy, tol)
    for k in order:
        w = path.advance_to(float(alphas[k]))
        if w is None or not _gap(G, b, yy, w, float(alphas[k])) <= tol * yy:  # NaN: no
            return None
        out[k] = w
    return out


class _Homotopy:
    """One path's state: the coefficients w at the current alpha, the m active features A[:m]
    (in order of entry), their signs s, H = inverse of G_AA, and GA[:, :m] = G[:, A] (kept
    contiguous: a step's products need no gather)."""

    def __init__(self, G: np.ndarray, b: np.ndarray) -> None:
        self.G, self.b = G, b
        p = b.size
        self.w = np.zeros(p)
        self.m = 0
        self.A = np.zeros(p, dtype=np.intp)
        self.signs = np.zeros(p)
        self.GA = np.zeros((p, p))
        self.H = np.zeros((0, 0))
        self.alpha = float(np.max(np.abs(b)))
        self.closed = np.zeros(p, dtype=bool)  # active, or blocked: in the active span
        self.is_active = np.zeros(p, dtype=bool)
        self.events = 0
        self.budget = EVENTS_PER_FEATURE * p + BASE_EVENTS
        self.since_refresh = 0

    def start_near(self, guess: np.ndarray, alpha: float, yy: float, tol: float) -> bool:
        """Start the path at `alpha` from the support and signs of `guess`: solved on that
        support, features whose coefficient takes the wrong sign leave, else the features
        whose correlation exceeds alpha join (largest first, skipping any in the span of those
        before), for up to GUESS_ROUNDS rounds. The path starts there only if the answer's
        duality gap passes (False: it starts from alpha_max)."""
        G, b = self.G, self.b
        support = np.flatnonzero(guess)
        m = support.size
        try:  # a similar problem's answer: its columns are independent (else: no start)
            self.H = np.linalg.inv(G[np.ix_(support, support)])
        except np.linalg.LinAlgError:
            self.__init__(G, b)
            return False
        self.A[:m], self.signs[:m], self.m = support, np.sign(guess[support]), m
        self.GA[:, :m] = G[:, support]
        self.is_active[support] = True
        for _ in range(GUESS_ROUNDS):
            m = self.m
            A, signs = self.A[:m], self.signs[:m]
            w = np.zeros(b.size)
            if m:
                try:
                    w[A] = np.linalg.solve(G[np.ix_(A, A)], b[A] - alpha * signs)
                except np.linalg.LinAlgError:
                    break
            wrong = np.flatnonzero(w[A] * signs <= 0)
            if wrong.size:
                for i in wrong[::-1]:
                    self._leave(int(i))
                continue
            r = b - G @ w
            excess = np.where(self.is_active, 0.0, np.abs(r))
            joining = np.flatnonzero(excess > alpha * (1 + TIE))
            if joining.size:
                # largest first; equal (a tie) in feature order: stable on rounding
                order = np.lexsort((joining, -np.round(excess[joining] / (alpha * TIE))))
                for j in joining[order]:
                    self._join(int(j), float(np.sign(r[j])))
                continue
            if not _gap(G, b, yy, w, alpha) <= tol * yy:
                break
            self.w, self.alpha = w, alpha
            self.closed[:] = self.is_active
            return True
        self.__init__(G, b)  # from alpha_max after all
        return False

    def advance_to(self, target: float) -> np.ndarray | None:
        """Follow the path down to alpha = target; the coefficients there (None: gave up)."""
        G, b = self.G, self.b
        left, left_sign = -1, 0.0  # the feature that just left, and the bound it left at
        while self.alpha > target:
            g = b - G @ self.w
            if not self.m:
                top = np.abs(g)
                j = int(np.flatnonzero(top >= top.max() * (1 - TIE))[0])
                if abs(g[j]) <= target * (1 + TIE) or g[j] == 0:
                    self.alpha = target  # every coefficient stays zero down to the target
                    break
                self.alpha = float(top.max())  # features tied with j join at once, below
                if not self._join(j, float(np.sign(g[j]))):
                    return None
                continue
            m, alpha = self.m, self.alpha
            A = self.A[:m]
            d = self.H @ self.signs[:m]  # dw_A per unit of alpha decrease
            a = self.GA[:, :m] @ d  # dg per unit: g(t) = g - t a
            step, event = alpha - target, 0  # 0: the target, 1: a join, 2: a leave
            # When an inactive correlation g - t a meets +-(alpha - t): t = (alpha -+ g) / (1 -+ a)
            up, down = 1 - a, 1 + a
            with np.errstate(divide="ignore", invalid="ignore"):
                t_up = np.divide(alpha - g, up, out=np.full(g.size, np.inf), where=up > 0)
                t_down = np.divide(alpha + g, down, out=np.full(g.size, np.inf), where=down > 0)
            if left >= 0:  # its root at t = 0 on the bound it left at is not a join; the other is
                (t_up if left_sign > 0 else t_down)[left] = np.inf
            # A correlation at (or by rounding just past) a bound joins now; one inside the
            # bounds with a negative time never reaches it.
            t_up[t_up < 0] = np.where(g[t_up < 0] >= alpha * (1 - TIE), 0.0, np.inf)
            t_down[t_down < 0] = np.where(g[t_down < 0] <= -alpha * (1 - TIE), 0.0, np.inf)
            best = np.minimum(t_up, t_down)
            best[self.closed] = np.inf
            soonest = best.min()
            if soonest < step - TIE * alpha:  # a join at the target is a tie: none
                j = int(np.flatnonzero(best <= soonest + TIE * alpha)[0])
                step, event, sign = float(best[j]), 1, 1.0 if t_up[j] <= t_down[j] else -1.0
            # When an active coefficient w + t d reaches zero
            w_A = self.w[A]
            with np.errstate(divide="ignore", invalid="ignore"):
                cross = np.divide(-w_A, d, out=np.full(m, np.inf), where=d * self.signs[:m] < 0)
            cross[cross < 0] = np.inf
            i = int(np.argmin(cross))
            if cross[i] < step:
                step, event = float(cross[i]), 2
            self.w[A] = w_A + step * d
            self.alpha = alpha - step
            self.events += 1
            if self.events > self.budget:
                return None
            left = -1  # one event on, it may rejoin at either bound
            if event == 1:
                if not self._join(j, sign):
                    self.closed[j] = True  # in the span: until the active set changes
            elif event == 2:
                left, left_sign = int(A[i]), float(self.signs[i])
                self._leave(i)
            else:
                self.alpha = target
        return self._solve(target)

    def _solve(self, alpha: float) -> np.ndarray:
        """The coefficients at `alpha` for the current active set, solved afresh."""
        w = np.zeros_like(self.w)
        if self.m:
            A = self.A[:self.m]
            rhs = self.b[A] - alpha * self.signs[:self.m]
            try:
                w[A] = np.linalg.solve(self.G[np.ix_(A, A)], rhs)
            except np.linalg.LinAlgError:
                w[A] = self.H @ rhs
        self.w = w
        return w.copy()

    def _join(self, j: int, sign: float) -> bool:
        """Add feature j with `sign` to the active set; False if its column is in the span."""
        G, m = self.G, self.m
        column = self.GA[j, :m]  # G[A, j]: G is symmetric
        u = self.H @ column
        schur = G[j, j] - column @ u
        if not schur > SPAN_TOL * G[j, j] or G[j, j] <= 0:
            return False
        H = np.empty((m + 1, m + 1))
        H[:m, :m] = self.H
        H[:m, :m] += np.outer(u / schur, u)
        H[:m, m] = H[m, :m] = -u / schur
        H[m, m] = 1 / schur
        self.H = H
        self.A[m], self.signs[m] = j, sign
        self.GA[:, m] = G[:, j]
        self.m = m + 1
        self.is_active[j] = True
        self.closed[:] = self.is_active  # the span changed: blocked features may join
        self._refresh()
        return True

    def _leave(self, i: int) -> None:
        """Remove the i-th active feature (its coefficient is set to zero)."""
        m = self.m
        j = int(self.A[i])
        self.w[j] = 0.0
        self.is_active[j] = False
        H = self.H
        keep = np.arange(m) != i
        self.H = H[np.ix_(keep, keep)] - np.outer(H[keep, i] / H[i, i], H[i, keep])
        self.A[i:m - 1] = self.A[i + 1:m]
        self.signs[i:m - 1] = self.signs[i + 1:m]
        self.GA[:, i:m - 1] = self.GA[:, i + 1:m]
        self.m = m - 1
        self.closed[:] = self.is_active
        self._refresh()

    def _refresh(self) -> None:
        """Every REFRESH_EVENTS changes of the active set, H is inverted afresh (rank-one
        updates accumulate rounding)."""
        self.since_refresh += 1
        if self.since_refresh < REFRESH_EVENTS or not self.m:
            return
        self.since_refresh = 0
        A = self.A[:self.m]
        try:
            self.H = np.linalg.inv(self.G[np.ix_(A, A)])
        except np.linalg.LinAlgError:
            pass


def _gap(G: np.ndarray, b: np.ndarray, yy: float, w: np.ndarray, alpha: float) -> float:
    """The lasso's duality gap at w, as scikit-learn's coordinate descent on a Gram computes
    it (per row: its R'R / n, X'R / n and R'y / n from G, b and yy)."""
    Gw = G @ w
    r = b - Gw  # X'R / n
    rr = max(yy - 2 * (w @ b) + w @ Gw, 0.0)  # ||R||^2 / n
    dual_norm = float(np.max(np.abs(r), initial=0.0))
    const = alpha / dual_norm if dual_norm > alpha else 1.0
    l1 = float(np.abs(w).sum())
    ry = yy - w @ b  # R'y / n
    return 0.5 * rr * (1 + const**2) + alpha * l1 - const * ry
