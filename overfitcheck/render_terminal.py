"""Report -> terminal: the data, models and coefficient tables and the verdict panel, as rich."""

from __future__ import annotations

import math
import os
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .dataset import ColumnPlan
from .errors import ExitCode
from .outcome import Outcome
from .report import Report
from .verdict import FAMILY_NAMES, FamilyVerdict

# Four significant digits tell 54.53 from 54.47 (two models a standard error apart) without
# printing fold noise as if it were signal.
SIGNIFICANT = 4
# Longest user-supplied name shown; longer ones end in "…" so one name cannot push a table past
# an 80-column terminal.
MAX_NAME = 40
MAX_FILE_NAME = 60
MAX_SUMMARY_NAME = 32  # the summary table's six columns fit 100 columns with names this long
SHOWN_COEFFICIENTS = 10
SHOWN_L1_DROPPED = 10
SHOWN_LEVELS = 6
SHOWN_CLASSES = 8
VERDICT_STYLES = {"overfitting": "red", "underfitting": "yellow", "good_fit": "green",
                  "inconclusive": "dim"}
# Control, format (bidi overrides, zero-width), separator and surrogate characters would move the
# cursor, reorder the line or fail to encode: they are shown as escapes instead.
_UNSAFE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_SETUP_ROLES = ("target", "group", "time")


def render_terminal(report: Report, *, max_rows: int = 40) -> RenderableType:
    """The report as one rich renderable: data table, models table, coefficients, verdict.

    Nothing is printed; the caller (the CLI, a notebook) prints it. `max_rows` caps the data
    table, whose alike numeric columns collapse into summary rows when the file is wide.
    """
    if max_rows < 2:
        raise ValueError(f"max_rows must be at least 2, not {max_rows}")
    return Group(
        _data_section(report, max_rows), Text(""),
        _models_section(report), Text(""),
        _coefficients_section(report), Text(""),
        _verdict_panel(report),
    )


