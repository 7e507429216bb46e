"""CSV -> table: delimiters, decimal commas, compression, encodings and unreadable files."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import zipfile

import numpy as np
import pandas as pd
import pytest

from overfitcheck.errors import EmptyFile, InputNotFound, NotACsv
from overfitcheck.read import NA_VALUES, read_table

CSV = "a,b,label\n1.5,x,yes\n2.5,y,no\n3.5,x,yes\n"


def test_semicolon_with_decimal_commas_is_not_one_column(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("a;b;label\n1,5;2;yes\n2,25;3;no\n-3,5;4;yes\n", encoding="utf-8")
    table = read_table(path)
    assert list(table.frame.columns) == ["a", "b", "label"]
    assert table.frame["a"].tolist() == [1.5, 2.25, -3.5]
    assert (table.delimiter, table.decimal) == (";", ",")


def test_tab_separated(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text(CSV.replace(",", "\t"))
    assert list(read_table(path).frame.columns) == ["a", "b", "label"]


def test_bom_and_crlf(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV.replace("\n", "\r\n").encode())
    frame = read_table(path).frame
    assert list(frame.columns) == ["a", "b", "label"]
    assert frame["label"].tolist() == ["yes", "no", "yes"]


def test_cp1252_is_detected_and_said(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("city,label\nMünchen,1\nZürich,0\nCafé,1\n".encode("cp1252"))
    table = read_table(path)
    assert table.encoding == "cp1252"
    assert table.frame["city"].tolist() == ["München", "Zürich", "Café"]
    assert any("cp1252" in note for note in table.notes)


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".zip"])
def test_compressed_files(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    data = CSV.encode()
    if suffix == ".csv.gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".csv.bz2":
        path.write_bytes(bz2.compress(data))
    elif suffix == ".csv.xz":
        path.write_bytes(lzma.compress(data))
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("data.csv", data)
    assert read_table(path).frame.shape == (3, 3)


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFound, match="does not exist"):
        read_table(tmp_path / "nope.csv")


def test_directory(tmp_path):
    with pytest.raises(InputNotFound, match="is a directory"):
        read_table(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text(CSV)
    path.chmod(0)
    with pytest.raises(InputNotFound, match="permission denied"):
        read_table(path)


def test_empty_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(EmptyFile, match="is empty"):
        read_table(empty)
    header = tmp_path / "header.csv"
    header.write_text("a,b,label\n")
    with pytest.raises(EmptyFile, match="no data rows"):
        read_table(header)


def test_binary_file_named_csv(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(NotACsv, match="not a text file"):
        read_table(path)


def test_ragged_rows_name_the_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,label\n1,2,yes\n3,4,no,extra\n5,6,yes\n")
    with pytest.raises(NotACsv, match="line 3"):
        read_table(path)


def test_quoted_fields_with_newlines_commas_and_quotes(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('a,note,label\n1,"two\nlines, and ""quotes""",yes\n2,plain,no\n')
    frame = read_table(path).frame
    assert frame["note"].tolist() == ['two\nlines, and "quotes"', "plain"]


def test_missing_value_spellings_become_missing(tmp_path):
    path = tmp_path / "na.csv"
    path.write_text("a,label\n1,yes\nn/a,no\n?,yes\nNULL,no\n5,yes\n")
    assert read_table(path).frame["a"].isna().sum() == 3


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 200])
def test_the_file_hash_is_sha256_whatever_the_file_size_against_the_block(
        tmp_path, monkeypatch, size):
    """digest._hash reads into one buffer of at most BLOCK_BYTES (here 64) and hashes what each
    read filled: empty, short, exact and ragged last blocks."""
    import hashlib

    from overfitcheck import digest

    monkeypatch.setattr(digest, "BLOCK_BYTES", 64)
    path = tmp_path / "data.csv"
    path.write_bytes(bytes(range(256))[:size] if size <= 256 else b"")
    assert digest.sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_hash_started_early_is_the_file_hash_and_a_changed_file_is_hashed_again(
        tmp_path, monkeypatch):
    """The command line starts hashing its input before the heavy imports (digest.start); the
    report's input_sha256 takes that digest only if the path still names the same file."""
    import hashlib

    from overfitcheck import digest

    hashed = []
    real = digest._hash
    monkeypatch.setattr(digest, "_hash", lambda handle: hashed.append(1) or real(handle))
    path = tmp_path / "data.csv"
    path.write_bytes(CSV.encode() * 50_000)
    digest.start(path)
    assert digest.sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(hashed) == 1  # the early hash was taken, not a second one
    # Changed in place (new contents, and a modification time set back to an old one), or
    # replaced by another file of the same size: hashed again.
    for change in ("write", "replace"):
        digest.start(path)
        with digest._lock:
            early = list(digest._started.values())
        for thread in early:
            thread.join()
        stamp = path.stat().st_mtime_ns
        changed = CSV.replace("1.5", "9.5" if change == "write" else "8.5").encode() * 50_000
        target = path if change == "write" else tmp_path / "other.csv"
        target.write_bytes(changed)
        os.utime(target, ns=(stamp, stamp))
        if change == "replace":
            os.replace(target, path)
        before = len(hashed)
        assert digest.sha256(path) == hashlib.sha256(changed).hexdigest()
        assert len(hashed) == before + 1
    assert read_table(str(path)).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    digest.start(tmp_path / "missing.csv")  # not a file: nothing to hash, no error


@pytest.mark.parametrize("turn", [0.02, 0.5, 0.98])
def test_a_large_file_read_on_threads_types_each_column_from_all_its_values(tmp_path, turn):
    """read_table reads a large file with pandas' threads (low_memory on, see _parse_whole);
    the frame must be the one a whole-file typing gives (low_memory off), whichever of the
    file's byte ranges a column turns from numbers to text in, or a quoted newline falls in.
    (Wide rows of short fields: pandas' serial low_memory read, which its threads fall back to
    when their ranges disagree, then types blocks of lines apart: "turned" comes out mixed.)"""
    rng = np.random.default_rng(3)
    n = 100_000  # about 8 MB: over pandas' 5 MB floor for threads
    turned = rng.normal(size=n).round(4).astype(object)
    turned[int(turn * n):] = rng.choice(["low", "high"], size=n - int(turn * n))
    int_then_float = np.arange(n).astype(object)
    int_then_float[int(turn * n)] = 0.5
    note = rng.choice(["plain", "two\nlines", 'a "quote", a comma'], size=n)
    columns = {"turned": turned, "int_then_float": int_then_float, "note": note}
    columns |= {f"x{j}": rng.integers(0, 10, size=n) for j in range(36)}
    path = tmp_path / "large.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    assert path.stat().st_size > 6 << 20
    got = read_table(path).frame
    expected = pd.read_csv(path, na_values=NA_VALUES, low_memory=False)
    pd.testing.assert_frame_equal(got, expected)
    assert got["turned"].dtype != object and got["int_then_float"].dtype == np.float64
    assert got.shape == (n, 39)
