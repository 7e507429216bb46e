"""A helper process for the streamed regression's lasso: scikit-learn imported while the file is
read, coordinate descent on the Grams served over a pipe.

A streamed regression needs scikit-learn for one thing only, the lasso's coordinate descent on
each fold's Gram (paths_gram._lasso_gram). Importing it takes about a second of Python that
holds the GIL; on a thread beside the read it stalls the parsing threads, whose Python holds it
too (200,000 x 100 CSV: 2.4 s to read without the import, 3.9 s with it on a thread). Here a
second interpreter imports it on the other core, while this one reads the file, and then runs
scikit-learn's own `enet_path` on the Grams it is sent: the same function on the same inputs,
so the same coefficients to the bit. End to end on that file, 3 runs each in alternation:
6.5-7.2 s against 7.0-7.8 s with the thread (the machine slow that hour; the runs against
also lacked f9f2c6e's two fewer passes over each chunk, whose own effect was within noise).

The console script starts the helper while its own modules import (start_early), as soon as
the command line names one CSV file; diagnose() takes it (take) or stops it (discard) once it
knows whether the file streams as a regression, and keeps it for the next diagnosis
(give_back). The helper runs at the normal priority: at nice 10 in this session (so that the
kernel's autogroup scheduling applied the nice against this process's threads), it got its
import done only after the read, and the fits waited for it (200k file, 5 runs each in
alternation: 5.9-7.3 s, median 6.7, against 5.4-6.9 s, median 5.9, in its own session).

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

# A helper no diagnosis is using: started early (start_early) or kept after one (give_back),
# for the next take(); stopped at exit.
_spare: LassoProcess | None = None
_stop_at_exit = threading.Lock()  # held once the atexit stop is registered


def _forget() -> None:
    """In a forked copy of this process: the spare's pipes are its parent's; never use them
    (two processes on one pipe would mix their requests), and never stop the parent's helper."""
    global _spare
    _spare = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)


def usable() -> bool:
    """Can a helper run here? A POSIX system with a second core, and a Python interpreter to
    start (not an embedded or frozen program)."""
    return os.name == "posix" and (os.cpu_count() or 1) > 1 and bool(sys.executable) \
        and not getattr(sys, "frozen", False)


def start_early() -> None:
    """Start a helper now, for the diagnosis about to run (the console script calls this while
    the heavy modules import, when the command line names one CSV file): its import then
    overlaps the rest of the start-up as well as the read."""
    global _spare
    if _spare is None and usable():
        _keep(LassoProcess.start())


def take() -> LassoProcess | None:
    """The spare helper, else a new one (None if none can start)."""
    global _spare
    helper, _spare = _spare, None
    return helper if helper is not None else LassoProcess.start() if usable() else None


def give_back(helper: LassoProcess) -> None:
    """A diagnosis is done with `helper`: kept for the next one (a batch of files diagnosed one
    after another, or a loop calling diagnose(), imports scikit-learn once), else stopped."""
    if _spare is None and helper.alive:
        _keep(helper)
    else:
        helper.close()


def _keep(helper: LassoProcess | None) -> None:
    global _spare
    _spare = helper
    if helper is not None and _stop_at_exit.acquire(blocking=False):
        # A command that ends without using it (a usage error, a class target, a bad file)
        # stops it on the way out, rather than leaving it to finish its import.
        atexit.register(discard)


def discard() -> None:
    """Stop the spare helper, if any."""
    global _spare
    helper, _spare = _spare, None
    if helper is not None:
        helper.close()


class HelperGone(Exception):
    """The helper process could not start, stopped answering, or was stopped."""


class LassoProcess:
    """A running helper: called with enet_path's keyword arguments, it is a paths_gram.Lasso."""

    def __init__(self, process: subprocess.Popen):
        self._process = process
        self._lock = threading.Lock()  # one request at a time on the pipe
        self._died = False  # it stopped answering: fit here from now on
        self._closed = False  # close() stopped it: the diagnosis is over
        self._here = threading.Lock()  # fits here after the helper died, one at a time

    @property
    def alive(self) -> bool:
        return not (self._died or self._closed) and self._process.poll() is None

    @classmethod
    def start(cls) -> LassoProcess | None:
        """Start the helper (it begins importing scikit-learn at once); None if it cannot. It
        imports overfitcheck from where this process did, never from the current folder
        (`python -c` would put that first on its path)."""
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = (f"import sys; sys.path[0] = {package!r}; "
                "from overfitcheck.lasso_process import serve; serve()")
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env={**os.environ, **_ONE_THREAD},
                start_new_session=True)
        except Exception:  # noqa: BLE001 - no helper: the caller fits here
            return None
        return cls(process)

    def __call__(self, **request) -> tuple:
        """enet_path(np.zeros((1, p)), **request, return_n_iter=True): (alphas, coefs, gaps,
        n_iter), in the helper, or here if the helper died. HelperGone once close() stopped it
        (the diagnosis failed or was interrupted: no fit is wanted any more)."""
        if self._closed:
            raise HelperGone("stopped")
        if not self._died:
            try:
                return self.path(**request)
            except HelperGone:
                if self._closed:
                    raise
        import warnings

        from .paths import load_solvers
        from .paths_gram import lasso_here

        load_solvers()
        from sklearn.exceptions import ConvergenceWarning

        # One fit at a time: catch_warnings is not thread-safe, and the fits' caps are counted
        # from n_iter (as the helper ignores its warnings).
        with self._here, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return lasso_here(**request)

    def path(self, **request) -> tuple:
        """enet_path(np.zeros((1, p)), **request, return_n_iter=True) in the helper: its
        (alphas, coefs, gaps, n_iter). Raises HelperGone if the helper is not there, and what
        enet_path raised there."""
        with self._lock:
            if self._closed or self._died:
                raise HelperGone("stopped" if self._closed else "died")
            try:
                pickle.dump(request, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self._process.stdin.flush()
                answer = pickle.load(self._process.stdout)
            except Exception as err:  # noqa: BLE001 - any broken exchange ends the helper
                self._died = True
                self._kill()
                raise HelperGone(str(err)) from err
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def close(self) -> None:
        """Stop the helper (idempotent); calls still waiting then raise HelperGone."""
        self._closed = True
        try:
            self._process.stdin.close()
        except OSError:
            pass
        self._kill()
        self._process.stdout.close()

    def _kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()


def serve() -> None:
    """The helper's loop: import the solver, then answer each request until stdin closes."""
    import signal
    import warnings

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # its parent decides when it stops
    # The protocol keeps file descriptor 1 to itself: anything printed from now on (a
    # library's notice while it imports) goes where stderr goes, nowhere. (Something printed
    # at start-up, by a sitecustomize, breaks the first answer: the caller then fits itself.)
    sink = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import enet_path

    warnings.simplefilter("ignore", ConvergenceWarning)  # the caller counts caps from n_iter
    source = sys.stdin.buffer
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