def render_summary(outcomes: Sequence[Outcome]) -> RenderableType:
    """One table across the datasets of a batch run, a row per dataset, then their errors.

    The row gives the dataset's task and error metric, rows, verdict, recommended model and
    alpha, and that model's validation error against the baseline's; a dataset that could not
    be diagnosed is listed with its one-line error below the table.
    """
    failed_policy = sum(o.report is not None and o.failed_policy for o in outcomes)
    failed = [o for o in outcomes if o.report is None]
    counts = [f"{_count(len(outcomes))} dataset{'s' if len(outcomes) != 1 else ''}"]
    if failed_policy:
        counts.append(f"{_count(failed_policy)} failed the --fail-on policy (✗)")
    if failed:
        counts.append(f"{_count(len(failed))} could not be diagnosed")
    heading = Text.assemble(("Summary", "bold"), ": " + ", ".join(counts))
    table = _table()
    # The name wraps in a narrow terminal, so the numbers beside it keep their width.
    table.add_column("dataset", overflow="fold")
    table.add_column("task\n(error)", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("recommended", no_wrap=True)
    table.add_column("validation\nerror ± SE", justify="right", no_wrap=True)
    for o in outcomes:
        table.add_row(*_summary_cells(o))
    parts: list[RenderableType] = [heading, table]
    if any(o.report is not None for o in outcomes):
        parts.append(_indent(Text(
            "validation error: the recommended model's mean over the folds ± its standard "
            "error, vs the baseline's; lower is better.", style="dim")))
    if failed:
        errors = Table.grid(padding=(0, 1))
        errors.add_column(no_wrap=True)
        errors.add_column()
        for o in failed:
            errors.add_row(" •", Text.assemble((_clean(o.name), "bold"), ": ",
                                               _clean(o.error or _exit_name(o.exit_code), None)))
        parts += [Text("Could not be diagnosed:", style="bold"), errors]
    return Group(*parts)


def _summary_cells(o: Outcome) -> list[Text | str]:
    name = Text(_clean(o.name, MAX_SUMMARY_NAME))
    r = o.report
    if r is None:
        return [name, "—", "—", Text("error", style="bold red"), "—", "—"]
    v = r.verdict
    best = next(fv for fv in v.families if fv.penalty == v.best)
    task = Text.assemble(r.task, "\n", (_clean(r.metric_label), "dim"))
    verdict = Text(v.overall, style=VERDICT_STYLES.get(v.overall, ""))
    if o.failed_policy:
        verdict.append(" ✗", style="bold red")
    model = FAMILY_NAMES.get(v.best, v.best)
    if v.best != "none":
        model += f"\nα {_num(best.alpha)}"
    baseline = float(r.baseline.validation_mean[0])
    error = Text.assemble(f"{_num(best.validation_error)} ± {_num(best.validation_error_se)}\n",
                          (f"vs {_num(baseline)}", "dim"))
    return [name, task, _count(r.n_rows), verdict, model, error]


def _exit_name(code: ExitCode) -> str:
    return f"exit {int(code)} ({code.name.lower().replace('_', ' ')})"


def render_config(configuration: dict[str, Any]) -> RenderableType:
    """`overfitcheck config`: the config file, then a table of option, value and source for
    the run and for each dataset (or the defaults when no dataset is given)."""
    parts: list[RenderableType] = [
        Text(f"config file: {configuration['config_file'] or '(none found)'}")]
    sections = [("run", configuration["run"])]
    if configuration["datasets"]:
        sections += [(f"dataset {d['name']} ({d['path']} -> {d['output_dir']})", d["options"])
                     for d in configuration["datasets"]]
    else:
        sections.append(("options (no dataset given)", configuration["defaults"]))
    for title, values in sections:
        table = Table(title=Text(title), title_justify="left", box=None, pad_edge=False)
        table.add_column("option", no_wrap=True)
        table.add_column("value")
        table.add_column("from", overflow="fold")
        for name, entry in values.items():
            table.add_row(f"--{name.replace('_', '-')}", Text(_option_value(entry["value"])),
                          Text(entry["source"]))
        parts.append(table)
    return Group(*parts)


def _option_value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list | tuple):
        return ",".join(f"{v:g}" for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


# ---------------------------------------------------------------------------------------------
# Data table


def _data_section(report: Report, max_rows: int) -> RenderableType:
    source = (_clean(os.path.basename(report.input_path), MAX_FILE_NAME)
              if report.input_path else "DataFrame")
    heading = Text.assemble(("Data: ", "bold"), (source, "bold"),
                            f" · {_count(len(report.columns))} columns → "
                            f"{_count(report.n_features)} features")
    table = _table()
    table.add_column("column", no_wrap=True)  # names are capped at MAX_NAME; details wrap
    table.add_column("role")
    table.add_column("what was done", min_width=24)
    table.add_column("missing", justify="right", no_wrap=True)
    table.add_column("features", justify="right", no_wrap=True)
    for row in _column_rows(report.columns, max_rows):
        table.add_row(*row)
    return Group(heading, table, _indent(_data_facts(report)))


def _column_rows(columns: Sequence[ColumnPlan], max_rows: int) -> list[tuple[Text, ...]]:
    """One row per column; when they would not fit, alike numeric columns share a row."""
    if len(columns) <= max_rows:
        return [_column_row(c) for c in columns]
    rows = [(_column_row(c), [c]) for role in _SETUP_ROLES for c in columns if c.role == role]
    plain = [c for c in columns if c.role == "numeric" and c.n_missing == 0]
    imputed = [c for c in columns if c.role == "numeric" and c.n_missing > 0]
    for group, detail in ((plain, "standardized"),
                          (imputed, "missing values imputed with the training fold's mean, plus "
                                    "a missing indicator")):
        if len(group) == 1:
            rows.append((_column_row(group[0]), group))
        elif group:
            rows.append((_summary_row(f"{_count(len(group))} numeric columns", "numeric",
                                      f"{detail} ({_span(group)})", group), group))
    # Dropped and categorical columns are what a reader must check: each keeps its own row.
    rows += [(_column_row(c), [c]) for c in columns
             if c.role not in _SETUP_ROLES and c.role != "numeric"]
    if len(rows) > max_rows:
        cut = [c for _, members in rows[max_rows - 1:] for c in members]
        kinds = ", ".join(f"{_count(n)} {role}" for role, n in Counter(c.role for c in cut).items())
        rows = rows[: max_rows - 1] + [(_summary_row(f"… and {_count(len(cut))} more columns", "",
                                                     kinds, cut), cut)]
    return [row for row, _ in rows]


def _column_row(c: ColumnPlan) -> tuple[Text, ...]:
    detail = Text(_clean(c.detail, None))
    if c.role == "categorical" and c.features:
        prefix = f"{c.name}="
        levels = [f[len(prefix):] if f.startswith(prefix) else f for f in c.features]
        shown = ", ".join(_clean(level) for level in levels[:SHOWN_LEVELS])
        if len(levels) > SHOWN_LEVELS:
            shown += f", … ({_count(len(levels) - SHOWN_LEVELS)} more)"
        detail.append(f"\nlevels: {shown}", style="dim")
    features = "—" if c.role in _SETUP_ROLES else _count(len(c.features))
    style = "dim" if c.role == "dropped" else ""
    return (Text(_clean(c.name), style=style), Text(c.role, style=style), detail,
            Text(_count(c.n_missing)), Text(features))


def _summary_row(name: str, role: str, detail: str, group: Sequence[ColumnPlan]
                 ) -> tuple[Text, ...]:
    return (Text(name, style="italic"), Text(role), Text(detail),
            Text(_count(sum(c.n_missing for c in group))),
            Text(_count(sum(len(c.features) for c in group))))


def _span(group: Sequence[ColumnPlan]) -> str:
    names = [_clean(c.name, 16) for c in group]
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} … {names[-1]}"


