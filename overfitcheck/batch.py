"""Several datasets in one run: paths, globs and folders -> datasets with safe unique folder
names -> diagnose + write_outputs each -> Outcomes (in input order) and their JSON form; saved
reports re-rendered the same way."""

from __future__ import annotations

import glob
import json
import os
import re
import threading
import traceback
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .config import Config
from .diagnose import Progress, diagnose
from .errors import ExitCode, InputNotFound, OverfitcheckError, UsageProblem
from .outcome import Outcome, most_severe
from .output import REPORT_FILE, write_outputs
from .project_config import (
    BUILT_IN,
    CONFIG_TYPES,
    RUN_DEFAULTS,
    DatasetEntry,
    ProjectConfig,
    Resolved,
    resolve,
)
from .render_png import FILE_NAMES, DrawingProcess, load_matplotlib
from .report import Report, load_report

BATCH_SCHEMA_VERSION = 1
# What a folder given as a path contributes: the delimited-text files read.py can open.
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".tsv.gz")
# Windows refuses these as file or folder names whatever the extension (CON.txt included).
RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
            *(f"lpt{i}" for i in range(10))}
MAX_NAME = 80  # well under every filesystem's 255-byte limit, even in UTF-8
GLOB_CHARS = re.compile(r"[*?\[]")
BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                  "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class DatasetRun:
    """One dataset of a batch, ready to diagnose: picklable, so a worker process can run it."""

    name: str  # unique, filesystem-safe: its subfolder of the output folder
    given: str  # the path as the user or the config file gave it (a glob's match)
    path: Path
    config: Config | None  # None when the path matched nothing: the error says so
    fail_on: str
    output_dir: Path
    plots: bool
    sources: dict[str, str]  # option -> where its value came from (see project_config)
    problem: str | None = None  # a path that matched no file
    # A batch's dataset writes into a subfolder of its own: files an earlier run left there
    # that this run does not rewrite are removed (see _drop_stale). A one-file run writes into
    # the user's --output-dir, where nothing is removed.
    own_folder: bool = True


@dataclass(frozen=True)
class Plan:
    """What `overfitcheck diagnose` will do: the datasets, and whether it is a one-file run
    (outputs straight into the output folder, as before batches existed)."""

    runs: tuple[DatasetRun, ...]
    single: bool
    output_dir: Path
    fail_fast: bool
    workers: int
    run_options: Resolved  # the options of the run itself (output-dir, jobs, ...)


def plan(paths: Sequence[str], command_line: Mapping[str, Any],
         project: ProjectConfig | None, require_target: bool = True) -> Plan:
    """Turn the command line's paths (or, with none, the config file's datasets) into runs.

    One path naming a file (no glob, not a folder) is the single-file run. Anything else -
    several paths, a glob, a folder, the configured datasets - is a batch: each dataset goes to
    OUTPUT/<name>/. A command-line path that is also one of the file's datasets takes that
    entry's overrides.
    """
    run_options = resolve(command_line, project)
    output_dir = Path(run_options.values["output_dir"])
    found: list[tuple[str, Path | None, DatasetEntry | None, str | None]] = []
    if paths:
        known = _configured_files(project)
        for given in paths:
            matches = expand(given, Path("."))
            if not matches:
                found.append((given, None, None, _nothing_matches(given, Path("."))))
            for shown, file in matches:
                found.append((shown, file, known.get(_key(file)), None))
        single = len(paths) == 1 and not GLOB_CHARS.search(paths[0]) \
            and not Path(paths[0]).is_dir()
    elif project is not None and project.datasets:
        for entry in project.datasets:
            matches = expand(entry.path, project.folder)
            if not matches:
                found.append((entry.path, None, entry,
                              _nothing_matches(entry.path, project.folder)))
            for shown, file in matches:
                found.append((shown, file, entry, None))
        single = False
    else:
        where = f"{project.source} has no [[datasets]]" if project else "no config file was found"
        raise UsageProblem(f"no dataset to diagnose: no path given and {where}",
                           "give a CSV path, or list [[datasets]] with path and target in "
                           "overfitcheck.toml")
    found = _unique_files(found)
    names = safe_names([shown for shown, *_ in found],
                       [entry.name if entry else None for _, _, entry, _ in found])
    runs = []
    jobs = int(run_options.values["jobs"])
    workers = 1 if single else _workers(jobs, len(found))
    for name, (shown, file, entry, problem) in zip(names, found, strict=True):
        resolved = resolve(command_line, project, entry)
        values = resolved.values
        # Given but empty is a name: the one unnamed column (read as 'Unnamed: i').
        if require_target and resolved.sources["target"] == BUILT_IN:
            raise UsageProblem(f"no target column for {shown}",
                               "pass --target COLUMN, or set target in the config file")
        config = resolved.config()
        sources = resolved.sources
        if workers > 1 and config.jobs != 1:  # datasets in parallel, folds serial in each
            config = replace(config, jobs=1)
            sources = {**sources, "jobs": f"{sources['jobs']} (1 per dataset: {workers} "
                       "datasets run in parallel)"}
        runs.append(DatasetRun(name=name, given=shown, path=file or Path(shown), config=config,
                               fail_on=values["fail_on"],
                               output_dir=output_dir if single else output_dir / name,
                               plots=not values["no_plots"], sources=sources,
                               problem=problem, own_folder=not single))
    return Plan(tuple(runs), single, output_dir, bool(run_options.values["fail_fast"]),
                workers, run_options)


