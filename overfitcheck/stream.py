"""CSV chunks -> cell statistics: a regression file diagnosed without holding its design matrix.

One pass maps every chunk of rows to partial statistics (paths_gram.RegressionData's cells:
fold x learning level, see splits.fold_of_rows) and to column summaries, which merge by
addition; the column rules of dataset.py then run on the merged summaries, exactly as on a
file read whole, and become a linear map on the accumulated columns. Memory is set by the
chunk size and the number of columns, not by the number of rows; the only per-row state is an
optional compact copy of the rows for the mean absolute error (within CACHE_BYTES), else the
file is read a second time for it.

A plain file is cut into byte ranges (read.split_ranges) that two threads parse at once; the
chunks are then numbered and summed in file order, so the sums do not depend on which thread
finished first. A compressed file, or one whose cuts do not parse as rows, is read in order.

Accumulated columns: per numeric column its value (minus a centre taken from the first chunk,
0 where missing) and a missing marker; per text column one column per label seen (growing as
labels appear, up to TRACK_LEVELS). A column whose type the first chunk guessed wrong (numbers
that turn out to be text) triggers one more pass with the right types.
"""

from __future__ import annotations

import collections
import itertools
import os
import queue
import resource
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from .cells import CellStats, FeatureMap, observed_means
from .config import Config
from .dataset import (
    HUGE,
    OTHER_LEVEL,
    TINY,
    ColumnPlan,
    ColumnSummary,
    Encoding,
    _as_numbers,
    _encode_target,
    _infer_task,
    _resolve_column,
    category_labels,
    encode_column,
    plan_column,
    regression_reason,
)
from .errors import NoFeatures, NotACsv, TooFewRows
from .paths import gram_suits
from .paths_gram import Block, RegressionData
from .read import (
    CutFailed,
    EncodingChanged,
    Format,
    check_frame,
    header_notes,
    header_of,
    read_chunks,
    read_range,
    sha256,
    sniff,
    split_ranges,
)
from .splits import BLOCK_RULE, LEARNING_LEVELS, fold_of_rows, level_of_rows

# Rows turned into accumulated columns at a time (the dense block stays a few tens of MB).
BLOCK_ROWS = 16_384
# Compact copies of the rows (8 bytes per number, 4 per label) kept for the MAE pass up to this
# many bytes, and at most a quarter of an address-space limit (ulimit -v) if one is set.
CACHE_BYTES = 1 << 30
# Labels of a text column accumulated one-hot before its plan is known; a column with more
# waits for the next pass, where its plan (capped levels, or dropped) is known.
TRACK_LEVELS = 256
MAX_PASSES = 3
# Threads parsing chunks at once (each holds one chunk's frame).
WORKERS = 2
# Rows of the file's head that show a target written as words (_worded_target) or a
# regression target (head_is_regression).
HEAD_ROWS = 1_000


@dataclass
class StreamedDataset:
    """What the diagnosis needs of a streamed file: its statistics and the story of its columns
    (the fields of dataset.Dataset that the report reads)."""

    data: RegressionData
    feature_names: tuple[str, ...]
    target: str
    columns: tuple[ColumnPlan, ...]
    path: str
    sha256: str
    n_rows_read: int
    n_rows_dropped: int
    notes: tuple[str, ...]
    fold_definition: dict
    task: str = "regression"
    classes: tuple[str, ...] = ()

    @property
    def n_rows(self) -> int:
        return self.data.n_rows

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_classes(self) -> int:
        return 0


Progress = Callable[[str, int, int], None]


def _worded_target(fmt, config: Config) -> bool:
    """True when the target in the file's first HEAD_ROWS rows is written as words (yes/no,
    species names), not numbers: a class target, so the file goes to the whole-file reader
    without parsing the probe's ranges only to find that out (1.3 s on 200,000 rows). Should
    the rest of the file be numbers after all, the whole-file rules still find a regression
    target; it is then read in memory rather than streamed."""
    y = _head_target(fmt, config)
    if y is None or y.empty or pd.api.types.is_numeric_dtype(y) or \
            pd.api.types.is_bool_dtype(y):
        return False
    return _as_numbers(y.astype(str))[0] is None