def _data_facts(report: Report) -> Text:
    rows = f"Rows: {_count(report.n_rows)} used of {_count(report.n_rows_read)} read"
    if report.n_rows_dropped:
        rows += f" ({_count(report.n_rows_dropped)} dropped for a missing target)"
    sizes = [(report.folds.get(k) or []) for k in ("train_sizes", "validation_sizes")]
    if all(sizes):
        rows += f"; per fold {_range(sizes[0])} training, {_range(sizes[1])} validation"
    task = f"Task: {report.task}, predicting {_clean(report.target)}"
    if report.classes:
        names = ", ".join(_clean(c) for c in report.classes[:SHOWN_CLASSES])
        if len(report.classes) > SHOWN_CLASSES:
            names += f", … ({_count(len(report.classes) - SHOWN_CLASSES)} more)"
        task += f": {len(report.classes)} classes ({names})"
    return Text("\n".join([rows + ".", task + ".", f"Folds: {_folds(report.folds)}."]))


def _folds(folds: dict[str, Any]) -> str:
    skip = {"splitter", "train_sizes", "validation_sizes", "group_col", "time_col", "rule"}
    args = ", ".join(f"{k}={v}" for k, v in folds.items() if k not in skip)
    text = f"{folds.get('splitter', '?')}({args})"
    for key, how in (("group_col", "grouped by"), ("time_col", "ordered by")):
        if folds.get(key):
            text += f", {how} column {_clean(folds[key])}"
    return text


def _range(sizes: Sequence[int]) -> str:
    low, high = min(sizes), max(sizes)
    return _count(low) if low == high else f"{_count(low)}–{_count(high)}"


# ---------------------------------------------------------------------------------------------
# Models table


def _models_section(report: Report) -> RenderableType:
    if report.task == "regression":
        baseline, sklearn = "the training mean", "Lasso(alpha=α), Ridge(alpha=n_train·α)"
    else:
        baseline, sklearn = "the training class frequencies", "LogisticRegression(C=1/(n_train·α))"
    notes = Text("\n".join([
        f"Errors: {report.metric_label}, lower is better; gap = validation − training; "
        "gap / base = gap ÷ baseline error.",
        f"baseline: predicts {baseline}. * = lowest validation error (recommended).",
        f"alpha (α): glmnet's lambda on standardized features = {sklearn}.",
        "alpha 1-SE: the largest alpha whose validation error is within one standard error of "
        "the best.",
    ]), style="dim")
    # Three layouts, widest first: the first that fits the terminal is drawn, so the numbers are
    # never cut off with "…" at 80 columns.
    tables = _FirstThatFits(*(_models_table(report, layout)
                              for layout in ("wide", "stacked", "narrow")))
    return Group(Text("Models", style="bold"), tables, _indent(notes))


