"""The command line end to end: CliRunner and a real subprocess of the installed command."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from helpers import DATA, ROOT
from typer.testing import CliRunner

from overfitcheck.cli import app

SAMPLES = ROOT / "sample_data"
MODEL_KEYS = {"penalty", "alpha", "alpha_1se", "train_error", "validation_error",
              "validation_error_se", "n_nonzero", "verdict", "reasons"}
TOP_KEYS = {"schema_version", "task", "metric", "n_rows", "n_features", "verdict", "models",
            "baseline", "paths", "learning_curves", "config", "seed", "folds", "input",
            "versions"}


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, ["diagnose", *map(str, args)], env=env)


def _json(tmp_path, *args):
    result = run(*args, "--format", "json", "--no-plots", "-q", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_json_has_every_contract_key(tmp_path):
    report = _json(tmp_path, DATA / "diabetes.csv", "--target", "target")
    assert TOP_KEYS <= report.keys()
    assert report["schema_version"] == 1
    assert [m["penalty"] for m in report["models"]] == ["none", "l1", "l2"]
    for model in report["models"]:
        assert MODEL_KEYS <= model.keys()
    assert report["baseline"]["validation_error"] > 0
    l1 = report["paths"]["l1"]
    assert len(l1["alphas"]) == 30 and len(l1["validation_error"][0]) == 5
    assert len(report["learning_curves"]["l1"]["n_train"]) == 8
    assert report["input"]["sha256"] == hashlib.sha256(
        (DATA / "diabetes.csv").read_bytes()).hexdigest()
    assert report["folds"]["splitter"] == "BlockShuffleKFold" and report["seed"] == 0
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved == report


@pytest.mark.parametrize(("name", "target", "extra", "verdict"), [
    ("khan_train.csv", "Y", ("--cv", "3", "--n-alphas", "12"), "overfitting"),
    ("default.csv", "default", (), "good_fit"),
    ("breast_cancer.csv", "target", (), "overfitting"),
    ("diabetes.csv", "target", (), "good_fit"),
])
def test_real_datasets_get_their_expected_verdict(tmp_path, name, target, extra, verdict):
    report = _json(tmp_path, DATA / name, "--target", target, *extra)
    assert report["verdict"] == verdict, report["verdict_reasons"]
    if name == "khan_train.csv":
        assert report["task"] == "multiclass"
        none = report["models"][0]
        assert none["verdict"] == "overfitting" and none["train_error"] < 1e-3
    if name == "default.csv":
        assert all(m["verdict"] != "overfitting" for m in report["models"])


def test_table_output_names_the_three_families(tmp_path):
    result = run(DATA / "diabetes.csv", "--target", "target", "--no-plots", "-o",
                 tmp_path / "out")
    assert result.exit_code == 0
    for name in ("unregularized", "L1 (lasso)", "L2 (ridge)", "baseline", "GOOD FIT"):
        assert name in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes when stdout is not a terminal


@pytest.mark.parametrize(("args", "code", "line"), [
    (("missing.csv", "--target", "y"), 3,
     "overfitcheck: error: missing.csv does not exist. Fix: check the path and the current "
     "folder"),
    ((DATA / "hitters.csv", "--target", "salery"), 3,
     "overfitcheck: error: target column 'salery' not found; close names: 'Salary'. Fix: pass "
     "--target with one of the file's columns"),
    ((DATA / "diabetes.csv", "--target", "target", "--cv", "1"), 2,
     "overfitcheck: error: --cv must be at least 2, not 1. Fix: see overfitcheck diagnose "
     "--help"),
    ((DATA / "diabetes.csv", "--target", "target", "--metric", "log_loss"), 2,
     "overfitcheck: error: --metric log_loss does not apply to a regression target. Fix: use "
     "one of rmse, mae, r2"),
])
def test_bad_input_gets_one_line_and_its_exit_code(tmp_path, args, code, line):
    out = tmp_path / "out"
    result = run(*args, "-o", out)
    assert result.exit_code == code
    assert result.stderr.strip().replace(str(DATA) + os.sep, "") == line
    assert "Traceback" not in result.output
    assert not out.exists()  # nothing half-written


def test_files_that_cannot_be_diagnosed(tmp_path):
    cases = {
        "empty.csv": (b"", "is empty"),
        "header.csv": (b"a,b,y\n", "has a header but no data rows"),
        "constant.csv": (b"a,y\n1,5\n2,5\n3,5\n4,5\n5,5\n", "is constant"),
        "image.csv": (bytes(range(256)) * 4, "is not a text file"),
    }
    for name, (content, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = run(path, "--target", "y", "-o", tmp_path / "out")
        assert result.exit_code == 3, (name, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Fix:" in lines[0], lines


def test_a_failed_run_still_prints_its_junit_or_markdown(tmp_path):
    """CI redirects --format junit to a file: a dataset that cannot be diagnosed is an <error>
    test case there, not an empty file."""
    from junitparser import Error, JUnitXml

    result = run(DATA / "hitters.csv", "--target", "salery", "--format", "junit", "-o",
                 tmp_path / "out")
    assert result.exit_code == 3
    (tmp_path / "junit.xml").write_text(result.stdout)
    xml = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    cases = [case for suite in (list(xml) if isinstance(xml, JUnitXml) else [xml])
             for case in suite]
    assert [(c.name, [type(r) for r in c.result]) for c in cases] == [("hitters", [Error])]
    assert cases[0].result[0].message.startswith("target column 'salery' not found")
    markdown = run(DATA / "hitters.csv", "--target", "salery", "--format", "markdown")
    assert markdown.exit_code == 3
    assert "\n## hitters: could not be diagnosed\n" in markdown.stdout
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(tmp_path):
    result = run(tmp_path / "nope.csv", "--target", "y", "--debug")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr


def test_fail_on_policy(tmp_path):
    args = (SAMPLES / "overfit.csv", "--target", "y", "--no-plots", "-q", "-o", tmp_path)
    assert run(*args, "--fail-on", "overfitting").exit_code == 1
    assert run(*args, "--fail-on", "any").exit_code == 1
    assert run(*args, "--fail-on", "underfitting").exit_code == 0
    assert run(*args).exit_code == 0


def test_quiet_keeps_stderr_empty_and_input_unchanged(tmp_path):
    source = tmp_path / "data.csv"
    shutil.copy(SAMPLES / "no_signal.csv", source)
    before = source.read_bytes()
    result = run(source, "--target", "clicked", "-q", "--no-plots", "-o", tmp_path)
    assert result.exit_code == 0
    assert result.stderr == ""
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "report.json"]


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and re.fullmatch(r"overfitcheck \d+\.\d+\.\d+\n", result.stdout)


def test_python_dash_m_runs_the_same_cli(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "overfitcheck", "diagnose", str(DATA / "diabetes.csv"),
         "--target", "target", "--format", "json", "--no-plots", "-q", "-o", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["verdict"] == "good_fit"


def _cli(*args):
    return CliRunner().invoke(app, [*map(str, args)])


def test_compare_flags_a_planted_regression_and_passes_an_unchanged_one(tmp_path):
    """new: the same diabetes data made to overfit (60 rows and 40 pure-noise columns);
    unchanged: the same file diagnosed twice."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(DATA / "diabetes.csv").head(60)
    noise = np.random.default_rng(0).normal(size=(60, 40))
    for j in range(40):
        frame[f"noise_{j}"] = noise[:, j]
    frame.to_csv(tmp_path / "diabetes.csv", index=False)
    common = ("--target", "target", "--no-plots", "-q", "--n-alphas", "8")
    for folder, source in (("base", DATA), ("again", DATA), ("new", tmp_path)):
        assert run(source / "diabetes.csv", *common, "-o", tmp_path / folder).exit_code == 0
    same = _cli("compare", tmp_path / "base" / "report.json", tmp_path / "again" / "report.json")
    assert same.exit_code == 0, same.output
    assert "OK: no change beyond fold noise." in same.stdout
    worse = _cli("compare", tmp_path / "base" / "report.json", tmp_path / "new" / "report.json",
                 "--format", "json")
    assert worse.exit_code == 1, worse.output
    data = json.loads(worse.stdout)
    assert data["worse"] is True
    verdicts = [f for f in data["findings"] if f["check"] == "verdict"]
    assert (verdicts[0]["base"], verdicts[0]["new"], verdicts[0]["change"]) == (
        "good_fit", "overfitting", "worse")


