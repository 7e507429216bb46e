"""The benchmark: overfitcheck diagnose against pandas' read and the plain scikit-learn script.

Per data size it times both, checks the project's speed and memory targets (PASS/FAIL), prints
one table per size and a Markdown summary, and writes every number to JSON.

    python bench/run.py                                   # the three default sizes
    python bench/run.py --sizes tiny-regression --repeat 1 --out /tmp/tiny.json   # smoke test

Every measurement is a fresh child process: wall time is time.perf_counter around it, peak RSS
is the kernel's ru_maxrss from os.wait4, and the peak memory of overfitcheck's whole process tree
(fold workers and drawing copies included) is the sum of the processes' PSS, sampled every 0.2 s
in one more run of its own, not in the timed ones (the sampling takes CPU the timed run would
use). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import make_data
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PLAIN_SCRIPT = HERE / "plain_sklearn.py"
SAMPLE_SECONDS = 0.2  # PSS sampling period: smaps_rollup walks page tables, so not much faster
# The plain script is run in full when a quick probe estimates it under this; otherwise a
# subset chosen to take about --sklearn-budget seconds is run and extrapolated.
FULL_LIMIT_SECONDS = 600.0
SUBSET_BUDGET_SECONDS = 90.0
PROBE = (2, 1)  # alphas, folds: both ends of each grid, one fold
N_ALPHAS, N_FOLDS = 30, 5
# pandas and the plain script run under RLIMIT_AS at this share of physical memory, so that a
# read too big for the machine fails with MemoryError instead of waking the OOM killer.
SAFETY_SHARE = 0.85
# A run is flagged as disturbed when processes outside its tree used more than this share of
# the machine's CPU time during it (/proc/stat's busy time minus the run's own rusage).
BUSY_SHARE = 0.25
GB = 1e9  # sizes are shown in decimal units (MB, GB), as file sizes are

# Piped or redirected output (a log) is laid out 120 wide unless COLUMNS says otherwise.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120
out = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)


# ---------------------------------------------------------------------------------------------
# Formatting

def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.3g} s" if seconds < 100 else f"{seconds:.0f} s"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.2f}×" if x < 10 else f"{x:.1f}×" if x < 100 else f"{x:.0f}×"



# ---------------------------------------------------------------------------------------------
# Sizes and their targets

@dataclass(frozen=True)
class Target:
    """One target of a size: `check(result)` returns (passed or None if unknown, the numbers)."""

    label: str
    check: Callable[[dict], tuple[bool | None, str]]


def _ours_over_pandas(limit: float) -> Target:
    def check(r: dict) -> tuple[bool | None, str]:
        ratio = r["ratios"].get("ours_over_pandas_subprocess")
        if ratio is None:
            return None, "not measured"
        return ratio <= limit, f"{ratio:.2f}× the pandas read (subprocess)"
    return Target(f"ours ≤ {limit:g}× the pandas read of the file", check)


def _speedup(minimum: float) -> Target:
    def check(r: dict) -> tuple[bool | None, str]:
        ratio = r["ratios"].get("sklearn_over_ours")
        if ratio is None:
            return None, "plain script not measured"
        how = "extrapolated" if r["sklearn"].get("mode") == "extrapolated" else "full"
        return ratio >= minimum, f"{ratio:.0f}× faster than the plain script ({how})"
    return Target(f"≥ {minimum:g}× faster than the plain scikit-learn script", check)


def _seconds(limit: float) -> Target:
    def check(r: dict) -> tuple[bool | None, str]:
        seconds = r["ours"].get("median_seconds")
        if seconds is None:
            return False, "no successful run"
        return seconds < limit, f"median {seconds:.1f} s"
    return Target(f"ours under {limit:g} s end to end", check)


def _memory(limit: float) -> Target:
    def check(r: dict) -> tuple[bool | None, str]:
        peak = r["ours"].get("peak_memory_bytes")
        if peak is None:
            return False, "no successful run"
        return peak < limit, f"peak {fmt_bytes(peak)} (largest of RSS and process-tree PSS)"
    return Target(f"ours' peak memory under {fmt_bytes(limit)}", check)


def _capped() -> Target:
    def check(r: dict) -> tuple[bool | None, str]:
        cap, ours = r.get("mem_cap_bytes"), r["ours"]
        if not ours.get("runs_ok"):
            return False, f"no run finished under the {fmt_bytes(cap)} cap"
        peak = ours["peak_memory_bytes"]
        ok = ours["runs_ok"] == len(ours["runs"]) and peak <= cap and cap < r["file_bytes"]
        return ok, (f"{ours['runs_ok']} of {len(ours['runs'])} runs finished under a "
                    f"{fmt_bytes(cap)} cap ({cap / r['file_bytes']:.0%} of the file); "
                    f"peak {fmt_bytes(peak)}")
    return Target("diagnosed under a memory cap well below the file size", check)


@dataclass(frozen=True)
class Size:
    name: str
    rows: int
    task: str
    about: str
    targets: tuple[Target, ...] = ()
    capped: bool = False  # ours runs under --mem-cap (RLIMIT_AS)
    sklearn: bool = True  # False: the plain script would not fit in memory; it is not run


SIZES = {size.name: size for size in (
    Size("tiny-regression", 20_000, "regression", "smoke test of the harness; no targets"),
    Size("tiny-binary", 20_000, "binary", "smoke test of the harness; no targets"),
    Size("200k-regression", 200_000, "regression",
         "200,000 rows × 100 numeric + 3 categorical columns (~190 MB)",
         (_ours_over_pandas(3.0), _speedup(300.0))),
    Size("1m-regression", 1_000_000, "regression", "1,000,000 rows (~970 MB)",
         (_seconds(10.0), _memory(2 * GB))),
    Size("200k-binary", 200_000, "binary", "200,000 rows, logistic (target churned: yes/no)",
         (_seconds(30.0), _speedup(80.0))),
    Size("10m-regression", 10_000_000, "regression",
         "10,000,000 rows (~9.7 GB) under a memory cap; opt-in", (_capped(),),
         capped=True, sklearn=False),
)}
DEFAULT_SIZES = ("200k-regression", "1m-regression", "200k-binary")
TARGET_COLUMN = {"regression": "y", "binary": "churned"}


# ---------------------------------------------------------------------------------------------
# Measuring a child process

class TreeSampler(threading.Thread):
    """Samples the summed PSS of a process and its descendants (fold workers) until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.most_processes = pid, 0, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_SECONDS):
            pids = descendants(self.pid)
            self.peak = max(self.peak, sum(pss_bytes(p) for p in pids))
            self.most_processes = max(self.most_processes, len(pids))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def pss_bytes(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) * 1024 if match else 0


