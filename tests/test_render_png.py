"""The PNG renderer: what each figure draws (as scikit-learn tests its Displays) and the files."""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import TICKDOWN
from PIL import Image

from overfitcheck import diagnose, render_png
from overfitcheck.output import write_outputs
from overfitcheck.render_png import (
    coefficient_path_figure,
    learning_curves_figure,
    summary_figure,
    validation_curve_figure,
)
from overfitcheck.verdict import FAMILY_NAMES

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
EXPECTED_FILES = {
    "validation_curve_l1.png": render_png.VALIDATION_SIZE,
    "validation_curve_l2.png": render_png.VALIDATION_SIZE,
    "learning_curves.png": render_png.LEARNING_SIZE,
    "coefficient_path_l1.png": render_png.PATH_SIZE,
    "summary.png": render_png.SUMMARY_SIZE,
}


@pytest.fixture(scope="module")
def regression():
    return diagnose(DATA / "diabetes.csv", target="target")


@pytest.fixture(scope="module")
def binary():
    return diagnose(DATA / "breast_cancer.csv", target="target")


def _hlines(ax) -> list[float]:
    """y of every axhline (x spans the axes: [0, 1] in axes coordinates)."""
    return [float(line.get_ydata()[0]) for line in ax.get_lines()
            if list(line.get_xdata()) == [0, 1] and len(set(line.get_ydata())) == 1]


def _vlines(ax) -> list[float]:
    return [float(line.get_xdata()[0]) for line in ax.get_lines()
            if list(line.get_ydata()) == [0, 1] and len(set(line.get_xdata())) == 1]


def _data_lines(ax) -> list:
    """Every line but the one of minor tick marks on an alpha axis."""
    return [line for line in ax.get_lines() if line.get_gid() != render_png.MINOR_TICKS]


def _line(ax, label: str):
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line


def _legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_validation_curve_draws_both_errors_against_log_alpha(regression, penalty):
    curve = regression.curves[penalty]
    fig = validation_curve_figure(regression, penalty)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "alpha (glmnet scale)"
    assert ax.get_ylabel() == regression.metric_label == "RMSE"
    assert FAMILY_NAMES[penalty] in ax.get_title()
    # training, validation, alpha_min, alpha_1se, unregularized, baseline
    assert len(_data_lines(ax)) == 6
    np.testing.assert_array_equal(_line(ax, "training").get_xdata(), curve.alphas)
    np.testing.assert_array_equal(_line(ax, "training").get_ydata(), curve.train_mean)
    np.testing.assert_array_equal(_line(ax, "validation (± 1 SE)").get_ydata(),
                                  curve.validation_mean)
    assert _vlines(ax) == [curve.alpha_min, curve.alpha_1se]
    assert _hlines(ax) == [regression.curves["none"].validation_mean[0],
                           regression.baseline.validation_mean[0]]
    legend = _legend_texts(ax)
    assert f"alpha_min = {curve.alpha_min:.4g}" in legend
    assert f"alpha_1se = {curve.alpha_1se:.4g}" in legend
    # the two +-1 SE bands
    assert len(ax.collections) == 2


def test_validation_curve_draws_into_the_axes_it_is_given(regression):
    fig = Figure()
    ax = fig.add_subplot()
    assert validation_curve_figure(regression, "l1", ax=ax) is fig
    assert fig.axes == [ax]
    assert ax.get_xscale() == "log"


def test_validation_curve_is_only_for_penalized_families(regression):
    with pytest.raises(ValueError, match="'none'"):
        validation_curve_figure(regression, "none")


def test_validation_curve_leaves_alphas_a_fold_skipped_blank(regression):
    curve = regression.curves["l1"]
    skipped = np.zeros(curve.alphas.size, dtype=bool)
    skipped[-3:] = True  # the smallest alphas, where a saturated fold stops
    gappy = dataclasses.replace(curve, train_mean=np.where(skipped, np.nan, curve.train_mean),
                                validation_mean=np.where(skipped, np.nan,
                                                         curve.validation_mean))
    report = dataclasses.replace(regression, curves={**regression.curves, "l1": gappy})
    (ax,) = validation_curve_figure(report, "l1").axes
    assert np.isnan(_line(ax, "training").get_ydata()[-3:]).all()
    assert "3 of 30 alphas not drawn: a fold could not fit them" in _legend_texts(ax)
    # the whole grid stays on the axis, the skipped alphas included
    assert ax.get_xlim()[0] < curve.alphas.min()


