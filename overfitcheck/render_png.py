"""Report -> PNG: validation curves, learning curves, the L1 coefficient path and a summary page.

matplotlib is imported lazily inside the functions and only through `Figure` and the Agg canvas
(no pyplot, no global figure registry), so the library and the CLI start without it. Every
function here only reads the Report; none of them fits anything. The figure functions return a
Figure, or draw into the axes they are given (scikit-learn's Display convention); only
`render_pngs` turns them into PNG bytes (with Pillow, which matplotlib depends on); the output
module writes them. No layout engine: `_fit_layout` measures each figure once and sets fixed
margins, so each PNG costs one draw.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import pickle
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .forked import fork, output_to_nowhere, read_all, write_all
from .memory import release_free_heap
from .verdict import FAMILY_NAMES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.ft2font import FT2Font
    from matplotlib.gridspec import GridSpec
    from matplotlib.lines import Line2D
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    from .curves import Curve
    from .report import Report

DPI = 100
# Every figure's size in inches; at DPI 100 the PNG is 100x these in pixels.
VALIDATION_SIZE = (8.0, 5.5)
LEARNING_SIZE = (15.0, 5.0)
PATH_SIZE = (11.0, 7.0)
SUMMARY_SIZE = (12.0, 9.0)
# Layout: inches between the outermost text and the figure's edge, and between neighbouring
# panels' texts (about what constrained layout leaves: 3 pt around each panel).
EDGE_PAD = 0.06
GAP_PAD = 0.12
# The summary's coefficient path and its count share a cell; the count's top tick label needs
# about 0.15 in between them, 8% of the two panels' average height at SUMMARY_SIZE.
SUMMARY_PATH_GAP = 0.08
# The drawing copy's answer takes about a second; a copy that hangs (a lock held at the fork)
# is given up after this many seconds and the figures are drawn in this process.
DRAWING_TIMEOUT = 60.0
PNG_COMPRESSION = 3  # zlib level: 6 (the default) is 4% smaller and takes 40% longer
FILE_NAMES = {
    "validation_l1": "validation_curve_l1.png",
    "validation_l2": "validation_curve_l2.png",
    "learning": "learning_curves.png",
    "path": "coefficient_path_l1.png",
    "summary": "summary.png",
}
MINOR_TICKS = "minor ticks"  # the gid of the line of minor tick marks on each alpha axis
FONT = "DejaVu Sans"  # ships with matplotlib, so every machine draws the same glyphs
LABEL_CHARS = 40  # longer feature names would crowd the legend out of the plot
TOP_FEATURES = 8  # coefficient lines named in the legend; the rest are drawn thin and grey
# The summary's text panel is about 365-390 x 268 pt at SUMMARY_SIZE (narrowest when the path
# title beside it is wider than its plot and needs room at the edge). Text is wrapped to TEXT_WIDTH
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
_MATHTEXT: dict[type, object] = {}  # one mathtext parser per renderer class, see _fit_layout
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
    "figure.facecolor": "white",  # opaque whatever the user's matplotlibrc: PNGs are RGB
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
        if ax is not None:
            _draw_validation_curve(ax, report, penalty)
            return ax.get_figure()
        fig, grid = _figure(VALIDATION_SIZE, 1, 1)
        _draw_validation_curve(fig.add_subplot(grid[0]), report, penalty)
        _fit_layout(fig, grid)
    return fig


def learning_curves_figure(report: Report, axes: Sequence[Axes] | None = None) -> Figure:
    """One panel per family: errors against training rows at the family's chosen alpha.

    `axes`, when given, holds one Axes per family in `report.learning`, in its order.
    """
    penalties = list(report.learning)
    with _style():
        grid = None
        if axes is None:
            fig, grid = _figure(LEARNING_SIZE, 1, max(len(penalties), 1))
            axes = [fig.add_subplot(grid[0, i]) for i in range(grid.ncols)]
        elif len(axes) != len(penalties):
            raise ValueError(f"need {len(penalties)} axes, one per family, not {len(axes)}")
        fig = axes[0].get_figure()
        for ax, penalty in zip(axes, penalties, strict=False):
            _draw_learning_curve(ax, report, penalty)
        if grid is not None:
            _fit_layout(fig, grid)
    return fig


def coefficient_path_figure(report: Report, axes: Sequence[Axes] | None = None) -> Figure:
    """The L1 path of every standardized coefficient, and how many are non-zero, against alpha.

    `axes`, when given, is (coefficient axes, count axes). For several classes each feature is
    drawn for the class in which it is strongest at alpha_min, as `Report.top_coefficients`.
    """
    with _style():
        grid = None
        if axes is None:
            fig, grid = _figure(PATH_SIZE, 2, 1, height_ratios=(3, 1))
            path_ax = fig.add_subplot(grid[0])
            count_ax = fig.add_subplot(grid[1], sharex=path_ax)
        else:
            path_ax, count_ax = axes
            fig = path_ax.get_figure()
        _draw_coefficient_path(path_ax, report, legend_outside=True)
        _draw_n_nonzero(count_ax, report)
        if grid is not None:
            _fit_layout(fig, grid)
    return fig


def summary_figure(report: Report) -> Figure:
    """One page: the verdict and why, the recommended family's curves and the L1 path."""
    best = report.verdict.best
    regularized = best if best in ("l1", "l2") else "l2"
    with _style():
        fig, grid = _figure(SUMMARY_SIZE, 2, 2)
        _draw_verdict_text(fig.add_subplot(grid[0, 0]), report)
        _draw_validation_curve(fig.add_subplot(grid[0, 1]), report, regularized)
        learning = best if best in report.learning else next(iter(report.learning), None)
        learning_ax = fig.add_subplot(grid[1, 0])
        if learning is None:
            _empty(learning_ax, "no learning curves in this report")
        else:
            _draw_learning_curve(learning_ax, report, learning)
        cell = grid[1, 1].subgridspec(2, 1, height_ratios=(3, 1), hspace=SUMMARY_PATH_GAP)
        path_ax = fig.add_subplot(cell[0])
        count_ax = fig.add_subplot(cell[1], sharex=path_ax)
        _draw_coefficient_path(path_ax, report, legend_outside=False)
        _draw_n_nonzero(count_ax, report)
        _fit_layout(fig, grid)
    return fig


