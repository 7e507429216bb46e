"""Hostile CSVs through the whole command: each gets a correct diagnosis that says what was done,
or exit 3 and one line naming the problem, where it is and how to fix it. Never a traceback or
exit 4, never a byte changed in the input, never a file written outside the output folder."""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import json
import lzma
import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from overfitcheck.cli import app
from overfitcheck.config import Config
from overfitcheck.dataset import load_dataset

RNG = np.random.default_rng(20240611)
FAST = ("--no-plots", "--n-alphas", "5", "--jobs", "1")


def _snapshot(root: Path, skip: Path) -> dict[str, tuple]:
    """Every path under root (but `skip`) with its bytes' hash and mtime: what a run must not
    touch."""
    seen = {}
    for path in sorted(root.rglob("*")):
        if path == skip or skip in path.parents:
            continue
        if path.is_file():
            stat = path.stat()
            seen[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_mtime_ns)
        else:
            seen[str(path)] = ("dir",)
    return seen


def diagnose(tmp_path: Path, source: Path | str, *args: str, output: str = "json"):
    """Run `overfitcheck diagnose` in-process from a working folder inside tmp_path, so a write
    relative to the current folder or to the output folder's parent would show. Returns the
    result and the parsed report.json (None when the run failed)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    out = tmp_path / "out"
    before = _snapshot(tmp_path, out)
    cwd = os.getcwd()
    os.chdir(work)
    try:
        result = CliRunner().invoke(app, ["diagnose", str(source), *FAST, "-o", str(out),
                                          "--format", output, *args])
    finally:
        os.chdir(cwd)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1, 3), result.output
    assert _snapshot(tmp_path, out) == before  # input untouched, nothing written beside it
    if result.exit_code == 3:
        assert not out.exists()  # a failed run leaves nothing half-written
        return result, None
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    return result, json.loads((out / "report.json").read_text(encoding="utf-8"))


def error_line(result, tmp_path: Path) -> str:
    """The run's stderr, which must be exactly one line, with the tmp folder taken out."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].replace(str(tmp_path) + os.sep, "")


def stderr_text(result) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def classes_csv(path: Path, n: int = 60, names: tuple[str, ...] = ("x", "z"),
                target: str = "y") -> Path:
    """A binary target that depends on the first column, with noise (not separable)."""
    X = RNG.normal(size=(n, len(names)))
    y = (X[:, 0] + RNG.normal(size=n) > 0).astype(int)
    return write_csv(path, [*names, target], [[f"{v:.4f}" for v in row] + [int(label)]
                                              for row, label in zip(X, y, strict=True)])


def column(report: dict, name: str) -> dict:
    return next(c for c in report["columns"] if c["name"] == name)


# -- Files that cannot be diagnosed: exit 3 and one exact line ---------------------------------

def _zip_of_two(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "a,y\n1,0\n")
        archive.writestr("b.csv", "a,y\n1,0\n")


FILE_ERRORS = {
    "empty.csv": (b"", "empty.csv is empty. Fix: give a CSV file with a header row and data "
                       "rows"),
    "header.csv": (b"a,b,y\n", "header.csv has a header but no data rows. Fix: give a CSV file "
                               "with data rows"),
    "blank_lines.csv": (b"\n\n\n", "blank_lines.csv is empty. Fix: give a CSV file with a header "
                                   "row and data rows"),
    "one_row.csv": (b"a,y\n1,0\n", "only 1 row has a target. Fix: give at least 4 rows"),
    "three_rows.csv": (b"a,y\n1,0\n2,1\n3,0\n", "only 3 rows have a target. Fix: give at least 4 "
                                               "rows"),
    "fewer_than_folds.csv": (b"a,y\n1,0\n2,1\n3,0\n4,1\n", "4 rows cannot make 5 "
                             "cross-validation folds. Fix: use --cv 2 or give more rows"),
    "ragged.csv": (b"a,b,y\n1,2,0\n3,4,1\n5,6,0,7\n8,9,1\n",
                   "ragged.csv is not a well-formed CSV: Expected 3 fields in line 4, saw 4. Fix: "
                   "make every row have as many fields as the header (quote fields that contain "
                   "the delimiter)"),
    "image.csv": (bytes(range(256)) * 8, "image.csv is not a text file (it contains NUL bytes). "
                  "Fix: give a CSV file, or decompress it first (.gz, .bz2, .zip and .xz are "
                  "read directly)"),
    "broken.csv.gz": (gzip.compress(b"a,y\n" + RNG.bytes(3000).hex().encode())[:400],
                      "broken.csv.gz is not a valid gzip file (Compressed file ended before the "
                      "end-of-stream marker was reached). Fix: check that the file is complete "
                      "and its extension matches its content"),
    "target_empty.csv": (b"a,y\n1,\n2,\n3,\n4,\n5,\n", "target column 'y' is empty (all 5 values "
                         "are missing). Fix: choose a target column that has values"),
    "one_class.csv": (b"a,y\n" + b"".join(b"%d,yes\n" % i for i in range(20)),
                      "target column 'y' is constant (every value is 'yes'). Fix: choose a "
                      "target that varies"),
    "constant_number.csv": (b"a,y\n" + b"".join(b"%d,7\n" % i for i in range(20)),
                            "target column 'y' is constant (every value is 7). Fix: choose a "
                            "target that varies"),
}


