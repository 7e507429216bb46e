"""overfitcheck: does a linear model overfit this table? Library entry point: `diagnose`."""

from .config import Config
from .diagnose import diagnose
from .errors import ExitCode, OverfitcheckError
from .report import Report

__all__ = ["Config", "ExitCode", "OverfitcheckError", "Report", "diagnose"]
__version__ = "0.1.0"
