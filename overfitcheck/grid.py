"""Dataset -> alpha grids: glmnet's data-derived grid for L1, a wider one for L2, or the user's."""

from __future__ import annotations

import numpy as np

from .config import Config
from .dataset import Dataset
from .paths import column_scaling, standardize

# glmnet's lambda.min.ratio: the grid spans alpha_max down to alpha_max * 1e-4, or 1e-2 when
# there are fewer rows than features (an unpenalized fit there interpolates, so the tail adds
# nothing but slow, unstable fits).
L1_RATIO_TALL = 1e-4
L1_RATIO_WIDE = 1e-2
# L2 never zeroes a coefficient, so it has no natural alpha_max. At alpha = 100 x the largest
# eigenvalue of the standardized Gram / n, every direction is shrunk to <= 1% (over-regularized,
# predictions ~ the mean); 1e-6 of that leaves every direction that carries 1e-2 or more of the
# top eigenvalue unshrunk to within 1% (under-regularized, ~ least squares).
L2_TOP_FACTOR = 1e2
L2_RATIO = 1e-6
# Rows standardized at a time for the Gram of a tall design (8 MB of 132 columns).
BLOCK_ROWS = 8_192


def alpha_grids(dataset: Dataset, config: Config,
                scaling: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Descending alpha grids for "l1" and "l2" on the documented glmnet scale. `scaling`:
    paths.column_scaling(dataset.X) when the caller has it (else computed here if needed)."""
    if config.alphas is not None:
        return user_grids(config)
    X = dataset.X
    n, p = X.shape
    if dataset.task == "regression":
        residual = (dataset.y - dataset.y.mean())[:, None]
    else:
        onehot = np.eye(dataset.n_classes)[dataset.y]
        residual = onehot - onehot.mean(axis=0)
        if dataset.task == "binary":
            residual = residual[:, 1:]
    if n < p:  # the n x n Gram of the standardized rows
        Xs, _, _ = standardize(X, np.arange(n))
        l1_top = float(np.max(np.abs(Xs.T @ residual)) / n)
        gram = Xs @ Xs.T
    else:  # the p x p Gram, summed over blocks of standardized rows: no copy of all X
        mean, scale = scaling if scaling is not None else column_scaling(X)
        xr, gram = np.zeros((p, residual.shape[1])), np.zeros((p, p))
        for lo in range(0, n, BLOCK_ROWS):
            block = X[lo:lo + BLOCK_ROWS] - mean  # standardize's numbers, row by row
            np.copyto(block, 0.0, where=np.isnan(block))  # a missing value: the mean
            block /= scale
            xr += block.T @ residual[lo:lo + BLOCK_ROWS]
            gram += block.T @ block
        l1_top = float(np.max(np.abs(xr)) / n)
    return grids_from_tops(config, l1_top, float(np.linalg.eigvalsh(gram)[-1]) / n, n >= p)


def user_grids(config: Config) -> dict[str, np.ndarray]:
    grid = np.sort(np.asarray(config.alphas, dtype=float))[::-1]
    return {"l1": grid, "l2": grid.copy()}


def grids_from_tops(config: Config, l1_top: float, top_eigenvalue: float, tall: bool
                    ) -> dict[str, np.ndarray]:
    """The grids from max |x_j'r| / n (the smallest alpha that zeroes every L1 coefficient) and
    the top eigenvalue of the standardized Gram / n, however they were computed."""
    l1_top = l1_top if l1_top > 0 else 1.0
    l2_top = L2_TOP_FACTOR * top_eigenvalue
    ratio = L1_RATIO_TALL if tall else L1_RATIO_WIDE
    return {
        "l1": _span(config, l1_top, l1_top * ratio),
        "l2": _span(config, l2_top, l2_top * L2_RATIO),
    }


def _span(config: Config, top: float, bottom: float) -> np.ndarray:
    top = config.alpha_max if config.alpha_max is not None else top
    bottom = config.alpha_min if config.alpha_min is not None else min(bottom, top / 10)
    if bottom >= top:
        bottom = top / 10
    return np.logspace(np.log10(top), np.log10(bottom), config.n_alphas)
