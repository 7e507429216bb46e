"""Memory checks: a design or a read that would not fit fails early with the estimate and the
options that help, instead of the process being killed."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from overfitcheck.errors import TooLarge
from overfitcheck.memory import available_bytes, check_design, check_read

CAP = 3 * 2**30  # ulimit -v of the capped subprocess


def test_available_memory_is_known_on_linux():
    assert available_bytes() is not None and available_bytes() > 0


def test_a_read_larger_than_memory_names_the_options():
    with pytest.raises(TooLarge) as caught:
        check_read(10**15, "huge.csv")
    line = caught.value.one_line()
    assert line.startswith("reading huge.csv whole needs about 2000000.0 GB of memory "
                           "(1000000.0 GB file) but this run can use about ")
    assert " GB (80% of the " in line
    assert line.endswith("Fix: --max-rows N diagnoses a seeded random sample of N rows, read in "
                         "chunks; a regression target is streamed whatever the size (do not set "
                         "--chunk-rows 0)")


def test_a_wide_one_hot_design_names_the_column_and_a_sample_size():
    with pytest.raises(TooLarge) as caught:
        check_design(10**9, [("x", 1), ("city", 5000)])
    line = caught.value.one_line()
    assert "(1,000,000,000 rows x 5,001 columns after one-hot encoding" in line
    assert "Fix: --max-rows " in line
    assert line.endswith("or a lower --max-levels groups the rarer levels of 'city' (now 5,000 "
                         "columns)")
    check_design(1000, [("x", 1), ("city", 5000)])  # 120 MB: fits


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


def test_the_cli_fails_early_under_a_memory_cap(tmp_path):
    """50,000 rows x a 3,000-level column: a 3.6 GB design under a 3 GB ulimit. Without the
    check numpy's allocation would fail mid-run; with it: exit 3, one line, nothing written."""
    rng = np.random.default_rng(0)
    n = 50_000
    path = tmp_path / "levels.csv"
    pd.DataFrame({"city": [f"c{i}" for i in rng.integers(0, 3000, n)],
                  "x": rng.normal(size=n), "y": rng.integers(0, 2, n)}).to_csv(path, index=False)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "overfitcheck", "diagnose", str(path), "-t", "y",
         "--max-levels", "3000", "-o", str(out), "--no-plots"],
        capture_output=True, text=True, env=env, preexec_fn=_capped, timeout=120)
    assert completed.returncode == 3, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in completed.stderr
    assert lines[0].startswith("overfitcheck: error: the design needs about 3.6 GB of memory "
                               "(50,000 rows x 3,001 columns after one-hot encoding")
    assert "Fix: --max-rows " in lines[0]
    assert "a lower --max-levels groups the rarer levels of 'city' (now 3,000 columns)" in lines[0]
    assert not out.exists()


_STEPS = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from overfitcheck.memory import keep_freed_heap
    keep_freed_heap()
    keep_freed_heap()  # once is enough: a second call changes nothing
n = 160_000
eta = np.random.default_rng(0).normal(size=n)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):  # Newton steps' n-row temporaries, and a fold's copy of its rows
    a = np.exp(eta); b = a + 1.0; c = np.log1p(b); del a, b, c
    rows = np.empty((n, 132)); rows[:] = 1.0; del rows
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_freed_memory_is_kept_for_the_next_step():
    """keep_freed_heap: memory a logistic fit frees is reused, not handed back to the kernel
    and faulted in again as fresh zeroed pages (minor page faults of the same work)."""
    def faults(mode: str) -> int:
        run = subprocess.run([sys.executable, "-c", _STEPS, mode], capture_output=True,
                             text=True, check=True)
        return int(run.stdout)

    plain, kept = faults("plain"), faults("keep")
    assert kept * 5 < plain, (kept, plain)


_HEAP_PROBE = """
import ctypes
from overfitcheck.memory import heap_only

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def mapped_by(size):  # bytes malloc maps outside its heap for one block of `size`
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(size)
    grown = libc.mallinfo2().hblkhd - before
    libc.free(block)
    return grown

def in_heap_from_a_thread():  # a new thread's block: from the shared heap, not its own arena
    import threading
    found = []
    thread = threading.Thread(target=lambda: found.append(libc.malloc(1 << 20)))
    thread.start()
    thread.join()
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            low, high = (int(x, 16) for x in line.split()[0].split("-"))
            return low <= found[0] < high
    return False

print(mapped_by(64 << 20) >= 64 << 20)
heap_only()
print(mapped_by(64 << 20) == 0, in_heap_from_a_thread())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_command_lines_heap_keeps_large_blocks_for_every_thread():
    """A chunk's large blocks come from malloc's heap, reused chunk after chunk, not from a
    fresh mapping each (paged in and zeroed anew), and every thread shares that heap
    (memory.heap_only)."""
    import ctypes

    if not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("no glibc 2.33+ mallinfo2 to ask")
    done = subprocess.run([sys.executable, "-c", _HEAP_PROBE], capture_output=True, text=True,
                          check=True)
    # mapped before; after, kept in the heap, which a new thread's blocks come from too
    assert done.stdout.split() == ["True", "True", "True"]


def _vm_flags(address: int) -> set[str]:
    """The kernel's VmFlags of the mapping holding `address` (/proc/self/smaps)."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                low, high = (int(x, 16) for x in head.split("-"))
                inside = low <= address < high
            elif inside and head == "VmFlags:":
                return set(line.split()[1:])
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="Linux's /proc")
def test_a_design_written_once_is_kept_off_huge_pages():
    """small_pages marks a fresh array's memory 'no huge pages' (nh), where numpy asked for
    them (hg)."""
    from overfitcheck.memory import small_pages

    big = np.empty((1_000_000, 4), order="F")
    middle = big.__array_interface__["data"][0] + big.nbytes // 2
    small_pages(big)
    assert "nh" in _vm_flags(middle) and "hg" not in _vm_flags(middle)
    big[:] = 1.0  # still an ordinary array
    assert big.sum() == 4_000_000


def test_load_dataset_gives_the_design_small_pages(monkeypatch):
    from pathlib import Path

    import overfitcheck.dataset as dataset_module
    from overfitcheck.config import Config

    seen = []
    monkeypatch.setattr(dataset_module, "small_pages", lambda a: seen.append(a.shape))
    data = dataset_module.load_dataset(Path(__file__).parent / "data" / "penguins.csv",
                                       Config(target="species"))
    assert seen == [data.X.shape]