def head_is_regression(path: str | os.PathLike[str], config: Config) -> bool:
    """Is the target a regression target by --task, or by the whole-file rules applied to the
    file's first HEAD_ROWS rows? False when unsure (classes in the head, or a file with trouble,
    which the reader reports). diagnose() imports scikit-learn's solvers beside the reading
    only for other targets: a regression's fits need them only where the lasso's homotopy falls
    back (paths_gram._lasso_gram, which imports them then)."""
    if config.task is not None:
        return config.task == "regression"
    try:
        y = _head_target(sniff(path, config.encoding), config)
        return y is not None and _infer_task(y, None)[0] == "regression"
    except Exception:  # noqa: BLE001 - the reader says what is wrong with the file
        return False


def _head_target(fmt, config: Config) -> pd.Series | None:
    """The target's present values in the file's first HEAD_ROWS rows (None: not readable)."""
    try:
        chunks = read_chunks(fmt, HEAD_ROWS, [])
        try:
            head = next(chunks)
        finally:
            chunks.close()
        target = _resolve_column(head, config.target, "target", header_of(fmt, head))
    except Exception:  # noqa: BLE001 - the probe reports whatever is wrong with the file
        return None
    return head[target].dropna()


def stream_regression(path: str | os.PathLike[str], config: Config,
                      progress: Progress | None = None,
                      on_class_target: Callable[[], None] | None = None
                      ) -> StreamedDataset | None:
    """Stream a regression CSV into cell statistics, config.chunk_rows rows at a time; None
    when the file is not one to stream (it fits in one chunk, or its target is not a regression
    target): read it whole instead. `on_class_target()` is called before returning None for a
    class target (the caller can prepare its fits while the whole-file reader reads)."""
    chunk_rows = config.chunk_rows
    fmt = sniff(path, config.encoding)
    if config.task not in (None, "regression") or \
            (config.task is None and _worded_target(fmt, config)):
        if on_class_target is not None:
            on_class_target()
        return None  # a class target: the whole-file reader takes it, without a probe
    notes: list[str] = list(fmt.notes)
    ranges = split_ranges(fmt, chunk_rows)
    chunks: Iterator[pd.DataFrame] | None = None
    ahead: dict[int, Future] = {}
    if ranges is not None:
        if len(ranges) < 2:  # one chunk holds the file: read it whole
            return None
        # WORKERS ranges in flight hold about one chunk of rows; the second range is parsed
        # while the probe parses the first.
        ranges = split_ranges(fmt, max(chunk_rows // WORKERS, 1)) or ranges
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe") as probe:
            ahead[1] = probe.submit(read_range, fmt, *ranges[1], None, ())
            try:
                first = read_range(fmt, *ranges[0], None)
                check_frame(first, fmt.path)
            except CutFailed:  # e.g. R's row names: the reader in order says what it does
                ranges = None
    if ranges is None:
        chunks = read_chunks(fmt, chunk_rows, notes)
        try:
            first = next(chunks)
            second = next(chunks, None)
        except EncodingChanged:  # not UTF-8 after all: the whole-file reader sorts that out
            return None
        if second is None:
            return None
        chunks = itertools.chain([first, second], chunks)  # the first pass goes on from here
    header = header_of(fmt, first)
    notes += header_notes(header, first)
    target = _resolve_column(first, config.target, "target", header)
    y_first = first[target].dropna()
    if y_first.nunique() < 2:
        return None  # the whole-file rules give the exact message
    if config.task is None and _infer_task(y_first, None)[0] != "regression":
        if on_class_target is not None:
            on_class_target()
        return None  # the whole-file rules classify
    names = [str(c) for c in first.columns if str(c) != target]
    kinds = {c: _guess_kind(first[c]) for c in names}
    columns = 2 * sum(k == "numeric" for k in kinds.values()) + sum(
        min(first[c].nunique(), TRACK_LEVELS) + 1 for c in names if kinds[c] == "categorical")
    if not gram_suits(columns, len(first), config.cv * LEARNING_LEVELS):
        return None  # too wide for per-cell Grams: the in-memory engine fits it row by row
    digest: dict[str, str] = {}
    hasher = threading.Thread(target=lambda: digest.update(sha=sha256(fmt.path)), daemon=True)
    hasher.start()

    def sources(text: tuple[str, ...], opening: bool) -> Callable[[], Source]:
        """The chunks of a pass that keeps `text` columns as text (opening: the first pass,
        which goes on from the probe's chunks)."""
        if ranges is not None:
            names_read = [str(c) for c in first.columns]
            return lambda: RangeSource(fmt, ranges, names_read, text,
                                       first if opening and not text else None,
                                       ahead.pop(1, None) if opening and not text else None)
        return lambda: FrameSource(chunks if opening and chunks is not None else
                                   read_chunks(fmt, chunk_rows, notes if opening else [], text))

    try:
        settled = _passes(fmt, config, target, names, kinds, sources, progress)
    except CutFailed:  # a cut fell inside a quoted line break, or a row is malformed
        ranges = None
        chunks = None
        settled = _passes(fmt, config, target, names, kinds, sources, progress)
    if settled is None:
        return None
    state, plans = settled
    if state.n_rows < 4:
        raise TooFewRows(f"only {state.n_rows} row{' has' if state.n_rows == 1 else 's have'} "
                         "a target", "give at least 4 rows")
    hasher.join()
    return state.result(plans, notes, digest["sha"])


def _passes(fmt: Format, config: Config, target: str, names: list[str],
            kinds: dict[str, str], sources, progress: Progress | None):
    """Read the file until every column's type is settled (at most MAX_PASSES times): the
    final pass and each column's plan, or None when the whole-file reader must take over."""
    kinds = dict(kinds)
    text: set[str] = set()
    fixed: dict[str, Encoding] = {}
    for attempt in range(MAX_PASSES):
        stage = "reading rows" if attempt == 0 else "reading rows again (column types settled)"
        settled_text = tuple(sorted(text))
        state = _Pass(fmt, config, target, names, kinds, settled_text, fixed,
                      sources(settled_text, False))
        try:
            state.run(progress, stage, sources(settled_text, attempt == 0)())
        except (EncodingChanged, ReadWhole):
            # Not UTF-8 deep in the file: the whole-file reader handles it (cp1252, with a
            # note); column names read as UTF-8 might not even match. Or numbers whose squares
            # would overflow the sums: the whole-file rules rescale them first.
            return None
        plans = {c: plan_column(state.summaries[c], c, config) for c in names}
        wrong = [c for c in names if not state.consistent(c, plans[c][1])]
        if not wrong:
            return state, plans
        # The whole file says text where a chunk guessed numbers (or the reverse), or a text
        # column had too many labels to accumulate: the next pass encodes them as planned.
        for c in wrong:
            encoding = plans[c][1]
            kinds[c] = encoding.kind
            summary = state.summaries[c]
            if summary.n_text:
                text.add(c)
            if encoding.kind == "categorical":
                fixed[c] = encoding
    # pragma: no cover - each pass settles at least the columns it got wrong
    raise NotACsv(f"{fmt.path}: column types did not settle in {MAX_PASSES} passes",
                  "diagnose a sample with --max-rows")


class ReadWhole(Exception):
    """A column needs what only the whole-file rules do (rescaling huge or tiny numbers)."""


def _guess_kind(column: pd.Series) -> str:
    numeric = pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
    return "numeric" if numeric or column.isna().all() else "categorical"


class _Pass:
    """One pass over the file: statistics under the current column kinds, and summaries."""

    def __init__(self, fmt: Format, config: Config, target: str, names: list[str],
                 kinds: dict[str, str], text: tuple[str, ...],
                 fixed: dict[str, Encoding], again: Callable[[], Source]):
        self.fmt, self.config, self.target, self.names = fmt, config, target, names
        self.kinds, self.text_columns = dict(kinds), text
        self.fixed = dict(fixed)  # categorical columns whose plan is known: one column a level
        self.numeric = [c for c in names if kinds[c] == "numeric"]
        self.categorical = [c for c in names if kinds[c] == "categorical"]
        # label (or, for a fixed column, level) -> its accumulated column
        self.labels: dict[str, dict[str, int]] = {c: {} for c in self.categorical}
        self.overflow: set[str] = set()
        self.summaries: dict[str, ColumnSummary] = {}
        self.n_rows = self.n_read = 0
        self.centre = np.zeros(len(self.numeric))
        self.y_centre = 0.0
        self.q = 2 * len(self.numeric)
        for c, encoding in self.fixed.items():
            self.labels[c] = {level: self.q + i for i, level in enumerate(encoding.levels)}
            self.q += len(encoding.levels)
        self.n_cells = config.cv * LEARNING_LEVELS
        self.stats = CellStats.zeros(self.n_cells, self.q)
        self.cache: list | None = []
        self.cache_bytes = 0
        self.centred = False
        self._blocks = threading.local()  # z_block's memory, one per thread
        self.again: Callable[[], Source] = again  # the same chunks, for a second read

    def run(self, progress: Progress | None, stage: str, source: Source) -> None:
        """Read the file once: chunks are parsed and summarized on WORKERS threads, given
        their rows' cells and label columns here in file order, and summed into the cell
        statistics on one more thread, in file order (the same sums on every run)."""
        limit = _cache_limit()
        row_bytes = 8 * len(self.numeric) + 4 * len(self.categorical) + 16
        if self.fmt.rows_estimate and self.fmt.rows_estimate * row_bytes > 2 * limit:
            self.cache = None  # plainly too big to keep: do not fill memory only to drop it
        summing: collections.deque = collections.deque()
        with _Pool() as pool:
            for part in source.parts(pool.parse, self._prepare):
                self.n_read += part.n_read
                for c, summary in part.summaries.items():  # the rules see the rows with a
                    self.summaries[c] = self.summaries[c].merge(summary) \
                        if c in self.summaries else summary  # target, as load_dataset's do
                if part.y is not None:
                    summing.append(pool.sum.submit(self._sum, self._settle(part), self.q))
                while summing and (len(summing) > 1 or summing[0].done()):
                    self._keep(summing.popleft().result(), limit)  # at most two wait
                if progress is not None:
                    progress(stage, self.n_read, 0)
            while summing:
                self._keep(summing.popleft().result(), limit)

    def _keep(self, chunk, limit: int) -> None:
        """Keep a summed chunk for the MAE pass while the cache has room."""
        if self.cache is not None:
            self.cache_bytes += sum(a.nbytes for a in chunk)
            self.cache = self.cache + [chunk] if self.cache_bytes <= limit else None

    def _prepare(self, frame: pd.DataFrame, summarize: bool = True) -> _Part:
        """What a chunk's rows give without the pass's state: column summaries, numbers and
        factorized labels (runs on any thread, chunks in any order)."""
        n_read = len(frame)
        keep = frame[self.target].notna().to_numpy()
        if not keep.all():
            frame = frame.loc[keep]
        if frame.empty:
            return _Part(n_read, {})
        y, _ = _encode_target(frame[self.target], "regression", self.target)
        kinds = frame.dtypes
        plain = [j for j, c in enumerate(self.numeric) if kinds[c].kind in "fiu"]
        if len(plain) == len(self.numeric):  # numbers as parsed: one conversion for the lot
            # Row-major (pandas holds columns): the cell-by-cell gathers of rows in _sum and
            # the blocks of the MAE pass read whole rows (measured: half the time).
            values = np.array(frame[self.numeric].to_numpy(dtype=np.float64), order="C")
        else:
            values = np.empty((len(frame), len(self.numeric)))
            for j, c in enumerate(self.numeric):
                values[:, j] = frame[c].to_numpy(dtype=np.float64) if j in plain else \
                    encode_column(frame[c], Encoding("numeric"))[:, 0]
        summaries = {c: ColumnSummary.of(frame[c]) for c in [self.target, *self.names]} \
            if summarize else {}
        if summarize and len(plain) == len(self.numeric):
            # The summaries have already looked at these very numbers: their counts of
            # infinities and finite extremes spare two passes over the block (a sixth of this
            # function's time on 50,000 x 100).
            numeric = [summaries[c] for c in self.numeric]
            if any(s.n_infinite for s in numeric):
                np.copyto(values, np.nan, where=np.isinf(values))
            largest = np.array([max(abs(s.low), abs(s.high)) if s.low <= s.high else 0.0
                                for s in numeric])
        else:
            np.copyto(values, np.nan, where=np.isinf(values))  # infinities read as missing
            largest = np.fmax.reduce(np.abs(values), axis=0, initial=0.0)  # fmax skips NaN
        if np.any((largest > HUGE) | ((largest > 0) & (largest < TINY))) \
                or np.abs(y).max() > HUGE:
            raise ReadWhole
        # hashing in C, then one lookup per label in _settle
        labels = [pd.factorize(category_labels(frame[c])) for c in self.categorical]
        return _Part(n_read, summaries, values, y, labels)

    def _settle(self, part: _Part) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A prepared chunk as (numbers, label columns, shifted y, cell), in file order: its
        rows' indices (hence folds) follow the rows before it, and labels get accumulated
        columns in the order they first appear."""
        values, y = part.values, part.y
        codes = np.empty((y.size, len(self.categorical)), dtype=np.int32)
        for j, c in enumerate(self.categorical):
            codes[:, j] = self._codes(c, *part.labels[j])
        if not self.centred:  # a fixed centre keeps the sums of squares from losing digits
            self.centre = observed_means(values)
            self.y_centre = float(y.mean())
            self.centred = True
        start = self.n_rows
        self.n_rows += y.size
        cell = fold_of_rows(start, self.n_rows, self.config.cv, self.config.seed) \
            * LEARNING_LEVELS + level_of_rows(start, self.n_rows, self.config.seed)
        return values, codes, y - self.y_centre, cell

    def _sum(self, chunk, q: int):
        """Add a settled chunk to the cell statistics (on the summing thread only) and return
        it with its rows grouped by cell, so each cell's products here, and its sums in the
        MAE pass, take whole slices."""
        values, codes, ys, cell = chunk = _by_cell(chunk)
        if q > self.stats.n_columns:
            self.stats = self.stats.widen(q)
        for lo in range(0, ys.size, BLOCK_ROWS):
            rows = slice(lo, lo + BLOCK_ROWS)
            Z, columns = self.z_block(values[rows], codes[rows])
            self.stats.add(Z, ys[rows], cell[rows], columns)
        return chunk

    def _codes(self, name: str, local: np.ndarray, uniques) -> np.ndarray:
        """Each row's accumulated column for its label (-1 once the column overflowed)."""
        if name in self.overflow:
            return np.full(local.size, -1, dtype=np.int32)
        seen = self.labels[name]
        if name in self.fixed:  # label -> level -> column; a dropped first level has none
            mapping = self.fixed[name].mapping or {}
            lookup = [seen.get(mapping.get(label, OTHER_LEVEL) if mapping else label, -1)
                      for label in uniques]
            return np.asarray(lookup, dtype=np.int32)[local]
        new = [label for label in uniques if label not in seen]
        if len(seen) + len(new) > TRACK_LEVELS:
            self.overflow.add(name)
            return np.full(local.size, -1, dtype=np.int32)
        for label in new:
            seen[label] = self.q
            self.q += 1
        return np.asarray([seen[label] for label in uniques], dtype=np.int32)[local]

    def z_block(self, values: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows -> accumulated columns: centred values (0 where missing), missing markers, and
        a 1 in each row's label column. Only the columns that can be non-zero in these rows are
        built; the second array says which accumulated columns they are.

        The block is written into memory this thread reuses: it holds until the thread's next
        block (the summing thread adds it to the sums, an MAE thread scores it). New memory
        for each block cost a page fault per 4 kB: 9.8 ms against 6.4-7.9 ms per block of
        16,384 rows of the 1M-row benchmark file, with the labels' columns found by a lookup."""
        rows, k = values.shape
        missing = np.isnan(values)
        holes = np.flatnonzero(missing.any(axis=0))
        valid = codes >= 0
        seen = np.zeros(int(codes.max(initial=-1)) + 1, dtype=bool)
        seen[codes[valid]] = True
        labels = np.flatnonzero(seen)
        columns = np.concatenate([np.arange(k), k + holes, labels]).astype(np.int64)
        width = columns.size
        memory = getattr(self._blocks, "memory", None)
        if memory is None or memory.size < rows * width:
            memory = self._blocks.memory = np.empty(rows * width)
        Z = memory[:rows * width].reshape(rows, width)
        np.subtract(values, self.centre, out=Z[:, :k])
        if holes.size:
            np.copyto(Z[:, :k], 0.0, where=missing)
            Z[:, k:k + holes.size] = missing[:, holes]
        if labels.size:
            Z[:, k + holes.size:] = 0.0
            column_of = np.zeros(seen.size, dtype=np.int64)
            column_of[labels] = np.arange(k + holes.size, width)
            starts = np.arange(rows) * width  # each row's first entry in Z's flat view
            flat = Z.reshape(-1)
            for j in range(codes.shape[1]):
                hit = valid[:, j]
                flat[starts[hit] + column_of[codes[hit, j]]] = 1.0
        return Z, columns

    def _block(self, values: np.ndarray, codes: np.ndarray, ys: np.ndarray, cell: np.ndarray
               ) -> Block:
        Z, columns = self.z_block(values, codes)
        return Z, ys, cell, columns

    def consistent(self, name: str, encoding: Encoding | None) -> bool:
        """Can the final plan be read off this pass's statistics?"""
        if encoding is None:
            return True  # dropped: its columns are simply left out
        if encoding.kind != self.kinds[name]:
            return False
        if name in self.fixed:
            return encoding == self.fixed[name]
        summary = self.summaries[name]
        if encoding.kind == "numeric" and summary.n_text and name not in self.text_columns:
            # Some chunks held text, others numbers: read the column as text throughout, as a
            # whole-file read does (pandas' numbers and the text rule can disagree: True, .5).
            return False
        if encoding.kind == "categorical":
            return name not in self.overflow and summary.n_text == summary.n - summary.n_missing
        return True

    def feature_map(self, plans) -> tuple[FeatureMap, list[str], list[ColumnPlan]]:
        """The final plans as a linear map from the accumulated columns, in file order."""
        k = len(self.numeric)
        position = {c: i for i, c in enumerate(self.numeric)}
        columns: list[dict[int, float]] = []
        marker, shift, names, kept = [], [], [], []
        for c in self.names:
            plan, encoding, feature_names = plans[c]
            kept.append(plan)
            if encoding is None:
                continue
            names.extend(feature_names)
            if encoding.kind == "numeric":
                i = position[c]
                columns.append({i: 1.0})
                marker.append(k + i)
                shift.append(self.centre[i])
                if encoding.indicator:
                    columns.append({k + i: 1.0})
                    marker.append(-1)
                    shift.append(0.0)
                continue
            labels = self.labels[c]
            for level in encoding.levels:
                members = [level] if encoding.mapping is None or c in self.fixed else \
                    [label for label, lv in encoding.mapping.items() if lv == level]
                columns.append({labels[label]: 1.0 for label in members if label in labels})
                marker.append(-1)
                shift.append(0.0)
        linear = np.zeros((self.q, len(columns)))
        for j, column in enumerate(columns):
            for row, weight in column.items():
                linear[row, j] = weight
        return FeatureMap(linear, np.array(marker, dtype=np.int64), np.array(shift),
                          self.y_centre), names, kept

    def result(self, plans, notes: list[str], digest: str) -> StreamedDataset:
        fmap, names, column_plans = self.feature_map(plans)
        if not names:
            raise NoFeatures("no usable feature columns: every column other than the target "
                             "was dropped (see the data table)",
                             "add numeric or categorical columns")
        n_dropped = self.n_read - self.n_rows
        if n_dropped:
            notes = [*notes, f"dropped {n_dropped} rows with a missing target"]
        reason = "set by --task" if self.config.task else regression_reason(
            self.summaries[self.target].n_text > 0)
        cells = np.arange(self.n_cells)
        folds = cells // LEARNING_LEVELS
        train = np.array([folds != f for f in range(self.config.cv)])
        validation = np.array([folds == f for f in range(self.config.cv)])
        cache = self.cache

        def rows() -> Iterator[Callable[[], Block]]:
            source = cache if cache is not None else self._reread()
            for values, codes, ys, cell in source:
                for lo in range(0, ys.size, BLOCK_ROWS):
                    part = slice(lo, lo + BLOCK_ROWS)
                    yield partial(self._block, values[part], codes[part], ys[part], cell[part])

        data = RegressionData(self.stats, fmap, train, validation, cells % LEARNING_LEVELS,
                              rows)
        target_plan = ColumnPlan(self.target, "target", f"regression ({reason})", n_dropped)
        return StreamedDataset(data, tuple(names), self.target, (target_plan, *column_plans),
                               self.fmt.path, digest, self.n_read, n_dropped, tuple(notes),
                               {"splitter": "BlockShuffleKFold", "n_splits": self.config.cv,
                                "seed": self.config.seed, "rule": BLOCK_RULE})

    def _reread(self):
        """The rows again, settled as in the pass (every label was seen by the pass)."""
        self.n_rows = 0
        with _Pool() as pool:
            for part in self.again().parts(pool.parse, partial(self._prepare, summarize=False)):
                if part.y is not None:
                    yield _by_cell(self._settle(part))


def _by_cell(chunk):
    """A settled chunk's rows in cell order (stable: file order within a cell)."""
    order = np.argsort(chunk[3], kind="stable")
    return tuple(a[order] for a in chunk)


@dataclass
class _Part:
    """A chunk prepared off the pass's state (see _Pass._prepare); y is None when none of its
    rows has a target."""

    n_read: int
    summaries: dict[str, ColumnSummary]
    values: np.ndarray | None = None
    y: np.ndarray | None = None
    labels: list = field(default_factory=list)  # per categorical column: (codes, uniques)


class _Pool:
    """WORKERS threads that parse and prepare chunks, and one that sums them in order."""

    def __enter__(self) -> _Pool:
        self.parse = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="parse")
        self.sum = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sum")
        return self

    def __exit__(self, *exc) -> None:
        for pool in (self.parse, self.sum):
            pool.shutdown(wait=True, cancel_futures=True)


class Source:
    """Where a pass's chunks come from: parts(pool, prepare) gives each chunk prepared, in
    file order."""

    def parts(self, pool: ThreadPoolExecutor, prepare: Callable[[pd.DataFrame], _Part]
              ) -> Iterator[_Part]:
        raise NotImplementedError


@dataclass
class RangeSource(Source):
    """A plain file cut into byte ranges (read.split_ranges): WORKERS ranges are parsed and
    prepared at once, on the pool's threads (pandas' parser releases the GIL)."""

    fmt: Format
    ranges: list[tuple[int, int]]
    names: list[str]
    text: tuple[str, ...] = ()
    first: pd.DataFrame | None = None  # the first range, already parsed by the probe
    second: Future | None = None  # the second, parsed (without names) beside the probe

    def parts(self, pool, prepare):
        def job(i: int) -> _Part:
            if i == 0 and self.first is not None:
                frame, self.first = self.first, None
            elif i == 1 and self.second is not None:
                frame, self.second = self.second.result(), None
                if frame.shape[1] != len(self.names):
                    raise CutFailed("the rows do not line up with the header")
                frame.columns = self.names
            else:
                frame = read_range(self.fmt, *self.ranges[i], self.names if i else None,
                                   self.text)
            return prepare(frame)

        pending: collections.deque = collections.deque()
        following = iter(range(len(self.ranges)))
        try:
            for i in itertools.islice(following, WORKERS):
                pending.append(pool.submit(job, i))
            while pending:
                future = pending.popleft()
                i = next(following, None)
                if i is not None:
                    pending.append(pool.submit(job, i))
                yield future.result()
        finally:
            for future in pending:
                future.cancel()


@dataclass
class FrameSource(Source):
    """Frames from read.read_chunks (a compressed file, or one that cannot be cut): the next
    one is parsed on a second thread while this one is prepared."""

    frames: Iterator[pd.DataFrame]

    def parts(self, pool, prepare):
        for frame in prefetch(self.frames):
            yield prepare(frame)


def prefetch(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The same frames, the next one parsed on a second thread while this one is encoded and
    summed (numpy's products release the GIL, so parsing runs meanwhile). Stopping early, or an
    error on either side, ends the thread: nothing is left waiting."""
    box: queue.Queue = queue.Queue(maxsize=1)
    done = object()
    stop = threading.Event()

    def hand(item) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def parse() -> None:
        try:
            for frame in frames:
                if not hand(frame):
                    return
            hand(done)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
            hand(err)

    worker = threading.Thread(target=parse, daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # let a blocked hand-over see the stop
            try:
                box.get_nowait()
            except queue.Empty:
                pass
            worker.join(timeout=0.1)


def _cache_limit() -> int:
    """CACHE_BYTES, or a quarter of the address-space limit (ulimit -v) when that is lower."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return CACHE_BYTES
    return min(CACHE_BYTES, soft // 4)
