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
    """ISLP 6.5.2: drop-first dummies, standardization, KFold(5, shuffle, random_state=0): the
    engine on the book's folds gives the book's cross-validated MSEs; the diagnosis on its own
    folds (BlockShuffleKFold) gives the same picture within fold noise."""
    from sklearn.model_selection import KFold

    from overfitcheck.config import Config
    from overfitcheck.curves import summarize
    from overfitcheck.dataset import load_dataset
    from overfitcheck.grid import alpha_grids
    from overfitcheck.paths import fit_paths
    from overfitcheck.splits import Fold

    config = Config(target="Salary", drop_first=True)
    dataset = load_dataset(DATA / "hitters.csv", config)
    top = alpha_grids(dataset, config)["l1"][0]
    # ElasticNetCV's default grid: 100 alphas from alpha_max down to 1e-3 of it
    options = {"drop_first": True, "n_alphas": 100, "alpha_min": top * 1e-3}
    grids = alpha_grids(dataset, Config(target="Salary", **options))
    book_folds = [Fold(tr, va) for tr, va in
                  KFold(5, shuffle=True, random_state=0).split(dataset.X)]
    paths = fit_paths(dataset.X, dataset.y, "regression", 0, book_folds,
                      {"baseline": np.array([0.0]), "none": np.array([0.0]), **grids})
    book = {p: summarize(path, "rmse") for p, path in paths.items()}
    report = diagnose(DATA / "hitters.csv", target="Salary", **options)
    assert report.n_features == 19
    assert report.folds["splitter"] == "BlockShuffleKFold" and report.folds["seed"] == 0

    def cv_mse(curve, index):
        return float(np.mean(curve.validation_folds[index] ** 2))

    for curves, tolerance in ((book, 0.01), (report.curves | {"baseline": report.baseline}, 0.03)):
        lasso = curves["l1"]
        assert lasso.n_nonzero[lasso.index_min] == 13
        least_squares = cv_mse(curves["none"], 0)
        ridge = min(cv_mse(curves["l2"], i) for i in range(100))
        lasso_mse = cv_mse(lasso, lasso.index_min)
        assert least_squares == pytest.approx(122_700, rel=tolerance)
        assert lasso_mse == pytest.approx(115_000, rel=tolerance)
        assert cv_mse(curves["baseline"], 0) == pytest.approx(204_000, rel=tolerance)
        assert least_squares - max(ridge, lasso_mse) > 4_000  # "clearly worse", in MSE units


def test_same_seed_gives_the_same_report_and_other_seeds_other_folds():
    first = diagnose(DATA / "diabetes.csv", target="target").to_json()
    assert diagnose(DATA / "diabetes.csv", target="target").to_json() == first
    other = diagnose(DATA / "diabetes.csv", target="target", seed=5)
    assert other.to_json() != first
    assert other.verdict.overall == "good_fit"


def test_edge_of_grid_is_warned():
    report = diagnose(DATA / "diabetes.csv", target="target", alphas=(100.0, 200.0, 400.0))
    assert any("largest of the grid" in w for w in report.warnings)
