"""The input file's SHA-256 (the report's input_sha256), which the command line starts hashing
as soon as it sees the file's name, before the heavy modules import.

Importing pandas, numpy and the rest takes 0.6-0.7 s on one core; hashing reads the file and
hashes it with the GIL released, so it runs on the second core meanwhile (the hash alone:
0.19 s of CPU for 193 MB, 0.93 s for 967 MB; BLOCK_BYTES says how much ends within the
imports). Only the standard library here: the console script imports this module before
anything else.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading

# Read and hashed at a time, into one reused buffer. Reading and hashing release the GIL, but
# the thread needs it back between blocks, and while the imports hold it, it waits up to the
# switch interval (5 ms) each time. Measured from the console script, with the imports ending
# at 0.65-0.83 s: the 193 MB file was hashed by 0.72-0.83 s with blocks of 1 MiB, by 0.30-0.31 s
# with 32 MiB; the 967 MB file by 1.8-2.1 s with 1 MiB, by 1.3-1.4 s with 32 MiB. During the
# imports the machine's two cores were 1.2-1.4 busy with 1 MiB blocks, 1.5-2.0 with 32 MiB.
BLOCK_BYTES = 1 << 25

# (device, inode, size, mtime, ctime) of an opened file -> the thread hashing it
_started: dict[tuple, _Hashing] = {}
_lock = threading.Lock()


class _Hashing(threading.Thread):
    def __init__(self, handle) -> None:
        super().__init__(name="hash input", daemon=True)
        self.handle = handle
        self.digest: str | None = None

    def run(self) -> None:
        try:
            with self.handle:
                self.digest = _hash(self.handle)
        except BaseException:  # noqa: BLE001, S110 - sha256() then hashes the file itself
            pass


def start(path: str | os.PathLike[str]) -> None:
    """Begin hashing `path` on a daemon thread; sha256(path) takes the result if the path
    still names the very file that was opened here (device, inode, size, modification and
    change times). Nothing happens if it is not a regular file or cannot be opened."""
    try:
        if not os.path.isfile(path):  # a FIFO would block the open below
            return
        handle = open(path, "rb")  # noqa: SIM115 - the thread closes it
    except OSError:
        return
    try:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            handle.close()
            return
        key = _identity(status)
        with _lock:
            if key in _started:
                handle.close()
                return
            _started[key] = thread = _Hashing(handle)
        thread.start()
    except BaseException:
        handle.close()
        raise


def sha256(path: str | os.PathLike[str]) -> str:
    """The file's SHA-256, from the hash start() began if there is one for this very file."""
    with open(path, "rb") as handle:
        key = _identity(os.fstat(handle.fileno()))
        with _lock:
            early = _started.pop(key, None)
        if early is not None:
            early.join()
            if early.digest is not None and _identity(os.fstat(handle.fileno())) == key:
                return early.digest
        return _hash(handle)


def _identity(status: os.stat_result) -> tuple:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns,
            status.st_ctime_ns)


def _hash(handle) -> str:
    digest = hashlib.sha256()
    # No larger than a regular file (bytearray fills its buffer, and most inputs are small); a
    # pipe's size says nothing of what it holds.
    status = os.fstat(handle.fileno())
    size = status.st_size + 1 if stat.S_ISREG(status.st_mode) else BLOCK_BYTES
    buffer = bytearray(min(BLOCK_BYTES, size))
    view = memoryview(buffer)
    while filled := handle.readinto(buffer):
        digest.update(view[:filled])
    return digest.hexdigest()
