"""The command line: options (and the config file) -> datasets, the library's calls, renderers,
errors -> exit codes."""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import __version__
from .batch import (
    Plan,
    batch_to_json,
    internal_error_line,
    plan,
    rerender,
    resolved_configuration,
    run_batch,
)
from .config import default_of, help_for
from .errors import ExitCode, OverfitcheckError, UsageProblem
from .outcome import Outcome, most_severe
from .output import REPORT_FILE, write_summary
from .project_config import (
    CONFIG_TYPES,
    RUN_DEFAULTS,
    ProjectConfig,
    find_project_config,
    load_project_config,
    parse_alphas,
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


class TextFormat(str, Enum):
    """The formats of config and compare, whose output is no batch summary."""

    table = "table"
    json = "json"


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
    with _exit_codes(err, debug):
        summaries = _summary_targets(summary)
        the_plan = plan(paths or [], _given(ctx), _project(config_file))
        with _progress(err, not quiet and err.is_terminal) as progress:
            outcomes = _run(the_plan, progress)
        _tell(err, the_plan, outcomes, output_format, quiet, debug)
        if not (the_plan.single and outcomes[0].report is None
                and output_format in (Format.table, Format.json)):
            _print_payload(outcomes, output_format, single=the_plan.single)
        _write_summaries(summaries, outcomes)
    code = most_severe([o.exit_code for o in outcomes])
    if code != ExitCode.OK:
        raise typer.Exit(code)


def _run(the_plan: Plan, progress) -> list[Outcome]:
    """run_batch with the progress bar: each dataset's stages when they run in this process,
    and with several datasets, one tick per dataset done."""
    on_done = None
    if progress is not None and not the_plan.single:
        total, done = len(the_plan.runs), []
        progress("datasets", 0, total)

        def on_done(outcome: Outcome) -> None:
            done.append(outcome)
            progress("datasets", len(done), total)

    return run_batch(the_plan.runs, workers=the_plan.workers, fail_fast=the_plan.fail_fast,
                     progress=progress if the_plan.workers == 1 else None, on_done=on_done)


def _tell(err: Console, the_plan: Plan, outcomes: list[Outcome], output_format: Format,
          quiet: bool, debug: bool) -> None:
    """stderr: each error (with --debug, its traceback), then unless quiet the notes of a
    one-file run (the table's verdict panel shows them) and what was written."""
    for outcome in outcomes:
        if outcome.error is not None:
            if debug and outcome.traceback:
                err.print(outcome.traceback, markup=False, highlight=False)
            prefix = "" if the_plan.single else f"{outcome.name}: "
            err.print(f"overfitcheck: error: {prefix}{outcome.error}", markup=False,
                      soft_wrap=True)
    if quiet:
        return
    if the_plan.single:
        report, run = outcomes[0].report, the_plan.runs[0]
        if report is None:
            return
        if output_format is not Format.table:
            for line in (*report.notes, *report.warnings):
                err.print(f"note: {line}", markup=False)
        err.print(f"wrote {run.output_dir}{os.sep}{REPORT_FILE}"
                  + ("" if not run.plots else " and PNGs"), markup=False)
        return
    skipped = len(the_plan.runs) - len(outcomes)
    err.print(f"wrote {len([o for o in outcomes if o.report])} of {len(the_plan.runs)} "
              f"reports under {the_plan.output_dir}"
              + (f"; {skipped} not run after an error (--fail-fast)" if skipped else ""),
              markup=False, soft_wrap=True)


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


def _write_summaries(summaries: list[tuple[Path, str]], outcomes: list[Outcome]) -> None:
    for file, kind in summaries:
        write_summary(file, _summary_text(kind, outcomes, file.absolute().parent))


def _given(ctx: typer.Context) -> dict[str, Any]:
    """The options typed on the command line (not defaulted), keyed like Config: only these
    override the config file."""
    given = {}
    for name, value in ctx.params.items():
        source = ctx.get_parameter_source(name)
        if name not in FILE_OPTIONS or source is None or source.name.startswith("DEFAULT"):
            continue
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, Path):
            value = str(value)
        if name == "alphas":
            value = parse_alphas(value)
        given[name] = value
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
    output_format = options["output_format"]
    with _exit_codes(err, options["debug"]):
        if output_format not in (Format.table, Format.json):
            raise UsageProblem(f"config prints table or json, not {output_format.value}",
                               "use --format table or --format json")
        configuration = resolved_configuration(options["paths"] or [], _given(ctx),
                                               _project(options["config_file"]))
        if output_format is Format.json:
            sys.stdout.write(json.dumps(configuration, indent=2, ensure_ascii=False) + "\n")
        else:
            from .render_terminal import render_config

            Console(highlight=False).print(render_config(configuration))


config_command.__signature__ = inspect.signature(diagnose_command, eval_str=True)
app.command("config", epilog=CONFIG_EXAMPLE)(config_command)


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
        "underfitting). The config file's fail-on does not apply here.")] = DEFAULT_FAIL_ON,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Re-render saved reports without refitting: the tables, the PNGs and the summaries, in any
    format. Exit codes as for diagnose.
    """
    err = Console(stderr=True, highlight=False)
    with _exit_codes(err, debug):
        summaries = _summary_targets(summary)
        outcomes = rerender(reports, output_dir=output_dir, plots=not no_plots,
                            fail_on=fail_on.value)
        _print_payload(outcomes, output_format, single=len(outcomes) == 1)
        _write_summaries(summaries, outcomes)
        if not quiet and not no_plots:
            err.print(f"wrote the PNGs of {len(outcomes)} report"
                      f"{'s' if len(outcomes) != 1 else ''}", markup=False)
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
    output_format: Annotated[TextFormat, typer.Option(
        "--format", help="table (plain text lines with the numbers) or json.")
    ] = TextFormat.table,
    debug: DebugOption = False,
) -> None:
    """Did validation error, the train/validation gap or the verdict get worse from BASE to NEW
    beyond fold noise? Exit 1 when it did (the numbers say where), 0 when not. Two batch
    output folders are compared dataset by dataset, matched by subfolder name.
    """
    from .compare import compare_runs, render_run_comparison

    err = Console(stderr=True, highlight=False)
    with _exit_codes(err, debug):
        runs = compare_runs(base, new, noise_se=noise_se)
        if output_format is TextFormat.json:
            sys.stdout.write(json.dumps(runs.to_dict(), indent=2, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(render_run_comparison(runs))
    if runs.worse:
        raise typer.Exit(ExitCode.POLICY_FAILED)


@contextmanager
def _exit_codes(err: Console, debug: bool) -> Iterator[None]:
    """Errors -> their one line on stderr and exit code; a bug -> exit 4 (with --debug, the
    traceback first)."""
    try:
        yield
    except OverfitcheckError as problem:
        _fail(err, problem.one_line(), problem.exit_code, debug)
    except KeyboardInterrupt:
        _fail(err, "interrupted", ExitCode.INTERRUPTED, debug)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as bug:  # noqa: BLE001 - the one place that turns bugs into exit code 4
        _fail(err, internal_error_line(bug), ExitCode.INTERNAL, debug)


def _fail(err: Console, line: str, code: ExitCode, debug: bool) -> None:
    if debug:
        err.print(traceback.format_exc(), markup=False, highlight=False)
    err.print(f"overfitcheck: error: {line}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


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
