"""Comparing two reports: a planted regression is caught with its numbers, a rerun is not."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from overfitcheck import diagnose
from overfitcheck.compare import (
    Comparison,
    compare_reports,
    compare_runs,
    render_comparison,
    render_run_comparison,
)
from overfitcheck.errors import ExitCode, ReportsNotComparable, UsageProblem
from overfitcheck.output import write_outputs
from overfitcheck.report import load_report

DATA = Path(__file__).parent / "data"
NOISE_COLUMNS = 250  # with 354 training rows: least squares nearly interpolates


@pytest.fixture(scope="module")
def base():
    return diagnose(DATA / "diabetes.csv", target="target", n_alphas=8, jobs=1)


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    """The same rows and target with pure-noise columns added: a change that makes it overfit."""
    frame = pd.read_csv(DATA / "diabetes.csv")
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.standard_normal((len(frame), NOISE_COLUMNS)),
                         columns=[f"noise{i}" for i in range(NOISE_COLUMNS)])
    path = tmp_path_factory.mktemp("planted") / "diabetes.csv"
    pd.concat([frame, noise], axis=1).to_csv(path, index=False)
    return diagnose(path, target="target", n_alphas=8, jobs=1)


def _finding(comparison: Comparison, check: str, model: str):
    return next(f for f in comparison.findings if (f.check, f.model) == (check, model))


def test_a_planted_regression_is_worse_with_its_numbers(base, overfit):
    c = compare_reports(base, overfit)
    assert c.worse
    assert (base.verdict.overall, overfit.verdict.overall) == ("good_fit", "overfitting")
    verdict = _finding(c, "verdict", "overall")
    assert (verdict.base, verdict.new, verdict.change) == ("good_fit", "overfitting", "worse")
    # The unregularized model memorizes the noise: its gap grows far beyond fold noise.
    gap = _finding(c, "gap", "none")
    b = next(fv for fv in base.verdict.families if fv.penalty == "none")
    n = next(fv for fv in overfit.verdict.families if fv.penalty == "none")
    assert (gap.base, gap.new) == (b.gap, n.gap)
    assert gap.se == math.sqrt(b.gap_se ** 2 + n.gap_se ** 2)
    assert gap.change == "worse" and gap.difference > 10 * gap.se
    recommended = _finding(c, "gap", "recommended")
    assert recommended.change == "worse"
    assert (recommended.base_model, recommended.new_model) == (base.verdict.best,
                                                               overfit.verdict.best)
    text = render_comparison(c)
    assert text.splitlines()[1].startswith("WORSE: ")
    line = next(x for x in text.splitlines() if "unregularized" in x and "gap" in x)
    assert line.split()[0] == "worse"
    assert (f"gap (validation - training): {b.gap:.4g} → {n.gap:.4g} "
            f"(+{n.gap - b.gap:.4g} ± {gap.se:.4g}, more than {gap.se:.4g})") in line


def test_the_same_report_is_not_worse(base):
    c = compare_reports(base, base)
    assert not c.worse and not c.regressions
    assert {f.change for f in c.findings} == {"same"}
    assert len(c.findings) == 1 + 2 + 2 * len(base.verdict.families)
    assert render_comparison(c).splitlines()[1] == "OK: no change beyond fold noise."


def test_a_rerun_with_the_same_seed_shows_no_change(base):
    rerun = diagnose(DATA / "diabetes.csv", target="target", n_alphas=8, jobs=1)
    c = compare_reports(base, rerun)
    assert not c.worse
    assert all(f.difference in (None, 0.0) for f in c.findings)


def test_an_improvement_is_better_not_worse(base, overfit):
    c = compare_reports(overfit, base)
    assert not c.worse
    assert _finding(c, "verdict", "overall").change == "better"
    assert _finding(c, "gap", "none").change == "better"


def test_noise_se_sets_how_far_a_change_must_go(base, overfit):
    """The L1 model's validation error grows by about one SE: worse at 1 SE, not at 3."""
    l1 = _finding(compare_reports(base, overfit), "validation_error", "l1")
    z = l1.difference / l1.se
    assert 1 < z < 3
    assert _finding(compare_reports(base, overfit, noise_se=z * 0.99),
                    "validation_error", "l1").change == "worse"
    assert _finding(compare_reports(base, overfit, noise_se=z * 1.01),
                    "validation_error", "l1").change == "same"
    with pytest.raises(UsageProblem):
        compare_reports(base, base, noise_se=-1)