def expand(given: str, base: Path) -> list[tuple[str, Path]]:
    """A path, glob (** included) or folder -> (path as shown, file) pairs, sorted.

    A plain path is kept even if missing, so that diagnose() reports it; a glob or folder that
    matches nothing gives []. Relative paths are relative to `base` and shown as written.
    """
    path = Path(given)
    full = path if path.is_absolute() else base / path
    if GLOB_CHARS.search(given):
        matches = sorted(glob.glob(given, root_dir=None if path.is_absolute() else base,
                                   recursive=True))
        return [(m, Path(m) if Path(m).is_absolute() else base / m) for m in matches
                if (Path(m) if Path(m).is_absolute() else base / m).is_file()]
    if full.is_dir():
        files = sorted(p for p in full.iterdir()
                       if p.is_file() and p.name.lower().endswith(CSV_SUFFIXES))
        return [(str(path / p.name), p) for p in files]
    return [(given, full)]


def safe_names(shown: Sequence[str], wanted: Sequence[str | None] = ()) -> list[str]:
    """A folder name per dataset: its file name without the CSV extensions (or the name the
    config gave), made safe and unique.

    Safe: letters, digits, '.', '-' and '_' only (so no '/', '..', control characters or
    spaces), no leading dot, not a Windows device name (CON, NUL, COM1, ...), not empty, at most
    MAX_NAME characters. Unique without regard to case (macOS and Windows fold it): clashing
    names take their parent folder's name in front, then a number.
    """
    wanted = list(wanted) + [None] * (len(shown) - len(wanted))
    first = [_sanitize(w) if w else _sanitize(_stem(s)) for s, w in zip(shown, wanted,
                                                                       strict=True)]
    counts: dict[str, int] = {}
    for name in first:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    second = []
    for name, given, w in zip(first, shown, wanted, strict=True):
        parent = Path(given).parent.name
        if counts[name.lower()] > 1 and not w and parent not in ("", ".", ".."):
            name = _sanitize(f"{parent}_{name}")
        second.append(name)
    taken: set[str] = set()
    names = []
    for name in second:
        candidate, number = name, 1
        while candidate.lower() in taken:
            number += 1
            suffix = f"-{number}"
            candidate = name[: MAX_NAME - len(suffix)] + suffix
        taken.add(candidate.lower())
        names.append(candidate)
    return names


