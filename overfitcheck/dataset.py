"""Table -> dataset: validates the target, infers the task and turns every column into features."""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .config import Config
from .draws import row_draws
from .errors import BadTarget, NoFeatures, TargetNotFound, TooFewRows, UsageProblem
from .memory import check_design, small_pages
from .read import NA_VALUES, Table, read_table
from .sample import SAMPLE_CHUNK_ROWS, SAMPLE_SALT, read_sample

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
# Text columns with more distinct values than this are dropped as free text or identifiers
# without counting further: a file read in chunks must bound what it remembers of a column.
MAX_TRACKED_LEVELS = 100_000
# Distinct integers remembered per column for the identifier check: beyond this many (8 MB),
# a column is not called ID-like, so memory stays bounded however long the file.
MAX_TRACKED_DISTINCT = 1_000_000
# The date check looks at this many values of a text column.
DATE_SAMPLE = 1000
# Numeric features whose largest magnitude lies outside [1e-100, 1e100] are rescaled by a power
# of two (exact, and the standardized fit does not depend on it): beyond these, sums of squares
# over many rows overflow or underflow (1e154 squared is past the largest double).
HUGE = 1e100
TINY = 1e-100
# A regression target's squared errors are summed over its rows: n * largest^2 must stay well
# below the largest double (1.8e308), with room for the fits' intermediate sums.
TARGET_SUM_OF_SQUARES = 1e304
MISSING_LEVEL = "(missing)"
OTHER_LEVEL = "(other)"
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
    sampled = None
    if isinstance(source, pd.DataFrame):
        table = Table(source, None, None, ",", ".", "utf-8", None)
    elif config.max_rows is not None:  # read in chunks: the file may not fit in memory

        def has_target(chunk: pd.DataFrame, header: tuple[str, ...] | None) -> np.ndarray:
            column = _resolve_column(chunk, config.target, "target", header)
            return chunk[column].notna().to_numpy()

        table, n_read, n_with_target = read_sample(
            source, config.max_rows, config.seed, config.chunk_rows or SAMPLE_CHUNK_ROWS,
            has_target, config.encoding)
        sampled = (n_read, n_with_target)
    else:
        table = read_table(source, encoding=config.encoding)
    frame = table.frame
    notes = list(table.notes)
    target = _resolve_column(frame, config.target, "target", table.header)
    n_read = len(frame) if sampled is None else sampled[0]
    y_raw = frame[target]
    keep = y_raw.notna().to_numpy()
    if not keep.any():
        raise BadTarget(f"target column {target!r} is empty (all {n_read} values are missing)",
                        "choose a target column that has values")
    n_dropped = int((~keep).sum()) if sampled is None else n_read - sampled[1]
    if n_dropped:
        notes.append(f"dropped {n_dropped} rows with a missing target")
    frame = frame.loc[keep]
    if sampled is not None and sampled[1] > len(frame):
        notes.append(f"diagnosing a random sample of {len(frame)} of {sampled[1]} rows "
                     f"(--max-rows, seed {config.seed})")
    elif config.max_rows is not None and len(frame) > config.max_rows:  # a DataFrame
        draws = row_draws(0, n_read, config.seed ^ SAMPLE_SALT)[keep]  # as read_sample's
        rows = np.sort(np.argpartition(draws, config.max_rows - 1)[:config.max_rows])
        notes.append(f"diagnosing a random sample of {config.max_rows} of {len(frame)} rows "
                     f"(--max-rows, seed {config.seed})")
        frame = frame.iloc[rows]
    if len(frame) < 4:
        raise TooFewRows(f"only {len(frame)} row{' has' if len(frame) == 1 else 's have'} a "
                         "target", "give at least 4 rows")
    y_raw = frame[target]
    task, reason = _infer_task(y_raw, config.task)
    y, classes = _encode_target(y_raw, task, target)
    plans = [ColumnPlan(target, "target", f"{task} ({reason})", int(n_dropped))]
    groups = order = None
    for option, name in (("--group-col", config.group_col), ("--time-col", config.time_col)):
        if name and _resolve_column(frame, name, option, table.header) == target:
            raise UsageProblem(f"{option} {name!r} is the target column",
                               f"give {option} a column other than the target")
    if config.group_col:
        col = _resolve_column(frame, config.group_col, "--group-col", table.header)
        groups = frame[col].astype(str).to_numpy()
        plans.append(ColumnPlan(col, "group", "defines the folds (GroupKFold)",
                                int(frame[col].isna().sum())))
    if config.time_col:
        col = _resolve_column(frame, config.time_col, "--time-col", table.header)
        order = _time_order(frame[col], col)
        plans.append(ColumnPlan(col, "time", "orders the folds (TimeSeriesSplit)",
                                int(frame[col].isna().sum())))
    used = {p.name for p in plans}
    encoded: list[tuple[int, Encoding, list[str]]] = []
    for position, name in enumerate(frame.columns):
        if name in used:
            continue
        plan, encoding, block_names = plan_column(ColumnSummary.of(frame.iloc[:, position]),
                                                  str(name), config)
        plans.append(plan)
        if encoding is not None and block_names:
            encoded.append((position, encoding, block_names))
    if not encoded:
        raise NoFeatures("no usable feature columns: every column other than the target was "
                         "dropped (see the data table)", "add numeric or categorical columns")
    check_design(len(y), [(str(frame.columns[position]), len(block_names))
                          for position, _, block_names in encoded])
    names = [n for _, _, block_names in encoded for n in block_names]
    # Column-major: filled a column block at a time, and fold rows taken from it keep the order
    # the solvers want (paths.take_rows).
    X = np.empty((len(y), len(names)), dtype=np.float64, order="F")
    small_pages(X)  # written once, read a few times: see memory.small_pages
    start = 0
    for position, encoding, block_names in encoded:  # filled in place: no second copy
        X[:, start:start + len(block_names)] = encode_column(frame.iloc[:, position], encoding)
        start += len(block_names)
    return Dataset(X, y, tuple(names), target, task,
                   classes, tuple(plans), groups, order, table.path, table.sha256, n_read,
                   n_dropped, tuple(notes))