def test_an_alpha_axis_marks_every_minor_tick_with_one_line(regression):
    (ax,) = validation_curve_figure(regression, "l1").axes
    low, high = ax.get_xlim()
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    expected = [m * 10.0**d for d in decades for m in range(2, 10) if low <= m * 10.0**d <= high]
    (marks,) = [line for line in ax.get_lines() if line.get_gid() == render_png.MINOR_TICKS]
    np.testing.assert_allclose(marks.get_xdata(), expected)
    # drawn as matplotlib draws a minor tick: below the frame, in the tick style
    assert marks.get_transform() == ax.get_xaxis_transform()
    assert list(marks.get_ydata()) == [0] * len(expected)
    assert (marks.get_marker(), marks.get_linestyle()) == (TICKDOWN, "None")
    assert marks.get_markersize() == rcParams["xtick.minor.size"]
    assert not marks.get_clip_on()
    assert marks.get_label() not in _legend_texts(ax)
    assert list(ax.xaxis.get_minorticklocs()) == []  # no second set of minor ticks


def test_a_grid_under_a_decade_keeps_matplotlibs_labelled_minor_ticks(regression):
    curve = regression.curves["l1"]
    narrow = dataclasses.replace(curve, alphas=np.geomspace(0.2, 0.8, curve.alphas.size))
    report = dataclasses.replace(regression, curves={**regression.curves, "l1": narrow})
    (ax,) = validation_curve_figure(report, "l1").axes
    assert [line for line in ax.get_lines() if line.get_gid() == render_png.MINOR_TICKS] == []
    assert len(ax.xaxis.get_minorticklocs()) > 0


def test_a_reference_line_far_above_the_curves_is_labelled_not_squashing_them(binary):
    # An unregularized logistic model that diverges on separable classes (breast cancer) while
    # the lasso's curves stay below the baseline's ~0.66: set here, as the fitted log loss
    # depends on the solver.
    none = binary.curves["none"]
    unregularized = 3 * float(binary.baseline.validation_mean[0])
    diverged = dataclasses.replace(none, validation_mean=np.full_like(none.validation_mean,
                                                                      unregularized))
    report = dataclasses.replace(binary, curves={**binary.curves, "none": diverged})
    (ax,) = validation_curve_figure(report, "l1").axes
    assert unregularized in _hlines(ax)
    assert ax.get_ylim()[1] < unregularized
    assert f"unregularized, validation = {unregularized:.4g} (above the plot)" in \
        _legend_texts(ax)
    assert ax.get_ylabel() == "log loss"


def test_learning_curves_have_one_panel_per_family(regression):
    fig = learning_curves_figure(regression)
    assert len(fig.axes) == 3
    for ax, penalty in zip(fig.axes, ["none", "l1", "l2"], strict=True):
        lc = regression.learning[penalty]
        assert FAMILY_NAMES[penalty] in ax.get_title()
        assert (f"alpha = {lc.alpha:.4g}" in ax.get_title()) == (penalty != "none")
        assert ax.get_xlabel() == "training rows"
        assert ax.get_ylabel() == "RMSE"
        validation = _line(ax, "validation (± 1 sd)")
        np.testing.assert_array_equal(validation.get_xdata(), lc.n_train)
        np.testing.assert_array_equal(validation.get_ydata(), lc.validation_mean)
        np.testing.assert_array_equal(_line(ax, "training (± 1 sd)").get_ydata(),
                                      lc.train_mean)
        assert _hlines(ax) == [regression.baseline.validation_mean[0]]


def test_learning_curves_need_one_axes_per_family(regression):
    fig = Figure()
    with pytest.raises(ValueError, match="need 3 axes"):
        learning_curves_figure(regression, axes=fig.subplots(1, 2))
    fig = Figure()
    axes = fig.subplots(1, 3)
    assert learning_curves_figure(regression, axes=axes) is fig


