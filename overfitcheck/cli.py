"""The command line: options (and the config file) -> datasets, the library's calls, renderers,
errors -> exit codes."""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from . import __version__
from .batch import (
    Plan,
    batch_to_json,
    internal_error_line,
    plan,
    run_batch,
    safe_names,
    verdict_fails,
    write_summary,
)
from .config import default_of, help_for
from .diagnose import diagnose
from .errors import ExitCode, OverfitcheckError, UsageProblem
from .outcome import Outcome, most_severe
from .output import REPORT_FILE, write_outputs
from .project_config import (
    CONFIG_TYPES,
    RUN_DEFAULTS,
    ProjectConfig,
    find_project_config,
    load_project_config,
    resolve,
)

DEFAULT_OUTPUT_DIR = Path(RUN_DEFAULTS["output_dir"])
SUMMARY_FORMATS = {".md": "markdown", ".markdown": "markdown", ".xml": "junit", ".json": "json"}
# Options a config file may also set: given on the command line, they override it.
FILE_OPTIONS = (*CONFIG_TYPES, *RUN_DEFAULTS)

app = typer.Typer(
    name="overfitcheck",
    help="Does a linear model overfit this table? Cross-validated unregularized, L1 and L2 fits "
    "along an alpha grid, a verdict with its evidence, tables, PNGs and a JSON report.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    junit = "junit"


class FailOn(str, Enum):
    never = "never"
    overfitting = "overfitting"
    underfitting = "underfitting"
    any = "any"


DEFAULT_FAIL_ON = FailOn(RUN_DEFAULTS["fail_on"])


def _opt(name: str, *flags: str, **extra):
    return typer.Option(*flags, help=help_for(name), show_default=True, **extra)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"overfitcheck {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """overfitcheck: diagnose over- and underfitting of linear models on a CSV."""


# Click rewraps epilog text unless a paragraph starts with \b.
EXAMPLE = """\b
Examples:
  overfitcheck diagnose sample_data/telco_churn.csv --target churn
  overfitcheck diagnose data/*.csv --target churn --jobs 2 --summary summary.md
  overfitcheck diagnose            (the [[datasets]] of overfitcheck.toml)"""
CONFIG_EXAMPLE = """\b
Examples:
  overfitcheck config
  overfitcheck config data/train.csv --cv 10 --format json"""
REPORT_EXAMPLE = """\b
Examples:
  overfitcheck report overfitcheck-report/report.json --format markdown
  overfitcheck report overfitcheck-report --summary junit.xml --no-plots"""
COMPARE_EXAMPLE = """\b
Examples:
  overfitcheck compare base/report.json new/report.json
  overfitcheck compare base-report overfitcheck-report --format json"""

PathsArgument = Annotated[list[str] | None, typer.Argument(
    help="CSV files (.csv, .csv.gz, .bz2, .zip, .xz), globs (data/*.csv, quoted so the shell "
    "leaves them alone) or folders. None: the datasets of the config file.",
    show_default=False, metavar="[PATH]...")]
ConfigOption = Annotated[Path | None, typer.Option(
    "--config", help="Config file to use (an overfitcheck.toml, or a pyproject.toml with "
    "[tool.overfitcheck]) instead of the nearest one above the current folder.",
    show_default=False, metavar="FILE")]
SummaryOption = Annotated[list[Path] | None, typer.Option(
    "--summary", help="Also write the summary to this file, in the format its extension "
    "names: .md Markdown, .xml JUnit XML, .json JSON. Repeatable.", show_default=False,
    metavar="FILE")]
QuietOption = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar, notes or warnings on stderr.")]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]


@app.command("diagnose", epilog=EXAMPLE)
def diagnose_command(
    ctx: typer.Context,
    paths: PathsArgument = None,
    config_file: ConfigOption = None,
    target: Annotated[str | None, _opt("target", "--target", "-t")] = None,
    task: Annotated[str | None, _opt("task", "--task")] = default_of("task"),
    cv: Annotated[int, _opt("cv", "--cv")] = default_of("cv"),
    seed: Annotated[int, _opt("seed", "--seed")] = default_of("seed"),
    group_col: Annotated[str | None, _opt("group_col", "--group-col")] = default_of("group_col"),
    time_col: Annotated[str | None, _opt("time_col", "--time-col")] = default_of("time_col"),
    metric: Annotated[str | None, _opt("metric", "--metric")] = default_of("metric"),
    alphas: Annotated[str | None, _opt("alphas", "--alphas")] = None,
    n_alphas: Annotated[int, _opt("n_alphas", "--n-alphas")] = default_of("n_alphas"),
    alpha_min: Annotated[float | None, _opt("alpha_min", "--alpha-min")] = default_of(
        "alpha_min"),
    alpha_max: Annotated[float | None, _opt("alpha_max", "--alpha-max")] = default_of(
        "alpha_max"),
    max_levels: Annotated[int, _opt("max_levels", "--max-levels")] = default_of("max_levels"),
    drop_first: Annotated[bool, _opt("drop_first", "--drop-first")] = default_of("drop_first"),
    gap_fraction: Annotated[float, _opt("gap_fraction", "--gap-fraction")] = default_of(
        "gap_fraction"),
    gap_floor: Annotated[float, _opt("gap_floor", "--gap-floor")] = default_of("gap_floor"),
    underfit_fraction: Annotated[float, _opt("underfit_fraction", "--underfit-fraction")
                                 ] = default_of("underfit_fraction"),
    noise_se: Annotated[float, _opt("noise_se", "--noise-se")] = default_of("noise_se"),
    gain_fraction: Annotated[float, _opt("gain_fraction", "--gain-fraction")] = default_of(
        "gain_fraction"),
    interpolation_fraction: Annotated[float, _opt("interpolation_fraction",
                                                  "--interpolation-fraction")
                                      ] = default_of("interpolation_fraction"),
    more_data_fraction: Annotated[float, _opt("more_data_fraction", "--more-data-fraction")
                                  ] = default_of("more_data_fraction"),
    max_rows: Annotated[int | None, _opt("max_rows", "--max-rows")] = default_of("max_rows"),
    encoding: Annotated[str | None, _opt("encoding", "--encoding")] = default_of("encoding"),
    chunk_rows: Annotated[int, _opt("chunk_rows", "--chunk-rows")] = default_of("chunk_rows"),
    jobs: Annotated[int, _opt("jobs", "--jobs")] = default_of("jobs"),
    output_dir: Annotated[Path, typer.Option(
        "--output-dir", "-o", help="Folder for report.json and the PNGs (created if missing); "
        "with several datasets, one subfolder each.")
    ] = DEFAULT_OUTPUT_DIR,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plots.")] = False,
    output_format: Annotated[Format, typer.Option(
        "--format", help="What goes to stdout: rich tables, JSON (one dataset: report.json's "
        "content; several: the batch summary), Markdown or JUnit XML.")
    ] = Format.table,
    summary: SummaryOption = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="Exit 1 when the overall verdict is this (any: overfitting or "
        "underfitting). For CI.")] = DEFAULT_FAIL_ON,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast", help="With several datasets, start no other after one cannot be "
        "diagnosed (by default every dataset runs and the errors are listed).")] = False,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Diagnose PATHS: fit unregularized, L1 and L2 models with cross-validation and judge them.

    One CSV file: its tables (or JSON with --format json) go to stdout, report.json and PNGs to
    --output-dir. Several files, globs or folders, or none (the config file's [[datasets]]):
    each dataset goes to its own subfolder of --output-dir and stdout gets one summary across
    them. Options come from the command line, then the config file (overfitcheck.toml or
    [tool.overfitcheck] in pyproject.toml), then the defaults. Exit codes: 0 done, 1 a verdict
    matched --fail-on, 2 usage error, 3 bad data, 4 internal error, 130 interrupted; several
    datasets: the most severe.
    """
    err = Console(stderr=True, highlight=False)
    outcomes: list[Outcome] = []
    summaries: list[tuple[Path, str]] = []
    the_plan: Plan | None = None
    try:
        summaries = _summary_targets(summary)
        the_plan = plan(paths or [], _given(ctx), _project(config_file))
        if the_plan.single:
            outcomes = [_diagnose_one(the_plan, err, output_format, quiet)]
        else:
            outcomes = _diagnose_many(the_plan, err, quiet, debug)
        _print_payload(outcomes, output_format, single=the_plan.single)
    except OverfitcheckError as problem:
        if the_plan is not None and the_plan.single and not outcomes:
            # the one dataset of a single-file run failed: the summaries still say so
            run = the_plan.runs[0]
            _write_summaries(summaries, [Outcome(run.name, run.given, None, None,
                                                 problem.one_line(), problem.exit_code)],
                             err, debug)
        _fail(err, problem.one_line(), problem.exit_code, debug)
    except KeyboardInterrupt:
        _fail(err, "interrupted", ExitCode.INTERRUPTED, debug)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as bug:  # noqa: BLE001 - the one place that turns bugs into exit code 4
        _fail(err, internal_error_line(bug), ExitCode.INTERNAL, debug)
    _write_summaries(summaries, outcomes, err, debug)
    if not the_plan.single:
        for outcome in outcomes:
            if outcome.error is not None:
                err.print(f"overfitcheck: error: {outcome.name}: {outcome.error}", markup=False,
                          soft_wrap=True)
        if not quiet:
            skipped = len(the_plan.runs) - len(outcomes)
            err.print(f"wrote {len([o for o in outcomes if o.report])} of {len(the_plan.runs)} "
                      f"reports under {the_plan.output_dir}"
                      + (f"; {skipped} not run after an error (--fail-fast)" if skipped else ""),
                      markup=False, soft_wrap=True)
    code = most_severe([o.exit_code for o in outcomes])
    if code != ExitCode.OK:
        raise typer.Exit(code)


def _diagnose_one(the_plan: Plan, err: Console, output_format: Format, quiet: bool) -> Outcome:
    """The single-file run, as before batches: errors propagate to the one-line message."""
    run = the_plan.runs[0]
    show_progress = not quiet and err.is_terminal
    with _progress(err, show_progress) as progress:
        report = diagnose(run.path, config=run.config, progress=progress)
    if not quiet and output_format is not Format.table:  # the table's verdict panel lists them
        for line in (*report.notes, *report.warnings):
            err.print(f"note: {line}", markup=False)
    write_outputs(report, run.output_dir, plots=run.plots)
    if not quiet:
        err.print(f"wrote {run.output_dir}{os.sep}{REPORT_FILE}"
                  + ("" if not run.plots else " and PNGs"), markup=False)
    code = ExitCode.POLICY_FAILED if verdict_fails(report.verdict.overall, run.fail_on) \
        else ExitCode.OK
    return Outcome(run.name, run.given, run.output_dir, report, None, code)


def _diagnose_many(the_plan: Plan, err: Console, quiet: bool, debug: bool) -> list[Outcome]:
    show_progress = not quiet and err.is_terminal
    with _progress(err, show_progress) as progress:
        total = len(the_plan.runs)
        done = [0]

        def on_done(outcome: Outcome) -> None:
            done[0] += 1
            if progress is not None:
                progress("datasets", done[0], total)

        if progress is not None:
            progress("datasets", 0, total)
        return run_batch(the_plan.runs, workers=the_plan.workers, fail_fast=the_plan.fail_fast,
                         raise_bugs=debug, progress=progress if the_plan.workers == 1 else None,
                         on_done=on_done)


def _print_payload(outcomes: list[Outcome], output_format: Format, single: bool) -> None:
    if output_format is Format.json and single:
        sys.stdout.write(outcomes[0].report.to_json())
    elif output_format is Format.table and single:
        from .render_terminal import render_terminal

        Console(highlight=False).print(render_terminal(outcomes[0].report))
    elif output_format is Format.table:
        from .render_terminal import render_summary

        Console(highlight=False).print(render_summary(outcomes))
    else:
        sys.stdout.write(_summary_text(output_format.value, outcomes, Path.cwd()))


def _summary_text(kind: str, outcomes: Sequence[Outcome], folder: Path) -> str:
    if kind == "markdown":
        from .render_markdown import render_markdown

        return render_markdown(outcomes, relative_to=folder)
    if kind == "junit":
        from .render_junit import render_junit

        return render_junit(outcomes)
    return batch_to_json(outcomes)


def _summary_targets(files: list[Path] | None) -> list[tuple[Path, str]]:
    """--summary files and their formats, checked before any work starts."""
    targets = []
    for file in files or ():
        kind = SUMMARY_FORMATS.get(file.suffix.lower())
        if kind is None:
            raise UsageProblem(f"--summary {file}: cannot tell the format from the extension "
                               f"{file.suffix or '(none)'!r}",
                               "end the name in .md (Markdown), .xml (JUnit) or .json")
        targets.append((file, kind))
    return targets


def _write_summaries(summaries: list[tuple[Path, str]], outcomes: list[Outcome],
                     err: Console, debug: bool) -> None:
    try:
        for file, kind in summaries:
            write_summary(file, _summary_text(kind, outcomes, file.absolute().parent))
    except OverfitcheckError as problem:
        _fail(err, problem.one_line(), problem.exit_code, debug)


def _given(ctx: typer.Context) -> dict[str, Any]:
    """The options typed on the command line (not defaulted), keyed like Config: only these
    override the config file."""
    given = {}
    for name, value in ctx.params.items():
        option = name
        source = ctx.get_parameter_source(name)
        if option not in FILE_OPTIONS or source is None or source.name.startswith("DEFAULT"):
            continue
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, Path):
            value = str(value)
        if option == "alphas":
            value = _parse_alphas(value)
        given[option] = value
    return given


def _project(config_file: Path | None) -> ProjectConfig | None:
    if config_file is not None:
        return load_project_config(config_file)
    found = find_project_config(Path.cwd())
    return load_project_config(found) if found else None


def config_command(ctx: typer.Context, **options: Any) -> None:
    """Print the resolved configuration of `overfitcheck diagnose` with the same arguments:
    every option's value for each dataset and where it came from (command line, the config
    file or one of its [[datasets]], or the default). Takes every option of diagnose; only
    --format table or json apply here.
    """
    err = Console(stderr=True, highlight=False)
    debug = options["debug"]
    try:
        project = _project(options["config_file"])
        given = _given(ctx)
        paths = options["paths"] or []
        if paths or (project is not None and project.datasets):
            the_plan = plan(paths, given, project, require_target=False)
            runs = the_plan.runs
            run_options = the_plan.run_options
        else:
            runs, run_options = (), resolve(given, project)
        data = {
            "config_file": None if project is None else project.source,
            "run": {name: {"value": run_options.values[name],
                           "source": run_options.sources[name]} for name in RUN_DEFAULTS},
            "defaults": {name: {"value": _plain(run_options.values[name]),
                                "source": run_options.sources[name]} for name in CONFIG_TYPES},
            "datasets": [{"name": r.name, "path": r.given, "output_dir": str(r.output_dir),
                          "options": {name: {"value": _plain(value),
                                             "source": r.sources[name]}
                                      for name, value in {**r.config.to_dict(),
                                                          "fail_on": r.fail_on,
                                                          "no_plots": not r.plots}.items()}}
                         for r in runs],
        }
        if options["output_format"] is Format.json:
            sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        elif options["output_format"] is Format.table:
            Console(highlight=False).print(*_config_tables(data))
        else:
            raise UsageProblem(f"config prints table or json, not {options['output_format'].value}",
                               "use --format table or --format json")
    except OverfitcheckError as problem:
        _fail(err, problem.one_line(), problem.exit_code, debug)


config_command.__signature__ = inspect.signature(diagnose_command, eval_str=True)
app.command("config", epilog=CONFIG_EXAMPLE)(config_command)


def _config_tables(data: dict[str, Any]) -> list[Any]:
    """The resolved configuration as rich tables: one for the run, one per dataset (or the
    defaults when there is none)."""
    parts: list[Any] = [Text(f"config file: {data['config_file'] or '(none found)'}")]
    sections = [("run", data["run"])]
    if data["datasets"]:
        sections += [(f"dataset {d['name']} ({d['path']} -> {d['output_dir']})", d["options"])
                     for d in data["datasets"]]
    else:
        sections.append(("options (no dataset given)", data["defaults"]))
    for title, values in sections:
        table = Table(title=Text(title), title_justify="left", box=None, pad_edge=False)
        table.add_column("option", no_wrap=True)
        table.add_column("value")
        table.add_column("from", overflow="fold")
        for name, entry in values.items():
            table.add_row(f"--{name.replace('_', '-')}", Text(_shown(entry["value"])),
                          Text(entry["source"]))
        parts.append(table)
    return parts


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list | tuple):
        return ",".join(f"{v:g}" for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


@app.command("report", epilog=REPORT_EXAMPLE)
def report_command(
    reports: Annotated[list[Path], typer.Argument(
        help="Saved report.json files, or folders holding one (or one per dataset in their "
        "subfolders, as a batch writes them).", show_default=False)],
    output_dir: Annotated[Path | None, typer.Option(
        "--output-dir", "-o", help="Write the PNGs and report.json here (several reports: one "
        "subfolder each) instead of next to each report.", show_default=False)] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plots.")] = False,
    output_format: Annotated[Format, typer.Option(
        "--format", help="What goes to stdout: rich tables, JSON, Markdown or JUnit XML.")
    ] = Format.table,
    summary: SummaryOption = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="Exit 1 when a saved verdict is this (any: overfitting or "
        "underfitting).")] = DEFAULT_FAIL_ON,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Re-render saved reports without refitting: the tables, the PNGs and the summaries, in any
    format. Exit codes as for diagnose.
    """
    from .report import load_report

    err = Console(stderr=True, highlight=False)
    try:
        summaries = _summary_targets(summary)
        files = [file for given in reports for file in _report_files(given)]
        names = safe_names([str(f.parent.absolute()) for f in files])
        outcomes = []
        for name, file in zip(names, files, strict=True):
            report = load_report(file)
            folder = file.parent
            if output_dir is not None:
                folder = output_dir if len(files) == 1 else output_dir / name
            if not no_plots or folder != file.parent:
                write_outputs(report, folder, plots=not no_plots)
            code = ExitCode.POLICY_FAILED if verdict_fails(report.verdict.overall,
                                                           fail_on.value) else ExitCode.OK
            outcomes.append(Outcome(name, report.input_path or str(file), folder, report, None,
                                    code))
        _print_payload(outcomes, output_format, single=len(outcomes) == 1)
        _write_summaries(summaries, outcomes, err, debug)
        if not quiet and not no_plots:
            err.print(f"wrote the PNGs of {len(outcomes)} report"
                      f"{'s' if len(outcomes) != 1 else ''}", markup=False)
    except OverfitcheckError as problem:
        _fail(err, problem.one_line(), problem.exit_code, debug)
    except KeyboardInterrupt:
        _fail(err, "interrupted", ExitCode.INTERRUPTED, debug)
    except Exception as bug:  # noqa: BLE001 - bugs become exit code 4
        _fail(err, internal_error_line(bug), ExitCode.INTERNAL, debug)
    code = most_severe([o.exit_code for o in outcomes])
    if code != ExitCode.OK:
        raise typer.Exit(code)


@app.command("compare", epilog=COMPARE_EXAMPLE)
def compare_command(
    base: Annotated[Path, typer.Argument(
        help="The reference: a report.json, or a batch's output folder.", show_default=False)],
    new: Annotated[Path, typer.Argument(
        help="The report (or batch output folder) to check against it.", show_default=False)],
    noise_se: Annotated[float, typer.Option(
        "--noise-se", help="How many standard errors of fold noise a change must clear to "
        "count as worse.", show_default=True)] = default_of("noise_se"),
    output_format: Annotated[Format, typer.Option(
        "--format", help="table (plain text lines with the numbers) or json.")] = Format.table,
    debug: DebugOption = False,
) -> None:
    """Did validation error, the train/validation gap or the verdict get worse from BASE to NEW
    beyond fold noise? Exit 1 when it did (the numbers say where), 0 when not. Two batch
    output folders are compared dataset by dataset, matched by subfolder name.
    """
    from .compare import compare_reports, render_comparison
    from .report import load_report

    err = Console(stderr=True, highlight=False)
    try:
        if output_format not in (Format.table, Format.json):
            raise UsageProblem(f"compare prints table or json, not {output_format.value}",
                               "use --format table or --format json")
        pairs, only_base, only_new = _report_pairs(base, new)
        comparisons = [(name, compare_reports(load_report(b), load_report(n),
                                              noise_se=noise_se)) for name, b, n in pairs]
        worse = any(c.worse for _, c in comparisons)
        if output_format is Format.json:
            if len(comparisons) == 1 and not (only_base or only_new):
                data = comparisons[0][1].to_dict()
            else:
                data = {"worse": worse, "datasets": [{"name": name, **c.to_dict()}
                                                     for name, c in comparisons],
                        "only_in_base": only_base, "only_in_new": only_new}
            sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        else:
            blocks = []
            for name, comparison in comparisons:
                text = render_comparison(comparison)
                blocks.append(text if len(comparisons) == 1 else f"{name}:\n{text}")
            blocks += [f"{name}: only in {base}, not compared" for name in only_base]
            blocks += [f"{name}: only in {new}, not compared" for name in only_new]
            sys.stdout.write("\n".join(b.rstrip("\n") for b in blocks) + "\n")
    except OverfitcheckError as problem:
        _fail(err, problem.one_line(), problem.exit_code, debug)
    except KeyboardInterrupt:
        _fail(err, "interrupted", ExitCode.INTERRUPTED, debug)
    except Exception as bug:  # noqa: BLE001 - bugs become exit code 4
        _fail(err, internal_error_line(bug), ExitCode.INTERNAL, debug)
    if worse:
        raise typer.Exit(ExitCode.POLICY_FAILED)


def _report_files(given: Path) -> list[Path]:
    """A report file, a folder with report.json, or a batch folder (its */report.json)."""
    if given.is_dir():
        if (given / REPORT_FILE).is_file():
            return [given / REPORT_FILE]
        inside = sorted(given.glob(f"*/{REPORT_FILE}"))
        if not inside:
            raise UsageProblem(f"{given} holds no {REPORT_FILE}, nor subfolders with one",
                               "give a report.json or the --output-dir of a diagnose run")
        return inside
    return [given]


def _report_pairs(base: Path, new: Path):
    """(name, base file, new file) to compare, plus the dataset names found on one side only."""
    if not (base.is_dir() and new.is_dir()) or (base / REPORT_FILE).is_file() \
            or (new / REPORT_FILE).is_file():
        one = [_single_report(base), _single_report(new)]
        return [(one[1].parent.name, one[0], one[1])], [], []
    base_files = {f.parent.name: f for f in _report_files(base)}
    new_files = {f.parent.name: f for f in _report_files(new)}
    pairs = [(name, base_files[name], new_files[name]) for name in sorted(base_files)
             if name in new_files]
    if not pairs:
        raise UsageProblem(f"{base} and {new} share no dataset subfolder",
                           "compare the output folders of two runs over the same datasets")
    return (pairs, sorted(set(base_files) - set(new_files)),
            sorted(set(new_files) - set(base_files)))


def _single_report(given: Path) -> Path:
    files = _report_files(given) if given.is_dir() else [given]
    if len(files) != 1:
        raise UsageProblem(f"{given} holds {len(files)} reports",
                           "compare two report.json files, or two batch output folders")
    return files[0]


def _fail(err: Console, line: str, code: ExitCode, debug: bool) -> None:
    if debug:
        err.print(traceback.format_exc(), markup=False, highlight=False)
    err.print(f"overfitcheck: error: {line}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


def _parse_alphas(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise UsageProblem(f"--alphas {text!r} is not a list of numbers",
                           "write it as 0.01,0.1,1") from err
    return values


class _progress:
    """A progress bar on stderr fed by diagnose()'s callback; a no-op when hidden."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(),
                            console=console, transient=True) if enabled else None
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        if self.bar is None:
            return None
        self.bar.__enter__()
        return self.update

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def update(self, stage: str, done: int, total: int) -> None:
        """total 0: not known ahead (rows of a file read in chunks), shown as "?"."""
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total or None)
        self.bar.update(self.tasks[stage], completed=done, total=total or None)


def main() -> None:
    """Console-script entry point."""
    app()
