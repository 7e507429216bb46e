"""A batch's outcomes made from real diagnoses, for the summary renderers' tests.

OK, POLICY_FAILED (the verdict matched --fail-on overfitting) and could-not-be-diagnosed
datasets, one of them under a hostile name (a pipe, a backtick, HTML, a control character).
"""

from __future__ import annotations

from pathlib import Path

from helpers import DATA, ROOT

from overfitcheck import diagnose
from overfitcheck.errors import ExitCode, OverfitcheckError
from overfitcheck.outcome import Outcome
from overfitcheck.output import write_outputs
from overfitcheck.render_png import FILE_NAMES, summary_figure

HOSTILE = "sales\x07 | 2024 `q1` <b>bold</b> & *x*"
# Folder names as a batch runner might make them: spaces and parentheses to URL-escape.
FOLDERS = {"diabetes": "diabetes", "overfit": "over fit (v2)", "no_signal": "no_signal"}


def make_outcomes(folder: Path, plots: bool = False) -> list[Outcome]:
    """Four outcomes, their report.json written under `folder`, and with `plots` the summary
    PNG the Markdown links to (only that one: drawing all five would triple the time)."""
    runs = [
        ("diabetes", DATA / "diabetes.csv", "target", ExitCode.OK),
        (HOSTILE, ROOT / "sample_data" / "overfit.csv", "y", ExitCode.POLICY_FAILED),
        ("no_signal", ROOT / "sample_data" / "no_signal.csv", "clicked", ExitCode.OK),
    ]
    outcomes = []
    for (name, path, target, code), sub in zip(runs, FOLDERS.values(), strict=True):
        report = diagnose(path, target=target, n_alphas=8, jobs=1)
        write_outputs(report, folder / sub, plots=False)
        if plots:
            summary_figure(report).savefig(folder / sub / FILE_NAMES["summary"])
        outcomes.append(Outcome(name, str(path), folder / sub, report, None, code))
    missing = DATA / "hitters.csv"
    try:
        diagnose(missing, target="salary_k", n_alphas=8, jobs=1)
    except OverfitcheckError as err:
        outcomes.append(Outcome(f"hitters {HOSTILE}", str(missing), None, None, err.one_line(),
                                err.exit_code))
    return outcomes