def test_coefficient_path_draws_every_feature_and_names_the_strongest(regression):
    curve = regression.curves["l1"]
    fig = coefficient_path_figure(regression)
    path_ax, count_ax = fig.axes
    assert path_ax.get_xscale() == count_ax.get_xscale() == "log"
    (collection,) = [c for c in path_ax.collections if isinstance(c, LineCollection)]
    segments = collection.get_segments()
    assert len(segments) == regression.n_features == 10
    for j, segment in enumerate(segments):
        np.testing.assert_array_equal(segment[:, 0], curve.alphas)
        np.testing.assert_array_equal(segment[:, 1], curve.coef[:, 0, j])
    named = [name for name, _, _ in regression.top_coefficients("l1", 8)]
    assert _legend_texts(path_ax)[:len(named)] == named
    assert _vlines(path_ax) == _vlines(count_ax) == [curve.alpha_min, curve.alpha_1se]
    (count,) = [line for line in count_ax.get_lines() if line.get_label() ==
                "non-zero coefficients"]
    np.testing.assert_array_equal(count.get_xdata(), curve.alphas)
    np.testing.assert_array_equal(count.get_ydata(), curve.n_nonzero)
    assert count_ax.get_xlabel() == "alpha (glmnet scale)"


def test_coefficient_path_of_several_classes_draws_each_feature_in_its_strongest(binary):
    curve = binary.curves["l1"]
    # Two outputs in which class "1" always has twice the coefficient of class "0".
    coef = np.concatenate([curve.coef, -2 * curve.coef], axis=1)
    report = dataclasses.replace(binary, curves={**binary.curves,
                                                 "l1": dataclasses.replace(curve, coef=coef)})
    fig = coefficient_path_figure(report)
    _assert_laid_out(fig)  # the class after each name widens the legend
    path_ax, _ = fig.axes
    (collection,) = [c for c in path_ax.collections if isinstance(c, LineCollection)]
    for j, segment in enumerate(collection.get_segments()):
        np.testing.assert_array_equal(segment[:, 1], -2 * curve.coef[:, 0, j])
    named = [f"{name} (1)" for name, _, _ in binary.top_coefficients("l1", 8)]
    assert _legend_texts(path_ax)[:8] == named
    assert "each in its strongest class" in path_ax.get_title()


def test_summary_shows_the_verdict_in_its_colour_and_the_key_panels(regression, binary):
    for report, word, colour in [(regression, "GOOD FIT", "#2e7d32"),
                                 (binary, "OVERFITTING", "#c62828")]:
        fig = summary_figure(report)
        text_ax = fig.axes[0]
        texts = {t.get_text(): t for t in text_ax.texts}
        assert word == report.verdict.overall.replace("_", " ").upper()
        assert texts[word].get_color() == colour
        assert texts[word].get_fontsize() >= 24
        body = "\n".join(texts)
        assert f"{report.input_path.rsplit('/', 1)[-1]}: predicting target ({report.task})" \
            in body
        assert f"{report.n_rows} rows, {report.n_features} features" in body
        assert report.verdict.recommendation[:40] in body.replace("\n", " ")
        validation_ax = fig.axes[1]
        best = report.verdict.best if report.verdict.best != "none" else "l2"
        assert validation_ax.get_xscale() == "log"
        assert FAMILY_NAMES[best] in validation_ax.get_title()
        assert FAMILY_NAMES[report.verdict.best] in fig.axes[2].get_title()
        assert fig.axes[3].get_title().startswith("L1 (lasso) coefficient path")


def test_summary_text_stays_inside_its_panel_however_long(regression):
    verdict = dataclasses.replace(regression.verdict, reasons=("Very long reason WWW " * 300,),
                                  recommendation="M" * 3000)
    report = dataclasses.replace(
        regression, verdict=verdict, target="W" * 500, input_path="/d/" + "Ω" * 300 + ".csv",
        warnings=("a long warning " * 50,) * 4)
    fig = summary_figure(report)
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    text_ax = fig.axes[0]
    panel = text_ax.get_window_extent(renderer)
    for text in text_ax.texts:
        box = text.get_window_extent(renderer)
        assert panel.x0 - 1 <= box.x0 and box.x1 <= panel.x1 + 1, text.get_text()[:40]
        assert panel.y0 - 1 <= box.y0 and box.y1 <= panel.y1 + 1, text.get_text()[:40]
    cut = [t.get_text() for t in text_ax.texts if t.get_text().endswith("…")]
    assert len(cut) == 4  # title, reasons, recommendation, warnings