def _resolve_column(frame: pd.DataFrame, name: str, what: str,
                    header: tuple[str, ...] | None = None) -> str:
    """The frame's column that `name` means. `header` holds the names as written in the file
    (pandas renames repeated names 'a.1' and empty ones 'Unnamed: i'): a name written twice is
    ambiguous, and an empty name means the one unnamed column."""
    columns = [str(c) for c in frame.columns]
    if header is not None and len(header) == len(columns):
        where = [i for i, written in enumerate(header) if written == name]
        if len(where) > 1:
            error = BadTarget if what == "target" else UsageProblem
            raise error(f"{what} {name!r} names {len(where)} columns (columns "
                        f"{', '.join(str(i + 1) for i in where[:-1])} and {where[-1] + 1})",
                        "rename the duplicate columns in the file")
        if where:
            return columns[where[0]]
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
        value = value.item() if isinstance(value, np.generic) else value
        raise BadTarget(f"target column {y.name!r} is constant (every value is {value!r})",
                        "choose a target that varies")
    if forced:
        if forced == "binary" and distinct != 2:
            raise UsageProblem(f"--task binary needs a target with 2 values; {y.name!r} has "
                               f"{distinct}", "use --task multiclass or regression")
        return forced, "set by --task"
    if not pd.api.types.is_bool_dtype(y) and not pd.api.types.is_numeric_dtype(y) \
            and distinct > MAX_CLASS_CODES:  # few labels are classes, numbers or not
        numbers, _ = _as_numbers(y.astype(str))  # a regex per row: only when it can matter
        if numbers is not None:
            return "regression", regression_reason(from_text=True)
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
    return "regression", regression_reason(from_text=False)


def regression_reason(from_text: bool) -> str:
    """Why a target is a regression target, in words that do not need the whole column's
    distinct count (a file read in chunks does not keep one)."""
    if from_text:
        return f"numbers written as text, more than {MAX_CLASS_CODES} distinct"
    return "numeric, not class codes"


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
        largest = float(np.abs(values).max()) if values.size else 0.0
        if largest > math.sqrt(TARGET_SUM_OF_SQUARES / max(values.size, 1)):
            raise BadTarget(f"target column {name!r} has values as large as {largest:.3g}: their "
                            "squares overflow", "divide the target by a power of ten")
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