@pytest.mark.parametrize("name", FILE_ERRORS)
def test_files_that_cannot_be_diagnosed_get_one_line(tmp_path, name):
    content, line = FILE_ERRORS[name]
    path = tmp_path / name
    path.write_bytes(content)
    result, _ = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 3
    assert error_line(result, tmp_path) == f"overfitcheck: error: {line}"


def test_zip_with_two_files(tmp_path):
    path = tmp_path / "two.zip"
    _zip_of_two(path)
    result, _ = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 3
    assert error_line(result, tmp_path) == (
        "overfitcheck: error: two.zip holds 2 files, not one CSV. Fix: zip exactly one CSV file, "
        "or unzip it and give the CSV's path")


@pytest.mark.parametrize(("make", "line"), [
    (lambda tmp: tmp / "nope.csv", "nope.csv does not exist. Fix: check the path and the current "
                                   "folder"),
    # A folder is a batch of the CSV files in it (see test_batch.py); this one has none.
    (lambda tmp: tmp, "is a folder with no CSV file in it (.csv, .tsv, .csv.gz, .csv.bz2, "
                      ".csv.xz, .csv.zip, .tsv.gz). Fix: check the path or glob and the current "
                      "folder"),
])
def test_paths_that_are_not_files(tmp_path, make, line):
    result, _ = diagnose(tmp_path, make(tmp_path), "--target", "y")
    assert result.exit_code == 3
    errors = [s for s in result.stderr.splitlines() if s.startswith("overfitcheck: error: ")]
    assert len(errors) == 1 and errors[0].endswith(line)
    assert "Traceback" not in result.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_gets_one_line_instead_of_a_hang(tmp_path):
    """The input is read more than once (sniffed, parsed, hashed): a pipe, whose bytes can be
    read only once, once left the command waiting for ever. The installed command, with a
    deadline, so a hang fails the test instead of the suite."""
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    completed = subprocess.run(
        ["overfitcheck", "diagnose", str(pipe), "--target", "y", "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert completed.returncode == 3
    assert completed.stderr.strip().splitlines() == [
        f"overfitcheck: error: {pipe} is not a regular file (a pipe, device or socket). Fix: "
        "save its contents to a file and give that file's path"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.csv"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_file_without_read_permission(tmp_path):
    path = classes_csv(tmp_path / "secret.csv")
    path.chmod(0)
    result, _ = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 3
    assert error_line(result, tmp_path) == (
        "overfitcheck: error: secret.csv cannot be read (permission denied). Fix: make the file "
        "readable or copy it somewhere readable")


# -- Files that are written oddly but read correctly, saying how -------------------------------

def _rows(n: int = 40) -> tuple[list[str], list[list]]:
    x = RNG.normal(size=n)
    y = (x + RNG.normal(size=n) > 0).astype(int)
    return ["x", "y"], [[f"{v:.3f}", int(c)] for v, c in zip(x, y, strict=True)]


def _text(separator: str = ",", decimal: str = ".") -> str:
    header, rows = _rows()
    lines = [separator.join(header)]
    lines += [separator.join([str(a).replace(".", decimal), str(b)]) for a, b in rows]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("name", "content", "note"), [
    ("excel.csv", _text(";", ",").encode(), "delimiter ';' detected, decimal comma"),
    ("data.tsv", _text("\t").encode(), "delimiter '\\t' detected"),
    ("bom.csv", b"\xef\xbb\xbf" + _text().replace("\n", "\r\n").encode(), None),
    ("data.csv.gz", gzip.compress(_text().encode()), None),
    ("data.csv.bz2", bz2.compress(_text().encode()), None),
    ("data.csv.xz", lzma.compress(_text().encode()), None),
])
def test_file_formats_read_to_the_same_two_columns(tmp_path, name, content, note):
    path = tmp_path / name
    path.write_bytes(content)
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0, result.output
    assert [(c["name"], c["role"]) for c in report["columns"]] == [("y", "target"),
                                                                    ("x", "numeric")]
    assert report["n_rows"] == 40 and report["task"] == "binary"
    if note:
        assert report["notes"] == [note]
        assert f"note: {note}" in result.stderr
    else:
        assert report["notes"] == []


def test_rows_with_one_more_field_than_the_header_start_with_row_names(tmp_path):
    """R's write.csv writes a row name before each row and none in the header."""
    header, rows = _rows()
    path = tmp_path / "from_r.csv"
    path.write_text("\n".join([",".join(f'"{h}"' for h in header)]
                              + [f'"{i + 1}",{a},{b}' for i, (a, b) in enumerate(rows)]) + "\n")
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    note = ("the header has 2 names but the rows have 3 fields: the first field of each row read "
            "as row names (as R's write.csv writes them), not as a column")
    assert report["notes"] == [note] and f"note: {note}" in stderr_text(result)
    assert [(c["name"], c["role"]) for c in report["columns"]] == [("y", "target"),
                                                                    ("x", "numeric")]
    assert report["baseline"]["validation_error"] > 0.5  # y is the 0/1 column, not x


def test_zip_archive(tmp_path):
    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("inside/data.csv", _text())
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    assert report["n_rows"] == 40 and report["n_features"] == 1


def test_quoted_fields_with_newlines_commas_and_quotes(tmp_path):
    path = tmp_path / "quoted.csv"
    header, rows = _rows()
    notes = ['line one\nline two, "quoted"', "plain", 'a "b", c']
    write_csv(path, ["note", *header], [[notes[i % 3], *row] for i, row in enumerate(rows)])
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    assert report["n_rows"] == 40
    assert column(report, "note")["features"] == [f"note={v}" for v in sorted(notes)]


@pytest.mark.parametrize(("options", "notes"), [
    ((), ["file is not UTF-8: read as cp1252 (Windows Western); use --encoding to choose "
          "another"]),
    (("--encoding", "latin-1"), []),
])
def test_latin1_bytes(tmp_path, options, notes):
    path = tmp_path / "latin.csv"
    header, rows = _rows()
    cities = ["München", "Zürich", "Besançon", "Göteborg"]
    text = "\n".join([",".join(["city", *header])] + [",".join([cities[i % 4], *map(str, row)])
                                                      for i, row in enumerate(rows)]) + "\n"
    path.write_bytes(text.encode("latin-1"))
    result, report = diagnose(tmp_path, path, "--target", "y", *options)
    assert result.exit_code == 0
    assert report["notes"] == notes
    assert column(report, "city")["features"] == [f"city={c}" for c in sorted(cities)]


def test_unknown_encoding_is_a_usage_error(tmp_path):
    path = classes_csv(tmp_path / "data.csv")
    result = CliRunner().invoke(app, ["diagnose", str(path), "--target", "y", "--encoding",
                                      "klingon", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("overfitcheck: error: --encoding 'klingon' is not an "
                                     "encoding Python knows. Fix: use e.g. utf-8, cp1252 or "
                                     "latin-1")


# -- Columns -----------------------------------------------------------------------------------

def test_target_not_found_suggests_close_names(tmp_path):
    path = classes_csv(tmp_path / "data.csv", names=("tenure", "monthly"), target="churned")
    result, _ = diagnose(tmp_path, path, "--target", "churn")
    assert result.exit_code == 3
    assert error_line(result, tmp_path) == (
        "overfitcheck: error: target column 'churn' not found; close names: 'churned'. Fix: "
        "pass --target with one of the file's columns")


def test_a_class_with_one_member_is_spread_and_said(tmp_path):
    n = 60
    x = RNG.normal(size=n)
    y = np.where(x > 0, "a", "b").astype(object)
    y[7] = "rare"
    path = write_csv(tmp_path / "rare.csv", ["x", "y"], [[f"{v:.3f}", c] for v, c in
                                                         zip(x, y, strict=True)])
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    note = ("classes with fewer members than the 5 folds: 'rare' (1); StratifiedKFold spreads "
            "what there is, so some validation folds lack them")
    assert note in report["notes"] and f"note: {note}" in stderr_text(result)
    assert report["task"] == "multiclass" and report["classes"] == ["a", "b", "rare"]
    assert report["folds"]["stratify_on"].startswith("target, classes with fewer")


@pytest.mark.parametrize(("values", "task", "classes"), [
    ([str(i) for i in range(60)], "regression", []),  # a row number: not 60 classes
    (["1", "2", "3", "4"] * 15, "multiclass", ["1", "2", "3", "4"]),
    (["0.0", "1.0"] * 30, "binary", ["0", "1"]),
    (["True", "False"] * 30, "binary", ["False", "True"]),
    (["Yes", "No"] * 30, "binary", ["No", "Yes"]),
])
def test_target_types(tmp_path, values, task, classes):
    path = write_csv(tmp_path / "t.csv", ["x", "y"],
                     [[f"{v:.3f}", t] for v, t in zip(RNG.normal(size=60), values, strict=True)])
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    assert (report["task"], report["classes"]) == (task, classes)


def test_duplicate_column_names_are_both_kept_and_said(tmp_path):
    path = classes_csv(tmp_path / "dup.csv", names=("a", "a", "b"))
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    note = "columns 1 and 2 are both named 'a': read as 'a' and 'a.1'"
    assert note in report["notes"] and f"note: {note}" in stderr_text(result)
    assert [c["name"] for c in report["columns"]] == ["y", "a", "a.1", "b"]


def test_a_duplicated_target_name_is_refused(tmp_path):
    """The second 'y' might be a copy of the target: modelling it as a feature would leak."""
    path = classes_csv(tmp_path / "dup.csv", names=("x", "y"))
    result, _ = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 3
    assert error_line(result, tmp_path) == (
        "overfitcheck: error: target 'y' names 2 columns (columns 2 and 3). Fix: rename the "
        "duplicate columns in the file")


def test_messy_numbers_are_coerced_with_a_count(tmp_path):
    n = 60
    x = RNG.normal(size=n)
    amount = [f"{1000 + 300 * v:,.2f}" for v in x]
    for i, token in enumerate(["n/a", "?", "NULL", "-", "abc", "N/A"]):
        amount[3 * i] = token
    y = (x + RNG.normal(size=n) > 0).astype(int)
    path = write_csv(tmp_path / "messy.csv", ["amount", "y"],
                     [[a, c] for a, c in zip(amount, y, strict=True)])
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    plan = column(report, "amount")
    assert plan["role"] == "numeric" and plan["n_missing"] == 6
    assert plan["detail"] == ("6 missing: imputed with the training fold's mean, plus an "
                              "indicator; 1 non-numeric value read as missing (e.g. 'abc')")


@pytest.mark.parametrize("names", [
    ("../x", "a/b", "a\\b", "CON", "ctl\x01\x1b[31mred", "emoji 😀", "L" * 300, "[bold]x"),
])
@pytest.mark.parametrize("target", ["../x", "a\\b", "CON", "ctl\x01\x1b[31mred", "emoji 😀",
                                    "L" * 300])
def test_hostile_names_and_target(tmp_path, names, target):
    features = tuple(n for n in names if n != target) + ("plain",)
    path = classes_csv(tmp_path / "names.csv", names=features, target=target)
    result, report = diagnose(tmp_path, path, "--target", target, output="table")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "\x01" not in result.stdout
    assert "ctl\\x01\\x1b[31mred" in result.stdout  # escaped, not obeyed
    assert "L" * 39 + "…" in result.stdout and "L" * 41 not in result.stdout
    assert report["target"] == target
    assert [c["name"] for c in report["columns"]] == [target, *features]


def test_an_unnamed_column_can_be_the_target(tmp_path):
    path = classes_csv(tmp_path / "unnamed.csv", names=("x", "z"), target="")
    result, report = diagnose(tmp_path, path, "--target", "Unnamed: 2")
    assert result.exit_code == 0
    assert report["target"] == "Unnamed: 2"
    note = "column 3 has no name: read as 'Unnamed: 2'"
    assert note in report["notes"] and f"note: {note}" in stderr_text(result)
    # The library takes the name as written: empty means the one unnamed column.
    assert load_dataset(path, Config(target="")).target == "Unnamed: 2"


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_infinities_and_huge_values_in_a_feature(tmp_path, task):
    n = 80
    x = RNG.normal(size=n)
    v = [f"{a:.4f}" for a in RNG.normal(size=n)]
    v[:3] = ["inf", "-inf", "1e308"]
    y = (x + RNG.normal(size=n) > 0).astype(int) if task == "binary" else \
        [f"{a:.4f}" for a in 2 * x + RNG.normal(size=n)]
    path = write_csv(tmp_path / "inf.csv", ["x", "v", "y"],
                     [[f"{a:.4f}", b, c] for a, b, c in zip(x, v, y, strict=True)])
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    assert report["task"] == task
    assert column(report, "v")["detail"] == (
        "2 missing: imputed with the training fold's mean, plus an indicator; 2 infinite values "
        "read as missing; rescaled by 2^-1024 (values as large as 1e+308)")
    assert report["verdict"] != "inconclusive" or report["verdict_reasons"]
    assert report["models"][1]["top_coefficients"][0]["feature"] == "x"


def test_huge_target_is_one_line(tmp_path):
    n = 40
    x = RNG.normal(size=n)
    y = [f"{a:.6e}" for a in 1e307 * x]
    path = write_csv(tmp_path / "huge.csv", ["x", "y"],
                     [[f"{a:.4f}", b] for a, b in zip(x, y, strict=True)])
    result, _ = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 3
    assert error_line(result, tmp_path).startswith(
        "overfitcheck: error: target column 'y' has values as large as ")
    assert error_line(result, tmp_path).endswith(
        ": their squares overflow. Fix: divide the target by a power of ten")


@pytest.mark.parametrize("scale", [1e150, 1e-150, 1e-200, 1e200])
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_huge_and_tiny_magnitudes_give_the_unscaled_answer(tmp_path, scale, task):
    """Standardized fits do not depend on a feature's unit: a column times 1e±150 or 1e±200
    gets the verdict and coefficients of the same column at unit scale."""
    n = 80
    X = RNG.normal(size=(n, 2))
    y = X[:, 0] + RNG.normal(size=n)
    y = (y > 0).astype(int) if task == "binary" else np.round(y, 4)
    plain = write_csv(tmp_path / "plain.csv", ["x", "z", "y"],
                      [[f"{a:.6e}", f"{b:.6e}", c] for (a, b), c in zip(X, y, strict=True)])
    scaled = write_csv(tmp_path / "scaled.csv", ["x", "z", "y"],
                       [[f"{a * scale:.6e}", f"{b:.6e}", c]
                        for (a, b), c in zip(X, y, strict=True)])
    _, expected = diagnose(tmp_path, plain, "--target", "y")
    (tmp_path / "out" / "report.json").unlink()
    (tmp_path / "out").rmdir()
    result, report = diagnose(tmp_path, scaled, "--target", "y")
    assert result.exit_code == 0
    assert report["verdict"] == expected["verdict"]
    for ours, theirs in zip(report["models"], expected["models"], strict=True):
        assert ours["validation_error"] == pytest.approx(theirs["validation_error"], rel=1e-6)
        assert [c["coefficient"] for c in ours["top_coefficients"]] == pytest.approx(
            [c["coefficient"] for c in theirs["top_coefficients"]], rel=1e-5, abs=1e-9)


# -- Numerics ----------------------------------------------------------------------------------

def test_separable_classes_are_overfitting_by_construction(tmp_path):
    n = 60
    X = RNG.normal(size=(n, 2))
    y = (X[:, 0] > 0).astype(int)
    path = write_csv(tmp_path / "sep.csv", ["x", "z", "y"],
                     [[f"{a:.4f}", f"{b:.4f}", c] for (a, b), c in zip(X, y, strict=True)])
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    none = report["models"][0]
    assert none["penalty"] == "none" and none["verdict"] == "overfitting"
    assert none["not_converged"] == 6  # five folds and the fit on all rows, each capped
    assert report["warnings"][0] == (
        "unregularized: 6 fits stopped before converging (at 1 alpha): the classes are "
        "separable, so the unpenalized coefficients diverge - overfitting by construction")
    assert f"note: {report['warnings'][0]}" in stderr_text(result)
    assert report["paths"]["none"]["not_converged"] == [6]


def test_exactly_collinear_features(tmp_path):
    n = 60
    x = RNG.normal(size=n)
    y = 2 * x + RNG.normal(size=n)
    path = write_csv(tmp_path / "collinear.csv", ["a", "b", "c", "y"],
                     [[f"{v:.4f}", f"{2 * v:.4f}", f"{1 - 3 * v:.4f}", f"{t:.4f}"]
                      for v, t in zip(x, y, strict=True)])
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    assert report["verdict"] == "good_fit"
    assert report["models"][0]["not_converged"] == 0  # least squares: exact, least norm
    for model, name in zip(report["models"], ("unregularized", "L1 (lasso)", "L2 (ridge)"),
                           strict=True):
        said = [w for w in report["warnings"] if w.startswith(f"{name}: ")]
        alphas = sum(c > 0 for c in report["paths"][model["penalty"]]["not_converged"])
        if model["not_converged"]:  # coordinate descent may wander along the tie: counted
            fits = model["not_converged"]
            assert said == [f"{name}: {fits} fit{'s' * (fits != 1)} stopped before converging "
                            f"(at {alphas} alpha{'s' * (alphas != 1)})"]
        else:
            assert said == []


def test_singular_gram_with_more_features_than_rows(tmp_path):
    """30 rows, 60 columns, half of them copies: X'X is singular many times over."""
    n = 30
    X = RNG.normal(size=(n, 30))
    X = np.column_stack([X, X])
    y = X[:, 0] - X[:, 1] + RNG.normal(scale=0.5, size=n)
    names = [f"g{j}" for j in range(60)]
    path = write_csv(tmp_path / "singular.csv", [*names, "y"],
                     [[f"{v:.4f}" for v in row] + [f"{t:.4f}"] for row, t in
                      zip(X, y, strict=True)])
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    none = report["models"][0]
    assert none["verdict"] == "overfitting" and none["train_error"] < 1e-6
    assert report["recommendation"]["penalty"] in ("l1", "l2")


def test_ten_thousand_columns_and_thirty_rows(tmp_path):
    n, p = 30, 10_000
    X = np.round(RNG.normal(size=(n, p)), 2)
    y = X[:, 0] + 0.5 * RNG.normal(size=n)
    path = tmp_path / "wide.csv"
    lines = [",".join([*(f"g{j}" for j in range(p)), "y"])]
    lines += [",".join([*map(str, row), f"{t:.3f}"]) for row, t in zip(X, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    result, report = diagnose(tmp_path, path, "--target", "y", "--cv", "2")
    assert result.exit_code == 0
    assert report["n_features"] == p and report["n_rows"] == n
    none = report["models"][0]
    assert none["verdict"] == "overfitting" and none["train_error"] < 1e-6  # interpolates


def test_one_positive_in_ten_thousand(tmp_path):
    n = 10_000
    x = RNG.normal(size=n)
    y = np.zeros(n, dtype=int)
    y[4321] = 1
    path = tmp_path / "imbalance.csv"
    path.write_text("x,y\n" + "".join(f"{a:.3f},{c}\n" for a, c in zip(x, y, strict=True)))
    result, report = diagnose(tmp_path, path, "--target", "y")
    assert result.exit_code == 0
    assert report["classes"] == ["0", "1"]
    note = ("classes with fewer members than the 5 folds: '1' (1); StratifiedKFold spreads "
            "what there is, so some validation folds lack them")
    assert note in report["notes"]
    assert report["verdict"] in ("good_fit", "underfitting", "inconclusive")


# -- The installed command, as a user's shell runs it ------------------------------------------

def test_installed_command_with_hostile_names(tmp_path):
    source = classes_csv(tmp_path / "input.csv", names=("../../escape", "CON", "a/b"),
                         target="../y")
    before = source.read_bytes(), source.stat().st_mtime_ns
    out = tmp_path / "out"
    completed = subprocess.run(
        ["overfitcheck", "diagnose", str(source), "--target", "../y", "-o", str(out),
         "--n-alphas", "5", "--jobs", "1"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
    assert (source.read_bytes(), source.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.csv", "out"]
    assert sorted(p.name for p in out.iterdir()) == [
        "coefficient_path_l1.png", "learning_curves.png", "report.json", "summary.png",
        "validation_curve_l1.png", "validation_curve_l2.png"]


# Minimal files the property test found (each once exited 4 or leaked a warning to stderr).
FOUND = {
    # Every feature is constant in a training fold: the fit is the intercept alone.
    "zero_features.csv": ("""\
x,y,y,y
0,0.0,7,"3,400.5"
1,0.0,7,"3,400.5"
0,0.0,7,"1,200"
0,0.0,7,abc
""", "x", "2"),
    # Most rows of a training fold have a class of their own: scikit-learn's "more than 50%
    # unique classes" warning stays inside the fits.
    "many_labels.csv": ("""\
x,label
-0.782,c10
-0.257,c12
0.008,a
-0.276,a
1.294,a
1.007,c13
-2.711,a
-1.889,c1
-0.175,c7
-0.422,c5
0.214,c0
0.217,c14
2.118,c4
-1.112,c8
-0.378,a
2.043,a
0.647,c9
0.663,a
-0.514,a
-1.648,a
0.167,a
0.109,a
-1.227,a
-0.683,a
-0.072,a
-0.945,c2
-0.098,c6
0.095,a
0.036,c11
-0.506,a
0.594,c3
0.891,c15
""", "label", "2"),
    # A learning subset that no fold can fit: its mean over folds is NaN, without "Mean of
    # empty slice" on stderr.
    # A validation fold whose target is nearly constant (0 and 2.6e-146) under large errors:
    # 1 - R^2 is beyond the largest float, inf, without an overflow warning.
    "near_constant.csv": ("""\
x,x,y
0.0,0.000e-300,
0.0,1.000e-300,2.6056108315145515e-146
0.0,0.000e-300,
0.0,0.000e-300,
0.0,0.000e-300,349355296.0
1.0,0.000e-300,0.0
0.0,0.000e-300,0.0
""", "y", "2"),
    # A feature of dust (2e-244 beside zeros) that standardizing leaves unscaled, under a target
    # up to 1e150: least squares drops its tiny singular value instead of overflowing.
    "dust_feature.csv": ("""\
x,y,x
2.0740189578964734e-244,1.000e-300,
1.0,0.000e-300,1.0
0.0,0.000e-300,0.0
0.0,0.000e-300,
0.0,0.000e-300,
0.0,0.000e-300,
0.0,1.000e150,
""", "y", "3"),
    "empty_slice.csv": ("""\
x,x,x, ,x
0.0,0.0,0.0,0,
0.0,0.0,0.0,,
0.0,0.0,0.9073948677760444,2,
0.0,0.0,0.0,3,
0.0,0.0,0.0,,
0.0,0.0,0.0,,
0.0,0.0,0.0,6,
0.0,0.0,0.0,,
0.0,0.0,0.0,,
0.0,0.0,0.0,9,
0.0,0.0,0.0,10,
0.0,0.0,0.0,,
0.0,0.0,0.0,12,
0.0,0.0,0.0,,
0.0,0.0,0.0,14,
0.0,0.0,0.0,,
0.0,0.0,0.0,16,
0.0,0.0,0.0,,
0.0,0.0,0.0,,
0.0,0.0,0.0,,
0.0,0.0,0.0,,
0.0,0.0,0.0,21,
0.0,0.0,0.0,22,
""", " ", "2"),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_files_the_property_test_found(tmp_path, name):
    content, target, cv = FOUND[name]  # the --cv the property test used
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result, report = diagnose(tmp_path, path, "--target", target, "--cv", cv, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert report["verdict"] in ("overfitting", "underfitting", "good_fit", "inconclusive")


def test_an_empty_target_name_means_the_unnamed_column(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text("a,,c\n" + "".join(f"{i},{(i * 7) % 5},{i % 3}\n" for i in range(12)),
                    encoding="utf-8")
    result, report = diagnose(tmp_path, path, "--target", "")
    assert result.exit_code == 0, result.output
    assert report["target"] == "Unnamed: 1"
    missing = CliRunner().invoke(app, ["diagnose", str(path), "-o", str(tmp_path / "o")])
    assert missing.exit_code == 2
    assert missing.stderr.strip() == (f"overfitcheck: error: no target column for {path}. Fix: "
                                      "pass --target COLUMN, or set target in the config file")
