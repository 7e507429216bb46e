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

from overfitcheck import diagnose, entry, lasso_process
from overfitcheck.config import Config
from overfitcheck.dataset import load_dataset
from overfitcheck.lasso_process import HelperGone, LassoProcess
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
        assert helper.alive  # it did answer
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
        assert not helper.alive
    finally:
        helper.close()
    _assert_identical(_paths(data, grids, None), remote)


def test_the_helper_passes_on_the_solvers_own_errors():
    helper = LassoProcess.start()
    try:
        with pytest.raises(ValueError):
            helper(y=np.array([1.0]), l1_ratio=1.0, alphas=np.array([0.1]),
                   precompute=np.eye(3), Xy=np.ones(4), check_input=False)
        assert helper.alive
    finally:
        helper.close()
    assert helper._process.returncode is not None


def test_a_stopped_helper_fails_the_calls_still_waiting():
    """Once the diagnosis has stopped it (failed, interrupted), a call raises HelperGone: it
    does not import scikit-learn here to fit a model nobody wants."""
    helper = LassoProcess.start()
    helper.close()
    with pytest.raises(HelperGone):
        helper(y=np.array([1.0]), l1_ratio=1.0, alphas=np.array([0.1]), precompute=np.eye(3),
               Xy=np.ones(3), check_input=False)


@pytest.mark.skipif(not lasso_process.usable(), reason="a helper needs a second core")
def test_a_helper_given_back_serves_the_next_diagnosis():
    helper = lasso_process.take()
    try:
        assert helper is not None and helper.alive
        lasso_process.give_back(helper)
        assert lasso_process.take() is helper  # no second import of scikit-learn
        other = LassoProcess.start()
        lasso_process.give_back(helper)
        lasso_process.give_back(other)  # one spare is enough: the other is stopped
        assert not other.alive and other._process.returncode is not None
    finally:
        lasso_process.discard()
    assert not helper.alive


@pytest.mark.parametrize(("argv", "one"), [
    (["overfitcheck", "diagnose", "a.csv", "--jobs", "1"], True),
    (["overfitcheck", "diagnose", "a.csv", "--jobs=1"], True),
    (["overfitcheck", "diagnose", "a.csv", "--jobs", "2"], False),
    (["overfitcheck", "diagnose", "a.csv", "--cv", "1"], False),
])
def test_jobs_1_starts_no_early_helper(argv, one):
    assert entry._one_job(argv) is one


@pytest.mark.skipif(not os.path.isdir("/proc/self") or not lasso_process.usable(),
                    reason="reads /proc; a helper needs a second core")
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
        "    json.dump({'sklearn': 'sklearn' in sys.modules}, open(seen, 'w'))\n"
        "    leave(code)\n"
        "entry._leave = check\n"
        "sys.argv = ['overfitcheck'] + sys.argv[1:-1]\n"
        "entry.main()\n")
    seen = tmp_path / "seen.json"
    out = tmp_path / "out"
    tag = f"{os.getpid()}-{tmp_path.name}"
    run = subprocess.run([sys.executable, "-c", probe, "diagnose", str(csv), "--target", "y",
                          "--chunk-rows", "1000", "--output-dir", str(out), "--format", "json",
                          str(seen)],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "COLUMNS": "100", "OVERFITCHECK_TEST_TAG": tag})
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("wrote ") and "Traceback" not in run.stderr
    assert json.loads(seen.read_text()) == {"sklearn": False}
    report = json.loads((out / "report.json").read_text())
    import sklearn.linear_model  # noqa: F401 - so that this diagnosis fits here, with no helper

    here = diagnose(csv, target="y", chunk_rows=1000).to_dict()
    assert report["paths"] == json.loads(json.dumps(here["paths"]))
    assert report["models"] == json.loads(json.dumps(here["models"]))
    assert np.count_nonzero(report["paths"]["l1"]["coef"][-1]) > 0  # the lasso did run
    assert not _helpers_running(tag), "a helper outlived the command"


def _helpers_running(tag: str) -> list[int]:
    """Processes alive on this machine whose environment carries OVERFITCHECK_TEST_TAG=tag
    (a helper inherits it from the command under test)."""
    marker = f"OVERFITCHECK_TEST_TAG={tag}".encode()
    found = []
    for entry_ in os.scandir("/proc"):
        if not entry_.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry_.name}/environ", "rb") as handle:
                environment = handle.read().split(b"\0")
        except OSError:
            continue
        if marker in environment:
            found.append(int(entry_.name))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_a_command_that_fails_before_its_diagnosis_stops_the_early_helper(tmp_path):
    """The console script starts the helper while it imports; a run that never diagnoses
    (a usage error the command line catches: exit 2) leaves no helper running behind it."""
    csv = tmp_path / "small.csv"
    csv.write_text("a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(50)))
    script = os.path.join(os.path.dirname(sys.executable), "overfitcheck")
    command = [script] if os.path.exists(script) else [sys.executable, "-m", "overfitcheck"]
    tag = f"{os.getpid()}-{tmp_path.name}"
    run = subprocess.run([*command, "diagnose", str(csv), "--target", "b", "--metric", "nope",
                          "--output-dir", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OVERFITCHECK_TEST_TAG": tag})
    assert run.returncode == 2, run.stderr
    assert not _helpers_running(tag), "a helper outlived the command"


@pytest.mark.skipif(not hasattr(os, "fork") or not lasso_process.usable(),
                    reason="fork; a helper needs a second core")
def test_a_forked_copy_does_not_use_or_stop_its_parents_helper():
    helper = lasso_process.take()
    lasso_process.give_back(helper)
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the copy: no spare to take, and stopping "it" stops nothing
            status = 1
            try:
                status = 0 if lasso_process._spare is None else 2
                lasso_process.discard()
            finally:
                os.write(write_end, bytes([status]))
                os._exit(0)
        os.close(write_end)
        status = os.read(read_end, 1)
        os.close(read_end)
        os.waitpid(pid, 0)
        assert status == b"\x00"
        assert lasso_process._spare is helper and helper.alive
    finally:
        lasso_process.discard()
