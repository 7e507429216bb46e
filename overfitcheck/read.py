"""CSV -> table: sniffs encoding, delimiter, decimal mark and compression, then reads the file."""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import lzma
import os
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import EmptyFile, InputNotFound, NotACsv, UsageProblem

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


def read_table(path: str | os.PathLike[str], encoding: str | None = None) -> Table:
    """Read a delimited text file, sniffing what a spreadsheet export would not say."""
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
    frame = _read(path, delimiter, decimal, encoding, compression, notes)
    if frame.shape[1] == 0:
        raise EmptyFile(f"{path} has no columns", "give a CSV file with a header row")
    if len(frame) == 0:
        raise EmptyFile(f"{path} has a header but no data rows", "give a CSV file with data rows")
    return Table(frame, str(path), _sha256(path), delimiter, decimal, encoding, compression,
                 tuple(notes))


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputNotFound(f"{path} does not exist", "check the path and the current folder")
    if path.is_dir():
        raise InputNotFound(f"{path} is a directory, not a CSV file", "give the path of a file")
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


def _read(path: Path, delimiter: str, decimal: str, encoding: str, compression: str | None,
          notes: list[str]) -> pd.DataFrame:
    options = dict(sep=delimiter, decimal=decimal, na_values=NA_VALUES, keep_default_na=True,
                   compression=compression)
    try:
        if delimiter == "," and decimal == "." and encoding in ("utf-8", "utf-8-sig"):
            try:
                return pd.read_csv(path, engine="pyarrow", **options)
            except Exception:  # noqa: BLE001 - the C engine below gives the precise error
                pass
        try:
            return pd.read_csv(path, engine="c", encoding=encoding, low_memory=False, **options)
        except UnicodeDecodeError:
            notes.append("file is not UTF-8 throughout: read as cp1252 (Windows Western); use "
                         "--encoding to choose another")
            return pd.read_csv(path, engine="c", encoding="cp1252", low_memory=False, **options)
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