def test_report_rerenders_a_saved_report_without_refitting(tmp_path):
    out = tmp_path / "out"
    assert run(DATA / "diabetes.csv", "--target", "target", "--no-plots", "-q", "--n-alphas",
               "6", "-o", out).exit_code == 0
    saved = (out / "report.json").read_bytes()
    table = _cli("report", out / "report.json", "-q")
    assert table.exit_code == 0, table.output
    assert "GOOD FIT" in table.stdout and "L1 (lasso)" in table.stdout
    assert (out / "report.json").read_bytes() == saved
    assert (out / "summary.png").is_file()  # the PNGs the run skipped, drawn from the report
    as_json = _cli("report", out, "--no-plots", "--format", "json")
    assert as_json.stdout.encode() == saved
    junit = _cli("report", out, "--no-plots", "--format", "junit", "--fail-on", "any",
                 "--summary", tmp_path / "s.md")
    assert junit.exit_code == 0 and "<testcase" in junit.stdout
    assert (tmp_path / "s.md").read_text().startswith("# overfitcheck summary")
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    failed = _cli("report", broken)
    assert failed.exit_code == 3 and failed.stderr.startswith("overfitcheck: error: ")


def test_summary_needs_a_known_extension(tmp_path):
    result = run(DATA / "diabetes.csv", "--target", "target", "--summary", tmp_path / "s.txt",
                 "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr == (f"overfitcheck: error: --summary {tmp_path / 's.txt'}: cannot tell "
                             "the format from the extension '.txt'. Fix: end the name in .md "
                             "(Markdown), .xml (JUnit) or .json\n")
    assert not (tmp_path / "out").exists()