def _assert_laid_out(fig) -> None:
    """Every panel, with its tick labels, axis labels, title and legend as matplotlib measures
    them after a draw, lies inside the figure and clear of every other panel."""
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    for ax, box in zip(fig.axes, boxes, strict=True):
        assert box.x0 >= 0 and box.y0 >= 0, ax.get_title()
        assert box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height, ax.get_title()
    for (a, box_a), (b, box_b) in itertools.combinations(zip(fig.axes, boxes, strict=True), 2):
        assert not box_a.overlaps(box_b), (a.get_title(), b.get_title())


@pytest.mark.parametrize("name", ["regression", "binary"])
def test_every_figure_fits_its_texts_without_clipping_or_overlap(request, name):
    report = request.getfixturevalue(name)
    for fig in [validation_curve_figure(report, "l1"), validation_curve_figure(report, "l2"),
                learning_curves_figure(report), coefficient_path_figure(report),
                summary_figure(report)]:
        _assert_laid_out(fig)


def _umask():
    current = os.umask(0)
    os.umask(current)
    return current


def write_pngs(report, folder):
    """The PNGs that write_outputs puts in `folder`, in render order."""
    written = write_outputs(report, folder, plots=True)
    return [path for path in written if path.suffix == ".png"]


def test_write_pngs_writes_the_five_files_at_their_sizes(regression, tmp_path):
    written = write_pngs(regression, tmp_path)
    assert written == [tmp_path / name for name in EXPECTED_FILES]
    # no temporary files left; report.json is written beside the PNGs, with the user's umask
    assert sorted(os.listdir(tmp_path)) == sorted([*EXPECTED_FILES, "report.json"])
    mode = 0o666 & ~_umask()
    for path in written:
        assert path.stat().st_mode & 0o777 == mode
        width, height = EXPECTED_FILES[path.name]
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.mode == "RGB"  # the figures are opaque: no alpha channel to store
            assert image.size == (round(width * 100), round(height * 100))
            assert len(image.getcolors(maxcolors=1_000_000) or [0, 0]) > 50