def test_compares_loaded_reports_and_serializes(base, overfit, tmp_path):
    """What the CLI does: both reports read back from their files; to_dict is valid JSON."""
    write_outputs(base, tmp_path / "base", plots=False)
    write_outputs(overfit, tmp_path / "new", plots=False)
    c = compare_reports(load_report(tmp_path / "base" / "report.json"),
                        load_report(tmp_path / "new" / "report.json"))
    assert c == compare_reports(base, overfit)
    data = json.loads(json.dumps(c.to_dict(), allow_nan=False))
    assert data["worse"] is True and data["metric"] == "rmse"
    gap = next(f for f in data["findings"] if (f["check"], f["model"]) == ("gap", "none"))
    assert gap["change"] == "worse" and gap["difference"] == gap["new"] - gap["base"]


@pytest.mark.parametrize("field, value", [("target", "bmi"), ("metric", "mae"),
                                          ("task", "binary")])
def test_reports_of_another_target_metric_or_task_cannot_be_compared(base, field, value):
    other = dataclasses.replace(base, **{field: value})
    with pytest.raises(ReportsNotComparable) as caught:
        compare_reports(base, other)
    assert caught.value.exit_code == ExitCode.USAGE
    old = getattr(base, field)
    assert caught.value.one_line() == (
        f"the reports have different {field}s ({old!r} in base, {value!r} in new), so their "
        f"errors measure different things. Fix: compare two reports of the same {field}")


def test_two_batch_folders_are_compared_dataset_by_dataset(base, overfit, tmp_path):
    """Matched by subfolder name: the regression is named, and so are the datasets found on
    one side only; a single report against a batch folder is a usage error."""
    for folder, report in (("base/diabetes", base), ("base/gone", base),
                           ("new/diabetes", overfit), ("new/added", base)):
        write_outputs(report, tmp_path / folder, plots=False)
    runs = compare_runs(tmp_path / "base", tmp_path / "new")
    assert runs.worse and runs.batch
    assert [name for name, _ in runs.datasets] == ["diabetes"]
    assert runs.datasets[0][1] == compare_reports(base, overfit)
    assert (runs.only_in_base, runs.only_in_new) == (("gone",), ("added",))
    text = render_run_comparison(runs)
    assert text.startswith("diabetes:\nComparing RMSE")
    assert text.splitlines()[-3:] == ["gone: only in the base folder, not compared",
                                      "added: only in the new folder, not compared",
                                      "WORSE: diabetes (1 of 1 dataset compared)"]
    data = json.loads(json.dumps(runs.to_dict(), allow_nan=False))
    assert (data["worse"], data["only_in_base"], data["only_in_new"]) == (True, ["gone"],
                                                                          ["added"])
    assert data["datasets"][0]["name"] == "diabetes" and data["datasets"][0]["worse"] is True

    same = compare_runs(tmp_path / "base", tmp_path / "base")
    assert not same.worse
    assert render_run_comparison(same).splitlines()[-1] == (
        "OK: 2 datasets compared, none worse beyond fold noise")
    # one pair of reports keeps the single comparison's shape, folder or file alike
    pair = compare_runs(tmp_path / "base" / "diabetes", tmp_path / "new" / "diabetes"
                        / "report.json")
    assert not pair.batch and pair.to_dict() == compare_reports(base, overfit).to_dict()
    with pytest.raises(UsageProblem) as caught:
        compare_runs(tmp_path / "base" / "diabetes" / "report.json", tmp_path / "new")
    assert caught.value.one_line() == (
        f"{tmp_path / 'new'} is a batch output folder and "
        f"{tmp_path / 'base' / 'diabetes' / 'report.json'} a single report. Fix: compare two "
        "report.json files, or two batch output folders")


def test_a_pair_that_cannot_be_compared_names_its_dataset(base, tmp_path):
    write_outputs(base, tmp_path / "base" / "diabetes", plots=False)
    write_outputs(dataclasses.replace(base, target="bmi"), tmp_path / "new" / "diabetes",
                  plots=False)
    with pytest.raises(ReportsNotComparable) as caught:
        compare_runs(tmp_path / "base", tmp_path / "new")
    assert caught.value.one_line().startswith(
        "diabetes: the reports have different targets ('target' in base, 'bmi' in new)")
    assert caught.value.exit_code == ExitCode.USAGE
