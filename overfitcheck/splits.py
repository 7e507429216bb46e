"""Dataset -> splits: the cross-validation folds (scikit-learn's splitters) and learning subsets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import Config
from .dataset import Dataset
from .draws import splitmix64
from .errors import TooFewRows

# Learning curves: 8 training-set sizes, 1/8 to 8/8 of each training fold. Eighths let every row
# carry one learning level (see level_of_rows), so a subset is a union of whole cells.
LEARNING_LEVELS = 8
LEARNING_FRACTIONS = tuple((i + 1) / LEARNING_LEVELS for i in range(LEARNING_LEVELS))
# Salt for the learning-level hash, so levels and folds are drawn independently.
_LEVEL_SALT = 0x5EED_1E7E1


@dataclass(frozen=True)
class Fold:
    """Row indices of one training set and the rows it is validated on."""

    train: np.ndarray
    validation: np.ndarray


@dataclass(frozen=True)
class Splits:
    """The folds and how to rebuild them with scikit-learn."""

    folds: tuple[Fold, ...]
    kind: str
    definition: dict[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def n_splits(self) -> int:
        return len(self.folds)


def make_splits(dataset: Dataset, config: Config) -> Splits:
    """Build the folds as the scikit-learn call in `definition` would (on its stratify_on label,
    when rare classes had to be merged). scikit-learn's splitters are imported only for the
    folds that use them (paths.load_solvers imports them beside the reading)."""
    n, k = dataset.n_rows, config.cv
    notes: list[str] = []
    if n < k:
        raise TooFewRows(f"{n} rows cannot make {k} cross-validation folds",
                         f"use --cv {max(2, n // 2)} or give more rows")
    index = np.arange(n)
    if dataset.groups is not None:
        n_groups = np.unique(dataset.groups).size
        if n_groups < k:
            raise TooFewRows(f"--group-col has {n_groups} groups, fewer than {k} folds",
                             f"use --cv {max(2, n_groups)} or a column with more groups")
        from sklearn.model_selection import GroupKFold

        splitter: Any = GroupKFold(n_splits=k)
        pairs = splitter.split(index, groups=dataset.groups)
        definition = {"splitter": "GroupKFold", "n_splits": k, "group_col": config.group_col}
    elif dataset.order is not None:
        if n < k + 1:
            raise TooFewRows(f"{n} rows cannot make {k} time-ordered folds (TimeSeriesSplit "
                             f"needs {k + 1})", f"use --cv {max(2, n - 1)} or give more rows")
        from sklearn.model_selection import TimeSeriesSplit

        splitter = TimeSeriesSplit(n_splits=k)
        pairs = ((dataset.order[tr], dataset.order[va]) for tr, va in splitter.split(index))
        definition = {"splitter": "TimeSeriesSplit", "n_splits": k, "time_col": config.time_col}
        notes.append("time-ordered folds: each fold trains on the past and validates on the "
                     "block that follows")
    elif dataset.task != "regression":
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=config.seed)
        counts = np.bincount(dataset.y, minlength=dataset.n_classes)
        if counts.min() < k:
            rare = [f"{dataset.classes[c]!r} ({counts[c]})" for c in np.flatnonzero(counts < k)]
            notes.append(f"classes with fewer members than the {k} folds: {', '.join(rare)}; "
                         "StratifiedKFold spreads what there is, so some validation folds lack "
                         "them")
            # Stratify on a label that folds the rare classes into the most common one, so
            # scikit-learn never sees a class it cannot spread; the folds stay stratified for
            # every class that has enough members.
            strat = np.where(counts[dataset.y] < k, int(np.argmax(counts)), dataset.y)
        else:
            strat = dataset.y
        pairs = splitter.split(index, strat)
        definition = {"splitter": "StratifiedKFold", "n_splits": k, "shuffle": True,
                      "random_state": config.seed}
        if counts.min() < k:
            definition["stratify_on"] = "target, classes with fewer than n_splits members " \
                                        "merged into the most common class"
    else:
        folds_of = fold_of_rows(0, n, k, config.seed)
        pairs = ((np.flatnonzero(folds_of != f), np.flatnonzero(folds_of == f)) for f in range(k))
        definition = {"splitter": "BlockShuffleKFold", "n_splits": k, "seed": config.seed,
                      "rule": BLOCK_RULE}
    folds = tuple(Fold(np.sort(tr), np.sort(va)) for tr, va in pairs)
    return Splits(folds, definition["splitter"], definition, tuple(notes))


def learning_subsets(train: np.ndarray, y: np.ndarray, task: str, seed: int,
                     fractions: tuple[float, ...] = LEARNING_FRACTIONS) -> list[np.ndarray]:
    """Nested training subsets of a fold, one per fraction, stratified with every class present.

    Rows are ranked once: one member of each class first, then the rest interleaved by their
    position within their class, so every prefix keeps the class proportions.
    """
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(train)
    if task == "regression":
        ranked = shuffled
    else:
        labels = y[shuffled]
        rank = np.empty(len(shuffled))
        first = []
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            rank[members] = (np.arange(len(members)) + 0.5) / len(members)
            first.append(members[0])
        rank[first] = -1.0
        ranked = shuffled[np.argsort(rank, kind="stable")]
    n_classes = 1 if task == "regression" else np.unique(y[train]).size
    sizes = [max(n_classes + 1, int(round(f * len(train)))) for f in fractions]
    return [np.sort(ranked[: min(s, len(train))]) for s in sizes]


BLOCK_RULE = ("rows in consecutive blocks of n_splits; each block's rows go to folds 0..n_splits-1 "
              "in a seeded random order (overfitcheck.splits.fold_of_rows), so every fold draws "
              "evenly from the whole file and a row's fold does not depend on the file's length")


def fold_of_rows(start: int, stop: int, k: int, seed: int) -> np.ndarray:
    """The regression fold (0..k-1) of file rows start..stop-1 (counting rows with a target).

    KFold(shuffle=True) needs the number of rows before it can place the first one; a file read
    in chunks does not know it. Here the rows come in blocks of k and each block deals its rows
    to the k folds in an order drawn from (seed, block): fold sizes differ by at most one, the
    split is as random as KFold's, and any chunk of rows gets the same folds wherever it is cut.
    To rebuild the folds with scikit-learn: PredefinedSplit(fold_of_rows(0, n, k, seed)).
    """
    return _block_ranks(start, stop, k, seed)


def level_of_rows(start: int, stop: int, seed: int) -> np.ndarray:
    """The learning level (0..7) of rows start..stop-1: learning subset i of a fold holds its
    training rows of level <= i, about (i + 1) / 8 of them, nested, drawn like the folds."""
    return _block_ranks(start, stop, LEARNING_LEVELS, seed ^ _LEVEL_SALT)


def _block_ranks(start: int, stop: int, k: int, seed: int) -> np.ndarray:
    first, last = start // k, max(start // k, (stop - 1) // k + 1)
    positions = np.arange(first * k, last * k, dtype=np.uint64).reshape(-1, k)
    key = splitmix64(np.array([seed % 2**64], dtype=np.uint64))[0]
    draws = splitmix64(positions ^ key)
    ranks = np.argsort(np.argsort(draws, axis=1, kind="stable"), axis=1, kind="stable")
    return ranks.reshape(-1)[start - first * k: stop - first * k].astype(np.int64)