def run_child(cmd: list[str], log: Path, cap: int | None = None, sample: bool = False) -> dict:
    """Run cmd; return its wall seconds, exit code, ru_maxrss and, with `sample`, its process
    tree's PSS sampled every SAMPLE_SECONDS (None without). Sampling is for memory runs only:
    each sample walks every page table of the tree (smaps_rollup), measured at 0.23-0.28 s of
    CPU per run on the 200k regression and 0.98-1.03 s on the 1M one, taken from the two cores
    the timed program uses."""
    log.parent.mkdir(parents=True, exist_ok=True)

    def limit() -> None:
        if cap is not None:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    load = os.getloadavg()[0]
    with open(log.with_suffix(".out"), "wb") as stdout, open(log.with_suffix(".err"), "wb") as e:
        busy_before = cpu_busy_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=e, preexec_fn=limit)
        sampler = TreeSampler(proc.pid) if sample else None
        if sampler is not None:
            sampler.start()
        _, wait_status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        busy = cpu_busy_seconds() - busy_before
        if sampler is not None:
            sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(wait_status)
    own = usage.ru_utime + usage.ru_stime
    others = max(busy - own, 0.0) / (seconds * (os.cpu_count() or 1))
    return {"seconds": seconds, "exit_code": proc.returncode, "cpu_seconds": own,
            "other_work_cpu_share": others,
            "peak_rss_bytes": usage.ru_maxrss * 1024,
            "peak_tree_pss_bytes": sampler.peak if sampler else None,
            "most_processes": sampler.most_processes if sampler else None,
            "load_average_before": load,
            "rlimit_as_bytes": cap, "log": str(log.with_suffix(".err"))}