@dataclass
class ColumnSummary:
    """What the column rules need to know of a column: counts that add up over chunks of rows,
    so a file read in chunks is planned exactly as when it is read whole (`merge`)."""

    n: int = 0
    n_missing: int = 0  # empty or spelled missing, as read
    n_text: int = 0  # present values held as text
    n_number_like: int = 0  # present values that are numbers, or text that reads as one
    n_spelled_missing: int = 0  # text spellings of "missing" the reader kept (e.g. " NA ")
    n_infinite: int = 0
    low: float = np.inf  # over the finite numbers
    high: float = -np.inf
    integers: bool = True
    # The distinct finite numbers while none repeats (an identifier check); None after.
    distinct: np.ndarray | None = field(default_factory=lambda: np.empty(0))
    # Text labels -> count (None past MAX_TRACKED_LEVELS); exact only if every value was text.
    levels: dict[str, int] | None = field(default_factory=dict)
    text_sample: tuple[str, ...] = ()  # the first DATE_SAMPLE present values held as text

    @classmethod
    def of(cls, column: pd.Series) -> ColumnSummary:
        if isinstance(column.dtype, np.dtype) and column.dtype.kind == "f":
            return cls._of_floats(column.to_numpy())
        missing = column.isna().to_numpy()
        summary = cls(n=len(column), n_missing=int(missing.sum()))
        present = column[~missing]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            values = present.to_numpy(dtype=np.float64)
            summary.n_number_like = values.size
            summary._add_numbers(values, np.ones(values.size, dtype=np.int64))
            return summary
        text = present if isinstance(present.dtype, pd.StringDtype) else present.astype(str)
        counts = text.value_counts(sort=False)
        labels = pd.Series(counts.index, dtype=object).astype(str)
        weights = counts.to_numpy(dtype=np.int64)
        numbers = _parse_numbers(labels)
        spelled = labels.str.strip().isin(NA_VALUES).to_numpy()
        summary.n_text = int(weights.sum())
        summary.n_number_like = int(weights[~np.isnan(numbers)].sum())
        summary.n_spelled_missing = int(weights[spelled].sum())
        parsed = ~np.isnan(numbers)
        summary._add_numbers(numbers[parsed], weights[parsed])
        summary.levels = dict(zip(labels, weights.tolist(), strict=True)) \
            if len(labels) <= MAX_TRACKED_LEVELS else None
        summary.text_sample = tuple(text.iloc[:DATE_SAMPLE])
        return summary

    @classmethod
    def _of_floats(cls, values: np.ndarray) -> ColumnSummary:
        """`of` for a float column as parsed (NaN = missing), in a few passes over the values
        instead of a new Series and a dozen arrays: most columns of a large CSV are these."""
        n = values.size
        finite = np.isfinite(values)
        n_finite = int(np.count_nonzero(finite))
        n_missing = int(np.count_nonzero(np.isnan(values)))
        summary = cls(n=n, n_missing=n_missing, n_number_like=n - n_missing,
                      n_infinite=n - n_missing - n_finite)
        kept = values if n_finite == n else values[finite]
        if kept.size:
            summary.low, summary.high = float(kept.min()), float(kept.max())
            head = kept[:64]  # a fraction usually shows at once
            summary.integers = bool(np.all(head == np.round(head))) and \
                bool(np.all(kept == np.round(kept)))
        summary.distinct = _union_if_disjoint(np.empty(0), np.unique(kept), kept.size) \
            if summary.integers else None
        return summary

    def _add_numbers(self, values: np.ndarray, weights: np.ndarray) -> None:
        finite = np.isfinite(values)
        self.n_infinite += int(weights[~finite].sum())
        values, weights = values[finite], weights[finite]
        if values.size:
            self.low = min(self.low, float(values.min()))
            self.high = max(self.high, float(values.max()))
            if self.integers:  # once a fraction is seen, no need to look again
                self.integers = bool(np.all(values == np.round(values)))
        if self.distinct is not None:
            if not self.integers or np.any(weights > 1):
                self.distinct = None
            else:
                self.distinct = _union_if_disjoint(self.distinct, np.unique(values),
                                                   values.size)

    def merge(self, other: ColumnSummary) -> ColumnSummary:
        """The summary of both chunks of rows."""
        distinct = None
        if self.distinct is not None and other.distinct is not None \
                and self.integers and other.integers:
            distinct = _union_if_disjoint(self.distinct, other.distinct, other.distinct.size)
        levels = None
        if self.levels is not None and other.levels is not None:
            levels = dict(self.levels)
            for label, count in other.levels.items():
                levels[label] = levels.get(label, 0) + count
            if len(levels) > MAX_TRACKED_LEVELS:
                levels = None
        return ColumnSummary(
            self.n + other.n, self.n_missing + other.n_missing, self.n_text + other.n_text,
            self.n_number_like + other.n_number_like,
            self.n_spelled_missing + other.n_spelled_missing,
            self.n_infinite + other.n_infinite, min(self.low, other.low),
            max(self.high, other.high), self.integers and other.integers, distinct, levels,
            (self.text_sample + other.text_sample)[:DATE_SAMPLE])


