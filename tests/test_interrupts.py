"""interrupts.deferred: a Ctrl-C noted inside the block, raised once it is done."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from overfitcheck import interrupts


@pytest.fixture
def python_handler():
    """Ctrl-C as an interactive run has it: under a shell's background job (`cmd &`) Python
    starts with SIGINT ignored, and the block then leaves it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_inside_the_block_is_raised_once_it_is_done(python_handler):
    """Raised inside a third-party import, KeyboardInterrupt can meet a bare `except:` and
    vanish; the console script's imports (entry.py) and a fork's bookkeeping (forked.py) only
    take note of it until they are done."""
    reached = False
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs meanwhile: it only takes note
            reached = True
    assert reached and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_a_ctrl_c_nothing_is_raised(python_handler):
    with interrupts.deferred():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_outside_the_main_thread_the_block_runs_as_it_is(python_handler):
    """Signal handlers can only be set from the main thread: another thread's block leaves the
    handler alone instead of failing."""
    seen = []

    def block():
        with interrupts.deferred():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=block)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]
