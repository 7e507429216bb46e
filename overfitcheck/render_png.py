"""Report -> PNG: validation curves, learning curves, the L1 coefficient path and a summary page.

matplotlib is imported lazily inside the functions and only through `Figure` and the Agg canvas
(no pyplot, no global figure registry), so the library and the CLI start without it. Every
function here only reads the Report; none of them fits anything. The figure functions return a
Figure, or draw into the axes they are given (scikit-learn's Display convention); only
`render_pngs` turns them into PNG bytes; the output module writes them.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .verdict import FAMILY_NAMES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ft2font import FT2Font
    from matplotlib.lines import Line2D

    from .curves import Curve
    from .report import Report

DPI = 100
# Every figure's size in inches; at DPI 100 the PNG is 100x these in pixels.
VALIDATION_SIZE = (8.0, 5.5)
LEARNING_SIZE = (15.0, 5.0)
PATH_SIZE = (11.0, 7.0)
SUMMARY_SIZE = (12.0, 9.0)
FILE_NAMES = {
    "validation_l1": "validation_curve_l1.png",
    "validation_l2": "validation_curve_l2.png",
    "learning": "learning_curves.png",
    "path": "coefficient_path_l1.png",
    "summary": "summary.png",
}
FONT = "DejaVu Sans"  # ships with matplotlib, so every machine draws the same glyphs
LABEL_CHARS = 40  # longer feature names would crowd the legend out of the plot
TOP_FEATURES = 8  # coefficient lines named in the legend; the rest are drawn thin and grey
# The summary's text panel is about 390 x 270 pt at SUMMARY_SIZE. Text is wrapped to TEXT_WIDTH
# as measured with the font and each block is cut with "…" at its line budget; the reasons get
# the lines left within TEXT_HEIGHT, so even a very long reason, target or file name stays
# inside the panel instead of running into the plots.
TEXT_WIDTH = 360.0  # points
TEXT_HEIGHT = 262.0
LINE_SPACING = 1.3  # a line of n pt text takes 1.3 n pt
BLOCK_GAP = 5.0  # points between blocks
RECOMMENDATION_LINES = 3
FACT_LINES = 2
WARNING_LINES = 2

TRAIN_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#e8710a"
UNREGULARIZED_COLOUR = "#7b3fa0"
BASELINE_COLOUR = "#555555"
VERDICT_COLOURS = {"overfitting": "#c62828", "underfitting": "#ef6c00",
                   "good_fit": "#2e7d32", "inconclusive": "#757575"}
_STYLE = {
    "font.family": FONT,
    "font.size": 10,
    "text.usetex": False,
    "mathtext.fontset": "dejavusans",  # the log axis' tick labels (10^-2) are mathtext
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "legend.framealpha": 0.9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def validation_curve_figure(report: Report, penalty: str, ax: Axes | None = None) -> Figure:
    """Training and validation error against alpha for "l1" or "l2", with the chosen alphas.

    Bands are one standard error over the folds; the dashed lines mark alpha_min and alpha_1se,
    the horizontal ones the unregularized model and the baseline, both on validation.
    """
    if penalty not in ("l1", "l2") or penalty not in report.curves:
        raise ValueError(f"penalty must be 'l1' or 'l2' (one of the report's curves), "
                         f"not {penalty!r}")
    with _style():
        fig, ax = _figure_or_axes(ax, VALIDATION_SIZE)
        _draw_validation_curve(ax, report, penalty)
    return fig


def learning_curves_figure(report: Report, axes: Sequence[Axes] | None = None) -> Figure:
    """One panel per family: errors against training rows at the family's chosen alpha.

    `axes`, when given, holds one Axes per family in `report.learning`, in its order.
    """
    penalties = list(report.learning)
    with _style():
        if axes is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=LEARNING_SIZE, layout="constrained")
            axes = fig.subplots(1, max(len(penalties), 1), squeeze=False)[0]
        elif len(axes) != len(penalties):
            raise ValueError(f"need {len(penalties)} axes, one per family, not {len(axes)}")
        fig = axes[0].get_figure()
        for ax, penalty in zip(axes, penalties, strict=False):
            _draw_learning_curve(ax, report, penalty)
    return fig


def coefficient_path_figure(report: Report, axes: Sequence[Axes] | None = None) -> Figure:
    """The L1 path of every standardized coefficient, and how many are non-zero, against alpha.

    `axes`, when given, is (coefficient axes, count axes). For several classes each feature is
    drawn for the class in which it is strongest at alpha_min, as `Report.top_coefficients`.
    """
    with _style():
        if axes is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=PATH_SIZE, layout="constrained")
            path_ax, count_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        else:
            path_ax, count_ax = axes
            fig = path_ax.get_figure()
        _draw_coefficient_path(path_ax, report, legend_outside=True)
        _draw_n_nonzero(count_ax, report)
    return fig


def summary_figure(report: Report) -> Figure:
    """One page: the verdict and why, the recommended family's curves and the L1 path."""
    from matplotlib.figure import Figure

    best = report.verdict.best
    regularized = best if best in ("l1", "l2") else "l2"
    with _style():
        fig = Figure(figsize=SUMMARY_SIZE, layout="constrained")
        grid = fig.add_gridspec(2, 2)
        _draw_verdict_text(fig.add_subplot(grid[0, 0]), report)
        _draw_validation_curve(fig.add_subplot(grid[0, 1]), report, regularized)
        learning = best if best in report.learning else next(iter(report.learning), None)
        learning_ax = fig.add_subplot(grid[1, 0])
        if learning is None:
            _empty(learning_ax, "no learning curves in this report")
        else:
            _draw_learning_curve(learning_ax, report, learning)
        cell = grid[1, 1].subgridspec(2, 1, height_ratios=(3, 1))
        path_ax = fig.add_subplot(cell[0])
        count_ax = fig.add_subplot(cell[1], sharex=path_ax)
        _draw_coefficient_path(path_ax, report, legend_outside=False)
        _draw_n_nonzero(count_ax, report)
    return fig


