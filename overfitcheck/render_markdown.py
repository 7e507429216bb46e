"""Outcomes -> Markdown: the batch summary for $GITHUB_STEP_SUMMARY and pull-request comments.

GitHub-flavoured Markdown: a pipe table across the datasets, then each dataset's verdict, its
reasons, the recommendation and its summary PNG. Every piece of user text (file and column
names, reasons that quote them) is escaped, so a name cannot end a table cell, open a code span,
inject HTML or turn into a link.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from .errors import ExitCode
from .outcome import Outcome
from .render_png import FILE_NAMES
from .report import Report
from .verdict import FAMILY_NAMES

# Longest dataset name in the table and headings; a longer one ends in "…".
MAX_NAME = 60
SIGNIFICANT = 4
HEADER = ("dataset", "task", "rows", "verdict", "recommended", "validation error vs baseline")
# Characters with a meaning anywhere in a line of GitHub Markdown: backslash-escaped (CommonMark
# lets any ASCII punctuation be escaped). "$" opens GitHub's math; "<" and "&" open HTML and
# entities; "|" ends a table cell.
_INLINE = set("\\`*_[]<>|~&$#!")
# Control, format (bidi overrides, zero-width) and separator characters: shown as escapes.
_UNSAFE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_ORDERED = re.compile(r"(\d{1,9})[.)]")  # "1." or "1)" starts an ordered list


def render_markdown(outcomes: Sequence[Outcome], relative_to: Path) -> str:
    """The summary as Markdown; image links are relative to `relative_to`, the folder the
    Markdown file is written in (for $GITHUB_STEP_SUMMARY: wherever the PNGs are published)."""
    lines = ["# overfitcheck summary", ""]
    failed_policy = sum(o.report is not None and o.failed_policy for o in outcomes)
    failed = sum(o.report is None for o in outcomes)
    counts = [f"{len(outcomes)} dataset{'s' if len(outcomes) != 1 else ''}"]
    if failed_policy:
        counts.append(f"{failed_policy} failed the `--fail-on` policy (❌)")
    if failed:
        counts.append(f"{failed} could not be diagnosed")
    lines += [", ".join(counts) + ".", ""]
    if outcomes:
        lines.append(_row(HEADER))
        lines.append("| --- | --- | ---: | --- | --- | --- |")
        lines += [_row(_summary_cells(o)) for o in outcomes]
        lines += ["", "Validation error: the recommended model's mean over the folds ± its "
                  "standard error, against the baseline's; lower is better.", ""]
    for o in outcomes:
        lines += _section(o, Path(relative_to))
    return "\n".join(lines).rstrip("\n") + "\n"


def _summary_cells(o: Outcome) -> list[str]:
    name = _text(o.name, MAX_NAME)
    r = o.report
    if r is None:
        return [name, "—", "—", "**error**", "—", "—"]
    best = next(fv for fv in r.verdict.families if fv.penalty == r.verdict.best)
    verdict = f"**{_text(r.verdict.overall)}**" + (" ❌" if o.failed_policy else "")
    model = FAMILY_NAMES.get(best.penalty, best.penalty)
    if best.penalty != "none":
        model += f", alpha {_num(best.alpha)}"
    baseline = float(r.baseline.validation_mean[0])
    error = (f"{_text(r.metric_label)} {_num(best.validation_error)} ± "
             f"{_num(best.validation_error_se)} vs {_num(baseline)}")
    return [name, _text(r.task), _count(r.n_rows), verdict, _text(model), error]


def _section(o: Outcome, relative_to: Path) -> list[str]:
    name = _text(o.name, MAX_NAME)
    r = o.report
    if r is None:
        error = o.error or f"exit {int(o.exit_code)} ({o.exit_code.name.lower()})"
        return [f"## {name}: could not be diagnosed", "",
                f"{_text(o.path)}: {_text(error)}", ""]
    v = r.verdict
    lines = [f"## {name}: {_text(v.overall.replace('_', ' '))}", ""]
    facts = (f"{_text(o.path)}, predicting {_text(r.target)} ({_text(r.task)}): "
             f"{_count(r.n_rows)} rows, {_count(r.n_features)} features; error: "
             f"{_text(r.metric_label)}, lower is better.")
    if o.failed_policy:
        facts += " ❌ The verdict matches `--fail-on`."
    elif o.exit_code not in (ExitCode.OK, ExitCode.POLICY_FAILED):
        facts += f" ❌ {_text(o.error or o.exit_code.name)}"
    lines += [facts, ""]
    lines += [f"- {_text(reason)}" for reason in v.reasons]
    lines += ["", "| model | verdict | validation error ± SE | gap ± SE |",
              "| --- | --- | ---: | ---: |"]
    for fv in v.families:
        star = " (recommended)" if fv.penalty == v.best else ""
        lines.append(_row([FAMILY_NAMES.get(fv.penalty, fv.penalty) + star, _text(fv.verdict),
                           f"{_num(fv.validation_error)} ± {_num(fv.validation_error_se)}",
                           f"{_num(fv.gap)} ± {_num(fv.gap_se)}"]))
    lines += ["", f"**Recommendation:** {_text(v.recommendation)}", ""]
    if r.warnings:
        lines += [f"- ⚠️ {_text(w)}" for w in r.warnings] + [""]
    image = _image(o, r, relative_to)
    if image:
        lines += [image, ""]
    return lines


def _image(o: Outcome, r: Report, relative_to: Path) -> str | None:
    """The summary PNG as an image link relative to `relative_to`; none if it was not drawn."""
    if o.output_dir is None:
        return None
    png = Path(o.output_dir) / FILE_NAMES["summary"]
    if not png.is_file():  # --no-plots: a link would show as a broken image
        return None
    try:
        target = os.path.relpath(png.resolve(), Path(relative_to).resolve())
        url = quote(Path(target).as_posix(), safe="/")
    except ValueError:  # another drive (Windows): no relative path exists
        url = png.resolve().as_uri()
    return f"![summary of {_text(o.name, MAX_NAME)}]({url})"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _text(value: object, limit: int | None = None) -> str:
    """User text as inert inline Markdown: one line, unsafe characters as escapes, capped."""
    flat = " ".join(str(value).split())
    visible = "".join(ch.encode("unicode_escape").decode("ascii")
                      if unicodedata.category(ch) in _UNSAFE else ch for ch in flat)
    if limit is not None and len(visible) > limit:
        visible = visible[: limit - 1] + "…"
    out = "".join("\\" + ch if ch in _INLINE else ch for ch in visible)
    # At the start of a line (a list item's text, a heading) these begin a block: escape them.
    number = _ORDERED.match(out)
    if number:
        out = number.group(1) + "\\" + out[number.end(1):]
    elif out[:1] in ("+", "-", "="):
        out = "\\" + out
    return out


def _num(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    if x == 0:
        return "0"
    return f"{x:.{SIGNIFICANT}g}"


def _count(n: int) -> str:
    return f"{n:,}" if abs(n) >= 10_000 else str(n)
