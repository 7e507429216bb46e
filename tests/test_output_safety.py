"""Output safety end to end: Ctrl-C, unwritable output folders and byte-identical reruns."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from helpers import DATA, ROOT
from typer.testing import CliRunner

from overfitcheck.cli import app

SAMPLES = ROOT / "sample_data"


def _diagnose(*args) -> subprocess.Popen:
    # Ctrl-C as a terminal delivers it: a suite started as a shell's background job (`cmd &`)
    # passes SIGINT on ignored, and the command then rightly ignores it too.
    return subprocess.Popen(["overfitcheck", "diagnose", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.parametrize("delay", [0.3, 1.5, 3.5])  # importing, reading/fitting, fitting/drawing
def test_ctrl_c_stops_promptly_with_130_and_leaves_nothing(tmp_path, delay):
    """SIGINT (what Ctrl-C sends) at any stage: exit 130, one line, no traceback, no output
    folder or temporary file, and the input untouched."""
    source = tmp_path / "telco.csv"
    shutil.copy(SAMPLES / "telco_churn.csv", source)
    before = source.read_bytes()
    out = tmp_path / "out"
    process = _diagnose(source, "-t", "churn", "-o", out)
    time.sleep(delay)
    if process.poll() is not None:
        _, stderr = process.communicate()  # reaped, its pipes closed (no ResourceWarning later)
        assert process.returncode == 0, stderr  # done early is fine, failing early is not
        pytest.skip("the run finished before the signal (a very fast machine)")
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert time.monotonic() - sent < 10
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "overfitcheck: error: interrupted"
    assert "Traceback" not in stderr
    assert not out.exists() or os.listdir(out) == []
    assert source.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["telco.csv"] + (["out"] if out.exists() else [])


def test_an_output_folder_that_is_a_file_or_under_a_file_is_a_usage_error(tmp_path):
    blocker = tmp_path / "report"
    blocker.write_text("not a folder")
    for folder, words in ((blocker, "is a file, not a folder"),
                          (blocker / "inside", "cannot write to")):
        result = CliRunner().invoke(app, ["diagnose", str(DATA / "diabetes.csv"), "-t",
                                          "target", "--no-plots", "-o", str(folder)])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Fix:" in lines[0], lines
        assert "Traceback" not in result.output
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_a_usage_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    result = CliRunner().invoke(app, ["diagnose", str(DATA / "diabetes.csv"), "-t", "target",
                                      "--no-plots", "-o", str(folder)])
    assert result.exit_code == 2
    assert "cannot write to" in result.stderr and "Fix: choose a writable --output-dir" in \
        result.stderr
    assert os.listdir(folder) == []


@pytest.mark.parametrize("path, target", [(SAMPLES / "no_signal.csv", "clicked"),
                                          (DATA / "diabetes.csv", "target")])
def test_reruns_give_byte_identical_reports_and_pngs(tmp_path, path, target):
    """Same input, options and seed: the same report.json bytes and PNG bytes, with fold
    workers in parallel (classes) and the Gram engine (regression)."""
    outputs = []
    for run in ("first", "second"):
        out = tmp_path / run
        completed = subprocess.run(
            [sys.executable, "-m", "overfitcheck", "diagnose", str(path), "-t", target,
             "-q", "--n-alphas", "8", "-o", str(out)], capture_output=True, text=True)
        assert completed.returncode == 0, completed.stderr
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert sorted(outputs[0]) == ["coefficient_path_l1.png", "learning_curves.png",
                                  "report.json", "summary.png", "validation_curve_l1.png",
                                  "validation_curve_l2.png"]
    for file_name, content in outputs[0].items():
        assert outputs[1][file_name] == content, file_name


def test_no_plots_removes_an_earlier_runs_pngs_and_nothing_else(tmp_path):
    """A report is never paired with another run's plots: --no-plots into a folder that holds
    an earlier run's PNGs removes those (our five file names), and leaves other files alone."""
    out = tmp_path / "out"
    args = ["diagnose", str(DATA / "diabetes.csv"), "-t", "target", "-q", "--n-alphas", "5",
            "-o", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert len(list(out.glob("*.png"))) == 5
    (out / "notes.png").write_bytes(b"the user's own file")
    assert CliRunner().invoke(app, [*args, "--no-plots", "--seed", "3"]).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes.png", "report.json"]
