"""The console script: runs the command line, and turns a Ctrl-C that lands while the heavy
modules are still importing into the same one line and exit code 130 as one during a run."""

from __future__ import annotations

import sys

INTERRUPTED = 130  # errors.ExitCode.INTERRUPTED, not imported: errors may be mid-import


def main() -> None:
    try:
        from .cli import main as run

        run()
    except KeyboardInterrupt:
        sys.stderr.write("overfitcheck: error: interrupted\n")
        sys.exit(INTERRUPTED)
