"""Dataset -> splits: folds scikit-learn rebuilds, rare classes, groups, time, learning subsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import DATA
from sklearn.model_selection import GroupKFold, PredefinedSplit, StratifiedKFold, TimeSeriesSplit

from overfitcheck.config import Config
from overfitcheck.dataset import load_dataset
from overfitcheck.errors import TooFewRows
from overfitcheck.splits import (
    BLOCK_RULE,
    fold_of_rows,
    learning_subsets,
    level_of_rows,
    make_splits,
)


def _folds(dataset, **options):
    return make_splits(dataset, Config(target=dataset.target, **options))


def test_classification_folds_are_stratified_kfold():
    dataset = load_dataset(DATA / "penguins.csv", Config(target="species"))
    splits = _folds(dataset, seed=3)
    expected = StratifiedKFold(5, shuffle=True, random_state=3).split(dataset.X, dataset.y)
    for fold, (train, validation) in zip(splits.folds, expected, strict=True):
        np.testing.assert_array_equal(fold.train, train)
        np.testing.assert_array_equal(fold.validation, validation)
    assert splits.definition == {"splitter": "StratifiedKFold", "n_splits": 5, "shuffle": True,
                                 "random_state": 3}


def test_regression_folds_deal_each_block_of_rows_to_every_fold():
    dataset = load_dataset(DATA / "diabetes.csv", Config(target="target"))
    splits = _folds(dataset, cv=7)
    folds = fold_of_rows(0, dataset.n_rows, 7, 0)
    test_fold = np.empty(dataset.n_rows, dtype=int)
    for f, fold in enumerate(splits.folds):
        test_fold[fold.validation] = f
        np.testing.assert_array_equal(fold.train, np.flatnonzero(folds != f))
    np.testing.assert_array_equal(test_fold, folds)
    # scikit-learn rebuilds them from the documented rule
    for fold, (train, validation) in zip(splits.folds, PredefinedSplit(folds).split(),
                                         strict=True):
        np.testing.assert_array_equal(fold.validation, validation)
        np.testing.assert_array_equal(fold.train, train)
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1
    for start in range(0, dataset.n_rows - 7, 7):  # every block of 7 rows meets every fold
        assert sorted(folds[start:start + 7]) == list(range(7))
    assert splits.definition == {"splitter": "BlockShuffleKFold", "n_splits": 7, "seed": 0,
                                 "rule": BLOCK_RULE}


@pytest.mark.parametrize("cut", [1, 3, 5, 64, 441])
def test_folds_and_levels_do_not_depend_on_how_rows_are_chunked(cut):
    n = 442
    whole_folds, whole_levels = fold_of_rows(0, n, 5, 3), level_of_rows(0, n, 3)
    pieces = range(0, n, cut)
    np.testing.assert_array_equal(
        np.concatenate([fold_of_rows(s, min(s + cut, n), 5, 3) for s in pieces]), whole_folds)
    np.testing.assert_array_equal(
        np.concatenate([level_of_rows(s, min(s + cut, n), 3) for s in pieces]), whole_levels)
    assert not np.array_equal(fold_of_rows(0, n, 5, 4), whole_folds)  # the seed matters
    assert sorted(np.bincount(whole_levels).tolist()) == [55] * 6 + [56] * 2


def test_group_and_time_folds(tmp_path):
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({"x": rng.normal(size=n), "customer": rng.integers(0, 12, n),
                          "day": rng.permutation(n), "y": rng.normal(size=n)})
    grouped = load_dataset(frame, Config(target="y", group_col="customer"))
    splits = _folds(grouped, group_col="customer")
    expected = GroupKFold(5).split(frame, groups=frame["customer"].astype(str))
    for fold, (_, validation) in zip(splits.folds, expected, strict=True):
        np.testing.assert_array_equal(fold.validation, np.sort(validation))
        train_groups = set(frame["customer"].iloc[fold.train])
        assert train_groups.isdisjoint(frame["customer"].iloc[fold.validation])
    assert "customer" not in grouped.feature_names
    timed = load_dataset(frame, Config(target="y", time_col="day"))
    splits = _folds(timed, time_col="day", cv=4)
    order = np.argsort(frame["day"].to_numpy())
    for fold, (train, validation) in zip(splits.folds, TimeSeriesSplit(4).split(frame),
                                         strict=True):
        np.testing.assert_array_equal(fold.train, np.sort(order[train]))
        assert frame["day"].iloc[fold.train].max() < frame["day"].iloc[fold.validation].min()
        np.testing.assert_array_equal(fold.validation, np.sort(order[validation]))


def test_class_with_fewer_members_than_folds_does_not_crash():
    y = ["a"] * 30 + ["b"] * 30 + ["rare"] * 2
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=62), "y": y})
    dataset = load_dataset(frame, Config(target="y"))
    splits = _folds(dataset)
    assert splits.n_splits == 5
    assert any("'rare' (2)" in note for note in splits.notes)
    rare = np.flatnonzero(dataset.y == dataset.classes.index("rare"))
    assert sum(np.isin(rare, f.validation).any() for f in splits.folds) == 2


def test_fewer_rows_than_folds_is_one_clear_error():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [1.0, 2, 3, 5]})
    dataset = load_dataset(frame, Config(target="y"))
    with pytest.raises(TooFewRows) as caught:
        _folds(dataset, cv=5)
    assert caught.value.one_line() == ("4 rows cannot make 5 cross-validation folds. "
                                       "Fix: use --cv 2 or give more rows")


def test_learning_subsets_are_nested_stratified_and_keep_every_class():
    dataset = load_dataset(DATA / "khan_train.csv", Config(target="Y"))
    train = _folds(dataset).folds[0].train
    subsets = learning_subsets(train, dataset.y, dataset.task, seed=0)
    assert len(subsets) == 8
    assert subsets[-1].size == train.size
    for small, large in zip(subsets, subsets[1:], strict=False):
        assert set(small) <= set(large)
    for subset in subsets:
        assert set(dataset.y[subset]) == set(dataset.y[train])
    full = np.bincount(dataset.y[train]) / train.size
    half = np.bincount(dataset.y[subsets[3]], minlength=4) / subsets[3].size
    assert np.abs(full - half).max() < 0.1
