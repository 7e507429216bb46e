"""Table -> dataset: target checks, task inference and what is done with every column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import DATA

from overfitcheck.config import Config
from overfitcheck.dataset import load_dataset
from overfitcheck.errors import BadTarget, TargetNotFound


def _load(frame: pd.DataFrame, target: str = "y", **options):
    return load_dataset(frame, Config(target=target, **options))


def _frame(y, n=None, **columns):
    n = len(y)
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), **columns, "y": y})


def test_integer_class_codes_are_multiclass():
    dataset = load_dataset(DATA / "khan_train.csv", Config(target="Y"))
    assert dataset.task == "multiclass"
    assert dataset.classes == ("1", "2", "3", "4")
    assert dataset.X.shape == (63, 2308)


@pytest.mark.parametrize(("y", "task"), [
    ([0.0, 1.0] * 20, "binary"),
    ([True, False] * 20, "binary"),
    (["Yes", "No"] * 20, "binary"),
    (["a", "b", "c", "d"] * 10, "multiclass"),
    (list(range(40)), "regression"),  # a row-id-like integer: not 40 classes
    (np.linspace(0, 1, 40).tolist(), "regression"),
])
def test_task_inference(y, task):
    assert _load(_frame(y)).task == task


def test_task_override():
    dataset = _load(_frame([1, 2, 3, 4] * 10), task="regression")
    assert dataset.task == "regression"


def test_missing_target_rows_are_dropped_and_counted():
    dataset = load_dataset(DATA / "hitters.csv", Config(target="Salary"))
    assert (dataset.n_rows, dataset.n_rows_read, dataset.n_rows_dropped) == (263, 322, 59)
    assert "dropped 59 rows with a missing target" in dataset.notes


def test_missing_target_lists_close_names():
    with pytest.raises(TargetNotFound) as caught:
        load_dataset(DATA / "hitters.csv", Config(target="salary2"))
    assert caught.value.one_line() == (
        "target column 'salary2' not found; close names: 'Salary'. "
        "Fix: pass --target with one of the file's columns")


def test_target_name_is_matched_ignoring_case():
    assert load_dataset(DATA / "hitters.csv", Config(target="salary")).target == "Salary"


def test_constant_and_empty_targets():
    with pytest.raises(BadTarget, match="is constant"):
        _load(_frame([1.0] * 30))
    with pytest.raises(BadTarget, match="is empty"):
        _load(_frame([np.nan] * 30))


def test_column_plan_says_what_was_done():
    n = 40
    frame = _frame(
        np.arange(n) % 2,
        customer_id=[f"C{i:04d}" for i in range(n)],
        row=np.arange(n),
        constant=[7] * n,
        empty=[np.nan] * n,
        when=pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
        colour=(["red", "blue", None, "green"] * 10),
        amount=["1,200", "3,400", "n/a", "12"] * 10,
    )
    plans = {c.name: c for c in _load(frame).columns}
    assert plans["customer_id"].role == "dropped" and "ID-like" in plans["customer_id"].detail
    assert plans["row"].role == "dropped" and "ID-like" in plans["row"].detail
    assert plans["constant"].detail == "constant"
    assert plans["empty"].detail == "all missing"
    assert plans["when"].detail.startswith("datetime")
    assert plans["colour"].role == "categorical"
    assert plans["colour"].features == ("colour=(missing)", "colour=blue", "colour=green",
                                        "colour=red")
    assert plans["amount"].role == "numeric"
    assert plans["amount"].n_missing == 10
    assert plans["x"].features == ("x",)


def test_numbers_with_thousands_separators_are_parsed():
    frame = _frame([0, 1] * 10, amount=["1,200", "3,400.5", "12", "7"] * 5)
    dataset = _load(frame)
    column = dataset.feature_names.index("amount")
    assert dataset.X[:4, column].tolist() == [1200.0, 3400.5, 12.0, 7.0]


def test_high_cardinality_levels_are_capped():
    rng = np.random.default_rng(1)
    levels = [f"L{i}" for i in rng.integers(0, 30, 300)]
    dataset = _load(_frame(rng.normal(size=300), city=levels), max_levels=5)
    plan = next(c for c in dataset.columns if c.name == "city")
    assert len(plan.features) == 6 and "city=(other)" in plan.features
    assert "5 most frequent of 30 levels" in plan.detail


def test_drop_first_matches_textbook_hitters_design():
    dataset = load_dataset(DATA / "hitters.csv", Config(target="Salary", drop_first=True))
    assert dataset.n_features == 19
    assert {"League=N", "Division=W", "NewLeague=N"} <= set(dataset.feature_names)


def test_dataframe_input_is_not_modified():
    frame = _frame([0.0, 1.0] * 20, colour=["a", None] * 20)
    before = frame.copy()
    _load(frame)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("values", [
    [], [np.nan] * 5, [1.0, 2.0, 3.0], [1.0, 1.0, 2.0], [1.5, np.inf, -np.inf, np.nan, 2.0],
    [np.inf], list(np.arange(100.0)), list(np.r_[np.arange(70.0), 0.5]), [-0.0, 0.0],
    [1e300, -1e300, 3.0], list(np.random.default_rng(0).normal(size=500)),
])
def test_a_float_column_is_summarized_as_the_generic_rules_do(values):
    """ColumnSummary.of's fast path for float columns as parsed gives the summary the generic
    path gives the same numbers (a nullable Float64 column takes that path)."""
    import dataclasses

    from overfitcheck.dataset import ColumnSummary

    fast = ColumnSummary.of(pd.Series(values, dtype=float))
    generic = ColumnSummary.of(pd.Series(values, dtype="Float64"))
    for field in dataclasses.fields(ColumnSummary):
        a, b = getattr(fast, field.name), getattr(generic, field.name)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            assert np.array_equal(a, b), field.name
        else:
            assert a == b, (field.name, a, b)


@pytest.mark.parametrize("dtype", ["str", "object", "category", "float"])
def test_a_categorical_column_encodes_as_one_comparison_of_its_labels_per_level(dtype):
    """encode_column's one-hot columns are the labels compared with each level as text: missing
    values are the "(missing)" level, mapped labels their level or "(other)", and a level the
    column lacks is a column of zeros."""
    from overfitcheck.dataset import (
        MISSING_LEVEL,
        OTHER_LEVEL,
        Encoding,
        category_labels,
        encode_column,
    )

    values = ["1", "1.0", None, "é", "b", "1", "rare", None, "b", "a"] * 3
    if dtype == "float":
        values = [1.0, 1.5, None, 2.0, 3.0, 1.0, 7.0, None, 3.0, 4.0] * 3
    column = pd.Series(values, dtype=dtype if dtype != "float" else "float64")
    labels = category_labels(column)
    present = sorted(set(labels))
    kept = present[:3]
    mapping = {label: label if label in kept or label == MISSING_LEVEL else OTHER_LEVEL
               for label in present}
    for encoding in (Encoding("categorical", levels=tuple([*present, "absent"])),
                     Encoding("categorical", levels=(*kept, OTHER_LEVEL, MISSING_LEVEL),
                              mapping=mapping),
                     Encoding("categorical", levels=())):
        text = labels.map(encoding.mapping).fillna(OTHER_LEVEL) if encoding.mapping else labels
        expected = np.array([[float(label == level) for level in encoding.levels]
                             for label in text.tolist()]).reshape(len(column), -1)
        np.testing.assert_array_equal(encode_column(column, encoding), expected)


def test_a_pandas_categorical_column_with_missing_values_is_read_as_its_text_is():
    """A DataFrame's Categorical column (which cannot take a "(missing)" label it does not list)
    gives the features its values give as text, and the frame is left as it was."""
    rng = np.random.default_rng(0)
    n = 60
    text = pd.Series(rng.choice(["a", "b", None], size=n), dtype=object)
    numbers = pd.Series(rng.choice([1, 2, None], size=n), dtype=object)
    as_text = _frame(rng.normal(size=n), c=text, k=numbers)
    as_categories = as_text.assign(c=text.astype("category"), k=numbers.astype("category"))
    before = as_categories.copy()
    expected, got = _load(as_text), _load(as_categories)
    assert got.feature_names == expected.feature_names
    np.testing.assert_array_equal(got.X, expected.X)
    pd.testing.assert_frame_equal(as_categories, before)