def render_pngs(report: Report) -> dict[str, bytes]:
    """Every figure as PNG bytes, keyed by its fixed file name (never derived from user text).

    The bytes are deterministic: fixed dpi, fixed font, no version or timestamp metadata.
    Writing them is the output module's job.
    """
    figures = [
        (FILE_NAMES["validation_l1"], lambda: validation_curve_figure(report, "l1")),
        (FILE_NAMES["validation_l2"], lambda: validation_curve_figure(report, "l2")),
        (FILE_NAMES["learning"], lambda: learning_curves_figure(report)),
        (FILE_NAMES["path"], lambda: coefficient_path_figure(report)),
        (FILE_NAMES["summary"], lambda: summary_figure(report)),
    ]
    pngs = {}
    for name, make in figures:
        fig = make()
        buffer = io.BytesIO()
        with _style():
            # "Software": None drops matplotlib's version from the PNG, so reruns on the same
            # report are byte-identical.
            fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
        fig.clear()  # no pyplot registry holds it, so this frees it once we drop it
        pngs[name] = buffer.getvalue()
    return pngs


# -- drawing: each helper draws one panel into the axes it is given ---------------------------


def _draw_validation_curve(ax: Axes, report: Report, penalty: str) -> None:
    curve = report.curves[penalty]
    alphas = curve.alphas
    train, validation = curve.train_mean, curve.validation_mean
    # Training band: the same standard error as validation_se (fold sd / sqrt(k)), blanked
    # where a fold skipped the alpha, as the means are.
    train_se = np.where(np.isfinite(train), curve.train_se, np.nan)
    validation_se = np.where(np.isfinite(validation), curve.validation_se, np.nan)
    bands = [_band(train, train_se), _band(validation, validation_se)]
    ax.fill_between(alphas, *bands[0], color=TRAIN_COLOUR, alpha=0.15, linewidth=0)
    ax.fill_between(alphas, *bands[1], color=VALIDATION_COLOUR, alpha=0.2, linewidth=0)
    ax.plot(alphas, train, color=TRAIN_COLOUR, marker="o", markersize=3, linewidth=1.6,
            label="training")
    ax.plot(alphas, validation, color=VALIDATION_COLOUR, marker="o", markersize=3,
            linewidth=1.8, label="validation (± 1 SE)")
    ax.axvline(curve.alpha_min, color="black", linestyle="--", linewidth=1.1,
               label=f"alpha_min = {_num(curve.alpha_min)}")
    ax.axvline(curve.alpha_1se, color="#8a8a8a", linestyle=":", linewidth=1.5,
               label=f"alpha_1se = {_num(curve.alpha_1se)}")
    references = []
    unregularized = report.curves.get("none")
    if unregularized is not None and np.isfinite(unregularized.validation_mean[0]):
        y = float(unregularized.validation_mean[0])
        references.append(ax.axhline(y, color=UNREGULARIZED_COLOUR, linestyle="-.",
                                     linewidth=1.1, label=f"unregularized, validation = {_num(y)}"))
    references += _baseline_line(ax, report)
    skipped = int(np.sum(~np.isfinite(validation)))
    if skipped:
        ax.plot([], [], linestyle="none",
                label=f"{skipped} of {alphas.size} alphas not drawn: a fold could not fit them")
    _focus_y(ax, [*bands[0], *bands[1], train, validation], references)
    ax.set_xscale("log")
    _full_x(ax, alphas)
    ax.set_xlabel("alpha (glmnet scale)")
    ax.set_ylabel(_clean(report.metric_label, None))
    ax.set_title(f"Validation curve: {FAMILY_NAMES[penalty]} "
                 f"(at alpha_min: {_family_verdict(report, penalty)})")
    _grid(ax)
    ax.legend(loc="best")


