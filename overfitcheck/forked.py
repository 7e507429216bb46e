"""Work done in forked copies of this process (Linux): fit_paths' folds, and the pipes and fork
that the PNG renderer's drawing copy uses too.

A copy forked once the rows are read has every module imported so far and every row: nothing is
started or sent, where joblib's worker processes each import numpy, scipy and scikit-learn
(1.4-1.9 s of CPU each, measured) and receive the rows through a file in /dev/shm. Each copy
takes calls by index over a pipe, runs them and answers with the pickled result (or the
exception, with its traceback) and the warnings the call raised, which are raised again here;
it ignores Ctrl-C (this process kills it), dies with this process, and leaves with os._exit,
never returning into this process's code.

Fork only where no other thread is importing a module the calls import (its lock would stay
held in the copy; the caller imports what they need first) and the calls need nothing but
computation: a copy must not print (its streams go nowhere: a thread here may have held their
locks at the fork) or start threads of its own beyond BLAS's.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import pickle
import select
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import interrupts
from .errors import TooLarge
from .memory import release_free_heap

# A message's length, ahead of it on the pipe.
HEADER_BYTES = 8
STOP = (1 << 32) - 1  # the task index that tells a copy to leave
PR_SET_PDEATHSIG = 1  # prctl's option (linux/prctl.h): a signal for when the parent dies


def usable() -> bool:
    """Do fits run in forked copies here? Linux only: macOS's system libraries (Accelerate,
    Objective-C) are not safe to use after a fork, and Windows has none."""
    return sys.platform == "linux"


def processes(jobs: int) -> int:
    """How many processes `jobs` asks for, read as joblib reads n_jobs (-1: every core this
    process may use, after CPU affinity, a container's CPU quota and LOKY_MAX_CPU_COUNT)."""
    from joblib import effective_n_jobs  # scikit-learn's, imported by the fits anyway

    return effective_n_jobs(jobs)


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a forked copy (its __cause__ here, as
    concurrent.futures shows a worker's)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def run(calls: Sequence[Callable[[], Any]], copies: int) -> Iterator[tuple[int, Any]]:
    """(index, result) of every call, as they finish, from up to `copies` forked copies of this
    process, each taking the next call when it is done with one. An exception raised by a call
    is raised here, the warnings it raised are warned again here; a copy that dies (killed:
    out of memory, most likely) raises TooLarge. Once the calls are done, or the generator is
    closed (close it when stopping early: `contextlib.closing`), or an error or Ctrl-C ends it,
    every copy has been killed and reaped."""
    live: set[int] = set()  # copies not yet reaped
    by_answer: dict[int, int] = {}  # answer fd -> its copy's pid, while it has calls to do
    requests: dict[int, int] = {}  # answer fd -> request fd
    ours: list[int] = []  # this process's pipe ends, none of which a copy may keep
    parent = os.getpid()
    release_free_heap()  # freed memory: not pages for the copies to share, then copy on write
    try:
        for _ in range(min(copies, len(calls))):
            with interrupts.deferred():  # no copy forked and not yet known to the finally below
                request_read, request_write = os.pipe()
                ours.append(request_write)
                answer_read, answer_write = os.pipe()
                ours.append(answer_read)
                pid = fork()
                if pid == 0:
                    _serve(calls, request_read, answer_write, ours, parent)  # never returns
                live.add(pid)
                by_answer[answer_read] = pid
                requests[answer_read] = request_write
                os.close(request_read)
                os.close(answer_write)
        following = iter(range(len(calls)))
        poller = select.poll()
        for answer, pid in by_answer.items():
            poller.register(answer, select.POLLIN)
            _send(requests[answer], next(following), pid, live)
        while by_answer:
            for fd, _ in poller.poll():
                pid = by_answer[fd]
                message = _read_message(fd)
                if message is None:
                    raise _lost(pid, live)
                index, ok, value, remote, raised = pickle.loads(message)
                for warning in raised:
                    warnings.warn_explicit(*warning)
                if not ok:
                    value.__cause__ = RemoteTraceback(remote)
                    raise value
                task = next(following, STOP)
                _send(requests[fd], task, pid, live)
                if task == STOP:  # the copy leaves
                    poller.unregister(fd)
                    del by_answer[fd]
                    with interrupts.deferred():
                        _reap(pid)
                        live.discard(pid)
                yield index, value
    finally:
        for pid in live:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
        for fd in ours:
            with contextlib.suppress(OSError):
                os.close(fd)


def _serve(calls: Sequence[Callable[[], Any]], request: int, answer: int,
           inherited: list[int], parent: int) -> None:
    """In a copy: run the calls asked for until told to stop, then leave."""
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it
        with contextlib.suppress(OSError, AttributeError):  # a killed parent kills it
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # died before that
            return
        output_to_nowhere()
        for fd in inherited:  # the other copies' pipes: each must see its own end close
            with contextlib.suppress(OSError):
                os.close(fd)
        while True:
            head = _read_exact(request, 4)
            index = int.from_bytes(head, "little") if len(head) == 4 else STOP
            if index == STOP:
                break
            data = _answer(index, calls[index])
            write_all(answer, len(data).to_bytes(HEADER_BYTES, "little"))
            write_all(answer, data)
        status = 0
    finally:
        os._exit(status)


def _answer(index: int, call: Callable[[], Any]) -> bytes:
    """The pickled (index, ok, result or exception, traceback, warnings) of a call."""
    with warnings.catch_warnings(record=True) as raised:  # the filters still apply
        try:
            ok, value, remote = True, call(), ""
        except BaseException as problem:  # noqa: BLE001 - raised by the parent instead
            ok, value, remote = False, problem, traceback.format_exc()
    shown = [(w.message, w.category, w.filename, w.lineno) for w in raised]
    try:
        data = pickle.dumps((index, ok, value, remote, shown), protocol=pickle.HIGHEST_PROTOCOL)
        if not ok:
            pickle.loads(data)  # an exception that pickles may still not rebuild
        return data
    except Exception as failed:  # noqa: BLE001 - said in words instead
        if ok:
            problem = MemoryError() if isinstance(failed, MemoryError) else RuntimeError(
                f"the result of a fit could not be sent back: {type(failed).__name__}: {failed}")
            remote = traceback.format_exc()
        else:
            problem = RuntimeError(f"{type(value).__name__}: {value}")
        shown = [(str(m), UserWarning, f, n) for m, _, f, n in shown]
        return pickle.dumps((index, False, problem, remote, shown),
                            protocol=pickle.HIGHEST_PROTOCOL)


def _send(request: int, index: int, pid: int, live: set[int]) -> None:
    """Ask a copy for a call (or to stop); a copy already dead is reported as one."""
    try:
        write_all(request, index.to_bytes(4, "little"))
    except OSError:
        if index != STOP:
            raise _lost(pid, live) from None


def _read_message(fd: int) -> bytes | None:
    """One length-prefixed message; None if the writer closed its end first."""
    head = _read_exact(fd, HEADER_BYTES)
    if len(head) < HEADER_BYTES:
        return None
    size = int.from_bytes(head, "little")
    body = _read_exact(fd, size)
    return body if len(body) == size else None


def _read_exact(fd: int, size: int) -> bytearray:
    """`size` bytes, or fewer if the writer closes its end first."""
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if not n:
            break
        got += n
    del view
    del buffer[got:]
    return buffer


def _lost(pid: int, live: set[int]) -> Exception:
    """The error for a copy that died without answering (reaped here)."""
    with interrupts.deferred():
        _, status = _reap(pid)
        live.discard(pid)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return TooLarge("a fitting process was killed (SIGKILL), most likely for lack of memory",
                        "run with --jobs 1 (one process), or give the machine more memory")
    how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else \
        f"exit status {os.WEXITSTATUS(status)}"
    return RuntimeError(f"a fitting process ended without its result ({how})")


def _reap(pid: int) -> tuple[int, int]:
    with contextlib.suppress(ChildProcessError):
        return os.waitpid(pid, 0)
    return pid, 0


# -- pipes and fork, shared with the PNG renderer's drawing copy ------------------------------

def output_to_nowhere() -> None:
    """In a forked copy: sys.stdout and sys.stderr become fresh streams to /dev/null (a thread
    here may have held the inherited ones' locks at the fork), and descriptors 1 and 2 point
    there too, so a pipe reading this process's output (a CI log) ends when the process that
    owns it does, not when a copy is done."""
    sys.stdout = sys.stderr = nowhere = open(os.devnull, "w")  # noqa: SIM115
    os.dup2(nowhere.fileno(), 1)
    os.dup2(nowhere.fileno(), 2)


def fork() -> int:
    """os.fork(), without the DeprecationWarning Python 3.12+ gives beside other threads (raised
    as an error under -W error, it would leave the child running untracked), and with Ctrl-C
    held back until it returns: raised inside the handlers modules register to run after a
    fork (logging's releases its lock), KeyboardInterrupt is printed as "Exception ignored"
    and lost, and the run went on to exit 0. The copy drops a Ctrl-C noted meanwhile."""
    with warnings.catch_warnings(), interrupts.deferred() as noted:
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
        if pid == 0:
            noted.clear()
        return pid


def ready(fd: int, event: int, deadline: float = math.inf) -> bool:
    """Is the pipe `fd` ready for `event` (select.POLLIN or POLLOUT) by the time.monotonic()
    `deadline`? (poll, not select: select fails on descriptors above 1023.)"""
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    poller = select.poll()
    poller.register(fd, event)
    return bool(poller.poll(None if math.isinf(left) else left * 1000))


def write_all(fd: int, data: bytes, deadline: float = math.inf) -> bool:
    """Write all of `data` to the pipe `fd` by the time.monotonic() `deadline`."""
    view = memoryview(data)
    while view:
        if not ready(fd, select.POLLOUT, deadline):
            return False
        view = view[os.write(fd, view[:select.PIPE_BUF]):]
    return True


def read_all(fd: int, deadline: float = math.inf) -> bytes | None:
    """Everything until the writer closes `fd`; None at the time.monotonic() `deadline`."""
    parts = []
    while True:
        if not ready(fd, select.POLLIN, deadline):
            return None
        part = os.read(fd, 1 << 20)
        if not part:
            return b"".join(parts)
        parts.append(part)
