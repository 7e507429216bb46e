"""Work done in forked copies of this process (Linux): fit_paths' folds, and the pipes and fork
that the PNG renderer's drawing copy uses too.

A copy forked once the rows are read has every module and every row already: nothing is
started, imported or sent, where joblib's worker processes each import numpy, scipy and
scikit-learn (1.4-1.9 s of CPU each, measured) and receive the rows through a file in
/dev/shm. Each copy takes calls by index over a pipe, runs them and answers with the pickled
result (or the exception, with its traceback); it ignores Ctrl-C (this process kills it) and
leaves with os._exit, never returning into this process's code.

Fork only where no other thread is importing a module (its lock would stay held in the copy)
and the calls need nothing but computation: a copy must not print (its streams go nowhere: a
thread here may have held their locks at the fork) or start threads of its own beyond BLAS's.
"""

from __future__ import annotations

import contextlib
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

from .errors import TooLarge

# A message's length, ahead of it on the pipe.
HEADER_BYTES = 8
STOP = (1 << 32) - 1  # the task index that tells a copy to leave


def usable() -> bool:
    """Do fits run in forked copies here? Linux only: macOS's system libraries (Accelerate,
    Objective-C) are not safe to use after a fork, and Windows has none."""
    return sys.platform == "linux"


def processes(jobs: int) -> int:
    """joblib's reading of n_jobs: N, or -1 for every usable core, -2 all but one, ..."""
    if jobs > 0:
        return jobs
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    return max(1, cores + 1 + jobs)


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a forked copy (its __cause__ here, as
    concurrent.futures shows a worker's)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def run(calls: Sequence[Callable[[], Any]], copies: int) -> Iterator[tuple[int, Any]]:
    """(index, result) of every call, as they finish, from up to `copies` forked copies of this
    process, each taking the next call when it is done with one. An exception raised by a call
    is raised here; a copy that dies (killed: out of memory, most likely) raises TooLarge.
    However this ends (done, an error, Ctrl-C, the caller stopping early), every copy is killed
    and reaped before it returns."""
    children: dict[int, tuple[int, int]] = {}  # answer fd -> (pid, request fd)
    ours: list[int] = []  # this process's pipe ends, none of which a copy may keep
    try:
        for _ in range(min(copies, len(calls))):
            request_read, request_write = os.pipe()
            answer_read, answer_write = os.pipe()
            ours += [request_write, answer_read]
            pid = fork()
            if pid == 0:
                _serve(calls, request_read, answer_write, ours)  # never returns
            os.close(request_read)
            os.close(answer_write)
            children[answer_read] = (pid, request_write)
        following = iter(range(len(calls)))
        for _, request in list(children.values()):
            _send(request, next(following))
        poller = select.poll()
        for fd in children:
            poller.register(fd, select.POLLIN)
        while children:
            for fd, _ in poller.poll():
                pid, request = children[fd]
                answer = _read_message(fd)
                if answer is None:
                    del children[fd]  # reaped by _lost: its pid may be reused
                    raise _lost(pid)
                index, ok, value, remote = pickle.loads(answer)
                if not ok:
                    value.__cause__ = RemoteTraceback(remote)
                    raise value
                task = next(following, STOP)
                _send(request, task)
                if task == STOP:
                    poller.unregister(fd)
                    _reap(pid)
                    del children[fd]
                yield index, value
    finally:
        for pid, _ in children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
        for fd in ours:
            with contextlib.suppress(OSError):
                os.close(fd)


def _serve(calls: Sequence[Callable[[], Any]], request: int, answer: int,
           inherited: list[int]) -> None:
    """In a copy: run the calls asked for until told to stop, then leave."""
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # this process's parent stops it
        # Fresh streams that go nowhere (a thread may have held the inherited ones' locks),
        # and the descriptors under them too: a pipe this process's output goes to (a CI
        # log) ends when this process does, not when a copy finishes its call.
        sys.stdout = sys.stderr = nowhere = open(os.devnull, "w")  # noqa: SIM115
        os.dup2(nowhere.fileno(), 1)
        os.dup2(nowhere.fileno(), 2)
        for fd in inherited:  # the other copies' pipes: each must see its own end close
            with contextlib.suppress(OSError):
                os.close(fd)
        while True:
            head = _read_exact(request, 4)
            index = int.from_bytes(head, "little") if head else STOP
            if index == STOP:
                break
            try:
                message = (index, True, calls[index](), "")
            except BaseException as problem:  # noqa: BLE001 - raised by the parent instead
                message = (index, False, problem, traceback.format_exc())
            try:
                data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # noqa: BLE001 - an exception that cannot be pickled
                problem = RuntimeError(f"{type(message[2]).__name__}: {message[2]}")
                data = pickle.dumps((index, False, problem, message[3]),
                                    protocol=pickle.HIGHEST_PROTOCOL)
            write_all(answer, len(data).to_bytes(HEADER_BYTES, "little") + data)
        status = 0
    finally:
        os._exit(status)


def _send(request: int, index: int) -> None:
    write_all(request, index.to_bytes(4, "little"))


def _read_message(fd: int) -> bytes | None:
    """One length-prefixed message; None if the writer closed its end first."""
    head = _read_exact(fd, HEADER_BYTES)
    if len(head) < HEADER_BYTES:
        return None
    size = int.from_bytes(head, "little")
    body = _read_exact(fd, size)
    return body if len(body) == size else None


def _read_exact(fd: int, size: int) -> bytes:
    """`size` bytes, or fewer if the writer closes its end first."""
    parts, left = [], size
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _lost(pid: int) -> Exception:
    """The error for a copy that died without answering."""
    _, status = _reap(pid)
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

def fork() -> int:
    """os.fork(), without the DeprecationWarning Python 3.12+ gives beside other threads (raised
    as an error under -W error, it would leave the child running untracked)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


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