def test_every_command_has_help_with_an_example():
    for command in ("diagnose", "config", "report", "compare"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert f"overfitcheck {command} " in result.stdout.split("Examples:")[1]


def test_missing_target_is_a_usage_error(tmp_path):
    result = run(DATA / "diabetes.csv", "-o", tmp_path)
    assert result.exit_code == 2
    assert result.stderr.endswith("no target column for "
                                  f"{DATA / 'diabetes.csv'}. Fix: pass --target COLUMN, or set "
                                  "target in the config file\n")


def test_the_console_script_hashes_early_only_its_one_input(monkeypatch):
    from overfitcheck import digest, entry

    started = []
    monkeypatch.setattr(digest, "start", started.append)
    entry._hash_early(["overfitcheck", "diagnose", "data.csv", "--target", "y"])
    entry._hash_early(["overfitcheck", "diagnose", "a.csv", "b.csv.gz", "--target", "y"])
    entry._hash_early(["overfitcheck", "report", "data.csv"])
    assert started == ["data.csv"]


def test_the_console_script_leaves_at_once_only_when_nothing_is_left_running(monkeypatch):
    """_leave ends the process with os._exit (no module teardown) after the exit handlers, but
    takes the normal exit while a thread runs or for a code that is not a number."""
    import atexit
    import threading

    from overfitcheck import entry

    class Left(Exception):
        pass

    handlers, exits = [], []
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: handlers.append(1))

    def fast_exit(code):
        exits.append(code)
        raise Left

    monkeypatch.setattr(os, "_exit", fast_exit)
    monkeypatch.setattr(sys, "gettrace", lambda: None)  # as when not under a debugger
    monkeypatch.setattr(sys, "getprofile", lambda: None)
    with pytest.raises(Left):
        entry._leave(3)
    assert exits == [3] and handlers == [1]
    with pytest.raises(SystemExit) as done:
        entry._leave("a message")
    assert done.value.code == "a message"
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        with pytest.raises(SystemExit) as done:
            entry._leave(1)
        assert done.value.code == 1 and exits == [3]
    finally:
        release.set()
        worker.join()


def test_a_ctrl_c_while_typer_parses_the_command_line_gets_the_one_line(monkeypatch, capsys):
    """typer turns a KeyboardInterrupt outside the command (while it parses the command line,
    importing pydantic then) into exit code 130 and prints nothing: the console
    script says it. An interrupt inside the command is said once, by the command."""
    import typer.core

    from overfitcheck import entry, memory

    codes, tuned = [], []
    monkeypatch.setattr(entry, "_leave", codes.append)
    monkeypatch.setattr(entry, "_hash_early", lambda argv: None)
    # the console script's malloc settings (checked in test_memory), not this test process's
    monkeypatch.setattr(memory, "heap_only", lambda: tuned.append(True))
    monkeypatch.setattr(sys, "argv", ["overfitcheck", "diagnose", "data.csv", "-t", "y"])

    def interrupted(self, ctx):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(typer.core.TyperGroup, "invoke", interrupted)
        entry.main()
    assert codes == [130]
    assert capsys.readouterr().err.strip().splitlines() == ["overfitcheck: error: interrupted"]

    import overfitcheck.cli as cli

    def interrupted_inside(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "plan", interrupted_inside)  # inside the command's error handling
    entry.main()
    assert codes == [130, 130]
    assert tuned == [True, True]  # first thing, on every run of the console script
    assert capsys.readouterr().err.strip().splitlines() == ["overfitcheck: error: interrupted"]


