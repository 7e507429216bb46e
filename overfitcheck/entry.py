"""The console script: runs the command line, and turns a Ctrl-C that lands while the heavy
modules are still importing into the same one line and exit code 130 as one during a run
(noted while they import, raised once they are in: interrupts.deferred).

It also saves time at both ends: the input file starts hashing before the heavy modules
import (digest.py), and the process leaves without tearing those modules down (_leave)."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

INTERRUPTED = 130  # errors.ExitCode.INTERRUPTED, not imported: errors may be mid-import
# What cli._fail prints for a Ctrl-C during the command; the console script's own cases match.
INTERRUPTED_LINE = "overfitcheck: error: interrupted\n"


# File names `diagnose` reads as CSV input (batch.CSV_SUFFIXES, plus other compressions).
_INPUT_SUFFIXES = (".csv", ".tsv", ".gz", ".bz2", ".xz", ".zip")


def main() -> None:
    from . import interrupts  # the standard library only
    from .memory import heap_only  # the standard library and errors.py only

    heap_only()
    try:
        # A Ctrl-C while the heavy modules import is noted, then raised once they are in.
        # Raised in the middle of a third-party module's import, KeyboardInterrupt can land
        # inside a bare `except:` there and vanish. Once in CI a run signalled at 0.3 s went on
        # to exit 0; this is the likely cause, not a proven one.
        with interrupts.deferred():
            try:
                _hash_early(sys.argv)
            except Exception:  # noqa: BLE001, S110 - only a head start: read.py hashes anyway
                pass
            from .cli import main as run

        run()
        code = 0
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED_LINE)
        code = INTERRUPTED
    except SystemExit as done:
        code = done.code
        if _interrupted_silently(done):
            sys.stderr.write(INTERRUPTED_LINE)
    _leave(code)


def _interrupted_silently(done: SystemExit) -> bool:
    """Did typer turn a Ctrl-C into exit code 130 without a word? It does so for one that
    lands while it parses the command line (importing pydantic then took 0.09-0.13 s here),
    outside the command's own error handling, which prints the one line itself. typer raises
    Exit(130) from the KeyboardInterrupt, then exits with its code; the command's own
    Exit(130) is raised while handling one, not from it."""
    raised = done.__context__
    return done.code == INTERRUPTED and raised is not None and \
        isinstance(raised.__cause__, KeyboardInterrupt)


def _leave(code) -> NoReturn:
    """Exit with `code` without the interpreter's teardown of every module a diagnosis imported
    (pandas, scikit-learn, matplotlib: measured 0.4 s after the 200,000-row benchmark file).
    joblib's workers are stopped, output is flushed and the exit handlers run first, as on a
    normal exit. The exit is the normal one instead when the code is not a number, a worker or
    thread is still running, the flush fails (a closed pipe), or a profiler, tracer or
    `python -i` wants the process after main() returns."""
    try:
        code = 0 if code is None else code
        if not isinstance(code, int) or sys.gettrace() is not None or \
                sys.getprofile() is not None or sys.flags.inspect:
            sys.exit(code)
        try:
            _stop_workers()
        except Exception:  # noqa: BLE001 - the normal exit stops them
            sys.exit(code)
        if any(thread.is_alive() and not thread.daemon and thread is not threading.main_thread()
               for thread in threading.enumerate()):
            sys.exit(code)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - the normal exit reports it as it always has
            sys.exit(code)
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED_LINE)
        sys.stderr.flush()
        os._exit(INTERRUPTED)
    os._exit(code)


def _hash_early(argv: list[str]) -> None:
    """The CSV file `diagnose` is given starts hashing now, on the other core, while the rest
    imports (digest.py). Only when one is named: several go to a batch run, whose datasets may
    be diagnosed in worker processes that hash their own. A name that turns out not to be the
    input costs a hash only."""
    if len(argv) < 3 or argv[1] != "diagnose":
        return
    named = [arg for arg in argv[2:] if arg.lower().endswith(_INPUT_SUFFIXES)]
    if len(named) == 1:
        from . import digest

        digest.start(named[0])


def _stop_workers() -> None:
    """Stop joblib's reusable worker processes (where class targets fit their folds there, off
    Linux) now, as the normal exit would: then no thread is left running and _leave can exit
    at once."""
    executor = getattr(sys.modules.get("joblib.externals.loky.reusable_executor"),
                       "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)
