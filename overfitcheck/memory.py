"""Memory: how much a run may still use, and whether reading a file or building a design fits.

A process that runs out of memory is killed without a word; these checks fail early instead,
with the estimate and the options that make the run fit.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no ulimit
    resource = None

from .errors import TooLarge

# Peak bytes of the float64 design during the fits, in copies of it: the design itself, a
# standardized training copy in each of two fold workers, and the solvers' work arrays. Measured
# on a binary 200,000 x 104 design (166 MB): 2.16 GB peak RSS including ~0.35 GB of imports.
DESIGN_COPIES = 3
# pandas' whole-file read peaks at about 1.7x the CSV's size (measured: 16.7 GB for a 9.67 GB
# numeric CSV); 2x leaves room for text columns.
READ_FACTOR = 2.0
# Leave this fraction of what is available to everything else (the frame, plots, the OS).
HEADROOM = 0.8
# glibc's malloc gives a freed block above its mmap threshold back to the kernel at once, and
# trims the heap's free top beyond its trim threshold, so the next block of that size comes as
# fresh pages the kernel zeroes on first touch. Logistic fits free and take again, at every
# Newton step, vectors of n rows and, per fold, copies of its rows. With these thresholds the
# freed memory is kept for the next block: on the 200,000 x 132 binary benchmark file, 3 runs
# each in alternation, 3.3-3.7 s of kernel time against 6.5-8.2 s, the same peak RSS (1.07 GB
# in the largest process); the wall times (38.4-41.7 s against 38.6-44.0 s) were within the
# noise.
HEAP_MMAP_THRESHOLD = 256 << 20
HEAP_TRIM_THRESHOLD = 1 << 30
# mallopt's parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -3, -4, -8
_heap_kept = False


def keep_freed_heap() -> None:
    """Have glibc's malloc keep freed memory for reuse (see HEAP_MMAP_THRESHOLD), once per
    process: called where logistic fits run (paths._fit_run, in each worker process). Elsewhere
    than glibc (musl, macOS, Windows) nothing changes."""
    global _heap_kept
    mallopt = None if _heap_kept else _mallopt()
    if mallopt is None:
        return
    mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD)
    _heap_kept = True


def heap_only() -> None:
    """glibc only, for the command line's process: allocate every block from one heap, shared
    by all threads, and keep freed memory there for the next block, instead of mapping each
    block of 32 MB or more afresh and unmapping it when freed (keep_freed_heap, which only
    raises that size, is then left with nothing to do).

    A streamed file allocates blocks of that size for every chunk (the bytes of a range, its
    parsed columns, their numbers in rows): each fresh mapping is paged in, a page fault per
    2 MB or 4 kB, and zeroed by the kernel first (12% of all CPU samples of the 1,000,000-row
    benchmark file went to zeroing pages). Measured there with these settings given as
    GLIBC_TUNABLES, 5 pairs in alternation: 7.2-8.9 s against 7.9-9.2 s, system CPU 1.6-2.3 s
    against 2.3-3.7 s, 0.22-0.33 million page faults against 0.44-0.46. No gain on the
    200,000-row file, none lost on the binary one.
    One arena: with one per thread (glibc's default), each parsing thread kept its own freed
    blocks, apart from the others': peak RSS 1.40-1.46 GiB against 1.22-1.29 GiB with one (3
    pairs on the 1M file, the same times), and on 10,000,000 rows under a 4 GiB address-space
    limit 1.15 GiB against 0.78 GiB (93 s; 0.77 GiB in the benchmark run at 16077b4, before
    any of this); on the binary file, 2 pairs at 5f8372f against a1a90b3 (no arena
    setting): 29.6-29.9 s against 30.7-31.2 s. The memory a run keeps is what it once used
    at its peak, which the chunk size bounds, not the file. A library caller's allocator is
    left alone."""
    global _heap_kept
    mallopt = _mallopt()
    if mallopt is None:
        return
    mallopt(_M_MMAP_MAX, 0)
    mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    mallopt(_M_ARENA_MAX, 1)
    _heap_kept = True


def release_free_heap() -> None:
    """glibc only: hand the free memory malloc keeps (heap_only) back to the kernel, before a
    fork: a copy forked with it would share its pages, and keep them once this process writes
    its next blocks there. The process tree's peak PSS, sampled every 0.2 s, against the same
    code without this call before the drawing copy's fork (two pairs each): 1M regression
    1.20-1.21 GiB against 1.42, 200k binary 2.01-2.02 GiB against 2.35-2.43; 10M regression
    under a 4 GiB cap 0.88 GiB (1.46 GiB in the benchmark run without it). malloc_trim walks
    the free blocks: milliseconds."""
    if _glibc():
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)


def small_pages(array) -> None:
    """Linux only: back a fresh array's memory with 4 kB pages, not the transparent huge pages
    numpy asks for (MADV_HUGEPAGE on every block of 4 MB or more). Call it before the first
    write. For an array written once and read a few times, as the design a class target's
    file is encoded into. On these machines, huge pages fresh to a process were slow to fault
    in: filling a new 211 MB array took 0.42-0.48 s on them the first time, 0.04-0.08 s on huge
    pages the process had just freed and 0.10 s on small pages. The 200k binary benchmark file
    from the command line, from the design's size check to the dataset built (encoding every
    column into it), 4 pairs in alternation: 0.23-0.31 s against 0.35-0.52 s with huge pages.
    Arrays the solvers read hundreds of times keep numpy's advice: a Newton pass over
    160,000 x 132 float32 rows took 10-15% longer on small pages."""
    advice = getattr(mmap, "MADV_NOHUGEPAGE", None)
    if advice is None or array.nbytes < 1 << 22:  # numpy advises huge pages from 4 MB
        return
    start = array.__array_interface__["data"][0]
    low = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    high = (start + array.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
    with contextlib.suppress(OSError, AttributeError):
        madvise = ctypes.CDLL(None, use_errno=True).madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise(low, high - low, advice)  # a refusal (another kernel) changes nothing


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (AttributeError, ValueError, OSError):  # no confstr, or no such name here
        return False


def _mallopt():
    """glibc's mallopt(param, value), or None where the C library is another."""
    if not _glibc():
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return mallopt


