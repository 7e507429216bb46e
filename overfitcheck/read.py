"""CSV -> table: sniffs encoding, delimiter, decimal mark and compression, then reads the file."""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import os
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .digest import sha256
from .errors import EmptyFile, InputNotFound, NotACsv, UsageProblem
from .memory import check_read

# read_range parses with low_memory and parses again whatever comes out mixed: pandas' warning
# about those mixed columns says nothing to our users.
warnings.filterwarnings("ignore", category=pd.errors.DtypeWarning, module=__name__)

# pandas reads a large file whole on several threads from 3.1 on (see _parse_whole); before
# that, low_memory only types blocks of lines apart, and texts come out as object columns
# (pandas 3 infers a string dtype), which _parse_whole would read again.
PARALLEL_READ = tuple(int(part) for part in re.findall(r"\d+", pd.__version__)[:2]) >= (3, 1)
SAMPLE_BYTES = 256 * 1024  # enough lines to sniff a delimiter, small enough to be instant
DELIMITERS = (",", ";", "\t", "|")
# Spellings of "missing" that spreadsheets and databases export; counted when coerced.
NA_VALUES = ["", "NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "None", "none", "?",
             "#N/A", "-", "--", "."]
_DECIMAL_COMMA = re.compile(r"(?:^|[;\t|])\s*\"?-?\d+,\d+\"?\s*(?=$|[;\t|])", re.MULTILINE)
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz"}


@dataclass(frozen=True)
class Table:
    """A CSV file read into a frame, with how it was read."""

    frame: pd.DataFrame
    path: str | None
    sha256: str | None
    delimiter: str
    decimal: str
    encoding: str
    compression: str | None
    notes: tuple[str, ...] = ()
    header: tuple[str, ...] | None = None  # the names as written, before pandas renames any


@dataclass(frozen=True)
class Format:
    """How a delimited text file is written, as sniffed from its first bytes."""

    path: str
    delimiter: str
    decimal: str
    encoding: str
    compression: str | None
    notes: tuple[str, ...] = ()
    rows_estimate: float | None = None  # from the file size and the sample's line lengths
    header: tuple[str, ...] | None = None  # the first record as written (None: not sampled)


def sniff(path: str | os.PathLike[str], encoding: str | None = None) -> Format:
    """Check the file and sniff what a spreadsheet export would not say."""
    path = Path(path)
    _check_path(path)
    compression = _COMPRESSION.get(path.suffix.lower())
    sample = _sample(path, compression)
    if not sample.strip():
        raise EmptyFile(f"{path} is empty", "give a CSV file with a header row and data rows")
    if b"\x00" in sample[:8192] and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NotACsv(
            f"{path} is not a text file (it contains NUL bytes)",
            "give a CSV file, or decompress it first (.gz, .bz2, .zip and .xz are read directly)",
        )
    notes: list[str] = []
    encoding, text = _decode(sample, encoding, notes)
    delimiter = _sniff_delimiter(text)
    decimal = "," if delimiter != "," and _DECIMAL_COMMA.search(text) else "."
    if delimiter != ",":
        notes.append(f"delimiter {delimiter!r} detected" + (", decimal comma" if decimal == ","
                                                             else ""))
    lines = sample.count(b"\n")
    estimate = None
    if compression is None and lines > 1:
        estimate = path.stat().st_size / (len(sample) / lines)
    return Format(str(path), delimiter, decimal, encoding, compression, tuple(notes), estimate,
                  _header(text, delimiter, complete=len(sample) < SAMPLE_BYTES))


def read_table(path: str | os.PathLike[str], encoding: str | None = None) -> Table:
    """Read a delimited text file whole, sniffing what a spreadsheet export would not say."""
    fmt = sniff(path, encoding)
    if fmt.compression is None:  # a compressed file's size says little about its content
        check_read(os.path.getsize(fmt.path), fmt.path)
    notes = list(fmt.notes)
    frame = _read(fmt, notes)
    check_frame(frame, fmt.path)
    if _row_names(frame, notes):
        frame = frame.reset_index(drop=True)
    header = header_of(fmt, frame)
    notes += header_notes(header, frame)
    return Table(frame, fmt.path, sha256(fmt.path), fmt.delimiter, fmt.decimal, fmt.encoding,
                 fmt.compression, tuple(notes), header)


def header_of(fmt: Format, frame: pd.DataFrame) -> tuple[str, ...] | None:
    """The names as written in the file, one per column of `frame` (None if they do not line
    up, e.g. a header longer than the sniffed sample)."""
    if fmt.header is None or len(fmt.header) != frame.shape[1]:
        return None
    return fmt.header


