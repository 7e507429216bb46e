"""forked.run: calls answered by forked copies of this process, and never a copy left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from functools import partial
from pathlib import Path

import pytest

from overfitcheck import forked
from overfitcheck.errors import TooLarge

pytestmark = pytest.mark.skipif(not forked.usable(), reason="fits fork only on Linux")


def _square(i: int) -> tuple[int, int]:
    return i * i, os.getpid()


def _fail(message: str) -> None:
    raise ValueError(message)


def _unpicklable() -> None:
    problem = ValueError("holds a lambda")
    problem.callback = lambda: None
    raise problem


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _stop_listening() -> int:
    """Close every pipe this copy reads, its request pipe among them, then answer: the copy is
    gone by the time it is sent its next call (it fails reading the request)."""
    for fd in map(int, os.listdir("/proc/self/fd")):
        with contextlib.suppress(OSError):
            flags = Path(f"/proc/self/fdinfo/{fd}").read_text().split("flags:")[1].split()[0]
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:") and \
                    int(flags, 8) & os.O_ACCMODE == os.O_RDONLY:
                os.close(fd)
    return 1


def _note_pid_and_sleep(folder: Path) -> None:
    (folder / str(os.getpid())).touch()
    time.sleep(60)


def _alive(pid: int) -> bool:
    """Running, not merely a zombie nobody reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_gone(pids, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_every_call_is_answered_once_by_the_copies():
    answers = dict(forked.run([partial(_square, i) for i in range(9)], 2))
    assert {i: square for i, (square, _) in answers.items()} == {i: i * i for i in range(9)}
    pids = {pid for _, pid in answers.values()}
    assert len(pids) == 2 and os.getpid() not in pids  # two copies took turns
    assert not any(_alive(pid) for pid in pids)  # reaped once done


def test_no_more_copies_than_calls():
    answers = dict(forked.run([partial(_square, 3)], 4))
    assert answers[0][0] == 9


def test_an_exception_in_a_call_is_raised_here_with_the_copys_traceback():
    calls = [partial(_square, 1), partial(_fail, "fold 2 broke"), partial(_square, 3)]
    with pytest.raises(ValueError, match="fold 2 broke") as raised:
        list(forked.run(calls, 2))
    assert isinstance(raised.value.__cause__, forked.RemoteTraceback)
    assert "_fail" in str(raised.value.__cause__)  # where it was raised, in the copy


def test_an_exception_that_cannot_be_pickled_arrives_as_its_type_and_message():
    with pytest.raises(RuntimeError, match="ValueError: holds a lambda"):
        list(forked.run([_unpicklable, partial(_square, 2)], 2))


def test_a_copy_killed_mid_call_is_a_one_line_error():
    with pytest.raises(TooLarge) as raised:
        list(forked.run([partial(_square, 1), _kill_self], 2))
    assert raised.value.one_line() == (
        "a fitting process was killed (SIGKILL), most likely for lack of memory. Fix: run "
        "with --jobs 1 (one process), or give the machine more memory")


def test_a_copy_gone_before_its_next_call_is_reported_as_lost():
    # Sending it the call fails (no reader): that is the copy lost, not a BrokenPipeError.
    with pytest.raises(RuntimeError, match=r"ended without its result \(exit status 1\)"):
        list(forked.run([_stop_listening, partial(_square, 2)], 1))


def test_stopping_early_kills_the_copies_still_working(tmp_path):
    calls = [partial(_square, 0)] + [partial(_note_pid_and_sleep, tmp_path)] * 3
    started = time.monotonic()
    answers = forked.run(calls, 2)
    assert next(answers)[0] == 0
    while len(os.listdir(tmp_path)) < 2:  # both copies asleep in a call
        time.sleep(0.05)
    answers.close()  # as an exception in the caller's loop does
    assert time.monotonic() - started < 30
    assert _wait_gone([int(name) for name in os.listdir(tmp_path)])


def test_ctrl_c_while_waiting_kills_the_copies(tmp_path):
    """SIGINT as a terminal sends it, to the whole process group: the copies ignore it and the
    waiting process, interrupted, kills them."""
    script = textwrap.dedent(f"""
        import sys
        from functools import partial
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_forked import _note_pid_and_sleep
        from overfitcheck import forked
        try:
            list(forked.run([partial(_note_pid_and_sleep, Path({str(tmp_path)!r}))] * 4, 2))
        except KeyboardInterrupt:
            sys.exit(130)
    """)
    # Its own process group, SIGINT at its default (a suite run as a background job ignores it).
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 30
        while len(os.listdir(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(os.listdir(tmp_path)) == 2
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=10) == 130
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert _wait_gone([int(name) for name in os.listdir(tmp_path)])


def test_processes_reads_n_jobs_as_joblib_does():
    """-1 is every core joblib would use: CPU affinity, a container's quota, LOKY_MAX_CPU_COUNT."""
    from joblib import cpu_count

    assert forked.processes(3) == 3
    assert forked.processes(-1) == cpu_count()
    assert forked.processes(-2) == max(1, cpu_count() - 1)
    assert forked.processes(-1000) == 1


def _warn(message: str) -> int:
    warnings.warn(message, RuntimeWarning, stacklevel=1)
    return 1


def _unsendable():
    return lambda: None


class _Rebuilt(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")  # pickles, but cannot be rebuilt from its args


def _raise_unrebuildable() -> None:
    raise _Rebuilt("this", "that")


def test_the_warnings_a_call_raises_are_raised_here():
    with pytest.warns(RuntimeWarning, match="careful in the copy"):
        answers = dict(forked.run([partial(_warn, "careful in the copy"),
                                   partial(_square, 2)], 2))
    assert answers[0] == 1


def test_a_result_that_cannot_be_sent_is_an_error_saying_so():
    with pytest.raises(RuntimeError, match="the result of a fit could not be sent back"):
        list(forked.run([_unsendable, partial(_square, 2)], 2))


def test_an_exception_that_cannot_be_rebuilt_arrives_as_its_type_and_message():
    with pytest.raises(RuntimeError, match="_Rebuilt: this and that"):
        list(forked.run([_raise_unrebuildable], 1))


def test_a_ctrl_c_as_a_copy_is_forked_leaves_no_copy_and_no_descriptor(monkeypatch):
    """Ctrl-C right after fork() returns, before the copy is on the books, is held back until
    it is: the copies are killed and reaped, their pipes closed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    forked_pids = []
    fork = forked.fork

    def fork_then_ctrl_c():
        pid = fork()
        if pid:
            forked_pids.append(pid)
            os.kill(os.getpid(), signal.SIGINT)
        return pid

    monkeypatch.setattr(forked, "fork", fork_then_ctrl_c)
    descriptors = len(os.listdir("/proc/self/fd"))
    try:
        with pytest.raises(KeyboardInterrupt):
            list(forked.run([partial(_square, i) for i in range(4)], 2))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert forked_pids and not any(Path(f"/proc/{pid}").exists() for pid in forked_pids)
    assert len(os.listdir("/proc/self/fd")) == descriptors


def test_a_copy_does_not_hold_the_output_pipe_of_a_killed_parent(tmp_path):
    """A CI job reading the command's output sees it end when the command dies, not when a
    copy finishes the call it was in."""
    script = textwrap.dedent(f"""
        import sys
        from functools import partial
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_forked import _note_pid_and_sleep
        from overfitcheck import forked
        list(forked.run([partial(_note_pid_and_sleep, Path({str(tmp_path)!r}))] * 2, 2))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while len(os.listdir(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(os.listdir(tmp_path)) == 2
        process.kill()
        process.communicate(timeout=5)  # both pipes end with the parent
        assert _wait_gone([int(name) for name in os.listdir(tmp_path)])  # the copies with it
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for name in os.listdir(tmp_path):  # orphaned in their call: not the test's to leave
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(name), signal.SIGKILL)


_CTRL_C_AFTER_FORK: list[bool] = []
# Registered once for the test process (hooks cannot be removed); it acts only when asked to.
os.register_at_fork(after_in_parent=lambda: _CTRL_C_AFTER_FORK and
                    os.kill(os.getpid(), signal.SIGINT))


def test_a_ctrl_c_in_an_after_fork_handler_is_raised_once_fork_returns():
    """Raised inside a handler run after a fork (logging registers one), KeyboardInterrupt is
    printed as "Exception ignored" and lost: a Ctrl-C CI sent at 1.5 s let the run exit 0. It
    is held back and raised once fork() has returned, in this process only."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    read_end, write_end = os.pipe()
    _CTRL_C_AFTER_FORK.append(True)
    try:
        with pytest.raises(KeyboardInterrupt):
            if forked.fork() == 0:  # the copy: says who it is, and goes
                os.write(write_end, str(os.getpid()).encode())
                os._exit(0)
    finally:
        _CTRL_C_AFTER_FORK.clear()
        signal.signal(signal.SIGINT, previous)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            copy = int(pipe.read())
        os.waitpid(copy, 0)