def _union_if_disjoint(seen: np.ndarray, new: np.ndarray, new_count: int) -> np.ndarray | None:
    if new.size != new_count:  # a value repeats within the new rows
        return None
    union = np.union1d(seen, new)
    if union.size != seen.size + new.size or union.size > MAX_TRACKED_DISTINCT:
        return None
    return union


@dataclass(frozen=True)
class Encoding:
    """How a kept column becomes features: numbers (plus a missing-value indicator), or one-hot
    levels, each label mapped to its level (labels not listed go to "(other)")."""

    kind: str  # "numeric" or "categorical"
    indicator: bool = False
    levels: tuple[str, ...] = ()
    mapping: dict[str, str] | None = None  # categorical: label -> level (None: label itself)
    exponent: int = 0  # numeric: values are multiplied by 2**exponent (see HUGE and TINY)


def plan_column(summary: ColumnSummary, name: str, config: Config
                ) -> tuple[ColumnPlan, Encoding | None, list[str]]:
    """The column rules, applied to a column's summary: what is done with it and its features."""
    s = summary
    n, n_missing = s.n, s.n_missing
    if n_missing == n:
        return ColumnPlan(name, "dropped", "all missing", n_missing), None, []
    present = n - n_missing
    note = ""
    numeric = s.n_text == 0
    if not numeric:
        readable = present - s.n_spelled_missing
        if readable > 0 and s.n_number_like >= PARSE_FRACTION * readable:
            numeric = True
            coerced = present - s.n_number_like
            n_missing += coerced
            note = f"; {_values(coerced, 'non-numeric value')} read as missing" \
                f"{_example(s.levels)}" if coerced else ""
        elif s.text_sample and _is_datetime(pd.Series(s.text_sample, dtype=object)):
            return ColumnPlan(name, "dropped", "datetime (not used as a feature)", n_missing), \
                None, []
    if numeric:
        if s.n_infinite:
            note += f"; {_values(s.n_infinite, 'infinite value')} read as missing"
            n_missing += s.n_infinite
        if s.low >= s.high:
            return ColumnPlan(name, "dropped", "constant", n_missing), None, []
        if n_missing == 0 and s.distinct is not None and s.distinct.size == n \
                and n >= ID_MIN_ROWS and s.integers \
                and (s.high - s.low + 1 == n or _ID_NAME.search(name)):
            return ColumnPlan(name, "dropped", "ID-like (a distinct integer per row)",
                              n_missing), None, []
        largest = max(abs(s.low), abs(s.high))
        exponent = 0
        if largest > HUGE or largest < TINY:
            exponent = -math.frexp(largest)[1]
            note += f"; rescaled by 2^{exponent} (values as large as {largest:.3g})"
        if n_missing:
            indicator = f"{name} (missing)"
            return (ColumnPlan(name, "numeric", f"{n_missing} missing: imputed with the training "
                               f"fold's mean, plus an indicator{note}", n_missing,
                               (name, indicator)), Encoding("numeric", True, exponent=exponent),
                    [name, indicator])
        return ColumnPlan(name, "numeric", "standardized" + note, 0, (name,)), \
            Encoding("numeric", exponent=exponent), [name]
    return _plan_categorical(s, name, config)