def _draw_learning_curve(ax: Axes, report: Report, penalty: str) -> None:
    lc = report.learning[penalty]
    with warnings.catch_warnings():
        # A training size at which every fold failed has no mean: its point is left blank.
        warnings.simplefilter("ignore", RuntimeWarning)
        train, validation = lc.train_mean, lc.validation_mean
        train_sd, validation_sd = lc.train_sd, lc.validation_sd
    bands = [_band(train, train_sd), _band(validation, validation_sd)]
    ax.fill_between(lc.n_train, *bands[0], color=TRAIN_COLOUR, alpha=0.15, linewidth=0)
    ax.fill_between(lc.n_train, *bands[1], color=VALIDATION_COLOUR, alpha=0.2, linewidth=0)
    ax.plot(lc.n_train, train, color=TRAIN_COLOUR, marker="o", markersize=3.5, linewidth=1.6,
            label="training (± 1 sd)")
    ax.plot(lc.n_train, validation, color=VALIDATION_COLOUR, marker="o", markersize=3.5,
            linewidth=1.8, label="validation (± 1 sd)")
    _focus_y(ax, [*bands[0], *bands[1], train, validation], _baseline_line(ax, report))
    title = f"Learning curve: {FAMILY_NAMES[penalty]}"
    if penalty != "none":
        title += f", alpha = {_num(lc.alpha)}"
    ax.set_title(title)
    ax.set_xlabel("training rows")
    ax.set_ylabel(_clean(report.metric_label, None))
    _grid(ax)
    ax.legend(loc="best")


