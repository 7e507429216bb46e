"""One dataset's result in a run of several: its report, or the one-line error that stopped it.

The batch runner (batch.py) makes these; the summary renderers (terminal table, Markdown, JUnit)
and the CLI's aggregate exit code read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ExitCode
from .report import Report


@dataclass(frozen=True)
class Outcome:
    """What happened to one dataset of a batch."""

    name: str  # unique, filesystem-safe: also the name of its subfolder of the output folder
    path: str  # the input path as the user (or the config file) gave it
    output_dir: Path | None  # where its report.json and PNGs went; None when it failed
    report: Report | None  # None when it could not be diagnosed
    error: str | None  # the one-line error (what is wrong. Fix: ...) when report is None
    exit_code: ExitCode  # OK, POLICY_FAILED (verdict matched --fail-on), BAD_DATA, ...
    traceback: str | None = None  # the error's traceback, for --debug

    @property
    def failed_policy(self) -> bool:
        return self.exit_code == ExitCode.POLICY_FAILED


def most_severe(codes: list[ExitCode]) -> ExitCode:
    """The batch's exit code: internal error > bad data > usage > policy failed > ok.

    An interrupted run (130) outranks everything.
    """
    order = [ExitCode.OK, ExitCode.POLICY_FAILED, ExitCode.USAGE, ExitCode.BAD_DATA,
             ExitCode.INTERNAL, ExitCode.INTERRUPTED]
    return max(codes, key=order.index, default=ExitCode.OK)