def cpu_busy_seconds() -> float:
    """Non-idle CPU seconds of the whole machine since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def tail(path: str, lines: int = 3) -> str:
    try:
        return " | ".join(Path(path).read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def warm(path: Path) -> float | None:
    """Read the file once so it sits in the page cache; return the cached fraction (fincore)."""
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass
    if shutil.which("fincore") is None:
        return None
    res = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                         capture_output=True, text=True)
    try:
        return int(res.stdout.split()[0]) / max(path.stat().st_size, 1)
    except (IndexError, ValueError):
        return None


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------------------------
# The three measurements

def ours_command() -> list[str]:
    script = Path(sys.executable).parent / "overfitcheck"
    return [str(script)] if script.exists() else [sys.executable, "-m", "overfitcheck"]


def measure_ours(csv: Path, target: str, workdir: Path, repeat: int, cap: int | None) -> dict:
    """`repeat` timed runs, then one memory run whose process tree's PSS is sampled (its time
    is kept in the JSON, not in the median)."""
    runs = [ours_run(csv, target, workdir, f"ours-{i + 1}", cap, sample=False)
            for i in range(repeat)]
    memory = ours_run(csv, target, workdir, "ours-memory", cap, sample=True)
    good = [r for r in runs if r["ok"]]
    measured = good + ([memory] if memory["ok"] else [])  # every run that wrote its report
    return {
        "command": " ".join(ours_command() + ["diagnose", "FILE", "--target", target,
                                              "--output-dir", "DIR", "--quiet"]),
        "runs": runs, "runs_ok": len(good), "memory_run": memory,
        "median_seconds": median([r["seconds"] for r in good]),
        "peak_rss_bytes": max((r["peak_rss_bytes"] for r in measured), default=None),
        "peak_tree_pss_bytes": memory["peak_tree_pss_bytes"] if memory["ok"] else None,
        "peak_memory_bytes": max((max(r["peak_rss_bytes"], r["peak_tree_pss_bytes"] or 0)
                                  for r in measured), default=None),
        "verdicts": sorted({r["verdict"] for r in measured}),
    }


def ours_run(csv: Path, target: str, workdir: Path, name: str, cap: int | None,
             sample: bool) -> dict:
    output = workdir / name
    shutil.rmtree(output, ignore_errors=True)
    cached = warm(csv)
    cmd = ours_command() + ["diagnose", str(csv), "--target", target,
                            "--output-dir", str(output), "--quiet"]
    run = run_child(cmd, workdir / name, cap, sample=sample)
    report = output / "report.json"
    run["page_cache_fraction"] = cached
    run["report"] = str(report)
    run["report_written"] = report.exists()
    run["ok"] = run["exit_code"] == 0 and run["report_written"]
    run["verdict"] = json.loads(report.read_text())["verdict"] if run["ok"] else None
    if not run["ok"]:
        run["error"] = tail(run["log"])
    err.print(f"  ours {name} ({'memory, PSS sampled' if sample else 'timed'}): "
              f"{run['seconds']:.2f} s, exit {run['exit_code']}, "
              f"peak RSS {fmt_bytes(run['peak_rss_bytes'])}"
              + (f", tree PSS {fmt_bytes(run['peak_tree_pss_bytes'])}" if sample else "")
              + f", verdict {run['verdict']}")
    return run


PANDAS_TIMED = """\
import json, sys, time
import pandas as pd
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    frame = pd.read_csv(sys.argv[1])
    times.append(time.perf_counter() - start)
    del frame