def header_notes(header: tuple[str, ...] | None, frame: pd.DataFrame) -> list[str]:
    """What pandas did to names that cannot be column names as written: empty names become
    'Unnamed: i', repeated ones get '.1', '.2' (a table cannot hold two columns of one name)."""
    if header is None:
        return []
    read = [str(c) for c in frame.columns]
    notes = []
    unnamed = [i for i, name in enumerate(header) if name == ""]
    if unnamed:
        notes.append(f"{_plural(unnamed, 'column', 'columns')} {_and([i + 1 for i in unnamed])} "
                     f"{'has' if len(unnamed) == 1 else 'have'} no name: read as "
                     f"{_and([repr(read[i]) for i in unnamed])}")
    for name, count in Counter(header).items():
        if count > 1 and name != "":
            where = [i for i, h in enumerate(header) if h == name]
            notes.append(f"columns {_and([i + 1 for i in where])} are "
                         f"{'both' if count == 2 else 'all'} named {name!r}: read as "
                         f"{_and([repr(read[i]) for i in where])}")
    return notes


def _plural(items: list, one: str, many: str) -> str:
    return one if len(items) == 1 else many


def _and(items: list) -> str:
    words = [str(i) for i in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _header(text: str, delimiter: str, complete: bool) -> tuple[str, ...] | None:
    """The sample's first record, as the C parser splits it, with no name turned into NaN."""
    if not complete and "\n" not in text:
        return None  # the sample ends inside the header
    try:
        first = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, nrows=1, dtype=str,
                            keep_default_na=False, na_filter=False, engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    return tuple(str(v) for v in first.iloc[0]) if len(first) else None


def read_chunks(fmt: Format, rows: int, notes: list[str], text: tuple[str, ...] = ()
                ) -> Iterator[pd.DataFrame]:
    """The file's rows, `rows` at a time, parsed exactly as read_table parses the whole file
    (each chunk infers its own column types; the dataset rules reconcile them). Columns named
    in `text` are kept as text, as a whole-file read keeps a column that is not all numbers."""
    first = True
    for frame in _read(fmt, notes, chunksize=rows, dtype={c: str for c in text} or None):
        if first:
            check_frame(frame, fmt.path)
            _row_names(frame, notes)
            first = False
        yield frame
    if first:
        raise EmptyFile(f"{fmt.path} has a header but no data rows",
                        "give a CSV file with data rows")


# Encodings in which a line end is the single byte 0x0A, so a file can be cut after one.
_CUTTABLE = {"utf-8", "utf-8-sig", "cp1252", "latin-1", "iso8859-1", "ascii"}


class CutFailed(Exception):
    """A byte range did not parse as whole rows (a cut inside a quoted field, a malformed row,
    a decoding error): read the file in order instead, which reports the problem if any."""


def split_ranges(fmt: Format, rows: int) -> list[tuple[int, int]] | None:
    """Byte ranges of about `rows` rows each, every one ending at a line end, for parsing in
    parallel with read_range; the first holds the header. None when the file cannot be cut
    (compressed, a multi-byte line end, no estimate of its row length)."""
    if fmt.compression is not None or not fmt.rows_estimate or \
            codecs.lookup(fmt.encoding).name not in _CUTTABLE:
        return None
    size = os.path.getsize(fmt.path)
    step = max(int(rows * size / fmt.rows_estimate), 1)
    bounds = [0]
    with open(fmt.path, "rb") as handle:
        header_end = len(handle.readline())
        while bounds[-1] + step < size:
            handle.seek(bounds[-1] + step)
            handle.readline()  # on to the end of the line the cut fell in
            cut = max(handle.tell(), header_end)
            if cut >= size:
                break
            bounds.append(cut)
    bounds.append(size)
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def read_range(fmt: Format, start: int, stop: int, names: list[str] | None,
               text: tuple[str, ...] = ()) -> pd.DataFrame:
    """The rows in bytes [start, stop) (split_ranges' cuts), parsed as read_chunks parses
    them; the first range reads the header, the others take its column `names`. Raises
    CutFailed when the bytes are not whole rows of this table."""
    with open(fmt.path, "rb") as handle:
        handle.seek(start)
        data = handle.read(stop - start)
    options = _options(fmt, {c: str for c in text} or None)
    place = {} if start == 0 else {"header": None, "names": names}
    try:
        # low_memory parses a quarter faster, but types each block of lines on its own: a
        # column of numbers that turns to text comes out as a mix (object), which the range
        # is parsed again for, whole, as read_table would.
        frame = pd.read_csv(io.BytesIO(data), encoding=fmt.encoding,
                            **{**options, "low_memory": True}, **place)
        if _typed_apart(frame):
            frame = pd.read_csv(io.BytesIO(data), encoding=fmt.encoding, **options, **place)
    except Exception as err:  # noqa: BLE001 - any failure: the reader in order has the message
        raise CutFailed(str(err)) from err
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1) or \
            (names is not None and list(frame.columns) != names):
        raise CutFailed("the rows do not line up with the header")
    return frame


