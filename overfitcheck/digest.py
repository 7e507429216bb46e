"""The input file's SHA-256 (the report's input_sha256), which the command line starts hashing
as soon as it sees the file's name, before the heavy modules import.

Importing pandas, numpy and the rest takes 0.6-0.7 s on one core; hashing reads the file and
hashes it with the GIL released, so it runs on the second core meanwhile (the hash alone:
0.19 s of CPU for 193 MB, 0.93 s for 967 MB; how much of it ends within the imports was not
measured). Only the standard library here: the console script imports this module before
anything else.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading

BLOCK_BYTES = 1 << 20

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
    for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
        digest.update(block)
    return digest.hexdigest()