def _models_table(report: Report, layout: str) -> Table:
    """wide: one line a model; stacked: alpha 1-SE and ± SE on second lines; narrow: the alphas
    move into the model cell."""
    table = _table()
    table.add_column("model", no_wrap=True)
    alphas = {"wide": ["alpha", "alpha\n1-SE"], "stacked": ["alpha\n(1-SE)"], "narrow": []}
    nonzero = "non-\nzero\ncoefs" if layout == "narrow" else "non-zero\ncoefs"
    for header in alphas[layout] + ["train\nerror", "validation\nerror ± SE", "gap",
                                    "gap /\nbase", nonzero]:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for fv in report.verdict.families:
        table.add_row(*_model_cells(fv, fv.penalty == report.verdict.best, layout))
    base = report.baseline
    train, valid = float(base.train_mean[0]), float(base.validation_mean[0])
    table.add_section()
    table.add_row(Text("baseline", style="dim"), *["—"] * len(alphas[layout]), _num(train),
                  _plus_minus(valid, float(base.validation_se[0]), layout),
                  _num(valid - train), _pct((valid - train) / valid if valid else math.nan),
                  "—", "—")
    return table


def _model_cells(fv: FamilyVerdict, best: bool, layout: str) -> list[Text | str]:
    regularized = fv.penalty != "none"
    name = Text(FAMILY_NAMES.get(fv.penalty, fv.penalty) + (" *" if best else ""),
                style="bold" if best else "")
    alpha, alpha_1se = (_num(fv.alpha), _num(fv.alpha_1se)) if regularized else ("—", "—")
    alphas = {"wide": [alpha, alpha_1se],
              "stacked": [f"{alpha}\n({alpha_1se})" if regularized else "—"],
              "narrow": []}[layout]
    if layout == "narrow" and regularized:
        name.append(f"\nα {alpha}\n1-SE {alpha_1se}", style="")
    return [name, *alphas, _num(fv.train_error),
            _plus_minus(fv.validation_error, fv.validation_error_se, layout),
            _num(fv.gap), _pct(fv.gap_relative), _count(fv.n_nonzero),
            Text(fv.verdict, style=VERDICT_STYLES.get(fv.verdict, ""))]


def _plus_minus(value: float, se: float, layout: str) -> str:
    return f"{_num(value)}{' ' if layout == 'wide' else chr(10)}± {_num(se)}"


class _FirstThatFits:
    """Draws the first of its layouts whose natural width fits the space given (else the last)."""

    def __init__(self, *layouts: RenderableType) -> None:
        self.layouts = layouts

    def _choose(self, console: Console, options: ConsoleOptions) -> RenderableType:
        unbounded = options.update_width(10_000)
        for layout in self.layouts[:-1]:
            if Measurement.get(console, unbounded, layout).maximum <= options.max_width:
                return layout
        return self.layouts[-1]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._choose(console, options)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self._choose(console, options))


# ---------------------------------------------------------------------------------------------
# Coefficients


def _coefficients_section(report: Report) -> RenderableType:
    penalty = report.verdict.best
    name = FAMILY_NAMES.get(penalty, penalty)
    at = f" at alpha {_num(report.curves[penalty].alpha_min)}" if penalty != "none" else ""
    heading = Text.assemble(("Largest coefficients", "bold"), f": {name}{at}")
    top = report.top_coefficients(penalty, SHOWN_COEFFICIENTS)
    notes = []
    if top:
        table = _table()
        table.add_column("feature", no_wrap=True)
        table.add_column("coefficient", justify="right", no_wrap=True)
        table.add_column("pushes the prediction")
        for feature, value, cls in top:
            table.add_row(Text(_clean(feature)), _signed(value), Text(_effect(report, value, cls)))
        parts: list[RenderableType] = [heading, table]
        notes.append("Per standard deviation of each feature, fitted on all rows"
                     + ("; the largest over the classes" if len(report.classes) > 2 else "") + ".")
    elif report.curves[penalty].coef is None:
        parts = [Text.assemble(heading, ": not recorded.")]
    else:
        parts = [Text.assemble(heading, ": every coefficient is zero.")]
    l1 = report.curves.get("l1")
    if l1 is not None and l1.coef is not None:
        dropped = report.dropped_by_l1()
        intro = f"L1 (lasso) at alpha {_num(l1.alpha_min)}"
        if dropped:
            shown = ", ".join(_clean(d) for d in dropped[:SHOWN_L1_DROPPED])
            if len(dropped) > SHOWN_L1_DROPPED:
                shown += f", … and {_count(len(dropped) - SHOWN_L1_DROPPED)} more"
            notes.append(f"{intro} sets {_count(len(dropped))} of {_count(report.n_features)} "
                         f"features to zero: {shown}.")
        else:
            notes.append(f"{intro} keeps all {_count(report.n_features)} features.")
    if notes:
        parts.append(_indent(Text("\n".join(notes), style="dim")))
    return Group(*parts)


