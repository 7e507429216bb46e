"""Batch runs: real datasets plus a broken file through the installed command, read back with a
JUnit parser and a Markdown parser; folder names; --fail-fast; globs and folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DATA, ROOT
from junitparser import Error, Failure, JUnitXml
from markdown_it import MarkdownIt

from overfitcheck.batch import expand, safe_names

SAMPLES = ROOT / "sample_data"
# Three real datasets with known verdicts (tests/test_cli.py, tests/test_samples.py) and a file
# that cannot be diagnosed (a header, no rows).
TOML = """\
n-alphas = 8
no-plots = true
fail-on = "overfitting"

[[datasets]]
path = "data/overfit.csv"
target = "y"

[[datasets]]
path = "data/diabetes.csv"
target = "target"

[[datasets]]
path = "data/no_signal.csv"
target = "clicked"

[[datasets]]
path = "data/broken.csv"
target = "y"
"""
EXPECTED = {"overfit": "overfitting", "diabetes": "good_fit", "no_signal": "underfitting"}


def _project(tmp_path: Path, toml: str = TOML) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SAMPLES / "overfit.csv", data)
    shutil.copy(SAMPLES / "no_signal.csv", data)
    shutil.copy(DATA / "diabetes.csv", data)
    (data / "broken.csv").write_text("a,b,y\n")
    (tmp_path / "overfitcheck.toml").write_text(toml)
    return tmp_path


def installed_command() -> str:
    """The console script of the environment running the tests (not another one on PATH)."""
    beside = Path(sys.executable).parent / "overfitcheck"
    command = str(beside) if beside.is_file() else shutil.which("overfitcheck")
    assert command, "the package must be installed (pip install '.[test]')"
    return command


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    command = installed_command()
    return subprocess.run([command, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_batch_over_real_datasets_and_a_broken_file(tmp_path):
    project = _project(tmp_path)
    done = _run(project, "diagnose", "--jobs", "2", "--format", "json",
                "--summary", "ci/junit.xml", "--summary", "ci/summary.md")
    assert done.returncode == 3, done.stderr  # bad data outranks the policy failure (1)
    batch = json.loads(done.stdout)
    assert [(d["name"], d["status"], d.get("verdict")) for d in batch["datasets"]] == [
        ("overfit", "failed", "overfitting"), ("diabetes", "passed", "good_fit"),
        ("no_signal", "passed", "underfitting"), ("broken", "error", None)]
    assert batch["exit_code"] == 3
    assert batch["counts"] == {"passed": 2, "failed": 1, "error": 1}
    broken = batch["datasets"][3]
    assert broken["error"].startswith(f"{project / 'data' / 'broken.csv'} has a header but no "
                                      "data rows. Fix: ")
    assert "overfitcheck: error: broken: " in done.stderr
    out = project / "overfitcheck-report"
    assert sorted(p.name for p in out.iterdir()) == ["diabetes", "no_signal", "overfit"]
    for name, verdict in EXPECTED.items():
        assert json.loads((out / name / "report.json").read_text())["verdict"] == verdict

    xml = JUnitXml.fromfile(str(project / "ci" / "junit.xml"))
    suites = list(xml) if isinstance(xml, JUnitXml) else [xml]
    cases = {case.name: case for suite in suites for case in suite}
    assert sum(s.tests for s in suites) == 4
    assert sum(s.failures for s in suites) == 1 and sum(s.errors for s in suites) == 1
    assert [type(r) for r in cases["overfit"].result] == [Failure]
    assert [type(r) for r in cases["broken"].result] == [Error]
    assert cases["diabetes"].is_passed and cases["no_signal"].is_passed
    assert "overfits" in cases["overfit"].result[0].message

    markdown = (project / "ci" / "summary.md").read_text()
    rows = _markdown_table(markdown)
    assert rows[0][:4] == ["dataset", "task", "rows", "verdict"]
    assert [(r[0], r[3].split()[0]) for r in rows[1:]] == [
        ("overfit", "overfitting"), ("diabetes", "good_fit"), ("no_signal", "underfitting"),
        ("broken", "error")]

    # One dataset after another (--jobs 1) gives the same diagnoses as two in parallel; paths
    # on the command line that the config lists take their [[datasets]] entry (the target).
    # Without the broken file, the overfitting dataset's policy failure is the exit code.
    sequential = _run(project, "diagnose", "data/overfit.csv", "data/diabetes.csv", "--jobs", "1",
                      "-q", "-o", "one")
    assert sequential.returncode == 1, sequential.stderr
    assert sequential.stderr == ""
    for name in ("overfit", "diabetes"):
        one = json.loads((project / "one" / name / "report.json").read_text())
        both = json.loads((out / name / "report.json").read_text())
        assert one.pop("input")["sha256"] == both.pop("input")["sha256"]
        assert one == both


def test_fail_fast_stops_after_the_first_error(tmp_path):
    project = _project(tmp_path)
    done = _run(project, "diagnose", "data/broken.csv", "data/diabetes.csv", "--fail-fast",
                "--jobs", "1", "--format", "json")
    assert done.returncode == 3
    assert [d["name"] for d in json.loads(done.stdout)["datasets"]] == ["broken"]
    assert "1 not run after an error (--fail-fast)" in done.stderr
    assert not (project / "overfitcheck-report" / "diabetes").exists()


def test_a_rerun_leaves_no_stale_outputs_in_a_datasets_folder(tmp_path):
    """A dataset that fails on a rerun keeps no earlier report.json (report and compare would
    read it as this run's), and --no-plots drops earlier PNGs (the Markdown would link them);
    only the files overfitcheck writes are removed."""
    project = _project(tmp_path)
    out = project / "overfitcheck-report"
    for name in ("diabetes", "broken"):
        (out / name).mkdir(parents=True)
        for file in ("report.json", "summary.png", "learning_curves.png", "notes.txt"):
            (out / name / file).write_text("from an earlier run")
    done = _run(project, "diagnose", "data/diabetes.csv", "data/broken.csv", "--jobs", "1",
                "-q", "--n-alphas", "5", "--debug")
    assert done.returncode == 3
    assert sorted(p.name for p in (out / "broken").iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in (out / "diabetes").iterdir()) == ["notes.txt", "report.json"]
    assert json.loads((out / "diabetes" / "report.json").read_text())["verdict"] == "good_fit"
    # --debug shows the failed dataset's traceback before its one-line error
    traceback, line = done.stderr.split("\noverfitcheck: error: broken: ")
    assert traceback.startswith("Traceback (most recent call last):")
    assert line.startswith("data/broken.csv has a header but no data rows. Fix: ")


def test_a_glob_or_folder_is_a_batch_even_with_one_match(tmp_path):
    project = _project(tmp_path)
    done = _run(project, "diagnose", "data/diab*.csv", "-t", "target", "--n-alphas", "5",
                "--no-plots", "-q", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["datasets"][0]["name"] == "diabetes"
    assert (project / "overfitcheck-report" / "diabetes" / "report.json").is_file()
    assert not (project / "overfitcheck-report" / "report.json").exists()


def test_expand_paths_globs_and_folders(tmp_path):
    project = _project(tmp_path)
    assert [s for s, _ in expand("data", project)] == [
        "data/broken.csv", "data/diabetes.csv", "data/no_signal.csv", "data/overfit.csv"]
    assert [(s, f) for s, f in expand("data/o*.csv", project)] == [
        ("data/overfit.csv", project / "data" / "overfit.csv")]
    assert expand("data/*.parquet", project) == []
    assert expand("missing.csv", project) == [("missing.csv", project / "missing.csv")]
    (project / "data" / "deeper").mkdir()
    shutil.copy(project / "data" / "broken.csv", project / "data" / "deeper" / "b.csv")
    assert "data/deeper/b.csv" in [s for s, _ in expand("data/**/*.csv", project)]


@pytest.mark.parametrize(("shown", "names"), [
    (["a/data.csv", "b/data.csv", "c/DATA.csv.gz"], ["a_data", "b_data", "c_DATA"]),
    (["x/data.csv", "x/data.tsv"], ["x_data", "x_data-2"]),
    (["../../etc/passwd"], ["passwd"]),
    (["CON.csv", "nul", "Com1.txt.csv", "console.csv"], ["CON_", "nul_", "Com1_.txt",
                                                         "console"]),
    (["a\x00b\x1f.csv", "tab\tname.csv", ".hidden.csv", "...csv"], ["a_b", "tab_name",
                                                                   "hidden", "dataset"]),
    (["", "..", "/"], ["dataset", "dataset-2", "dataset-3"]),
    (["données été.csv"], ["données_été"]),
    (["x" * 300 + ".csv", "x" * 300 + ".csv.gz"], ["x" * 80, "x" * 78 + "-2"]),
])
def test_safe_unique_folder_names(shown, names):
    assert safe_names(shown) == names
    for name in names:
        assert name and "/" not in name and "\\" not in name and not name.startswith(".")
        assert name.isprintable() and len(name) <= 80


def test_config_names_win_and_are_made_safe():
    assert safe_names(["a.csv", "b.csv"], ["../Main Set", None]) == ["Main_Set", "b"]


def _markdown_table(text: str) -> list[list[str]]:
    """The first table of a Markdown document, parsed by markdown-it-py (GFM tables on)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    rows, row, inside = [], None, False
    for token in tokens:
        if token.type == "table_close":
            break
        if token.type == "tr_open":
            row = []
        elif token.type in ("th_open", "td_open"):
            inside = True
        elif token.type == "inline" and inside:
            row.append("".join(child.content for child in token.children
                               if child.type in ("text", "code_inline")))
            inside = False
        elif token.type == "tr_close":
            rows.append(row)
    return rows


def test_the_drawing_gets_ready_once_the_file_is_read(monkeypatch):
    """matplotlib's import holds the GIL for about half a second: beside the read it would stall
    the parsing threads, so run_one's progress gets the drawing ready at the first stage after
    reading, once, and passes every event on: with two processes a DrawingProcess (the copy
    imports it), with one (or where the copy cannot start) the import on a thread."""
    import threading

    from overfitcheck import batch

    started, forked = [], []
    loaded = threading.Event()
    monkeypatch.setattr(batch, "load_matplotlib", lambda: (started.append(1), loaded.set()))
    monkeypatch.setattr(batch.DrawingProcess, "start",
                        classmethod(lambda cls: forked.append(1) or "copy"))
    seen = []
    staged = batch._Preloading(lambda *event: seen.append(event), processes=2)
    for event in [("reading", 0, 1), ("reading rows", 5000, 0),
                  ("reading rows again (column types settled)", 5000, 0)]:
        staged(*event)
    assert forked == [] and staged.drawing is None
    staged("fitting paths", 0, 6)
    staged("fitting paths", 1, 6)
    staged("learning curves", 1, 40)
    assert forked == [1] and staged.drawing == "copy" and started == []
    assert [stage for stage, _, _ in seen] == ["reading", "reading rows",
                                                "reading rows again (column types settled)",
                                                "fitting paths", "fitting paths",
                                                "learning curves"]
    batch._Preloading(None, processes=1)("fitting paths", 0, 6)  # one process: a thread
    assert loaded.wait(10)
    assert started == [1] and forked == [1]
    monkeypatch.setattr(batch.DrawingProcess, "start", classmethod(lambda cls: None))
    loaded.clear()
    batch._Preloading(None, processes=2)("fitting paths", 0, 6)  # no copy: a thread
    assert loaded.wait(10)
    assert started == [1, 1]
