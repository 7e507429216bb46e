"""bench/plain_sklearn.py, the benchmark's baseline: a subset run's learning curves take the
full grid's alphas when given them, so that their phase extrapolates as a full run's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_a_subset_run_fits_its_learning_curves_at_the_given_alphas(tmp_path):
    csv = tmp_path / "regression.csv"
    subprocess.run([sys.executable, str(BENCH / "make_data.py"), "--rows", "1500", "--task",
                    "regression", "--seed", "0", str(csv)], check=True)
    plain = [sys.executable, str(BENCH / "plain_sklearn.py"), str(csv), "--target", "y",
             "--alphas-subset", "2", "--folds-subset", "1", "--json"]
    run = json.loads(subprocess.run(plain + ["--learning-alphas", "l1=0.01,l2=0.001"],
                                    check=True, capture_output=True, text=True).stdout)
    assert run["learning_alphas"] == {"none": 0.0, "l1": 0.01, "l2": 0.001}
    assert run["best_alpha"]["l1"] != 0.01  # its own choice, from the two alphas it fitted
    phases = {p["name"]: p for p in run["phases"]}
    assert phases["learning_curve"]["fits_done"] == 8 * 3
    alone = json.loads(subprocess.run(plain, check=True, capture_output=True,
                                      text=True).stdout)
    assert alone["learning_alphas"] == alone["best_alpha"]
    wrong = subprocess.run(plain + ["--learning-alphas", "l3=1"], capture_output=True,
                           text=True)
    assert wrong.returncode == 2 and "expected l1=A,l2=B" in wrong.stderr