def run_batch(runs: Sequence[DatasetRun], *, workers: int = 1, fail_fast: bool = False,
              progress: Progress | None = None,
              on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Diagnose every dataset and write its outputs; return the Outcomes in input order.

    A dataset that cannot be diagnosed, even through a bug, becomes an Outcome with its
    one-line error (and its traceback) and does not stop the others, unless fail_fast: then no
    further dataset starts after the first error (with workers, the ones already running
    finish and are listed). workers > 1 runs datasets in separate processes, each held to one
    BLAS thread.
    """
    if workers <= 1 or len(runs) <= 1:
        outcomes = []
        for run in runs:
            outcome = run_one(run, progress=progress)
            outcomes.append(outcome)
            if on_done is not None:
                on_done(outcome)
            if fail_fast and outcome.report is None:
                break
        return outcomes
    return _run_parallel(runs, workers, fail_fast, on_done)


class _Preloading:
    """A progress callback that, once the file is read (the first stage after reading: the
    fits are about to start, and no thread is importing a module), gets the drawing ready
    beside the fits: with two processes, a DrawingProcess (matplotlib imported in a forked
    copy, which later draws the PNGs: neither the import nor the drawing then holds this
    process's GIL); with one, matplotlib's import on a thread (about half a second of Python
    that holds the GIL; beside the read it would stall the parsing threads)."""

    def __init__(self, progress: Progress | None, processes: int) -> None:
        self.progress, self.processes = progress, processes
        self.drawing: DrawingProcess | None = None
        self._started = threading.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not stage.startswith("reading") and self._started.acquire(blocking=False):
            if self.processes > 1:
                self.drawing = DrawingProcess.start()
            if self.drawing is None:
                threading.Thread(target=load_matplotlib, name="load matplotlib",
                                 daemon=True).start()
        if self.progress is not None:
            self.progress(stage, done, total)

    def close(self) -> None:
        if self.drawing is not None:
            self.drawing.close()


def run_one(run: DatasetRun, *, progress: Progress | None = None) -> Outcome:
    """Diagnose one dataset into its folder; a problem (or a bug: exit code 4) becomes the
    Outcome's error."""
    # --jobs 1, or datasets in parallel: one process each; else the PNGs take two
    processes = 1 if run.config.jobs == 1 or (os.cpu_count() or 1) < 2 else 2
    preloading = _Preloading(progress, processes) if run.plots else None
    try:
        if run.problem is not None:
            raise InputNotFound(run.problem, "check the path or glob and the current folder")
        report = diagnose(run.path, config=run.config, progress=preloading or progress)
        written = write_outputs(report, run.output_dir, plots=run.plots, processes=processes,
                                drawing=preloading and preloading.drawing)
    except Exception as error:
        _drop_stale(run)
        if isinstance(error, OverfitcheckError):
            line, code = error.one_line(), error.exit_code
        else:
            line, code = internal_error_line(error), ExitCode.INTERNAL
        return Outcome(run.name, run.given, None, None, line, code, traceback.format_exc())
    finally:
        if preloading is not None:  # the drawing copy never outlives its dataset
            preloading.close()
    _drop_stale(run, written)
    return judged(run.name, run.given, run.output_dir, report, run.fail_on)


def judged(name: str, given: str, folder: Path, report: Report, fail_on: str) -> Outcome:
    """The Outcome of a diagnosed dataset: POLICY_FAILED when its verdict matches fail_on."""
    code = ExitCode.POLICY_FAILED if verdict_fails(report.verdict.overall, fail_on) \
        else ExitCode.OK
    return Outcome(name, given, folder, report, None, code)


def find_reports(given: Path) -> list[Path]:
    """A report file, a folder with report.json, or a batch's output folder (its
    */report.json, sorted by dataset name)."""
    given = Path(given)
    if given.is_dir():
        if (given / REPORT_FILE).is_file():
            return [given / REPORT_FILE]
        inside = sorted(given.glob(f"*/{REPORT_FILE}"))
        if not inside:
            raise UsageProblem(f"{given} holds no {REPORT_FILE}, nor subfolders with one",
                               "give a report.json or the --output-dir of a diagnose run")
        return inside
    return [given]


def rerender(given: Sequence[Path], *, output_dir: Path | None = None, plots: bool = True,
             fail_on: str = "never") -> list[Outcome]:
    """Saved reports (files, folders or batch folders) -> Outcomes, without refitting.

    Each report's PNGs (and report.json) are written again next to it, or under output_dir
    (one subfolder per report when there are several); with plots off and no output_dir
    nothing is written. fail_on applies to the saved verdicts.
    """
    files = [file for path in given for file in find_reports(path)]
    names = safe_names([str(f.parent.absolute()) for f in files])
    outcomes = []
    for name, file in zip(names, files, strict=True):
        report = load_report(file)
        folder = file.parent
        if output_dir is not None:
            folder = Path(output_dir) if len(files) == 1 else Path(output_dir) / name
        if plots or folder != file.parent:
            write_outputs(report, folder, plots=plots)
        outcomes.append(judged(name, report.input_path or str(file), folder, report, fail_on))
    return outcomes


def resolved_configuration(paths: Sequence[str], command_line: Mapping[str, Any],
                           project: ProjectConfig | None) -> dict[str, Any]:
    """What `overfitcheck config` shows: the run's options and each dataset's, every value
    with where it came from, as JSON-ready data."""
    if paths or (project is not None and project.datasets):
        the_plan = plan(paths, command_line, project, require_target=False)
        runs, run_options = the_plan.runs, the_plan.run_options
    else:
        runs, run_options = (), resolve(command_line, project)

    def entry(value: Any, source: str) -> dict[str, Any]:
        return {"value": list(value) if isinstance(value, tuple) else value, "source": source}

    return {
        "config_file": None if project is None else project.source,
        "run": {name: entry(run_options.values[name], run_options.sources[name])
                for name in RUN_DEFAULTS},
        "defaults": {name: entry(run_options.values[name], run_options.sources[name])
                     for name in CONFIG_TYPES},
        "datasets": [{"name": r.name, "path": r.given, "output_dir": str(r.output_dir),
                      "options": {name: entry(value, r.sources[name])
                                  for name, value in {**r.config.to_dict(),
                                                      "fail_on": r.fail_on,
                                                      "no_plots": not r.plots}.items()}}
                     for r in runs],
    }


def verdict_fails(verdict: str, fail_on: str) -> bool:
    """Does the overall verdict match --fail-on? (any: overfitting or underfitting)."""
    if fail_on == "any":
        return verdict in ("overfitting", "underfitting")
    return verdict == fail_on


def internal_error_line(bug: BaseException) -> str:
    detail = " ".join(str(bug).split()).rstrip(".")
    return (f"internal error: {type(bug).__name__}: {detail}. Fix: rerun with --debug and "
            "report the traceback")


def batch_to_dict(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The JSON form of a batch (--format json with several datasets, --summary x.json): per
    dataset its status and headline numbers; the full diagnosis is in its report.json."""
    datasets = []
    for o in outcomes:
        entry: dict[str, Any] = {
            "name": o.name, "path": o.path, "exit_code": int(o.exit_code),
            "status": _status(o), "error": o.error,
            "output_dir": None if o.output_dir is None else str(o.output_dir),
            "report": None if o.output_dir is None else str(o.output_dir / REPORT_FILE)}
        if o.report is not None:
            whole = o.report.to_dict()
            best = next(m for m in whole["models"]
                        if m["penalty"] == whole["recommendation"]["penalty"])
            entry.update({
                "task": whole["task"], "target": whole["target"], "n_rows": whole["n_rows"],
                "metric": whole["metric"], "verdict": whole["verdict"],
                "verdict_reasons": whole["verdict_reasons"],
                "recommendation": {k: whole["recommendation"][k]
                                   for k in ("penalty", "alpha", "alpha_1se", "text")},
                "validation_error": best["validation_error"],
                "validation_error_se": best["validation_error_se"],
                "train_error": best["train_error"],
                "baseline_validation_error": whole["baseline"]["validation_error"]})
        datasets.append(entry)
    return {"schema_version": BATCH_SCHEMA_VERSION,
            "exit_code": int(most_severe([o.exit_code for o in outcomes])),
            "counts": {s: sum(d["status"] == s for d in datasets)
                       for s in ("passed", "failed", "error")},
            "datasets": datasets}


def batch_to_json(outcomes: Sequence[Outcome]) -> str:
    return json.dumps(batch_to_dict(outcomes), indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def _drop_stale(run: DatasetRun, written: Sequence[Path] = ()) -> None:
    """In a batch dataset's own folder, remove the outputs of an earlier run that this one did
    not write (everything after an error, the PNGs after --no-plots): `report` and `compare`
    would read a stale report.json as this run's, and the Markdown would link a stale PNG."""
    if not run.own_folder:
        return
    kept = {Path(p).name for p in written}
    for name in (REPORT_FILE, *FILE_NAMES.values()):
        if name not in kept:
            try:
                (run.output_dir / name).unlink(missing_ok=True)
            except OSError:  # a folder in its place, or no permission: nothing of ours to drop
                pass


def _status(outcome: Outcome) -> str:
    if outcome.report is None:
        return "error"
    return "failed" if outcome.exit_code == ExitCode.POLICY_FAILED else "passed"


def _run_parallel(runs, workers, fail_fast, on_done) -> list[Outcome]:
    # loky (joblib's process pool, as paths.py uses): fresh processes, not forks of this one
    # with its threads, and unlike multiprocessing's spawn it works from a notebook or stdin.
    from joblib.externals.loky import ProcessPoolExecutor

    finished: dict[int, Outcome] = {}
    with ProcessPoolExecutor(max_workers=workers, initializer=_one_blas_thread,
                             env=dict.fromkeys(BLAS_VARIABLES, "1")) as pool:
        futures: dict[Future, int] = {pool.submit(run_one, run): i
                                      for i, run in enumerate(runs)}
        pending = set(futures)

        def record(future: Future) -> None:
            outcome = future.result()
            finished[futures[future]] = outcome
            if on_done is not None:
                on_done(outcome)

        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=futures.get):
                    record(future)
                if fail_fast and any(o.report is None for o in finished.values()):
                    for future in pending:
                        future.cancel()  # those not started yet; running ones finish
                    for future in sorted(wait([f for f in pending if not f.cancelled()]).done,
                                         key=futures.get):
                        record(future)
                    break
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return [finished[i] for i in sorted(finished)]


_limits: list[Any] = []


def _one_blas_thread() -> None:
    """Worker start: BLAS and OpenMP pools at one thread, as diagnose() holds them while
    fitting, so N workers use N cores (the environment, BLAS_VARIABLES, was set before numpy
    loaded; this covers any pool it missed)."""
    from threadpoolctl import threadpool_limits

    _limits.append(threadpool_limits(1))  # kept for the worker's life


def _workers(jobs: int, n_datasets: int) -> int:
    """Datasets run in parallel only when --jobs N asks: starting a worker process costs
    seconds (each imports scikit-learn), more than a small dataset's whole diagnosis, so the
    automatic -1 runs them one after another, each parallelizing its own folds when they repay
    it (measured: two sample datasets 12-14 s on two processes, 4-6 s one after another)."""
    if n_datasets <= 1 or jobs == -1:
        return 1
    return max(1, min(jobs, n_datasets))


def _configured_files(project: ProjectConfig | None) -> dict[str, DatasetEntry]:
    known: dict[str, DatasetEntry] = {}
    for entry in project.datasets if project else ():
        for _, file in expand(entry.path, project.folder):
            known.setdefault(_key(file), entry)
    return known


def _unique_files(found):
    """The same file reached twice (a path and a glob) is diagnosed once, at its first place."""
    seen: set[str] = set()
    unique = []
    for item in found:
        file = item[1]
        if file is not None:
            if _key(file) in seen:
                continue
            seen.add(_key(file))
        unique.append(item)
    return unique


def _key(file: Path) -> str:
    return os.path.normcase(os.path.realpath(file))


def _nothing_matches(given: str, base: Path) -> str:
    full = Path(given) if Path(given).is_absolute() else base / given
    if not GLOB_CHARS.search(given) and full.is_dir():
        return f"{given} is a folder with no CSV file in it ({', '.join(CSV_SUFFIXES)})"
    return f"no CSV file matches {given}"


def _stem(shown: str) -> str:
    name = Path(shown.rstrip("/\\")).name
    lower = name.lower()
    for suffix in sorted(CSV_SUFFIXES + (".gz", ".bz2", ".xz", ".zip", ".txt"), key=len,
                         reverse=True):
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _sanitize(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r"[^\w.-]+", "_", name)  # \w is Unicode letters and digits, plus _
    name = re.sub(r"_{2,}", "_", name).strip("._- ")
    name = name[:MAX_NAME].rstrip("._- ")
    if not name:
        name = "dataset"
    head, dot, rest = name.partition(".")
    if head.lower() in RESERVED:  # Windows reserves CON and CON.anything alike
        name = f"{head}_{dot}{rest}"
    return name
