"""overfitcheck: does a linear model overfit this table? Library entry point: `diagnose`.

The names below load on first use, so the command line (entry.py) can catch a Ctrl-C while
scikit-learn and pandas are still importing.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["Config", "ExitCode", "OverfitcheckError", "Report", "diagnose"]
__version__ = "0.1.0"

_HOMES = {"Config": ".config", "ExitCode": ".errors", "OverfitcheckError": ".errors",
          "Report": ".report"}


class _Package(types.ModuleType):
    """The package module. `diagnose` is a data descriptor because the function shares its name
    with the submodule overfitcheck.diagnose: importing that submodule sets the package's
    attribute to the module, and the setter below keeps the name meaning the function."""

    @property
    def diagnose(self):
        return importlib.import_module(".diagnose", __name__).diagnose

    @diagnose.setter
    def diagnose(self, value: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name in _HOMES:
            return getattr(importlib.import_module(_HOMES[name], __name__), name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted([*super().__dir__(), *__all__])


sys.modules[__name__].__class__ = _Package
