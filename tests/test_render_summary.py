"""The batch summary table in the terminal: golden text, verdict colours, failed datasets."""

from __future__ import annotations

import io

import pytest
from helpers import check_golden
from outcomes import HOSTILE, make_outcomes
from rich.console import Console
from rich.table import Table

from overfitcheck.errors import ExitCode
from overfitcheck.outcome import Outcome
from overfitcheck.render_terminal import MAX_SUMMARY_NAME, VERDICT_STYLES, render_summary


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return make_outcomes(tmp_path_factory.mktemp("batch"))


def render(outcomes, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, force_terminal=False)
    console.print(render_summary(outcomes))
    return "".join(line.rstrip() + "\n" for line in console.file.getvalue().splitlines())


@pytest.mark.parametrize("width", [100, 80])
def test_golden_summary(outcomes, width, update_golden):
    check_golden(f"summary_{width}.txt", render(outcomes, width), update_golden)


def _table(outcomes) -> Table:
    return next(r for r in render_summary(outcomes).renderables if isinstance(r, Table))


def test_one_row_per_dataset_with_its_numbers(outcomes):
    table = _table(outcomes)
    assert [c.header for c in table.columns] == [
        "dataset", "task\n(error)", "rows", "verdict", "recommended", "validation\nerror ± SE"]
    assert table.row_count == len(outcomes)
    cells = [[str(cell) for cell in column._cells] for column in table.columns]
    diabetes = outcomes[0].report
    best = next(fv for fv in diabetes.verdict.families if fv.penalty == diabetes.verdict.best)
    assert [column[0] for column in cells] == [
        "diabetes", "regression\nRMSE", "442", "good_fit", f"L1 (lasso)\nα {best.alpha:.4g}",
        f"{best.validation_error:.4g} ± {best.validation_error_se:.4g}\nvs "
        f"{float(diabetes.baseline.validation_mean[0]):.4g}"]
    assert [column[2] for column in cells][:4] == ["no_signal", "binary\nlog loss", "600",
                                                   "underfitting"]
    assert [column[3] for column in cells] == [cells[0][3], "—", "—", "error", "—", "—"]


def test_verdicts_are_coloured_and_a_policy_failure_is_marked(outcomes):
    verdicts = _table(outcomes).columns[3]._cells
    assert [v.plain for v in verdicts] == ["good_fit", "overfitting ✗", "underfitting", "error"]
    assert [v.style for v in verdicts[:3]] == [VERDICT_STYLES["good_fit"],
                                               VERDICT_STYLES["overfitting"],
                                               VERDICT_STYLES["underfitting"]]
    assert verdicts[1].spans[-1].style == "bold red"  # the ✗ of the --fail-on policy
    assert verdicts[3].style == "bold red"


def test_hostile_names_are_escaped_and_capped(outcomes):
    text = render(outcomes, 200)
    assert "\x07" not in text and "\\x07" in text
    shown = HOSTILE.replace("\x07", "\\x07")
    assert shown[: MAX_SUMMARY_NAME - 1] + "…" in text
    long = Outcome("x" * 500, "x.csv", None, None, "bad. Fix: good", ExitCode.BAD_DATA)
    assert max(len(line) for line in render([long], 100).splitlines()) <= 100


def test_failed_datasets_are_listed_with_their_error(outcomes):
    text = render(outcomes, 100)
    assert text.splitlines()[0] == ("Summary: 4 datasets, 1 failed the --fail-on policy (✗), "
                                    "1 could not be diagnosed")
    tail = " ".join(text.split("Could not be diagnosed:")[1].split())
    assert tail == ("• hitters sales\\x07 | 2024 `q1` <b>bold</…: target column 'salary_k' not "
                    "found; close names: 'Salary'. Fix: pass --target with one of the file's "
                    "columns")


def test_an_error_without_a_message_shows_its_exit_code():
    crashed = Outcome("crash", "c.csv", None, None, None, ExitCode.INTERNAL)
    text = render([crashed], 100)
    assert "• crash: exit 4 (internal)" in text
    assert "validation error:" not in text  # no report, no note about the numbers