def load_matplotlib() -> None:
    """Import what drawing needs now (about half a second; on a thread once a diagnosis has
    read its file, see batch._preloading). Best effort, as paths.load_solvers."""
    try:
        _import_drawing()
    except BaseException:  # noqa: BLE001, S110 - never a traceback from a preload
        pass


def _import_drawing() -> None:
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    from PIL import Image  # noqa: F401


def render_pngs(report: Report, processes: int = 1) -> dict[str, bytes]:
    """Every figure as PNG bytes, keyed by its fixed file name (never derived from user text).

    The bytes are deterministic: fixed dpi, fixed font, no version or time metadata. With
    processes=2 (Linux), a forked copy of this process draws the figures of FORKED while this
    one draws the rest: the same bytes in about half the time on two cores. Writing them is
    the output module's job.
    """
    figures = {
        FILE_NAMES["validation_l1"]: lambda: validation_curve_figure(report, "l1"),
        FILE_NAMES["validation_l2"]: lambda: validation_curve_figure(report, "l2"),
        FILE_NAMES["learning"]: lambda: learning_curves_figure(report),
        FILE_NAMES["path"]: lambda: coefficient_path_figure(report),
        FILE_NAMES["summary"]: lambda: summary_figure(report),
    }
    # Loaded here before a fork, for both processes; this also waits for load_matplotlib's
    # thread to finish these modules, so no import is half done (its lock held by a thread
    # the copy does not have) when the process forks.
    _import_drawing()
    pngs: dict[str, bytes] = {}
    if processes > 1 and sys.platform == "linux":
        theirs = {FILE_NAMES[key]: figures.pop(FILE_NAMES[key]) for key in FORKED}
        mine = dict(figures)
        pngs, drawn = _draw_in_child(theirs, lambda: _draw_all(mine))
        # The copy failed (it cannot have output): its figures are drawn here.
        figures = theirs if drawn is None else {}
        pngs.update(drawn or {})
    pngs.update(_draw_all(figures))
    return {name: pngs[name] for name in FILE_NAMES.values()}


