"""Table -> dataset: validates the target, infers the task and turns every column into features."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Config
from .errors import BadTarget, NoFeatures, TargetNotFound, TooFewRows, UsageProblem
from .read import NA_VALUES, Table, read_table

# An integer target with at most this many distinct values is read as class codes (e.g. 1..4);
# more, and it is a count or an amount: regression. --task overrides.
MAX_CLASS_CODES = 10
# A text or integer column with a distinct value on every row is an identifier once there are
# enough rows for that to be telling rather than chance.
ID_MIN_ROWS = 20
# A class label target with more distinct values than this is almost surely an identifier or a
# number stored as text; a multinomial model over it would be meaningless (and huge).
MAX_CLASSES = 100
# Text columns whose levels exceed --max-levels and cover more than half the rows are free text
# or near-identifiers: one-hot coding them would only memorise rows.
FREE_TEXT_UNIQUE_FRACTION = 0.5
# Share of a text column's values that must parse before it is read as numbers or dates.
PARSE_FRACTION = 0.9
_DATE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
                   r"|\d{1,2}/\d{1,2}/\d{2,4}( \d{1,2}:\d{2}(:\d{2})?)?)"
                   r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$")
# An integer column unique per row is an identifier when it is a run of consecutive numbers or
# is named like one; a measurement (income, square metres) can be unique per row too.
_ID_NAME = re.compile(r"(?i)(^|[^a-z])(id|key|index|row|uuid)([^a-z]|$)|id$")
_NUMBER = re.compile(r"^\s*[-+]?(\d+|\d{1,3}([,' ]\d{3})+)(\.\d*)?([eE][-+]?\d+)?\s*$")


@dataclass(frozen=True)
class ColumnPlan:
    """What was done with one input column, for the data table and report.json."""

    name: str
    role: str  # "target", "numeric", "categorical", "dropped", "group", "time"
    detail: str
    n_missing: int
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    """The numeric design (NaN where a numeric value is missing), the target and their story.

    Imputation and standardization are NOT applied here: they are fitted per training fold.
    One-hot levels and missing-value indicators are structural and read from the whole file.
    """

    X: np.ndarray
    y: np.ndarray  # float for regression, class index 0..K-1 for classification
    feature_names: tuple[str, ...]
    target: str
    task: str
    classes: tuple[str, ...]
    columns: tuple[ColumnPlan, ...]
    groups: np.ndarray | None
    order: np.ndarray | None
    path: str | None
    sha256: str | None
    n_rows_read: int
    n_rows_dropped: int
    notes: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def load_dataset(source: str | os.PathLike[str] | pd.DataFrame, config: Config) -> Dataset:
    """Read a CSV path (or take a DataFrame, never modified) and build the dataset to diagnose."""
    if isinstance(source, pd.DataFrame):
        table = Table(source, None, None, ",", ".", "utf-8", None)
    else:
        table = read_table(source, encoding=config.encoding)
    frame = table.frame
    notes = list(table.notes)
    target = _resolve_column(frame, config.target, "target")
    n_read = len(frame)
    y_raw = frame[target]
    keep = y_raw.notna().to_numpy()
    if not keep.any():
        raise BadTarget(f"target column {target!r} is empty (all {n_read} values are missing)",
                        "choose a target column that has values")
    n_dropped = int((~keep).sum())
    if n_dropped:
        notes.append(f"dropped {n_dropped} rows with a missing target")
    frame = frame.loc[keep]
    if config.max_rows is not None and len(frame) > config.max_rows:
        available = len(frame)
        rows = np.sort(np.random.default_rng(config.seed).choice(available, config.max_rows,
                                                                  replace=False))
        frame = frame.iloc[rows]
        notes.append(f"diagnosing a random sample of {config.max_rows} of {available} rows "
                     f"(--max-rows, seed {config.seed})")
    y_raw = frame[target]
    task, reason = _infer_task(y_raw, config.task)
    y, classes = _encode_target(y_raw, task, target)
    plans = [ColumnPlan(target, "target", f"{task} ({reason})", int(n_dropped))]
    groups = order = None
    for option, name in (("--group-col", config.group_col), ("--time-col", config.time_col)):
        if name and _resolve_column(frame, name, option) == target:
            raise UsageProblem(f"{option} {name!r} is the target column",
                               f"give {option} a column other than the target")
    if config.group_col:
        col = _resolve_column(frame, config.group_col, "--group-col")
        groups = frame[col].astype(str).to_numpy()
        plans.append(ColumnPlan(col, "group", "defines the folds (GroupKFold)",
                                int(frame[col].isna().sum())))
    if config.time_col:
        col = _resolve_column(frame, config.time_col, "--time-col")
        order = _time_order(frame[col], col)
        plans.append(ColumnPlan(col, "time", "orders the folds (TimeSeriesSplit)",
                                int(frame[col].isna().sum())))
    used = {p.name for p in plans}
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for position, name in enumerate(frame.columns):
        if name in used:
            continue
        plan, block, block_names = _plan_column(frame.iloc[:, position], str(name), config)
        plans.append(plan)
        if block is not None:
            blocks.append(block)
            names.extend(block_names)
    if not blocks:
        raise NoFeatures("no usable feature columns: every column other than the target was "
                         "dropped (see the data table)", "add numeric or categorical columns")
    X = np.column_stack(blocks) if len(blocks) > 1 else blocks[0]
    if len(y) < 4:
        raise TooFewRows(f"only {len(y)} rows have a target", "give at least 4 rows")
    return Dataset(np.ascontiguousarray(X, dtype=np.float64), y, tuple(names), target, task,
                   classes, tuple(plans), groups, order, table.path, table.sha256, n_read,
                   n_dropped, tuple(notes))


def _resolve_column(frame: pd.DataFrame, name: str, what: str) -> str:
    columns = [str(c) for c in frame.columns]
    if name in columns:
        if columns.count(name) > 1:
            raise UsageProblem(f"{what} {name!r} names {columns.count(name)} columns",
                               "rename the duplicate columns in the file")
        return name
    folded = {c.strip().lower(): c for c in columns}
    if name.strip().lower() in folded:
        return folded[name.strip().lower()]
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
    close += [c for c in columns if name.lower() in c.lower() and c not in close][:3]
    shown = ", ".join(repr(c) for c in close) if close else ", ".join(repr(c) for c in columns[:8])
    label = "close names" if close else "columns include"
    error = TargetNotFound if what == "target" else UsageProblem
    raise error(f"{what} column {name!r} not found; {label}: {shown}",
                f"pass {'--target' if what == 'target' else what} with one of the file's columns")


def _infer_task(y: pd.Series, forced: str | None) -> tuple[str, str]:
    distinct = y.nunique(dropna=True)
    if distinct < 2:
        value = y.iloc[0]
        raise BadTarget(f"target column {y.name!r} is constant (every value is {value!r})",
                        "choose a target that varies")
    if forced:
        if forced == "binary" and distinct != 2:
            raise UsageProblem(f"--task binary needs a target with 2 values; {y.name!r} has "
                               f"{distinct}", "use --task multiclass or regression")
        return forced, "set by --task"
    if not pd.api.types.is_bool_dtype(y) and not pd.api.types.is_numeric_dtype(y):
        numbers, _ = _as_numbers(y.astype(str))
        if numbers is not None and distinct > MAX_CLASS_CODES:
            return "regression", f"numbers written as text, {distinct} distinct values"
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        if distinct > MAX_CLASSES:
            raise BadTarget(f"target column {y.name!r} has {distinct} distinct labels, too many "
                            "classes to model", "pass --task regression if it is a number, or "
                            "choose a target with fewer classes")
        kind = "binary" if distinct == 2 else "multiclass"
        return kind, f"{distinct} labels"
    if distinct == 2:
        return "binary", "2 distinct values"
    values = y.to_numpy(dtype=np.float64)
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)) \
            and distinct <= MAX_CLASS_CODES:
        return "multiclass", f"{distinct} integer class codes"
    return "regression", f"numeric, {distinct} distinct values"


def _encode_target(y: pd.Series, task: str, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            parsed, _ = _as_numbers(y.astype(str))
            numbers = pd.Series(parsed if parsed is not None else np.nan, index=y.index)
            if numbers.isna().any():
                raise BadTarget(f"target column {name!r} is not numeric, so it cannot be a "
                                "regression target", "drop --task regression to classify it")
            y = numbers
        values = y.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise BadTarget(f"target column {name!r} holds infinite values",
                            "remove or fix the rows with inf in the target")
        return values, ()
    codes, uniques = pd.factorize(y, sort=True)
    return codes.astype(np.int64), tuple(_label(u) for u in uniques)


def _label(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _time_order(column: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64)
    else:
        try:
            parsed = pd.to_datetime(column, errors="coerce", format="mixed", utc=True)
        except (ValueError, TypeError) as err:
            raise UsageProblem(f"--time-col {name!r} has values that are not dates ({err})",
                               "give a column of numbers or ISO dates") from err
        if parsed.isna().mean() > 1 - PARSE_FRACTION:
            raise UsageProblem(f"--time-col {name!r} is neither numeric nor dates",
                               "give a column of numbers or ISO dates")
        values = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        values[parsed.isna().to_numpy()] = np.nan
    if np.isnan(values).any():
        raise UsageProblem(f"--time-col {name!r} has missing values",
                           "fill or drop rows without a time")
    return np.argsort(values, kind="stable")


def _plan_column(column: pd.Series, name: str, config: Config
                 ) -> tuple[ColumnPlan, np.ndarray | None, list[str]]:
    n = len(column)
    missing = column.isna().to_numpy()
    n_missing = int(missing.sum())
    if n_missing == n:
        return ColumnPlan(name, "dropped", "all missing", n_missing), None, []
    if pd.api.types.is_bool_dtype(column):
        column = column.astype("float64")
    note = ""
    if not pd.api.types.is_numeric_dtype(column):
        text = column[~missing].astype(str)
        numbers, coerced = _as_numbers(text)
        if numbers is not None:
            column = pd.Series(np.nan, index=column.index)
            column[~missing] = numbers
            missing = column.isna().to_numpy()
            n_missing = int(missing.sum())
            note = f"; {coerced} non-numeric values read as missing" if coerced else ""
        elif _is_datetime(text):
            return ColumnPlan(name, "dropped", "datetime (not used as a feature)", n_missing), \
                None, []
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64)
        finite = np.isfinite(values) | missing
        if not finite.all():
            values = values.copy()
            values[~finite] = np.nan
            note += f"; {int((~finite).sum())} infinite values read as missing"
            missing = np.isnan(values)
            n_missing = int(missing.sum())
        present = values[~missing]
        distinct = np.unique(present).size
        if distinct <= 1:
            return ColumnPlan(name, "dropped", "constant", n_missing), None, []
        if distinct == n and n >= ID_MIN_ROWS and np.all(present == np.round(present)) \
                and (present.max() - present.min() + 1 == n or _ID_NAME.search(name)):
            return ColumnPlan(name, "dropped", "ID-like (a distinct integer per row)",
                              n_missing), None, []
        if n_missing:
            indicator = f"{name} (missing)"
            return (ColumnPlan(name, "numeric", f"{n_missing} missing: imputed with the training "
                               f"fold's mean, plus an indicator{note}", n_missing,
                               (name, indicator)),
                    np.column_stack([values, missing.astype(np.float64)]), [name, indicator])
        return ColumnPlan(name, "numeric", "standardized" + note, 0, (name,)), \
            values[:, None], [name]
    return _plan_categorical(column, missing, name, config)


def _plan_categorical(column: pd.Series, missing: np.ndarray, name: str, config: Config
                      ) -> tuple[ColumnPlan, np.ndarray | None, list[str]]:
    n, n_missing = len(column), int(missing.sum())
    labels = column.astype(object).where(~missing, "(missing)").astype(str)
    counts = labels.value_counts()
    distinct = len(counts) - (1 if n_missing else 0)
    if len(counts) <= 1:
        return ColumnPlan(name, "dropped", "constant", n_missing), None, []
    if distinct == n - n_missing and n - n_missing >= ID_MIN_ROWS:
        return ColumnPlan(name, "dropped", "ID-like (a distinct value per row)", n_missing), \
            None, []
    if distinct > config.max_levels and distinct > FREE_TEXT_UNIQUE_FRACTION * (n - n_missing):
        return ColumnPlan(name, "dropped", f"too many levels ({distinct}: free text or an "
                          "identifier)", n_missing), None, []
    detail = f"one-hot, {distinct} levels"
    if distinct > config.max_levels:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = {level for level, _ in ranked[: config.max_levels] if level != "(missing)"}
        labels = labels.where(labels.isin(kept | {"(missing)"}), "(other)")
        detail = f"one-hot, {config.max_levels} most frequent of {distinct} levels, rest (other)"
    if n_missing:
        detail += f"; {n_missing} missing as level (missing)"
    levels = sorted(labels.unique())
    if config.drop_first:
        levels = levels[1:]
        detail += f"; first level {sorted(labels.unique())[0]!r} dropped"
    codes = labels.to_numpy()
    block = np.column_stack([(codes == level).astype(np.float64) for level in levels])
    feature_names = [f"{name}={level}" for level in levels]
    return ColumnPlan(name, "categorical", detail, n_missing, tuple(feature_names)), block, \
        feature_names


def _as_numbers(text: pd.Series) -> tuple[np.ndarray | None, int]:
    """Parse text that is mostly numbers (thousands separators allowed); None when it is not."""
    looks = text.str.match(_NUMBER)
    spelled_missing = text.str.strip().isin(NA_VALUES)
    if spelled_missing.all() or looks[~spelled_missing].mean() < PARSE_FRACTION:
        return None, 0
    cleaned = text.where(looks).str.replace(r"[,' ]", "", regex=True)
    numbers = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64)
    return numbers, int(np.isnan(numbers).sum())


def _is_datetime(text: pd.Series) -> bool:
    sample = text.iloc[:1000]
    return bool(sample.str.match(_DATE).mean() >= PARSE_FRACTION)
