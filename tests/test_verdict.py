"""Curves -> verdict: the rules on constructed cases and on the textbook Hitters facts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import DATA

from overfitcheck import diagnose


def _regression(n, p, signal, noise, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X[:, : len(signal)] @ np.asarray(signal, dtype=float) + rng.normal(scale=noise, size=n)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    frame["y"] = y
    return frame


def test_more_features_than_rows_overfits():
    report = diagnose(_regression(80, 150, [2.0, -1.5, 1.0], 1.0), target="y")
    none = next(f for f in report.verdict.families if f.penalty == "none")
    assert none.verdict == "overfitting"
    assert report.verdict.overall == "overfitting"
    assert report.verdict.best == "l1"
    assert "interpolates" in " ".join(none.reasons)


def test_pure_noise_underfits():
    frame = _regression(400, 10, [], 1.0, seed=1)
    report = diagnose(frame, target="y")
    assert report.verdict.overall == "underfitting"
    assert "baseline" in report.verdict.reasons[0]


def test_large_n_few_features_fits_well():
    report = diagnose(_regression(5000, 4, [1.0, -2.0, 0.5, 0.0], 1.0, seed=2), target="y")
    assert report.verdict.overall == "good_fit"
    assert all(f.verdict == "good_fit" for f in report.verdict.families)


@pytest.mark.parametrize(("name", "target"), [("diabetes.csv", "target"),
                                              ("hitters.csv", "Salary"),
                                              ("penguins.csv", "species")])
def test_alpha_1se_is_never_below_alpha_min(name, target):
    report = diagnose(DATA / name, target=target)
    for penalty in ("l1", "l2"):
        curve = report.curves[penalty]
        assert curve.alpha_1se >= curve.alpha_min
        i, j = curve.index_min, curve.index_1se
        assert curve.validation_mean[j] <= curve.validation_mean[i] + curve.validation_se[i]


def test_hitters_textbook_facts():
    """ISLP 6.5.2: drop-first dummies, standardization, KFold(5, shuffle, random_state=0)."""
    from overfitcheck.config import Config
    from overfitcheck.dataset import load_dataset
    from overfitcheck.grid import alpha_grids

    config = Config(target="Salary", drop_first=True)
    top = alpha_grids(load_dataset(DATA / "hitters.csv", config), config)["l1"][0]
    # ElasticNetCV's default grid: 100 alphas from alpha_max down to 1e-3 of it
    report = diagnose(DATA / "hitters.csv", target="Salary", drop_first=True, n_alphas=100,
                      alpha_min=top * 1e-3)
    assert report.n_features == 19
    assert report.folds["splitter"] == "KFold" and report.folds["random_state"] == 0
    lasso = report.curves["l1"]
    assert lasso.n_nonzero[lasso.index_min] == 13

    def cv_mse(curve, index):
        return float(np.mean(curve.validation_folds[index] ** 2))

    least_squares = cv_mse(report.curves["none"], 0)
    ridge = min(cv_mse(report.curves["l2"], i) for i in range(100))
    lasso_mse = cv_mse(lasso, lasso.index_min)
    null = float(np.mean(report.baseline.validation_folds[0] ** 2))
    assert least_squares == pytest.approx(122_700, rel=0.01)
    assert lasso_mse == pytest.approx(115_000, rel=0.01)
    assert null == pytest.approx(204_000, rel=0.01)
    assert least_squares - max(ridge, lasso_mse) > 5_000  # "clearly worse", in MSE units


def test_same_seed_gives_the_same_report_and_other_seeds_other_folds():
    first = diagnose(DATA / "diabetes.csv", target="target").to_json()
    assert diagnose(DATA / "diabetes.csv", target="target").to_json() == first
    other = diagnose(DATA / "diabetes.csv", target="target", seed=5)
    assert other.to_json() != first
    assert other.verdict.overall == "good_fit"


def test_edge_of_grid_is_warned():
    report = diagnose(DATA / "diabetes.csv", target="target", alphas=(100.0, 200.0, 400.0))
    assert any("largest of the grid" in w for w in report.warnings)
