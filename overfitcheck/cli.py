"""The command line: options -> Config, one diagnose() call, renderers, errors -> exit codes."""

from __future__ import annotations

import os
import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import __version__
from .config import Config, default_of, help_for
from .diagnose import diagnose
from .errors import ExitCode, OverfitcheckError, UsageProblem
from .output import write_outputs

DEFAULT_OUTPUT_DIR = Path("overfitcheck-report")

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


class FailOn(str, Enum):
    never = "never"
    overfitting = "overfitting"
    underfitting = "underfitting"
    any = "any"


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


EXAMPLE = "Example: overfitcheck diagnose sample_data/telco_churn.csv --target churn"


@app.command("diagnose", epilog=EXAMPLE)
def diagnose_command(
    path: Annotated[Path, typer.Argument(help="CSV file (.csv, .csv.gz, .bz2, .zip, .xz).",
                                         show_default=False)],
    target: Annotated[str, _opt("target", "--target", "-t")],
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
        "--output-dir", "-o", help="Folder for report.json and the PNGs (created if missing).")
    ] = DEFAULT_OUTPUT_DIR,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plots.")] = False,
    output_format: Annotated[Format, typer.Option(
        "--format", help="What goes to stdout: rich tables, or report.json's content.")
    ] = Format.table,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", help="Exit 1 when the overall verdict is this (any: overfitting or "
        "underfitting). For CI.")] = FailOn.never,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bar, notes or warnings on stderr.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """Diagnose PATH: fit unregularized, L1 and L2 models with cross-validation and judge them.

    Prints the tables (or JSON with --format json) to stdout; writes report.json and PNGs to
    --output-dir. Exit codes: 0 done, 1 verdict matched --fail-on, 2 usage error, 3 bad data,
    4 internal error, 130 interrupted.
    """
    err = Console(stderr=True, highlight=False)
    try:
        config = Config(
            target=target, task=task, cv=cv, seed=seed, group_col=group_col, time_col=time_col,
            metric=metric, alphas=_parse_alphas(alphas), n_alphas=n_alphas,
            alpha_min=alpha_min, alpha_max=alpha_max, max_levels=max_levels,
            drop_first=drop_first, gap_fraction=gap_fraction, gap_floor=gap_floor,
            underfit_fraction=underfit_fraction, noise_se=noise_se,
            interpolation_fraction=interpolation_fraction, gain_fraction=gain_fraction,
            more_data_fraction=more_data_fraction, max_rows=max_rows, encoding=encoding,
            chunk_rows=chunk_rows, jobs=jobs)
        show_progress = not quiet and err.is_terminal
        with _progress(err, show_progress) as progress:
            report = diagnose(path, config=config, progress=progress)
        if not quiet and output_format is Format.json:  # the table's verdict panel lists them
            for line in (*report.notes, *report.warnings):
                err.print(f"note: {line}", markup=False)
        write_outputs(report, output_dir, plots=not no_plots)
        if output_format is Format.json:
            sys.stdout.write(report.to_json())
        else:
            from .render_terminal import render_terminal
            Console(highlight=False).print(render_terminal(report))
        if not quiet:
            err.print(f"wrote {output_dir}{os.sep}report.json"
                      + ("" if no_plots else " and PNGs"), markup=False)
    except OverfitcheckError as problem:
        _fail(err, problem.one_line(), problem.exit_code, debug)
    except KeyboardInterrupt:
        _fail(err, "interrupted", ExitCode.INTERRUPTED, debug)
    except (typer.Exit, typer.Abort):
        raise
    except Exception as bug:  # noqa: BLE001 - the one place that turns bugs into exit code 4
        detail = " ".join(str(bug).split()).rstrip(".")
        _fail(err, f"internal error: {type(bug).__name__}: {detail}. Fix: rerun with --debug "
              "and report the traceback", ExitCode.INTERNAL, debug)
    verdict = report.verdict.overall
    if fail_on is FailOn.any and verdict in ("overfitting", "underfitting") or \
            fail_on.value == verdict:
        raise typer.Exit(ExitCode.POLICY_FAILED)


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
