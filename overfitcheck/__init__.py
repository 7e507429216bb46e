"""overfitcheck: does a linear model overfit this table? Library entry point: `diagnose`.

The names below load on first use (PEP 562), so the command line can catch Ctrl-C while
scikit-learn and pandas are still importing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Config", "ExitCode", "OverfitcheckError", "Report", "diagnose"]
__version__ = "0.1.0"

_HOMES = {"Config": ".config", "ExitCode": ".errors", "OverfitcheckError": ".errors",
          "Report": ".report", "diagnose": ".diagnose"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