def _draw_coefficient_path(ax: Axes, report: Report, legend_outside: bool) -> None:
    from matplotlib.collections import LineCollection

    curve = report.curves.get("l1")
    if curve is None or curve.coef is None:
        _empty(ax, "no L1 coefficients in this report")
        return
    alphas = curve.alphas
    values, top = _path_values(curve)
    # All features as one thin grey collection (thousands of Line2D would be slow), then the
    # strongest at alpha_min redrawn in colour and named in the legend.
    segments = [np.column_stack([alphas, values[:, j]]) for j in range(values.shape[1])]
    ax.add_collection(LineCollection(segments, colors="#9e9e9e", linewidths=0.6, alpha=0.6,
                                     label="_all features"))
    multi = curve.coef.shape[1] > 1
    colours = [f"C{i}" for i in range(10)]
    for rank, (j, cls) in enumerate(top):
        name = _clean(report.feature_names[j])
        if multi:
            name += f" ({_clean(report.classes[cls], 15)})"
        ax.plot(alphas, values[:, j], color=colours[rank % len(colours)], linewidth=1.5,
                label=name)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.axvline(curve.alpha_min, color="black", linestyle="--", linewidth=1.1,
               label=f"alpha_min = {_num(curve.alpha_min)}")
    ax.axvline(curve.alpha_1se, color="#8a8a8a", linestyle=":", linewidth=1.5,
               label=f"alpha_1se = {_num(curve.alpha_1se)}")
    ax.set_xscale("log")
    _full_x(ax, alphas)
    ax.autoscale_view(scalex=False)
    ax.set_ylabel("standardized coefficient")
    title = f"L1 (lasso) coefficient path, {values.shape[1]} features"
    if multi:
        title += " (each in its strongest class)"
    ax.set_title(title)
    _grid(ax)
    if legend_outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                  title=f"strongest at alpha_min (top {len(top)})", title_fontsize=8.5)
    else:
        ax.legend(loc="best", fontsize=7, ncols=2 if len(top) > 4 else 1)
    ax.tick_params(labelbottom=False)


def _draw_n_nonzero(ax: Axes, report: Report) -> None:
    curve = report.curves.get("l1")
    if curve is None or curve.coef is None:
        _empty(ax, "")
        return
    ax.plot(curve.alphas, curve.n_nonzero, color="#37474f", marker="o", markersize=2.5,
            linewidth=1.3, label="non-zero coefficients")
    ax.axvline(curve.alpha_min, color="black", linestyle="--", linewidth=1.1)
    ax.axvline(curve.alpha_1se, color="#8a8a8a", linestyle=":", linewidth=1.5)
    # Top right: the count falls as alpha grows, so that corner is usually empty.
    ax.text(0.99, 0.95, f"{int(curve.n_nonzero[curve.index_min])} of {report.n_features} "
            "non-zero at alpha_min", transform=ax.transAxes, ha="right", va="top", fontsize=8)
    ax.set_xscale("log")
    _full_x(ax, curve.alphas)
    ax.set_xlabel("alpha (glmnet scale)")
    ax.set_ylabel("non-zero")
    ax.set_ylim(bottom=0)
    _grid(ax)


