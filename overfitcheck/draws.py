"""Seeded draws per file row that any chunking of the file reproduces: folds, learning levels
and --max-rows samples are all made from them."""

from __future__ import annotations

import numpy as np


def row_draws(start: int, stop: int, seed: int) -> np.ndarray:
    """One uniform 64-bit draw for each file row start..stop-1, from (seed, row) alone."""
    key = splitmix64(np.array([seed % 2**64], dtype=np.uint64))[0]
    return splitmix64(np.arange(start, stop, dtype=np.uint64) ^ key)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """A counter-based hash (Steele et al.'s SplitMix64 finalizer): one uniform draw per row
    index, the same however the rows are chunked."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
