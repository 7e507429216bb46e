"""The streamed regression's helper process (lasso_process.py): the same lasso to the bit,
a fallback when it is gone, and nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import DATA

from overfitcheck import diagnose
from overfitcheck.config import Config
from overfitcheck.dataset import load_dataset
from overfitcheck.lasso_process import LassoProcess
from overfitcheck.paths_gram import alpha_grids_gram, fit_regression_paths_deferred, in_memory
from overfitcheck.splits import level_of_rows, make_splits

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX sessions")


@pytest.fixture(scope="module")
def problem():
    """default.csv's balance as a regression target, as cell statistics, with its grids."""
    config = Config(target="balance")
    dataset = load_dataset(DATA / "default.csv", config)
    splits = make_splits(dataset, config)
    data = in_memory(dataset.X, dataset.y, splits.folds, level_of_rows(0, dataset.n_rows, 0))
    grids = {"none": np.array([0.0]), **alpha_grids_gram(data, config)}
    return data, grids


def _paths(data, grids, lasso):
    paths, absolute_errors = fit_regression_paths_deferred(data, grids, lasso=lasso)
    absolute_errors()
    return paths


def _assert_identical(a, b):
    for penalty in a:
        np.testing.assert_array_equal(a[penalty].coef, b[penalty].coef)
        np.testing.assert_array_equal(a[penalty].not_converged, b[penalty].not_converged)
        for side in ("train", "validation"):
            for metric, values in getattr(a[penalty], side).items():
                np.testing.assert_array_equal(values, getattr(b[penalty], side)[metric])


def test_the_helper_fits_the_same_lasso_to_the_bit(problem):
    data, grids = problem
    helper = LassoProcess.start()
    assert helper is not None
    try:
        remote = _paths(data, grids, helper)
        assert not helper._gone  # it did answer
    finally:
        helper.close()
    here = _paths(data, grids, None)
    assert np.count_nonzero(remote["l1"].coef[-1]) > 0
    _assert_identical(here, remote)


def test_a_helper_that_died_is_replaced_by_fits_here(problem):
    data, grids = problem
    helper = LassoProcess.start()
    helper._process.kill()
    helper._process.wait()
    try:
        remote = _paths(data, grids, helper)
        assert helper._gone
    finally:
        helper.close()
    _assert_identical(_paths(data, grids, None), remote)


def test_the_helper_passes_on_the_solvers_own_errors():
    helper = LassoProcess.start()
    try:
        with pytest.raises(ValueError):
            helper(y=np.array([1.0]), l1_ratio=1.0, alphas=np.array([0.1]),
                   precompute=np.eye(3), Xy=np.ones(4), check_input=False)
        assert not helper._gone
    finally:
        helper.close()
    assert helper._process.returncode is not None


def test_the_command_line_streams_with_the_helper_and_leaves_none_behind(tmp_path):
    """The console script on a regression file that streams: the helper takes the lasso (the
    diagnosing process never imports scikit-learn), the report is the in-process one, and the
    helper is gone once the command returns."""
    rng = np.random.default_rng(3)
    n = 5000
    X = rng.normal(size=(n, 6))
    y = X @ np.array([1.5, -2.0, 0, 0, 0.5, 0]) + rng.normal(size=n)
    rows = ["a,b,c,d,e,f,y"] + [",".join(f"{v:.6f}" for v in (*x, t))
                                for x, t in zip(X, y, strict=True)]
    csv = tmp_path / "tall.csv"
    csv.write_text("\n".join(rows) + "\n")
    probe = (
        "import sys, json\n"
        "from overfitcheck import entry\n"
        "leave, seen = entry._leave, sys.argv[-1]\n"
        "def check(code):\n"
        "    from overfitcheck import lasso_process as lp\n"
        "    json.dump({'sklearn': 'sklearn' in sys.modules, 'spare': lp._spare is not None},"
        " open(seen, 'w'))\n"
        "    leave(code)\n"
        "entry._leave = check\n"
        "sys.argv = ['overfitcheck'] + sys.argv[1:-1]\n"
        "entry.main()\n")
    seen = tmp_path / "seen.json"
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-c", probe, "diagnose", str(csv), "--target", "y",
                          "--chunk-rows", "1000", "--output-dir", str(out), "--format", "json",
                          str(seen)],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "COLUMNS": "100"})
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("wrote ") and "Traceback" not in run.stderr
    assert json.loads(seen.read_text()) == {"sklearn": False, "spare": False}
    report = json.loads((out / "report.json").read_text())
    here = diagnose(csv, target="y", chunk_rows=1000).to_dict()
    assert report["paths"] == json.loads(json.dumps(here["paths"]))
    assert report["models"] == json.loads(json.dumps(here["models"]))
    assert np.count_nonzero(report["paths"]["l1"]["coef"][-1]) > 0  # the lasso did run
    assert not _helpers_running(), "a helper outlived the command"


def _helpers_running() -> list[int]:
    """Helper processes alive on this machine (their command line names serve())."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        if b"lasso_process import serve" in command:
            found.append(int(entry.name))
    return found


def test_a_command_that_fails_before_its_diagnosis_stops_the_early_helper(tmp_path):
    """The console script starts the helper while it imports; a run that never diagnoses
    (a usage error the command line catches: exit 2) leaves no helper running behind it."""
    csv = tmp_path / "small.csv"
    csv.write_text("a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(50)))
    script = os.path.join(os.path.dirname(sys.executable), "overfitcheck")
    command = [script] if os.path.exists(script) else [sys.executable, "-m", "overfitcheck"]
    run = subprocess.run([*command, "diagnose", str(csv), "--target", "b", "--metric", "nope",
                          "--output-dir", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert not _helpers_running(), "a helper outlived the command"