def _draw_verdict_text(ax: Axes, report: Report) -> None:
    """Stacks text blocks from the top; each block's height is known from its line count."""
    ax.set_axis_off()
    verdict = report.verdict
    source = os.path.basename(report.input_path) if report.input_path else "DataFrame"
    bold = {"fontweight": "bold"}
    reason_size = 9.5
    blocks = [
        (f"{source}: predicting {report.target} ({report.task})", 1, 12, bold),
        (_verdict_word(verdict.overall), 1, 30,
         {**bold, "color": VERDICT_COLOURS.get(verdict.overall, "#757575")}),
        (" ".join(verdict.reasons), 0, reason_size, {}),  # line budget set below
        ("Recommendation", 1, 10, bold),
        (verdict.recommendation, RECOMMENDATION_LINES, 9.5, {}),
        (_facts(report), FACT_LINES, 9.5, {"color": "#424242"}),
    ]
    if report.warnings:
        blocks.append(("Warnings: " + "; ".join(report.warnings) + ".", WARNING_LINES, 8.5,
                       {"color": "#9a6700"}))
    fitted = [_fit_lines(text, max_lines, size, style.get("fontweight") == "bold")
              if max_lines else []
              for text, max_lines, size, style in blocks]
    used = sum(len(lines) * size * LINE_SPACING + BLOCK_GAP
               for lines, (_, _, size, _) in zip(fitted, blocks, strict=True))
    room = int((TEXT_HEIGHT - used) // (reason_size * LINE_SPACING))
    fitted[2] = _fit_lines(blocks[2][0], max(room, 2), reason_size)
    offset = 0.0
    for lines, (_, _, size, style) in zip(fitted, blocks, strict=True):
        if not lines:
            continue
        # Laid out by hand within the budgets above, so kept out of the constrained layout
        # (which would otherwise shrink the plots around it).
        ax.annotate("\n".join(lines), xy=(0, 1), xycoords="axes fraction",
                    xytext=(0, -offset), textcoords="offset points", va="top", ha="left",
                    fontsize=size, linespacing=LINE_SPACING, annotation_clip=False,
                    in_layout=False, **style)
        offset += len(lines) * size * LINE_SPACING + BLOCK_GAP


def _path_values(curve: Curve) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The (n_alphas, n_features) coefficients to draw and the top (feature, class) pairs."""
    coef = curve.coef  # (n_alphas, n_outputs, n_features)
    size = np.nan_to_num(np.abs(coef))
    at_min = size[curve.index_min]
    # A feature's class: where it is strongest at alpha_min (Report.top_coefficients does the
    # same); a feature that is zero there takes the class where it is strongest on the path.
    strongest = np.where(at_min.max(axis=0) > 0, np.argmax(at_min, axis=0),
                         np.argmax(size.max(axis=0), axis=0))
    values = coef[:, strongest, np.arange(coef.shape[2])]
    strength = np.nan_to_num(np.abs(values[curve.index_min]))
    order = np.argsort(-strength, kind="stable")[:TOP_FEATURES]
    top = [(int(j), int(strongest[j])) for j in order if strength[j] > 0]
    return values, top


# -- small helpers -----------------------------------------------------------------------------


def _figure_or_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.get_figure(), ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _style():
    import matplotlib

    return matplotlib.rc_context(_STYLE)


def _baseline_line(ax: Axes, report: Report) -> list[Line2D]:
    """The baseline's validation error as a horizontal line; none if it is unknown (NaN)."""
    baseline = float(report.baseline.validation_mean[0])
    if not np.isfinite(baseline):
        return []
    guess = "the mean" if report.task == "regression" else "class prior"
    return [ax.axhline(baseline, color=BASELINE_COLOUR, linestyle=(0, (6, 3)), linewidth=1.1,
                      label=f"baseline ({guess}), validation = {_num(baseline)}")]


def _band(mean: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Every error here is a loss, never below 0, so neither is its band.
    return np.maximum(mean - spread, 0.0), mean + spread


def _focus_y(ax: Axes, data: list[np.ndarray], references: list[Line2D]) -> None:
    """Fit the y range to the curves and the reference lines near them.

    A reference line farther from the curves than their own span (a baseline far above a good
    model) would flatten them; it stays drawn, just out of view, and its label says where.
    """
    values = np.concatenate([np.ravel(d) for d in data])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return
    low, high = float(values.min()), float(values.max())
    span = high - low or abs(high) or 1.0
    for line in references:
        y = float(line.get_ydata()[0])
        if y > high + span:
            line.set_label(line.get_label() + " (above the plot)")
        elif y < low - span:
            line.set_label(line.get_label() + " (below the plot)")
        else:
            low, high = min(low, y), max(high, y)
    pad = 0.05 * (high - low or abs(high) or 1.0)
    ax.set_ylim(low - pad, high + pad)


def _full_x(ax: Axes, alphas: np.ndarray) -> None:
    """The whole grid on a log axis, also alphas whose errors are missing (NaN)."""
    low, high = float(np.min(alphas)), float(np.max(alphas))
    # 3% of the grid's decades as margin; a one-alpha grid gets a factor 2 either side.
    factor = (high / low) ** 0.03 if high > low else 2.0
    ax.set_xlim(low / factor, high * factor)


def _grid(ax: Axes) -> None:
    ax.grid(True, which="major", color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)


def _empty(ax: Axes, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", color="#757575",
            transform=ax.transAxes)


def _family_verdict(report: Report, penalty: str) -> str:
    for family in report.verdict.families:
        if family.penalty == penalty:
            return _verdict_word(family.verdict).lower()
    return "no verdict"


def _verdict_word(verdict: str) -> str:
    return verdict.replace("_", " ").upper()


def _facts(report: Report) -> str:
    folds = report.folds.get("n_splits", report.config.cv)
    more = {True: "yes", False: "no", None: "unknown"}[report.verdict.more_data_helps]
    return (f"{report.n_rows} rows, {report.n_features} features, {folds}-fold "
            f"{report.folds.get('splitter', 'CV')}; error: {report.metric_label} (lower is "
            f"better); more data would help: {more}.")


def _fit_lines(text: str, max_lines: int, size: float, bold: bool = False) -> list[str]:
    """Sanitized text word-wrapped to TEXT_WIDTH as measured; a cut last line ends in "…"."""
    lines: list[str] = []
    current = ""
    for word in _clean(text, None, escape=False).split(" "):
        candidate = f"{current} {word}" if current else word
        if _width(candidate, size, bold) <= TEXT_WIDTH:
            current = candidate
            continue
        if current:
            lines.append(current)
        # A word wider than the panel is split; only as far as the budget needs.
        while len(lines) <= max_lines and _width(word, size, bold) > TEXT_WIDTH:
            cut = _fitting_prefix(word, size, bold)
            lines.append(word[:cut])
            word = word[cut:]
        current = word
        if len(lines) > max_lines:
            break
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        last = last[:_fitting_prefix(last + " …", size, bold, reserve=" …")].rstrip()
        lines = lines[: max_lines - 1] + [last + " …"]
    return [_escape(line) for line in lines]


def _fitting_prefix(text: str, size: float, bold: bool, reserve: str = "") -> int:
    """Length of the longest prefix of text that, followed by reserve, fits TEXT_WIDTH."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _width(text[:middle] + reserve, size, bold) <= TEXT_WIDTH:
            low = middle
        else:
            high = middle - 1
    return low


def _width(text: str, size: float, bold: bool) -> float:
    """Width in points of one line of (unescaped, drawable) text."""
    font = _font(bold)
    font.set_size(size, 72)  # at 72 dpi a pixel is a point
    font.set_text(text, 0.0)
    return font.get_width_height()[0] / 64  # FreeType counts in 1/64 pixel


def _clean(text: object, limit: int | None = LABEL_CHARS, escape: bool = True) -> str:
    """User text made safe to draw: one line, glyphs DejaVu Sans has, no mathtext, short.

    Characters the font lacks (emoji, most scripts beyond Latin, Greek and Cyrillic) and
    control characters become "?", which also keeps matplotlib's "Glyph missing" warning away.
    """
    drawable = _drawable()
    flat = " ".join(str(text).split())
    out = "".join(c if c.isprintable() and ord(c) in drawable else "?" for c in flat)
    if limit is not None and len(out) > limit:
        out = out[: limit - 1].rstrip() + "…"
    if out.startswith("_"):
        out = " " + out  # matplotlib's legend hides labels that start with "_"
    return _escape(out) if escape else out


def _escape(text: str) -> str:
    # matplotlib reads text between two "$" as mathtext; "\$" draws a literal dollar sign.
    return text.replace("$", r"\$")


@functools.cache
def _drawable() -> frozenset[int]:
    """Code points both the regular and the bold face can draw."""
    return frozenset(_font(False).get_charmap()) & frozenset(_font(True).get_charmap())


@functools.cache
def _font(bold: bool) -> FT2Font:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    weight = "bold" if bold else "normal"
    return FT2Font(font_manager.findfont(font_manager.FontProperties(family=FONT,
                                                                      weight=weight)))


def _num(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    return f"{x:.4g}"