def _values(count: int, what: str) -> str:
    return f"{count} {what}" + ("" if count == 1 else "s")


def _example(levels: dict[str, int] | None) -> str:
    """ (e.g. 'abc'): a label of a mostly numeric column that is neither a number nor a
    spelling of missing."""
    for label in levels or ():
        if not _NUMBER.match(label) and label.strip() not in NA_VALUES:
            return f" (e.g. {label!r})"
    return ""


def _plan_categorical(s: ColumnSummary, name: str, config: Config
                      ) -> tuple[ColumnPlan, Encoding | None, list[str]]:
    n, n_missing = s.n, s.n_missing
    if s.levels is None:
        return ColumnPlan(name, "dropped", f"too many levels (over {MAX_TRACKED_LEVELS:,}: free "
                          "text or an identifier)", n_missing), None, []
    counts = dict(s.levels)
    if n_missing:
        counts[MISSING_LEVEL] = counts.get(MISSING_LEVEL, 0) + n_missing
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
    mapping = None
    if distinct > config.max_levels:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = {level for level, _ in ranked[: config.max_levels] if level != MISSING_LEVEL}
        mapping = {label: label if label in kept or label == MISSING_LEVEL else OTHER_LEVEL
                   for label in counts}
        detail = f"one-hot, {config.max_levels} most frequent of {distinct} levels, rest (other)"
    if n_missing:
        detail += f"; {n_missing} missing as level (missing)"
    levels = sorted(set(mapping.values()) if mapping else counts)
    if config.drop_first:
        detail += f"; first level {levels[0]!r} dropped"
        levels = levels[1:]
    feature_names = [f"{name}={level}" for level in levels]
    return ColumnPlan(name, "categorical", detail, n_missing, tuple(feature_names)), \
        Encoding("categorical", levels=tuple(levels), mapping=mapping), feature_names


def encode_column(column: pd.Series, encoding: Encoding) -> np.ndarray:
    """A column's feature block under its Encoding (NaN where a number is missing)."""
    if encoding.kind == "numeric":
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = _parse_numbers(column.astype(object).where(column.notna(), "").astype(str))
        values = np.where(np.isfinite(values), values, np.nan)
        if encoding.exponent:
            values = np.ldexp(values, encoding.exponent)  # exact: no rounding, no overflow
        if encoding.indicator:
            return np.column_stack([values, np.isnan(values).astype(np.float64)])
        return values[:, None]
    labels = category_labels(column)
    if encoding.mapping is not None:
        labels = labels.map(encoding.mapping).fillna(OTHER_LEVEL)
    if not encoding.levels:
        return np.empty((len(column), 0))
    # Each row's label as the index of its distinct label (hashed in C), then one comparison of
    # integers per level: comparing the labels as text took 60-80 ms for a 200,000-row column
    # of 6 levels, this 8-12 ms. A level the column lacks matches no index (-2).
    codes, uniques = pd.factorize(labels)
    index = {label: i for i, label in enumerate(uniques)}
    wanted = np.array([index.get(level, -2) for level in encoding.levels])
    return (codes[:, None] == wanted).astype(np.float64)


def category_labels(column: pd.Series) -> pd.Series:
    """A column's values as category labels: text as read, missing as "(missing)"."""
    if isinstance(column.dtype, pd.StringDtype):  # text already: fill the holes (much faster)
        return column.fillna(MISSING_LEVEL)
    # A pandas Categorical (a DataFrame's column) counts as text too, but cannot take a label
    # that is not one of its categories: its values are read as text below.
    if pd.api.types.is_string_dtype(column) and \
            not isinstance(column.dtype, pd.CategoricalDtype):
        return column.fillna(MISSING_LEVEL).astype(str)
    return column.astype(object).where(column.notna(), MISSING_LEVEL).astype(str)


def _parse_numbers(text: pd.Series) -> np.ndarray:
    """Each text value as a number (thousands separators allowed), NaN where it is not one."""
    looks = text.str.match(_NUMBER).to_numpy(dtype=bool, na_value=False)
    cleaned = text.where(looks).str.replace(r"[,' ]", "", regex=True)
    return pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64)


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