def test_write_pngs_is_deterministic(regression, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    for a, b in zip(write_pngs(regression, first), write_pngs(regression, second),
                    strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_write_outputs_leaves_nothing_behind_when_a_figure_fails(regression, tmp_path,
                                                                 monkeypatch):
    def broken(report):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(render_png, "summary_figure", broken)
    with pytest.raises(RuntimeError, match="drawing failed"):
        write_outputs(regression, tmp_path, plots=True)
    assert os.listdir(tmp_path) == []


def test_hostile_feature_names_are_drawn_literally_and_stay_out_of_file_names(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    names = ["a$b_{x}", "../../etc", "emoji 🙂", "x" * 300, "_hidden", "tab\tand\nnewline"]
    frame = pd.DataFrame({name: rng.normal(size=n) for name in names})
    frame["kind $"] = rng.choice(["$$", "🙂 smile", "中文"], size=n)
    frame["y"] = (2 * frame["a$b_{x}"] - 1.5 * frame["x" * 300] + frame["emoji 🙂"]
                  - frame["../../etc"] + rng.normal(scale=0.5, size=n))
    report = diagnose(frame, target="y")
    out = tmp_path / "out"
    out.mkdir()
    write_pngs(report, out)
    assert os.listdir(tmp_path) == ["out"]
    assert sorted(os.listdir(out)) == sorted([*EXPECTED_FILES, "report.json"])
    fig = coefficient_path_figure(report)
    _assert_laid_out(fig)  # the longest names, cut to 40 characters, fit beside the plot
    legend = _legend_texts(fig.axes[0])
    assert r"a\$b_{x}" in legend  # an escaped dollar: drawn as "$", never as mathtext
    assert "x" * 39 + "…" in legend
    assert "emoji ?" in legend
    assert "../../etc" in legend


def test_user_text_is_made_drawable():
    clean = render_png._clean
    assert clean("cost in $ and $x$") == r"cost in \$ and \$x\$"
    assert clean("🙂 ok\x07\ttab\nline") == "? ok? tab line"
    assert clean("Ünïcødé αβγ ±²") == "Ünïcødé αβγ ±²"
    assert clean("y" * 100) == "y" * 39 + "…"
    assert clean("_private") == " _private"
    assert clean("z" * 100, None) == "z" * 100


def test_matplotlib_is_imported_only_when_drawing_and_never_pyplot():
    code = (
        "import sys\n"
        "import overfitcheck.render_png as r\n"
        "assert 'matplotlib' not in sys.modules, 'imported at module import'\n"
        "from overfitcheck import diagnose\n"
        f"r.summary_figure(diagnose({str(DATA / 'diabetes.csv')!r}, target='target'))\n"
        "assert 'matplotlib' in sys.modules\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="the PNGs are drawn in a forked copy on Linux")
def test_two_processes_draw_the_same_bytes_and_a_failed_copy_is_drawn_here(regression,
                                                                           monkeypatch):
    """processes=2 draws some figures in a forked copy: the same files, byte for byte, in the
    same order; when the copy fails, this process draws its figures instead. Fonts loaded
    before the fork are not shared (they were: 'failed to load glyph' in a third of runs)."""
    one = render_png.render_pngs(regression)
    for _ in range(3):
        two = render_png.render_pngs(regression, 2)
        assert two == one
        assert list(two) == list(one)

    class Unpicklable:
        loads = staticmethod(__import__("pickle").loads)

        @staticmethod
        def dumps(_):
            raise RuntimeError("the copy cannot send its PNGs")

    monkeypatch.setattr(render_png, "pickle", Unpicklable)
    assert render_png.render_pngs(regression, 2) == one


_TRIM_PROBE = """
import numpy as np
from overfitcheck import render_png
from overfitcheck.memory import heap_only

def rss(pid):
    return int(open(f"/proc/{pid}/status").read().split("VmRSS:")[1].split()[0]) << 10

heap_only()  # as the command line: freed blocks stay in malloc's heap
block = np.ones(50_000_000)  # 400 MB, paged in
del block
copy = render_png.DrawingProcess.start()
print(rss(copy._pid) < 300 << 20, rss("self") < 300 << 20)
copy.close()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the drawing copy is forked on Linux")
def test_a_drawing_copy_does_not_inherit_memory_already_freed():
    """Memory the command line's malloc keeps for reuse is handed back before the drawing
    copy forks: the copy would share those pages, then keep them once the diagnosis reuses
    them (on the 200k binary file, 0.4 GiB more for the process tree)."""
    done = subprocess.run([sys.executable, "-c", _TRIM_PROBE], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["True", "True"]


@pytest.mark.skipif(sys.platform != "linux", reason="the drawing copy is forked on Linux")
def test_a_drawing_copy_forked_early_draws_the_same_bytes_and_is_always_reaped(
        regression, tmp_path, monkeypatch):
    """DrawingProcess: matplotlib imported in a copy forked before the report exists, which
    then draws the report sent to it: the same bytes as drawing here. Whether it answers, is
    closed unused, fails or hangs, the copy is gone afterwards; a failed or hung copy leaves
    the drawing to this process (which here fails too, and writes nothing)."""
    one = render_png.render_pngs(regression)

    def gone(pid):
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)

    copy = render_png.DrawingProcess.start()
    pid = copy._pid
    assert copy.pngs(regression) == one
    gone(pid)
    unused = render_png.DrawingProcess.start()
    pid = unused._pid
    unused.close()
    gone(pid)

    def broken(report):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(render_png, "summary_figure", broken)
    failing = render_png.DrawingProcess.start()  # the copy has the broken figure too
    pid = failing._pid
    with pytest.raises(RuntimeError, match="drawing failed"):
        write_outputs(regression, tmp_path, plots=True, drawing=failing)
    gone(pid)
    assert os.listdir(tmp_path) == []

    monkeypatch.setattr(render_png, "_serve", lambda request, answer: __import__("time").sleep(30))
    monkeypatch.setattr(render_png, "DRAWING_TIMEOUT", 0.5)
    for request in (regression, np.zeros(1_000_000)):  # the second one overfills the pipe
        hung = render_png.DrawingProcess.start()
        pid = hung._pid
        assert hung.pngs(request) is None
        gone(pid)

    copy = render_png.DrawingProcess.start()
    pid = copy._pid
    assert copy.pngs(lambda: None) is None  # a request that cannot be pickled
    gone(pid)

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    open_fds = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "fork", no_fork)
    assert render_png.DrawingProcess.start() is None  # then the caller draws here
    assert len(os.listdir("/proc/self/fd")) == open_fds