print(json.dumps(times))
"""


def measure_pandas(csv: Path, workdir: Path, repeat: int, cap: int) -> dict:
    warm(csv)
    inner = run_child([sys.executable, "-c", PANDAS_TIMED, str(csv), str(repeat)],
                      workdir / "pandas-in-process", cap)
    times = []
    if inner["exit_code"] == 0:
        times = json.loads(Path(inner["log"]).with_suffix(".out").read_text())
    whole = []
    for i in range(repeat):
        warm(csv)
        whole.append(run_child([sys.executable, "-c",
                                f"import pandas as pd; pd.read_csv({str(csv)!r})"],
                               workdir / f"pandas-subprocess-{i + 1}", cap))
    good = [r["seconds"] for r in whole if r["exit_code"] == 0]
    result = {
        "in_process_seconds": times, "in_process_median": median(times),
        "subprocess_runs": whole, "subprocess_median": median(good),
        "peak_rss_bytes": max((r["peak_rss_bytes"] for r in whole), default=None),
        "command_subprocess": f"{sys.executable} -c \"import pandas as pd; pd.read_csv(FILE)\"",
    }
    if inner["exit_code"] != 0 or len(good) < len(whole):
        result["error"] = tail(inner["log"]) or tail(whole[-1]["log"])
    err.print(f"  pandas read: in-process {fmt_s(result['in_process_median'])}, "
              f"subprocess {fmt_s(result['subprocess_median'])}")
    return result


def run_plain(csv: Path, target: str, workdir: Path, subset: tuple[int, int],
              cap: int, n_jobs: int, learning: dict[str, float] | None = None) -> dict:
    """The plain script on `subset` (alphas, folds); a subset's learning curves at the
    `learning` alphas (the full grid's choice), so that their phase extrapolates faithfully."""
    k, f = subset
    given = ["--learning-alphas", ",".join(f"{family}={alpha!r}" for family, alpha in
                                           sorted(learning.items()))] \
        if learning and subset != (N_ALPHAS, N_FOLDS) else []
    run = run_child([sys.executable, str(PLAIN_SCRIPT), str(csv), "--target", target,
                     "--alphas-subset", str(k), "--folds-subset", str(f),
                     "--n-jobs", str(n_jobs), "--json", *given],
                    workdir / f"sklearn-{k}alphas-{f}folds-{n_jobs}jobs", cap)
    if run["exit_code"] == 0:
        run["script"] = json.loads(Path(run["log"]).with_suffix(".out").read_text())
        run["extrapolated_seconds"] = extrapolate(run)
    else:
        run["error"] = tail(run["log"])
    err.print(f"  plain scikit-learn, {k} of {N_ALPHAS} alphas, {f} of {N_FOLDS} folds: "
              f"{run['seconds']:.1f} s, exit {run['exit_code']}"
              + (f", {run['script']['fits_done']} of {run['script']['fits_total']} fits, "
                 f"full run ≈ {fmt_s(run['extrapolated_seconds'])}" if "script" in run else ""))
    return run


def extrapolate(run: dict) -> float:
    """Whole-process seconds, each phase scaled by its full fits / fits done (measured_time *
    total_fits / fits_done, per phase: alphas and folds scale them differently)."""
    extra = sum(p["seconds"] * (p["fits_total"] / p["fits_done"] - 1)
                for p in run["script"]["phases"] if p["fits_done"])
    return run["seconds"] + extra


def choose_subset(probe: dict, budget: float) -> tuple[int, int]:
    """The largest subset predicted to take about `budget` s: more alphas first (their costs
    differ along the grid), then more folds (theirs are alike)."""
    phases = {p["name"]: p for p in probe["script"]["phases"]}
    k0, f0 = probe["script"]["alphas_subset"], probe["script"]["folds_subset"]
    per_fold = (phases["unregularized"]["seconds"] + phases["learning_curve"]["seconds"]) / f0
    per_alpha_fold = sum(phases[f"{fam} validation_curve"]["seconds"]
                         for fam in ("l1", "l2")) / (k0 * f0)
    fixed = probe["seconds"] - sum(p["seconds"] for p in phases.values() if p["fits_done"]
                                   and p["fits_total"] > p["fits_done"])
    best = (k0, f0)
    for f in range(f0, N_FOLDS + 1):
        for k in range(k0, N_ALPHAS + 1):
            if (f == f0 or k == N_ALPHAS) and fixed + f * (per_fold + k * per_alpha_fold) <= budget:
                best = max(best, (k, f), key=lambda kf: (kf[1], kf[0]))
    return best


def alphas_ours_chose(ours: dict) -> dict[str, float]:
    """The L1 and L2 alphas our first good run chose (report.json's models), which agree with
    scikit-learn's: what a full plain run's learning curves use."""
    for run in ours["runs"]:
        if run["ok"]:
            models = json.loads(Path(run["report"]).read_text())["models"]
            return {m["penalty"]: float(m["alpha"]) for m in models
                    if m["penalty"] in ("l1", "l2") and m.get("alpha") is not None}
    return {}


def measure_sklearn(csv: Path, target: str, workdir: Path, args, cap: int,
                    learning: dict[str, float]) -> dict:
    if args.sklearn == "full":
        full = run_plain(csv, target, workdir, (N_ALPHAS, N_FOLDS), cap, args.sklearn_n_jobs)
        return sklearn_result("full", full, None)
    probe = run_plain(csv, target, workdir, PROBE, cap, args.sklearn_n_jobs, learning)
    if "script" not in probe:
        return sklearn_result("failed", probe, None)
    if probe["extrapolated_seconds"] <= args.sklearn_full_limit:
        full = run_plain(csv, target, workdir, (N_ALPHAS, N_FOLDS), cap, args.sklearn_n_jobs)
        return sklearn_result("full", full, probe)
    subset = choose_subset(probe, args.sklearn_budget)
    chosen = probe if subset == PROBE else run_plain(csv, target, workdir, subset, cap,
                                                     args.sklearn_n_jobs, learning)
    full = subset == (N_ALPHAS, N_FOLDS)
    return sklearn_result("full" if full else "extrapolated", chosen, probe)


def sklearn_result(mode: str, run: dict, probe: dict | None) -> dict:
    result = {"mode": mode, "run": run, "probe": probe, "peak_rss_bytes": run["peak_rss_bytes"]}
    if "script" not in run:
        result.update(mode="failed", seconds=None, error=run.get("error"))
        return result
    script = run["script"]
    result["warnings"] = script["warnings"]
    result["fits_done"], result["fits_total"] = script["fits_done"], script["fits_total"]
    result["n_jobs"] = script["n_jobs"]
    if mode == "full":
        result["seconds"] = run["seconds"]
        result["label"] = f"full run, {script['fits_done']} fits"
    else:
        result["seconds"] = run["extrapolated_seconds"]
        result["measured_seconds"] = run["seconds"]
        result["label"] = (f"extrapolated from {script['alphas_subset']} of {N_ALPHAS} alphas, "
                           f"{script['folds_subset']} of {N_FOLDS} folds "
                           f"({script['fits_done']} of {script['fits_total']} fits in "
                           f"{run['seconds']:.0f} s)")
        if script.get("learning_alphas", {}) != script["best_alpha"]:
            result["label"] += ", learning curves at overfitcheck's alphas"
    result["label"] += f", n_jobs={script['n_jobs']}"
    return result


# ---------------------------------------------------------------------------------------------
# One size

def data_file(workdir: Path, size: Size, rows: int, seed: int) -> tuple[Path, float | None]:
    """The cached CSV for (rows, task, seed); generated only when missing."""
    path = workdir / "data" / f"{size.task}-{rows}rows-seed{seed}.csv"
    if path.exists():
        return path, None
    path.parent.mkdir(parents=True, exist_ok=True)
    err.print(f"  generating {path} ({rows:,} rows) …")
    start = time.perf_counter()
    make_data.write(path, rows, size.task, seed)
    return path, time.perf_counter() - start


def bench_size(size: Size, args) -> dict:
    rows = args.rows or size.rows
    err.rule(f"{size.name}" + (f" (--rows {rows:,})" if args.rows else ""))
    workdir = args.workdir / "runs" / f"{size.name}-{rows}"
    csv, generated = data_file(args.workdir, size, rows, args.seed)
    with open(csv) as f:
        n_columns = len(f.readline().split(","))
    target = TARGET_COLUMN[size.task]
    cap = args.mem_cap if size.capped else None
    result = {
        "size": size.name, "about": size.about, "task": size.task, "rows": rows,
        "rows_overridden": bool(args.rows), "columns": n_columns, "target_column": target,
        "seed": args.seed, "file": str(csv), "file_bytes": csv.stat().st_size,
        "generate_seconds": generated, "mem_cap_bytes": cap, "safety_cap_bytes": args.safety_cap,
    }
    result["pandas"] = measure_pandas(csv, workdir, args.repeat, args.safety_cap)
    result["ours"] = measure_ours(csv, target, workdir, args.repeat, cap)
    if not size.sklearn:
        result["sklearn"] = {"mode": "not run", "seconds": None, "label": (
            "not run: the plain script holds the table several times over in memory, more "
            "than this size allows")}
    elif args.sklearn == "skip":
        result["sklearn"] = {"mode": "not run", "seconds": None,
                             "label": "skipped (--sklearn skip)"}
    else:
        result["sklearn"] = measure_sklearn(csv, target, workdir, args, args.safety_cap,
                                            alphas_ours_chose(result["ours"]))
    ours, pandas, sk = result["ours"]["median_seconds"], result["pandas"], result["sklearn"]
    result["ratios"] = {
        "ours_over_pandas_subprocess": ratio(ours, pandas["subprocess_median"]),
        "ours_over_pandas_in_process": ratio(ours, pandas["in_process_median"]),
        "sklearn_over_ours": ratio(sk.get("seconds"), ours),
    }
    result["targets"] = []
    for t in size.targets:
        passed, detail = t.check(result)
        result["targets"].append({"target": t.label, "passed": passed, "detail": detail,
                                  "at_defined_size": not args.rows or args.rows == size.rows})
    runs = {"ours": result["ours"]["runs"], "pandas": result["pandas"]["subprocess_runs"],
            "plain script": [r for r in (sk.get("run"), sk.get("probe")) if r]}
    result["busy_during"] = [name for name, rs in runs.items()
                             if any(r["other_work_cpu_share"] > BUSY_SHARE for r in rs)]
    return result


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# ---------------------------------------------------------------------------------------------
# Output

def status(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "N/A"}[passed]


def size_table(r: dict) -> Table:
    ours, pandas, sk = r["ours"], r["pandas"], r["sklearn"]
    title = f"{r['size']}: {r['about']}"
    if r["rows_overridden"]:
        title += f" — run at --rows {r['rows']:,}"
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("notes", overflow="fold")
    table.add_row("data", f"{r['rows']:,} × {r['columns']}",
                  f"{fmt_bytes(r['file_bytes'])} CSV, {r['task']}, target {r['target_column']}, "
                  f"seed {r['seed']}")
    runs = ", ".join(f"{x['seconds']:.2f}" for x in ours["runs"])
    cached = [x["page_cache_fraction"] for x in ours["runs"]
              if x["page_cache_fraction"] is not None]
    table.add_row("ours: wall time", fmt_s(ours["median_seconds"]),
                  f"median of {ours['runs_ok']} ok of {len(ours['runs'])} runs ({runs} s); "
                  f"verdict {', '.join(ours['verdicts']) or '—'}; file "
                  f"{min(cached, default=0):.0%} in page cache")
    table.add_row("ours: peak RSS", fmt_bytes(ours["peak_rss_bytes"]),
                  "largest single process (ru_maxrss)")
    table.add_row("ours: peak tree PSS", fmt_bytes(ours["peak_tree_pss_bytes"]),
                  f"process + fold workers and drawing copies, sampled every "
                  f"{SAMPLE_SECONDS} s in one more run, not timed")
    if r["mem_cap_bytes"]:
        table.add_row("ours: memory cap", fmt_bytes(r["mem_cap_bytes"]),
                      "RLIMIT_AS on the process and on each worker")
    table.add_row("pandas read, in-process", fmt_s(pandas["in_process_median"]),
                  "pd.read_csv(FILE) alone, median of "
                  f"{len(pandas['in_process_seconds'])}, pandas already imported")
    table.add_row("pandas read, subprocess", fmt_s(pandas["subprocess_median"]),
                  'python -c "import pandas as pd; pd.read_csv(FILE)": start + import + read; '
                  f"peak RSS {fmt_bytes(pandas['peak_rss_bytes'])}")
    table.add_row("plain scikit-learn script", fmt_s(sk.get("seconds")),
                  sk.get("label", sk.get("mode", ""))
                  + (f"; peak RSS {fmt_bytes(sk['peak_rss_bytes'])}"
                     if sk.get("peak_rss_bytes") else "")
                  + (f"; warnings {sk['warnings']}" if sk.get("warnings") else ""))
    ratios = r["ratios"]
    table.add_row("ours ÷ pandas (subprocess)", fmt_ratio(ratios["ours_over_pandas_subprocess"]),
                  "apples to apples: both whole processes (the 3× target uses this)")
    table.add_row("ours ÷ pandas (in-process)", fmt_ratio(ratios["ours_over_pandas_in_process"]),
                  "ours' whole process against the bare read")
    table.add_row("plain script ÷ ours", fmt_ratio(ratios["sklearn_over_ours"]),
                  "extrapolated" if sk.get("mode") == "extrapolated" else sk.get("mode", ""))
    for t in r["targets"]:
        note = t["detail"] + ("" if t["at_defined_size"] else
                              " (target defined for the full size; shown for information)")
        table.add_row(f"target: {t['target']}", status(t["passed"]), note)
    if not r["targets"]:
        table.add_row("targets", "—", "none for this size")
    if ours["runs_ok"] < len(ours["runs"]):
        errors = "; ".join(x.get("error", "") for x in ours["runs"] if not x["ok"])
        table.add_row("ours: FAILED RUNS", str(len(ours["runs"]) - ours["runs_ok"]), errors)
    if r["busy_during"]:
        table.add_row("warning", "busy", f"other processes used over {BUSY_SHARE:.0%} of the "
                      f"CPUs during runs of {', '.join(r['busy_during'])}: that inflated their "
                      "times (multi-threaded BLAS in the plain script suffers most)")
    return table


def markdown(results: list[dict]) -> str:
    lines = [
        "| size | rows × columns | CSV | ours (median) | ours peak memory | pandas read: "
        "in-process / subprocess | ours ÷ pandas (subprocess) | plain scikit-learn | "
        "plain ÷ ours | targets |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ours, pandas, sk = r["ours"], r["pandas"], r["sklearn"]
        sk_text = fmt_s(sk.get("seconds"))
        if sk.get("mode") == "extrapolated":
            sk_text += " (extrapolated)"
        elif sk.get("mode") not in ("full",):
            sk_text = sk.get("mode", "—")
        targets = "; ".join(f"{status(t['passed'])}: {t['target']} ({t['detail']})"
                            for t in r["targets"]) or "—"
        memory = fmt_bytes(ours["peak_memory_bytes"])
        if r["mem_cap_bytes"]:
            memory += f" (cap {fmt_bytes(r['mem_cap_bytes'])})"
        lines.append(
            f"| {r['size']} | {r['rows']:,} × {r['columns']} | {fmt_bytes(r['file_bytes'])} | "
            f"{fmt_s(ours['median_seconds'])} | {memory} | "
            f"{fmt_s(pandas['in_process_median'])} / {fmt_s(pandas['subprocess_median'])} | "
            f"{fmt_ratio(r['ratios']['ours_over_pandas_subprocess'])} | {sk_text} | "
            f"{fmt_ratio(r['ratios']['sklearn_over_ours'])} | {targets} |")
    return "\n".join(lines)


def compile_bytecode() -> dict:
    """Byte-compile the overfitcheck package that the timed command imports, as `pip install .`
    (the README's install) does. An editable install leaves that to the first run, and where
    PYTHONDONTWRITEBYTECODE is set (as on the machine these results come from) no run ever
    writes it: every run then compiled our modules from source, about 0.06 s of CPU before
    the first line of work on the 200,000-row file, which no installed copy spends."""
    probe = "import os, overfitcheck; print(os.path.dirname(overfitcheck.__file__))"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if found.returncode != 0:
        return {"compiled": False, "error": found.stderr[-500:]}
    package = found.stdout.strip()
    done = subprocess.run([sys.executable, "-m", "compileall", "-q", package],
                          capture_output=True, text=True)
    return {"compiled": done.returncode == 0, "package": package,
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE")}


def machine_info() -> dict:
    """Versions and BLAS as the children see them (asked of a fresh interpreter)."""
    probe = (
        "import json, platform, sys, numpy, scipy, sklearn, pandas, pyarrow, threadpoolctl\n"
        "import overfitcheck\n"
        "print(json.dumps({'python': platform.python_version(), 'numpy': numpy.__version__,"
        " 'scipy': scipy.__version__, 'scikit-learn': sklearn.__version__,"
        " 'pandas': pandas.__version__, 'pyarrow': pyarrow.__version__,"
        " 'overfitcheck': getattr(overfitcheck, '__version__', None),"
        " 'overfitcheck_path': overfitcheck.__file__,"
        " 'threadpoolctl': threadpoolctl.threadpool_info()}))\n")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    info = json.loads(res.stdout) if res.returncode == 0 else {"error": res.stderr[-500:]}
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info.update(cpu_count=os.cpu_count(), cpus_usable=len(os.sched_getaffinity(0)), cpu=cpu,
                memory_bytes=physical_memory(), platform=platform.platform(),
                executable=sys.executable, git=git_state())
    return info


def physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def git_state() -> dict:
    def git(*a: str) -> str:
        res = subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True)
        return res.stdout.strip()
    return {"commit": git("rev-parse", "HEAD"),
            "dirty_files": git("status", "--porcelain", "--", "overfitcheck").splitlines()}


def parse_bytes(text: str) -> int:
    match = re.fullmatch(r"\s*([\d.]+)\s*([kmgt]?)(i?)b?\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4G, 3500M, 4GiB)")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** " kmgt".index(unit or " "))


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sizes", default=",".join(DEFAULT_SIZES),
                        help=f"comma-separated, from: {', '.join(SIZES)}")
    parser.add_argument("--rows", type=int, default=None,
                        help="override every size's row count (smoke tests); targets are then "
                             "shown for information only")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of ours and of each pandas read; the median is reported")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/overfitcheck-bench"),
                        help="cached CSVs (data/) and each run's output and logs (runs/)")
    parser.add_argument("--out", type=Path, default=HERE / "results.json",
                        help="where the results are written as JSON")
    parser.add_argument("--sklearn", choices=("auto", "full", "skip"), default="auto",
                        help="auto: full when a probe estimates it under --sklearn-full-limit, "
                             "else a subset of about --sklearn-budget seconds, extrapolated")
    parser.add_argument("--sklearn-full-limit", type=float, default=FULL_LIMIT_SECONDS,
                        metavar="SECONDS", help="run the plain script in full below this estimate")
    parser.add_argument("--sklearn-budget", type=float, default=SUBSET_BUDGET_SECONDS,
                        metavar="SECONDS", help="about how long the extrapolated subset runs")
    parser.add_argument("--sklearn-n-jobs", type=int, default=1, metavar="N",
                        help="n_jobs of the plain script's scikit-learn calls")
    parser.add_argument("--mem-cap", type=parse_bytes, default="4G", metavar="BYTES",
                        help="RLIMIT_AS for ours on the capped size (10m-regression)")
    args = parser.parse_args()
    names = [n.strip() for n in args.sizes.split(",") if n.strip()]
    unknown = [n for n in names if n not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    if args.repeat < 1 or (args.rows is not None and args.rows < 100):
        parser.error("--repeat must be at least 1 and --rows at least 100")
    args.safety_cap = int(SAFETY_SHARE * physical_memory())
    args.workdir.mkdir(parents=True, exist_ok=True)
    bytecode = compile_bytecode()
    err.print(f"byte-compiled {bytecode.get('package')}: {bytecode['compiled']}")

    payload = {"command": [sys.executable, *sys.argv], "started": time.strftime("%FT%T%z"),
               "machine": machine_info(), "settings": {
                   "repeat": args.repeat, "seed": args.seed, "rows_override": args.rows,
                   "sklearn": args.sklearn, "sklearn_full_limit": args.sklearn_full_limit,
                   "sklearn_budget": args.sklearn_budget, "probe": PROBE,
                   "sklearn_n_jobs": args.sklearn_n_jobs,
                   "mem_cap_bytes": args.mem_cap, "safety_cap_bytes": args.safety_cap,
                   "workdir": str(args.workdir), "bytecode": bytecode},
               "sizes": []}
    for name in names:
        result = bench_size(SIZES[name], args)
        payload["sizes"].append(result)
        write_json(args.out, payload)
        out.print(size_table(result))
        out.print()
    out.print("Ours and the pandas subprocess are both timed as whole processes (interpreter start,"
              " imports, work); the ratio to pandas uses that subprocess time. The in-process "
              "read is shown beside it.", soft_wrap=False)
    out.print()
    md = markdown(payload["sizes"])
    payload["markdown"] = md
    write_json(args.out, payload)
    out.print(md, soft_wrap=True, markup=False)
    err.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