# Drawn by the forked copy: about half the drawing time (the summary page and one validation
# curve took 0.49 s of 1.04 s; with these two, rendering all five took 0.60-0.69 s against
# 0.73-0.83 s when the copy drew the learning curves and that validation curve).
FORKED = ("summary", "validation_l1")


class DrawingProcess:
    """A forked copy of this process that imports matplotlib at once, beside the fits, and
    draws a report's PNGs when it is sent one (in two processes, as render_pngs does), so that
    neither the import (about half a second of Python) nor the drawing holds this process's
    GIL. Linux only; fork it when no other thread is importing a module (its lock would stay
    held in the copy). The copy ignores Ctrl-C (this process stops it), leaves with os._exit,
    and ends when its pipe closes: this process ended, however it ended."""

    def __init__(self, pid: int, to_copy: int, from_copy: int) -> None:
        self._pid: int | None = pid
        self._to, self._from = to_copy, from_copy

    @classmethod
    def start(cls) -> DrawingProcess | None:
        """Fork the copy (None where fork is not used, or it failed)."""
        if sys.platform != "linux":
            return None
        fds: list[int] = []
        release_free_heap()  # memory the diagnosis freed: not the copy's to keep
        try:
            fds.extend(os.pipe())
            fds.extend(os.pipe())
            pid = fork()
        except OSError:  # no pipe or no process to spare: the drawing is done here
            for fd in fds:
                os.close(fd)
            return None
        to_read, to_write, from_read, from_write = fds
        if pid == 0:  # the copy
            status = 1
            try:
                os.setpgid(0, 0)  # its own group: close() stops it and the copy it forks
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                output_to_nowhere()  # and no warnings: the copy only answers on its pipe
                warnings.simplefilter("ignore")
                os.close(to_write)
                os.close(from_read)
                _serve(to_read, from_write)
                status = 0
            finally:
                os._exit(status)
        with contextlib.suppress(OSError):  # as the copy does: no race with close()
            os.setpgid(pid, pid)
        os.close(to_read)
        os.close(from_write)
        return cls(pid, to_write, from_read)

    def pngs(self, report: Report) -> dict[str, bytes] | None:
        """The report's PNGs, drawn by the copy; None if it failed or took longer than
        DRAWING_TIMEOUT seconds (the caller then draws them itself)."""
        deadline = time.monotonic() + DRAWING_TIMEOUT
        try:
            request = pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
            if not write_all(self._to, request, deadline):
                return None
            os.close(self._to)  # the end of the request
            self._to = -1
            data = read_all(self._from, deadline)
            if data is None:
                return None
            _, status = os.waitpid(self._pid, 0)
            self._pid = None
            return pickle.loads(data) if status == 0 and data else None
        except Exception:  # noqa: BLE001 - whatever went wrong, the caller draws them itself
            return None
        finally:
            self.close()

    def close(self) -> None:
        """Stop the copy if it still runs (idempotent)."""
        for fd in (self._to, self._from):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to = self._from = -1
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)  # the copy and the copy it forked
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(self._pid, signal.SIGKILL)  # not yet in its own group
                os.waitpid(self._pid, 0)
            self._pid = None


def _serve(request: int, answer: int) -> None:
    """The drawing copy: import matplotlib, wait for a pickled Report, answer its PNGs."""
    with contextlib.suppress(Exception):  # a real import problem shows when it draws
        _import_drawing()
    with os.fdopen(request, "rb") as pipe:
        data = pipe.read()
    if not data:  # closed without a report: the diagnosis failed
        return
    pngs = render_pngs(pickle.loads(data), processes=2)
    with os.fdopen(answer, "wb") as pipe:
        pipe.write(pickle.dumps(pngs, protocol=pickle.HIGHEST_PROTOCOL))