def check_frame(frame: pd.DataFrame, path: str) -> None:
    if frame.shape[1] == 0:
        raise EmptyFile(f"{path} has no columns", "give a CSV file with a header row")
    if len(frame) == 0:
        raise EmptyFile(f"{path} has a header but no data rows", "give a CSV file with data rows")


def _row_names(frame: pd.DataFrame, notes: list[str]) -> bool:
    """Rows with one more field than the header (R's write.csv) start with row names: pandas
    reads those first fields as the index, so the names line up with the fields after them.
    Say so: the row names are not used, and a header that only lacks its last name would
    be misread this way."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return False
    extra = index.nlevels
    notes.append(f"the header has {frame.shape[1]} names but the rows have "
                 f"{frame.shape[1] + extra} fields: the first "
                 f"{'field' if extra == 1 else f'{extra} fields'} of each row read as row names "
                 "(as R's write.csv writes them), not as a column")
    return True


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputNotFound(f"{path} does not exist", "check the path and the current folder")
    if path.is_dir():
        raise InputNotFound(f"{path} is a directory, not a CSV file", "give the path of a file")
    if not path.is_file():  # the file is read more than once: a pipe would hang the second read
        raise InputNotFound(f"{path} is not a regular file (a pipe, device or socket)",
                            "save its contents to a file and give that file's path")
    if not os.access(path, os.R_OK):
        raise InputNotFound(f"{path} cannot be read (permission denied)",
                            "make the file readable or copy it somewhere readable")


def _open(path: Path, compression: str | None) -> io.BufferedIOBase:
    try:
        if compression == "gzip":
            return gzip.open(path, "rb")
        if compression == "bz2":
            return bz2.open(path, "rb")
        if compression == "xz":
            return lzma.open(path, "rb")
        if compression == "zip":
            archive = zipfile.ZipFile(path)
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise NotACsv(f"{path} holds {len(names)} files, not one CSV",
                              "zip exactly one CSV file, or unzip it and give the CSV's path")
            return archive.open(names[0])
        return open(path, "rb")
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise NotACsv(f"{path} cannot be opened as {compression or 'a'} file ({err})",
                      "check that the file is complete and its extension matches its content"
                      ) from err


def _sample(path: Path, compression: str | None) -> bytes:
    try:
        with _open(path, compression) as handle:
            return handle.read(SAMPLE_BYTES)
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as err:
        raise NotACsv(f"{path} is not a valid {compression} file ({err})",
                      "check that the file is complete and its extension matches its content"
                      ) from err


def _decode(sample: bytes, encoding: str | None, notes: list[str]) -> tuple[str, str]:
    if encoding:
        try:
            return encoding, sample.decode(encoding, errors="replace")
        except LookupError as err:
            raise UsageProblem(f"--encoding {encoding!r} is not an encoding Python knows",
                               "use e.g. utf-8, cp1252 or latin-1") from err
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", sample[3:].decode("utf-8", errors="replace")
    try:
        # A multi-byte character may be cut at the sample's end: ignore only that tail.
        return "utf-8", sample[:-4].decode("utf-8") + sample[-4:].decode("utf-8", "ignore")
    except UnicodeDecodeError:
        notes.append("file is not UTF-8: read as cp1252 (Windows Western); use --encoding to "
                     "choose another")
        return "cp1252", sample.decode("cp1252", errors="replace")


def _sniff_delimiter(text: str) -> str:
    """Pick the delimiter giving the most fields, consistently, over the first lines."""
    lines = text.splitlines()[:50]
    if len(lines) > 1:
        lines = lines[:-1]  # the last sampled line may be cut
    best, best_key = ",", (0, 0.0)
    for delim in DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delim) if row]
        except csv.Error:
            continue
        if not counts:
            continue
        mode, freq = Counter(counts).most_common(1)[0]
        key = (mode, freq / len(counts)) if mode > 1 else (0, 0.0)
        if key[0] > 1 and key[1] >= 0.8 and key > best_key:
            best, best_key = delim, key
    return best


def _read(fmt: Format, notes: list[str], chunksize: int | None = None, dtype=None):
    """The whole file as a frame, or an iterator of frames of `chunksize` rows.

    pandas' C parser: on this project's 2-core machines it reads a 190 MB numeric CSV in 0.6 s
    against 1.05 s for its pyarrow engine (which cannot read in chunks either), and a file gives
    the same numbers read whole or in chunks.
    """
    options = _options(fmt, dtype)
    if chunksize is None:
        return _parse(fmt, notes, options)
    return _parse_chunks(fmt, notes, options, chunksize)


def _options(fmt: Format, dtype) -> dict:
    return dict(sep=fmt.delimiter, decimal=fmt.decimal, na_values=NA_VALUES,
                keep_default_na=True, compression=fmt.compression, engine="c",
                low_memory=False, dtype=dtype)


def _parse(fmt: Format, notes: list[str], options: dict) -> pd.DataFrame:
    with _read_errors(fmt.path):
        try:
            return _parse_whole(fmt.path, fmt.encoding, options)
        except UnicodeDecodeError:
            notes.append(_CP1252_NOTE)
            return pd.read_csv(fmt.path, encoding="cp1252", **options)


def _parse_whole(path: str, encoding: str, options: dict) -> pd.DataFrame:
    """The file whole, as low_memory=False types it: each column from all of its values.

    pandas 3.1 parses a large plain UTF-8 file on a thread per core, but only with low_memory
    on (the 200k-row binary benchmark file: 0.56-0.83 s against 1.0-1.4 s). Its threads
    type each byte range on its own and read again, serially, when they disagree, and that
    serial read, with low_memory on, types each block of lines on its own: a column of
    numbers that turns to text comes out as a mix (object), which the whole file is read
    again for, with low_memory off, as read_range does for a range.
    """
    if not PARALLEL_READ:
        return pd.read_csv(path, encoding=encoding, **options)
    frame = pd.read_csv(path, encoding=encoding, **{**options, "low_memory": True})
    if _typed_apart(frame):
        frame = pd.read_csv(path, encoding=encoding, **options)
    return frame


def _typed_apart(frame: pd.DataFrame) -> bool:
    """Did a low_memory read type a column's blocks of lines apart (numbers, then text: the
    column comes out as a mix of both, object)?"""
    return any(isinstance(d, np.dtype) and d.kind == "O" for d in frame.dtypes)


def _parse_chunks(fmt: Format, notes: list[str], options: dict, chunksize: int
                  ) -> Iterator[pd.DataFrame]:
    encoding = fmt.encoding
    with _read_errors(fmt.path):
        done = 0
        while True:
            try:
                with pd.read_csv(fmt.path, encoding=encoding, chunksize=chunksize,
                                 **options) as reader:
                    for frame in reader:
                        done += 1
                        yield frame
                return
            except UnicodeDecodeError:
                if encoding == "cp1252":
                    raise
                if done:  # rows already given were read as UTF-8: the reader must start over
                    raise EncodingChanged(replace(fmt, encoding="cp1252")) from None
                notes.append(_CP1252_NOTE)
                encoding = "cp1252"


class EncodingChanged(Exception):
    """A file read in chunks turned out not to be UTF-8 after its first chunks: read it again
    in `fmt` (cp1252), as a file read whole would be."""

    def __init__(self, fmt: Format):
        super().__init__(fmt.encoding)
        self.fmt = fmt


_CP1252_NOTE = ("file is not UTF-8 throughout: read as cp1252 (Windows Western); use --encoding "
                "to choose another")


@contextmanager
def _read_errors(path: str):
    """pandas' parsing errors as the one-line problems this tool reports."""
    try:
        yield
    except pd.errors.EmptyDataError as err:
        raise EmptyFile(f"{path} has no columns", "give a CSV file with a header row") from err
    except pd.errors.ParserError as err:
        detail = str(err).strip().splitlines()[-1].replace("Error tokenizing data. C error: ", "")
        raise NotACsv(f"{path} is not a well-formed CSV: {detail}",
                      "make every row have as many fields as the header (quote fields that "
                      "contain the delimiter)") from err
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, ValueError) as err:
        raise NotACsv(f"{path} cannot be read as CSV ({err})",
                      "give a CSV file (plain or .gz/.bz2/.zip/.xz)") from err