def available_bytes() -> int | None:
    """Bytes this process can still allocate: the least of the free memory the kernel reports,
    the cgroup's limit (containers, CI runners) and `ulimit -v`; None when none is known."""
    limits = [_meminfo_available(), _cgroup_room(), _address_space_room()]
    known = [b for b in limits if b is not None]
    return min(known) if known else None


def check_read(size_bytes: int, path: str) -> None:
    """Fail before pandas reads a `size_bytes` file whole into more memory than there is."""
    available = available_bytes()
    need = size_bytes * READ_FACTOR
    if available is None or need <= available * HEADROOM:
        return
    raise TooLarge(
        f"reading {path} whole needs about {_gb(need)} of memory ({_gb(size_bytes)} file) but "
        f"{_usable(available)}",
        "--max-rows N diagnoses a seeded random sample of N rows, read in chunks; a regression "
        "target is streamed whatever the size (do not set --chunk-rows 0)")


def check_design(n_rows: int, widths: list[tuple[str, int]]) -> None:
    """Fail before allocating an n_rows x sum(widths) float64 design that would not fit.

    `widths` pairs each feature column with the number of design columns it expands to, so the
    message can name the widest one-hot column and suggest a lower --max-levels.
    """
    available = available_bytes()
    width = sum(w for _, w in widths)
    need = n_rows * width * 8 * DESIGN_COPIES
    if available is None or need <= available * HEADROOM:
        return
    fitting_rows = int(available * HEADROOM / max(width * 8 * DESIGN_COPIES, 1))
    hints = []
    if fitting_rows >= 2:
        hints.append(f"--max-rows {_round_down(fitting_rows)} diagnoses a seeded random sample "
                     "that fits")
    widest, widest_width = max(widths, key=lambda item: item[1])
    if widest_width > 1 and widest_width * 4 > width:
        hints.append(f"a lower --max-levels groups the rarer levels of {widest!r} (now "
                     f"{widest_width:,} columns)")
    raise TooLarge(
        f"the design needs about {_gb(need)} of memory ({n_rows:,} rows x {width:,} columns "
        f"after one-hot encoding, float64, {DESIGN_COPIES} copies while fitting) but "
        f"{_usable(available)}",
        "; or ".join(hints) or "use a machine with more memory")


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    """The cgroup's limit minus its usage (v2, else v1); None when unlimited or absent."""
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory/memory.limit_in_bytes",
                                    "memory/memory.usage_in_bytes")):
        root = Path("/sys/fs/cgroup")
        try:
            limit = (root / limit_file).read_text().strip()
            usage = int((root / usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 2**60:
            return None
        return max(int(limit) - usage, 0)
    return None


def _address_space_room() -> int | None:
    """`ulimit -v` (RLIMIT_AS) minus the address space already mapped."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(soft - int(line.split()[1]) * 1024, 0)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _usable(available: int) -> str:
    return (f"this run can use about {_gb(available * HEADROOM)} ({HEADROOM:.0%} of the "
            f"{_gb(available)} available)")


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.0f} MB"


def _round_down(n: int) -> int:
    """Two significant digits, rounded down: a sample size a user would type."""
    digits = max(len(str(n)) - 2, 0)
    return n // 10**digits * 10**digits