def _draw_all(figures: dict) -> dict[str, bytes]:
    return {name: _png(make()) for name, make in figures.items()}


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image  # matplotlib's own PNG writer

    # The canvas _fit_layout measured with: its renderer keeps the text sizes and ticks.
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    with _style():
        canvas.draw()  # the one draw: the figure is already laid out
    # The figure is opaque (alpha is 255 everywhere), so the PNG is RGB; with zlib level 3
    # that is smaller than matplotlib's RGBA at level 6 and 40% less encoding work. PIL
    # writes no version or time, so reruns on the same report are byte-identical.
    pixels = np.asarray(canvas.buffer_rgba())[:, :, :3]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png", dpi=(DPI, DPI),
                                 compress_level=PNG_COMPRESSION)
    # No pyplot registry holds the figure, so dropping it frees it (Figure.clear would
    # cost more, rebuilding every axis it empties).
    return buffer.getvalue()


def _draw_in_child(figures: dict, meanwhile) -> tuple[dict, dict | None]:
    """Draw `figures` in a forked copy of this process while this one runs `meanwhile()`:
    (meanwhile's result, the copy's PNGs or None if the copy failed). The copy only draws and
    writes to a pipe, then leaves with os._exit (no cleanup of the parent's state, no flush
    of its buffers)."""
    read_end, write_end = os.pipe()
    pid = fork()
    if pid == 0:  # the copy
        status = 1
        try:
            os.close(read_end)
            _forget_fonts()
            data = pickle.dumps(_draw_all(figures))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    done = False
    try:
        with os.fdopen(read_end, "rb") as pipe:
            mine = meanwhile()
            data = pipe.read()
        done = os.waitpid(pid, 0)[1] == 0
        return mine, pickle.loads(data) if done else None
    finally:
        if not done:  # interrupted or failed: the copy must not outlive this call
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _forget_fonts() -> None:
    """In a forked copy: drop every font object inherited from the parent. FreeType reads a
    font file through a file descriptor whose offset the two processes share, so both reading
    glyphs at once corrupts each other's reads ("failed to load glyph"); matplotlib empties
    its own font cache on fork, these hold fonts too."""
    from matplotlib.mathtext import MathTextParser

    _font.cache_clear()
    _MATHTEXT.clear()
    MathTextParser._parse_cached.cache_clear()


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
    _alpha_axis(ax, alphas)
    ax.set_xlabel("alpha (glmnet scale)")
    ax.set_ylabel(_clean(report.metric_label, None))
    ax.set_title(f"Validation curve: {FAMILY_NAMES[penalty]} "
                 f"(at alpha_min: {_family_verdict(report, penalty)})")
    _grid(ax)
    _legend_inside(ax)


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
    _legend_inside(ax)


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
    segments = np.stack(np.broadcast_arrays(alphas[None, :], values.T), axis=-1)
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
    _alpha_axis(ax, alphas)
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
        _legend_inside(ax, fontsize=7, ncols=2 if len(top) > 4 else 1)
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
    _alpha_axis(ax, curve.alphas)
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
        # Laid out by hand within the budgets above, so kept out of layout measurements (a
        # caller's constrained layout would otherwise shrink the plots around it).
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