def _effect(report: Report, value: float, cls: str | None) -> str:
    if report.task == "regression":
        return f"{'higher' if value > 0 else 'lower'} {_clean(report.target)}"
    if cls is None:  # binary: one output, whose positive side is the second class
        return f"toward class {_clean(report.classes[1] if value > 0 else report.classes[0])}"
    return f"{'toward' if value > 0 else 'away from'} class {_clean(cls)}"


# ---------------------------------------------------------------------------------------------
# Verdict


def _verdict_panel(report: Report) -> RenderableType:
    v = report.verdict
    style = VERDICT_STYLES.get(v.overall, "")
    overall = " ".join(v.reasons)
    body: list[RenderableType] = [
        Text(v.overall.replace("_", " ").upper(), style=f"bold {style}".strip()),
        Text(_clean(overall, None)), Text(""),
    ]
    families = Table.grid(padding=(0, 2))
    families.add_column(no_wrap=True)
    families.add_column(no_wrap=True)
    families.add_column()
    for fv in v.families:
        reason = " ".join(fv.reasons)
        if reason and reason in overall:  # the overall reasons quote the unregularized model's
            reason = "as above."
        families.add_row(FAMILY_NAMES.get(fv.penalty, fv.penalty),
                         Text(fv.verdict, style=VERDICT_STYLES.get(fv.verdict, "")),
                         Text(_clean(reason, None)))
    body += [families, Text("")]
    body.append(Text.assemble(("Recommendation: ", "bold"), _clean(v.recommendation, None)))
    body.append(_more_data(v.more_data_helps, FAMILY_NAMES.get(v.best, v.best)))
    for label, items in (("Warnings", report.warnings), ("Notes", report.notes)):
        if items:
            bullets = Table.grid(padding=(0, 1))
            bullets.add_column(no_wrap=True)
            bullets.add_column()
            for item in items:
                bullets.add_row(" •", Text(_clean(item, None)))
            body += [Text(f"{label}:", style="bold"), bullets]
    return Panel(Group(*body), title=Text("Verdict", style="bold"), title_align="left",
                 border_style=style, box=box.ROUNDED, padding=(0, 1))


def _more_data(helps: bool | None, name: str) -> Text:
    if helps is None:
        return Text.assemble(("Whether more data would help is unknown: ", "bold"),
                             f"the learning curve of {name} has too few complete points.")
    if helps:
        return Text.assemble(("More data would likely help: ", "bold"),
                             f"the validation error of {name} was still falling over the last "
                             "quarter of the learning curve.")
    return Text.assemble(("More data is unlikely to help much: ", "bold"),
                         f"the validation error of {name} has levelled off on the learning curve.")


# ---------------------------------------------------------------------------------------------
# Building blocks and formatting


def _table() -> Table:
    # collapse_padding: columns are two spaces apart, not three, which is what lets the models
    # table keep one line per model at 100 columns.
    return Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold",
                 collapse_padding=True)


def _indent(renderable: RenderableType) -> Padding:
    return Padding(renderable, (0, 0, 0, 1), expand=False)


def _num(x: float | None, digits: int = SIGNIFICANT) -> str:
    """Significant digits in fixed notation; scientific only below 1e-4 or from 1e15."""
    if x is None or math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    rounded = float(f"{x:.{digits}g}")
    exponent = math.floor(math.log10(abs(rounded)))
    if exponent < -4 or exponent >= 15:
        return f"{x:.{digits - 1}e}"
    text = f"{rounded:,.{max(0, digits - 1 - exponent)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _signed(x: float) -> str:
    return f"+{_num(x)}" if x > 0 else _num(x)


def _pct(fraction: float | None) -> str:
    if fraction is None or not math.isfinite(fraction):
        return "—"
    value = fraction * 100
    if value != 0 and abs(value) < 0.01:  # two significant digits would need scientific here
        return "~0%"
    return f"{_num(value, 2)}%"


def _count(n: int) -> str:
    # Separators from five digits on: "2308 features" reads at a glance, "123456" does not.
    return f"{n:,}" if abs(n) >= 10_000 else str(n)


def _clean(name: object, limit: int | None = MAX_NAME) -> str:
    """A user-supplied name made safe to show: escapes for control characters, capped length.

    The result goes into rich Text objects, never markup strings, so "[bold]" stays literal.
    """
    text = "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in _UNSAFE else ch for ch in str(name))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
