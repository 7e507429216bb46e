"""Ctrl-C held back while a step must not be cut in half: the console script's heavy imports
(entry.py) and a fork with its bookkeeping (forked.py). Standard library only: entry.py uses it
before anything heavy is imported."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def deferred() -> Iterator[list[int]]:
    """A Ctrl-C (SIGINT) inside the block is noted, then raised as KeyboardInterrupt once the
    block is done. Only where Python's own handler would raise it: in the main thread (the
    only one signal handlers run in, and can be set from) with the default handler installed;
    elsewhere (Ctrl-C ignored by a background job, handled by an embedding program, or already
    deferred by an enclosing block, which raises it) the block runs as it is. The block gets
    the list of signals noted: a forked copy clears it, its Ctrl-C being its parent's."""
    interrupted: list[int] = []
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield interrupted
        return
    previous = signal.signal(signal.SIGINT, lambda number, frame: interrupted.append(number))
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt
