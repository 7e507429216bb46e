"""Alpha grids: glmnet's data-derived tops, summed over blocks of rows without a copy of X."""

from __future__ import annotations

import numpy as np
from helpers import DATA

import overfitcheck.grid as grid
import overfitcheck.paths as paths
from overfitcheck.config import Config
from overfitcheck.dataset import load_dataset
from overfitcheck.paths import column_scaling, standardize


def _penguins():
    config = Config(target="species")
    dataset = load_dataset(DATA / "penguins.csv", config)
    assert np.isnan(dataset.X).any()  # missing values take the mean
    return config, dataset


def test_column_scaling_is_the_mean_and_scale_standardize_gives_every_row(monkeypatch):
    _, dataset = _penguins()
    monkeypatch.setattr(paths, "SCALING_COLUMNS", 4)  # four chunks of 15 columns, one short
    mean, scale = column_scaling(dataset.X)
    _, mean_all, scale_all = standardize(dataset.X, np.arange(dataset.X.shape[0]))
    np.testing.assert_allclose(mean, mean_all, rtol=1e-15, atol=0)
    np.testing.assert_allclose(scale, scale_all, rtol=1e-15, atol=0)


def test_grids_from_blocks_of_rows_equal_the_whole_standardized_design(monkeypatch):
    config, dataset = _penguins()
    monkeypatch.setattr(grid, "BLOCK_ROWS", 50)  # seven blocks, the last one short
    blocked = grid.alpha_grids(dataset, config)
    n = dataset.X.shape[0]
    Xs, _, _ = standardize(dataset.X, np.arange(n))
    onehot = np.eye(dataset.n_classes)[dataset.y]
    l1_top = np.max(np.abs(Xs.T @ (onehot - onehot.mean(axis=0)))) / n
    top_eigenvalue = np.linalg.eigvalsh(Xs.T @ Xs)[-1] / n
    whole = grid.grids_from_tops(config, float(l1_top), float(top_eigenvalue), True)
    for penalty in ("l1", "l2"):
        np.testing.assert_allclose(blocked[penalty], whole[penalty], rtol=1e-12)
