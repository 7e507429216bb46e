"""Exit codes and the exceptions that carry a one-line message and a hint for the fix."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes; never renumbered (CI scripts depend on them)."""

    OK = 0
    POLICY_FAILED = 1  # the verdict matched --fail-on: the CI signal
    USAGE = 2  # bad options or arguments
    BAD_DATA = 3  # the input cannot be diagnosed as given
    INTERNAL = 4  # the tool broke: a bug to report
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class OverfitcheckError(Exception):
    """A problem the user can fix: a message saying what is wrong and a hint saying how."""

    exit_code = ExitCode.BAD_DATA

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message}. Fix: {self.hint}"
        return " ".join(text.split())


class UsageProblem(OverfitcheckError):
    """An option or argument that cannot work (exit 2)."""

    exit_code = ExitCode.USAGE


class InputNotFound(OverfitcheckError):
    """The input path does not exist or is not a readable file."""


class NotACsv(OverfitcheckError):
    """The file cannot be parsed as delimited text."""


class EmptyFile(OverfitcheckError):
    """The file has no header or no data rows."""


class TargetNotFound(OverfitcheckError):
    """The target column is not in the file."""


class BadTarget(OverfitcheckError):
    """The target column cannot be modelled (constant, all missing, one class)."""


class TooFewRows(OverfitcheckError):
    """Not enough rows left to cross-validate."""


class MetricUndefined(OverfitcheckError):
    """The chosen metric has no value on these folds."""


class NoFeatures(OverfitcheckError):
    """Every feature column was dropped."""


class OutputProblem(OverfitcheckError):
    """The output folder cannot be written: a bad --output-dir is a usage error (exit 2)."""

    exit_code = ExitCode.USAGE


class TooLarge(OverfitcheckError):
    """The file or its design would not fit in the memory this run has."""


class BadReport(OverfitcheckError):
    """A saved report that cannot be read back: missing, not JSON, not overfitcheck's."""


class ReportsNotComparable(OverfitcheckError):
    """Two reports of different targets, tasks or metrics: a usage error (exit 2)."""

    exit_code = ExitCode.USAGE


class ConfigProblem(OverfitcheckError):
    """The config file (overfitcheck.toml or [tool.overfitcheck]) cannot be used (exit 2)."""

    exit_code = ExitCode.USAGE