def _figure(size: tuple[float, float], nrows: int, ncols: int,
            height_ratios: Sequence[float] | None = None) -> tuple[Figure, GridSpec]:
    """A figure without a layout engine; `_fit_layout` sets its grid's margins once drawn."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI)
    # A first guess at the usual margins (inches): panels of about their final height get
    # their final ticks, so one measuring pass usually suffices.
    width, height = size
    fig.subplots_adjust(left=0.65 / width, right=1 - 0.1 / width, bottom=0.5 / height,
                        top=1 - 0.25 / height)
    return fig, fig.add_gridspec(nrows, ncols, height_ratios=height_ratios)


def _fit_layout(fig: Figure, grid: GridSpec) -> None:
    """Set the margins and gaps of `grid` so that every panel's texts and legend just fit.

    Constrained layout (or bbox_inches="tight") costs a second full draw of every figure. Here
    each panel's texts are measured with the Agg renderer that later draws the PNG, so the ticks
    and text sizes made now are the ones the draw reuses.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    # Each renderer brings its own mathtext parser, whose cache is keyed by the parser: share
    # the first, so the log axes' labels (10^-3) are parsed once, not again for every figure.
    renderer.mathtext_parser = _MATHTEXT.setdefault(type(renderer), renderer.mathtext_parser)
    width, height = fig.get_size_inches()
    nrows, ncols = grid.get_geometry()
    ticks = None
    for _ in range(3):
        # Resizing the panels may change their ticks (a taller panel gets more), and so the
        # labels to fit: then measure again. From the first guess in _figure one pass is the
        # rule; three bound it.
        locations = [tuple(axis.get_majorticklocs()) for ax in fig.axes
                     for axis in (ax.xaxis, ax.yaxis)]
        if locations == ticks:
            break
        ticks = locations
        # How far (inches) each grid cell's texts reach beyond it, on each side.
        reach = {side: np.zeros((nrows, ncols)) for side in ("left", "right", "bottom", "top")}
        for ax in fig.axes:
            spec = ax.get_subplotspec().get_topmost_subplotspec()
            cell, box = spec.get_position(fig), _text_box(ax, renderer)
            rows = slice(spec.rowspan.start, spec.rowspan.stop)
            cols = slice(spec.colspan.start, spec.colspan.stop)
            for side, where, inches in (
                    ("left", (rows, cols.start), cell.x0 * width - box.x0 / fig.dpi),
                    ("right", (rows, cols.stop - 1), box.x1 / fig.dpi - cell.x1 * width),
                    ("bottom", (rows.stop - 1, cols), cell.y0 * height - box.y0 / fig.dpi),
                    ("top", (rows.start, cols), box.y1 / fig.dpi - cell.y1 * height)):
                reach[side][where] = np.maximum(reach[side][where], inches)
        left, right, bottom, top = reach.values()
        margins = {"left": left[:, 0].max() + EDGE_PAD, "right": right[:, -1].max() + EDGE_PAD,
                   "bottom": bottom[-1].max() + EDGE_PAD, "top": top[0].max() + EDGE_PAD}
        across = (right[:, :-1] + left[:, 1:]).max(initial=0.0) + GAP_PAD
        down = (bottom[:-1] + top[1:]).max(initial=0.0) + GAP_PAD
        # The grid's gaps are fractions of the average panel's width and height.
        panel_w = (width - margins["left"] - margins["right"] - (ncols - 1) * across) / ncols
        panel_h = (height - margins["bottom"] - margins["top"] - (nrows - 1) * down) / nrows
        # The grid reads these figure-wide parameters; subplots_adjust also moves the axes.
        fig.subplots_adjust(left=margins["left"] / width, right=1 - margins["right"] / width,
                            bottom=margins["bottom"] / height, top=1 - margins["top"] / height,
                            wspace=across / panel_w, hspace=down / panel_h)


def _text_box(ax: Axes, renderer: RendererBase) -> Bbox:
    """The pixels ax's frame, tick marks, tick labels, axis labels, title and legend cover.

    The same box as `Axes.get_tightbbox` without its repeated tick updates and measurements of
    sibling axes: the tick labels are the ones the draw shows, and matplotlib puts an axis label
    its labelpad beyond them.
    """
    from matplotlib.transforms import Bbox

    frame = ax.bbox
    boxes = [frame]
    legend = ax.get_legend()
    if legend is not None and legend.get_in_layout():  # a legend inside the plot needs no room
        boxes.append(legend.get_window_extent(renderer))
    if ax.title.get_text():
        boxes.append(ax.title.get_window_extent(renderer))
    if not ax.axison:
        return Bbox.union(boxes)
    points = ax.get_figure().dpi / 72
    x_labels = [label.get_window_extent(renderer) for label in _tick_labels(ax.xaxis)]
    x_low = min([frame.y0 - ax.xaxis.majorTicks[0].get_tick_padding() * points,
                 *(b.y0 for b in x_labels)])
    if ax.get_xlabel():
        x_low -= ax.xaxis.labelpad * points + ax.xaxis.label.get_window_extent(renderer).height
    y_labels = [label.get_window_extent(renderer) for label in _tick_labels(ax.yaxis)]
    y_low = min([frame.x0 - ax.yaxis.majorTicks[0].get_tick_padding() * points,
                 *(b.x0 for b in y_labels)])
    if ax.get_ylabel():
        y_low -= ax.yaxis.labelpad * points + ax.yaxis.label.get_window_extent(renderer).width
    boxes += [*x_labels, *y_labels, Bbox([[y_low, x_low], [frame.x1, frame.y1]])]
    return Bbox.union(boxes)


