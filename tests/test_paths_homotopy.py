"""A Gram's lasso path by homotopy: scikit-learn's lasso at every alpha, ties broken the same
way however the Gram was summed, a guess that only ever saves work, and coordinate descent
where the homotopy cannot certify its answer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import DATA
from sklearn.linear_model import Lasso, enet_path

from overfitcheck import paths_gram, paths_homotopy
from overfitcheck.paths import EXACT
from overfitcheck.paths_homotopy import _Homotopy, lasso_path_homotopy


def _standardized(X, y):
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    return Z, y - y.mean()


def _gram(Z, yc):
    n = yc.size
    return Z.T @ Z / n, Z.T @ yc / n, float(yc @ yc) / n


def _grid(b, n=30, ratio=1e-3):
    top = float(np.max(np.abs(b)))
    return np.logspace(np.log10(top), np.log10(top * ratio), n)


def test_the_path_is_scikit_learns_lasso_at_every_alpha():
    frame = pd.read_csv(DATA / "diabetes.csv")
    Z, yc = _standardized(frame.drop(columns="target").to_numpy(float),
                          frame["target"].to_numpy(float))
    G, b, yy = _gram(Z, yc)
    alphas = _grid(b)
    ours = lasso_path_homotopy(G, b, yy, alphas, EXACT.cd_tol)
    assert ours is not None
    for i, alpha in enumerate(alphas):
        ref = Lasso(alpha=alpha, tol=1e-12, max_iter=1_000_000, fit_intercept=False).fit(Z, yc)
        np.testing.assert_allclose(ours[i], ref.coef_, rtol=1e-7, atol=1e-9, err_msg=str(i))
    assert np.all(ours[0] == 0) and np.any(ours[1] != 0)  # alpha_max zeroes every coefficient
    # the grid in any order gives the same rows
    shuffled = np.random.default_rng(0).permutation(alphas.size)
    np.testing.assert_array_equal(
        lasso_path_homotopy(G, b, yy, alphas[shuffled], EXACT.cd_tol), ours[shuffled])


def test_correlated_columns_and_drops_along_the_path():
    """Strongly correlated columns make coefficients leave the path and come back: the
    homotopy's answer is still scikit-learn's (and its events include leaving ones)."""
    rng = np.random.default_rng(3)
    n, p = 400, 25
    base = rng.normal(size=(n, 5))
    X = base[:, rng.integers(0, 5, size=p)] + 0.3 * rng.normal(size=(n, p))
    y = X[:, :6] @ np.array([3, -2, 2, -1, 1, 0.5]) + rng.normal(size=n)
    Z, yc = _standardized(X, y)
    G, b, yy = _gram(Z, yc)
    alphas = _grid(b, ratio=1e-4)
    left = []
    leave = _Homotopy._leave

    def counting(self, i):
        left.append(i)
        leave(self, i)

    _Homotopy._leave = counting
    try:
        ours = lasso_path_homotopy(G, b, yy, alphas, EXACT.cd_tol)
    finally:
        _Homotopy._leave = leave
    assert ours is not None and left
    _, ref, _ = enet_path(Z, yc, l1_ratio=1.0, alphas=alphas, tol=1e-13, max_iter=1_000_000)
    np.testing.assert_allclose(ours, ref.T, rtol=1e-6, atol=1e-8)


def test_exactly_collinear_columns_tie_the_same_way_for_any_rounding():
    """Two levels of a yes/no column, both kept, are one column and its negative: the lasso
    may put the weight on either. The first one takes it, also for a Gram summed in another
    order (rounding at the last digit), so a file read whole or in chunks agrees."""
    rng = np.random.default_rng(1)
    n = 300
    yes = rng.random(n) < 0.4
    X = np.column_stack([rng.normal(size=n), yes, ~yes, rng.normal(size=n)]).astype(float)
    y = 2 * X[:, 0] + 1.5 * yes + rng.normal(size=n)
    Z, yc = _standardized(X, y)
    G, b, yy = _gram(Z, yc)
    alphas = _grid(b)
    first = lasso_path_homotopy(G, b, yy, alphas, EXACT.cd_tol)
    assert first is not None
    assert np.any(first[:, 1] != 0) and np.all(first[:, 2] == 0)
    for seed in range(5):
        wobble = np.random.default_rng(seed)
        Gw = G * (1 + 1e-15 * wobble.standard_normal(G.shape))
        bw = b * (1 + 1e-15 * wobble.standard_normal(b.shape))
        other = lasso_path_homotopy((Gw + Gw.T) / 2, bw, yy, alphas, EXACT.cd_tol)
        np.testing.assert_allclose(other, first, rtol=1e-9, atol=1e-12)


def test_a_guess_starts_the_path_and_a_wrong_guess_changes_nothing():
    frame = pd.read_csv(DATA / "hitters.csv").dropna()
    X = frame.select_dtypes("number").drop(columns="Salary").to_numpy(float)
    Z, yc = _standardized(X, frame["Salary"].to_numpy(float))
    G, b, yy = _gram(Z, yc)
    alphas = _grid(b)[[12, 20]]
    exact = lasso_path_homotopy(G, b, yy, alphas, EXACT.cd_tol)
    near = _Homotopy(G, b)
    assert near.start_near(exact[0] * 1.1, alphas[0], yy, EXACT.cd_tol)
    np.testing.assert_allclose(near.w, exact[0], rtol=1e-10, atol=1e-12)
    wrong = np.where(np.arange(b.size) % 2 == 0, -1.0, 0.0)  # other support, other signs
    for guess in (exact[0] * 1.1, wrong):
        np.testing.assert_allclose(
            lasso_path_homotopy(G, b, yy, alphas, EXACT.cd_tol, guess), exact,
            rtol=1e-9, atol=1e-12)


def test_a_path_it_cannot_certify_is_none_and_coordinate_descent_takes_it(monkeypatch):
    rng = np.random.default_rng(2)
    n, p = 500, 40
    Z, yc = _standardized(rng.normal(size=(n, p)), rng.normal(size=n))
    G, b, yy = _gram(Z, yc)
    alphas = _grid(b, ratio=1e-4)
    exact = lasso_path_homotopy(G, b, yy, alphas, EXACT.cd_tol)
    monkeypatch.setattr(paths_homotopy, "EVENTS_PER_FEATURE", 0)
    monkeypatch.setattr(paths_homotopy, "BASE_EVENTS", 5)
    assert lasso_path_homotopy(G, b, yy, alphas, EXACT.cd_tol) is None  # out of events

    design = paths_gram._Design(T=np.eye(p), mean=np.zeros(p), scale=np.ones(p), S=G * n,
                                c=b * n, ybar=0.0, yyc=yy * n, n=float(n))
    fallen = []
    descent = paths_gram._lasso_descent
    monkeypatch.setattr(paths_gram, "_lasso_descent",
                        lambda *args: fallen.append(1) or descent(*args))
    coefs, capped = paths_gram._lasso_gram(design, alphas, EXACT)
    assert fallen and not capped.any()
    np.testing.assert_allclose(coefs, exact, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("chunk_rows", [1000, 0])
def test_a_regression_imports_no_scikit_learn(tmp_path, chunk_rows):
    """A regression's fits on cell statistics are numpy's alone (scikit-learn's import is
    about a second of CPU on a 2-core runner): a diagnosis of a file that streams, or of one
    read whole (chunk_rows=0) whose first rows show a regression target, never loads it."""
    rng = np.random.default_rng(4)
    n = 4000
    frame = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    frame["city"] = rng.choice(["a", "b", "c"], size=n)
    frame["y"] = frame["x0"] - frame["x1"] + (frame["city"] == "b") + rng.normal(size=n)
    path = tmp_path / "streams.csv"
    frame.to_csv(path, index=False)
    code = ("import sys; from overfitcheck import diagnose; "
            f"report = diagnose({str(path)!r}, target='y', chunk_rows={chunk_rows}); "
            "assert report.curves['l1'].coef is not None; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("p", [0, 1])
def test_tiny_and_empty_designs(p):
    G, b = np.eye(p), np.full(p, 0.5)
    out = lasso_path_homotopy(G, b, 1.0, np.array([1.0, 0.25]), EXACT.cd_tol)
    assert out.shape == (2, p)
    if p:
        np.testing.assert_allclose(out[:, 0], [0.0, 0.25])  # soft threshold: 0.5 - alpha


def test_near_ties_and_a_feature_that_leaves_and_comes_back_are_followed():
    """Correlations tied up to rounding join together (none is left behind past the bound),
    and a feature that leaves may come back at the other bound before the next event: on
    small, nearly square designs with an exactly collinear column (where both happen), every
    path is certified and is scikit-learn's."""
    for b in ([1.0, 1.0 + 5e-10], [1.0, 0.5, 0.5 * (1 + 1e-10)]):
        b = np.array(b)
        out = lasso_path_homotopy(np.eye(b.size), b, 2.0, np.array([0.25]), EXACT.cd_tol)
        np.testing.assert_allclose(out[0], np.maximum(b - 0.25, 0.0))  # soft thresholds
    for seed in range(60):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(22, 20))
        X[:, 19] = X[:, 0] - X[:, 1]
        Z, yc = _standardized(X, X[:, :4] @ rng.normal(size=4) + rng.normal(size=22))
        G, b, yy = _gram(Z, yc)
        alphas = _grid(b, ratio=1e-3)
        ours = lasso_path_homotopy(G, b, yy, alphas, EXACT.cd_tol)
        assert ours is not None, seed
        _, ref, _ = enet_path(Z, yc, l1_ratio=1.0, alphas=alphas, tol=1e-12,
                              max_iter=1_000_000)
        ours_objective, ref_objective = (
            np.array([0.5 * w @ G @ w - b @ w + a * np.abs(w).sum()
                      for w, a in zip(W, alphas, strict=True)]) for W in (ours, ref.T))
        # never above coordinate descent's, which is within its gap (1e-12 yy) of the optimum
        assert np.all(ours_objective <= ref_objective + 1e-13 * yy), seed
        assert np.all(ours_objective >= ref_objective - 2e-12 * yy), seed


def test_a_nan_is_never_certified():
    G, b = np.eye(3), np.array([1.0, 0.5, 0.2])
    from_nan_guess = lasso_path_homotopy(G, b, 2.0, np.array([0.1]), EXACT.cd_tol,
                                         guess=np.array([np.nan, 0.0, 0.0]))
    np.testing.assert_allclose(from_nan_guess, [[0.9, 0.4, 0.1]])  # the guess is not used
    assert lasso_path_homotopy(G, np.array([1.0, np.nan, 0.2]), 2.0, np.array([0.1]),
                               EXACT.cd_tol) is None
