"""A helper process for the streamed regression's lasso: scikit-learn imported while the file is
read, coordinate descent on the Grams served over a pipe.

A streamed regression needs scikit-learn for one thing only, the lasso's coordinate descent on
each fold's Gram (paths_gram._lasso_gram). Importing it takes about a second of Python that
holds the GIL; on a thread beside the read it stalls the parsing threads, whose Python holds it
too (200,000 x 100 CSV: 2.4 s to read without the import, 3.9 s with it on a thread). Here a
second interpreter imports it on the other core, while this one reads the file, and then runs
scikit-learn's own `enet_path` on the Grams it is sent: the same function on the same inputs,
so the same coefficients to the bit. End to end on that file, 3 runs each in alternation:
6.5-7.2 s against 7.0-7.8 s with the thread (the machine slow that hour).

The console script starts the helper while its own modules import (start_early), as soon as
the command line names one CSV file; diagnose() takes it (take) or stops it (discard) once it
knows whether the file streams as a regression. The helper runs at a lower priority (nice 10):
its import gets the CPU the start-up and the read leave, and a class target's helper, stopped
after the read's first chunk, took little from it.

The helper is a plain child process (`python -c`), in its own session so that a Ctrl-C at the
terminal reaches only this process, which stops it. Its requests and answers are pickles on its
stdin and stdout; it exits when its stdin closes (this process ended, however it ended) and
prints nothing (its stderr goes nowhere). Should it fail to start or die, calling it fits here
instead (`LassoProcess.__call__`).
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading

# The helper's BLAS: one thread, as the fits here (paths._fit_fold).
_ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                      "MKL_NUM_THREADS", "BLIS_NUM_THREADS")}


# A helper started before it was known to be needed (start_early), for the next take().
_spare: LassoProcess | None = None


def start_early() -> None:
    """Start a helper now, for the diagnosis about to run (the console script calls this while
    the heavy modules import, when the command line names one CSV file): its import then
    overlaps the rest of the start-up as well as the read."""
    global _spare
    if _spare is None:
        _spare = LassoProcess.start()
        # A command that ends before its diagnosis takes the helper (a usage error, a bad
        # file) stops it on the way out, rather than leaving it to finish its import.
        atexit.register(discard)


def take() -> LassoProcess | None:
    """The helper start_early started, else a new one."""
    global _spare
    helper, _spare = _spare, None
    return helper if helper is not None else LassoProcess.start()


def discard() -> None:
    """Stop a helper that start_early started and no diagnosis took."""
    global _spare
    helper, _spare = _spare, None
    if helper is not None:
        helper.close()


class HelperGone(Exception):
    """The helper process could not start, or stopped answering."""


class LassoProcess:
    """A running helper: `path(...)` is scikit-learn's enet_path on a Gram, run there."""

    def __init__(self, process: subprocess.Popen):
        self._process = process
        self._lock = threading.Lock()  # one request at a time on the pipe
        self._gone = False
        self._here = threading.Lock()  # fits here after the helper is gone, one at a time

    def __call__(self, **request) -> tuple:
        """A paths_gram.Lasso: the fit in the helper, or here if the helper is gone."""
        if not self._gone:
            try:
                return self.path(**request)
            except HelperGone:
                self._gone = True
        import warnings

        import numpy as np

        from .paths import enet_path, load_solvers

        load_solvers()
        from sklearn.exceptions import ConvergenceWarning

        # One fit at a time: catch_warnings is not thread-safe, and the fits' caps are counted
        # from n_iter (as the helper ignores its warnings).
        with self._here, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return enet_path(np.zeros((1, request["Xy"].size)), **request, return_n_iter=True)

    @classmethod
    def start(cls) -> LassoProcess | None:
        """Start the helper (it begins importing scikit-learn at once); None if it cannot."""
        code = "from overfitcheck.lasso_process import serve; serve()"
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env={**os.environ, **_ONE_THREAD},
                start_new_session=True)
        except OSError:
            return None
        return cls(process)

    def path(self, **request) -> tuple:
        """enet_path(np.zeros((1, p)), **request, return_n_iter=True) in the helper: its
        (alphas, coefs, gaps, n_iter). Raises HelperGone if the helper is not there."""
        with self._lock:
            try:
                pickle.dump(request, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self._process.stdin.flush()
                answer = pickle.load(self._process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError, ValueError) as err:
                raise HelperGone(str(err)) from err
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def close(self) -> None:
        """Stop the helper (idempotent)."""
        try:
            self._process.stdin.close()
        except OSError:
            pass
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._process.stdout.close()


def serve() -> None:
    """The helper's loop: import the solver, then answer each request until stdin closes."""
    import signal
    import warnings

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # its parent decides when it stops
    # The import runs beside the parent's start-up and read: it takes the CPU they leave,
    # and should the parent not need it after all (a class target), it cost little.
    os.nice(10)
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import enet_path

    warnings.simplefilter("ignore", ConvergenceWarning)  # the caller counts caps from n_iter
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            request = pickle.load(source)
        except EOFError:
            return
        try:
            p = request["Xy"].size
            answer = enet_path(np.zeros((1, p)), **request, return_n_iter=True)
        except Exception as err:  # noqa: BLE001 - raised again in the caller
            answer = err
        pickle.dump(answer, sink, protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()