def _tick_labels(axis: Axis) -> list[Text]:
    """The tick labels the draw shows: of the ticks inside the view, not blank or hidden."""
    minor = axis.get_minorticklocs()
    # Brings the ticks' positions and labels up to date (each such call re-runs the locators).
    axis.get_ticklabels(which="both" if len(minor) else "major")
    low, high = sorted(axis.get_transform().transform(axis.get_view_interval()))
    tolerance = 1e-10 * (high - low)  # as matplotlib's own choice of the ticks to draw
    shown = []
    for locations, ticks in ((axis.get_majorticklocs(), axis.get_major_ticks),
                             (minor, axis.get_minor_ticks)):
        positions = axis.get_transform().transform(np.asarray(locations, dtype=float))
        for tick, at in zip(ticks(len(positions)), positions, strict=True):
            label = tick.label1
            if low - tolerance <= at <= high + tolerance and label.get_visible() \
                    and label.get_text():
                shown.append(label)
    return shown


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


def _alpha_axis(ax: Axes, alphas: np.ndarray) -> None:
    """A log alpha axis over the whole grid, also alphas whose errors are missing (NaN).

    Its unlabelled minor ticks are drawn as one line of tick marks: matplotlib makes each tick
    five artists, and the 30 to 50 minor ticks of a log axis cost about as much as the rest of
    the panel. Where matplotlib would label minor ticks (a grid under a decade wide) they stay.
    """
    from matplotlib import rcParams
    from matplotlib.lines import TICKDOWN, Line2D
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    low, high = float(np.min(alphas)), float(np.max(alphas))
    # 3% of the grid's decades as margin; a one-alpha grid gets a factor 2 either side.
    factor = (high / low) ** 0.03 if high > low else 2.0
    low, high = low / factor, high * factor
    ax.set_xlim(low, high)
    if np.log10(high / low) <= ax.xaxis.get_minor_formatter().minor_thresholds[0]:
        return
    ticks = ax.xaxis.get_minor_locator().tick_values(low, high)
    ticks = ticks[(ticks >= low) & (ticks <= high)]
    ax.xaxis.set_minor_locator(NullLocator())
    ax.add_line(Line2D(ticks, np.zeros(ticks.size), transform=ax.get_xaxis_transform(),
                       linestyle="none", marker=TICKDOWN, markersize=rcParams["xtick.minor.size"],
                       markeredgewidth=rcParams["xtick.minor.width"],
                       color=rcParams["xtick.color"], clip_on=False, label="_minor ticks",
                       gid=MINOR_TICKS))


def _legend_inside(ax: Axes, **kwargs: object) -> None:
    """A legend at matplotlib's "best" spot inside the plot, so the layout leaves it no room."""
    ax.legend(loc="best", **kwargs).set_in_layout(False)


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
    current, current_width = "", 0.0
    # A line is as wide as its words and the spaces between them (DejaVu Sans has no kerning
    # across a space), so each word is measured once, not each longer candidate line.
    space = _width(" ", size, bold)
    for word in _clean(text, None, escape=False).split(" "):
        word_width = _width(word, size, bold)
        candidate_width = current_width + space + word_width if current else word_width
        if candidate_width <= TEXT_WIDTH:
            current = f"{current} {word}" if current else word
            current_width = candidate_width
            continue
        if current:
            lines.append(current)
        # A word wider than the panel is split; only as far as the budget needs.
        while len(lines) <= max_lines and word_width > TEXT_WIDTH:
            cut = _fitting_prefix(word, size, bold)
            lines.append(word[:cut])
            word = word[cut:]
            word_width = _width(word, size, bold)
        current, current_width = word, word_width
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


@functools.lru_cache(maxsize=4096)
def _width(text: str, size: float, bold: bool) -> float:
    """Width in points of one line of (unescaped, drawable) text; FreeType takes ~40 us a glyph."""
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
