"""Terminal renderer: golden text on three real datasets, wide files, literal user names."""

from __future__ import annotations

import io
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import check_golden
from rich.console import Console

from overfitcheck import diagnose
from overfitcheck.dataset import ColumnPlan
from overfitcheck.render_terminal import _clean, _count, _folds, _num, _pct, render_terminal

DATA = Path(__file__).parent / "data"


# jobs=1: with parallel folds the count of "fits stopped before converging" in the warnings
# varies from run to run (the numbers do not), and golden text must not.


@pytest.fixture(scope="module")
def diabetes():
    return diagnose(DATA / "diabetes.csv", target="target", jobs=1)


@pytest.fixture(scope="module")
def penguins():
    return diagnose(DATA / "penguins.csv", target="species", jobs=1)


@pytest.fixture(scope="module")
def khan():
    # 2308 columns, 63 rows: here for its wide data table. Its cost is the L1 multinomial fits
    # at small alphas (fewer alphas alone barely help, cv=3 and n_alphas=8 took 40-80 s); two
    # folds and alpha >= 0.05 bring it to about 12 s.
    return diagnose(DATA / "khan_train.csv", target="Y", cv=2, n_alphas=4, alpha_min=0.05,
                    jobs=1)


def render(report, width: int = 100, **options) -> str:
    """What a user sees, without colour; trailing spaces stripped so goldens diff cleanly."""
    console = Console(width=width, file=io.StringIO(), color_system=None, force_terminal=False)
    console.print(render_terminal(report, **options))
    return "".join(line.rstrip() + "\n" for line in console.file.getvalue().splitlines())


HEADINGS = ("Data:", "Models", "Largest coefficients", "╭─ Verdict")


def section(text: str, heading: str) -> str:
    """The lines from the one that starts with `heading` to the next section's heading."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(HEADINGS)),
               len(lines))
    return "\n".join(lines[start:end]).strip("\n")


@pytest.mark.parametrize("name", ["diabetes", "penguins", "khan"])
def test_golden_at_100_columns(name, request, update_golden):
    report = request.getfixturevalue(name)
    check_golden(f"{name}_100.txt", render(report), update_golden)


def test_golden_at_80_columns(penguins, update_golden):
    check_golden("penguins_80.txt", render(penguins, width=80), update_golden)


@pytest.mark.parametrize("name", ["diabetes", "penguins", "khan"])
@pytest.mark.parametrize("width", [100, 80])
def test_models_table_names_every_family_the_baseline_and_whole_verdicts(name, width, request):
    report = request.getfixturevalue(name)
    models = section(render(report, width), "Models")
    for family in ("unregularized", "L1 (lasso)", "L2 (ridge)", "baseline"):
        assert family in models
    for fv in report.verdict.families:  # not cut to "overfitti…" at 80 columns
        assert f" {fv.verdict}\n" in models + "\n"
    assert f"Errors: {report.metric_label}, lower is better;" in render(report, width)
    assert max(len(line) for line in render(report, width).splitlines()) <= width


def test_models_table_rows_carry_the_numbers(diabetes):
    lines = section(render(diabetes), "Models").splitlines()
    l1 = next(line for line in lines if line.lstrip().startswith("L1 (lasso) *"))
    fv = next(f for f in diabetes.verdict.families if f.penalty == "l1")
    assert diabetes.verdict.best == "l1"
    assert l1.split() == ["L1", "(lasso)", "*", _num(fv.alpha), _num(fv.alpha_1se),
                          _num(fv.train_error), _num(fv.validation_error), "±",
                          _num(fv.validation_error_se), _num(fv.gap), _pct(fv.gap_relative),
                          str(fv.n_nonzero), fv.verdict]


def test_small_file_lists_every_column(diabetes):
    data = section(render(diabetes), "Data: diabetes.csv")
    for plan in diabetes.columns:
        assert any(line.split()[:2] == [plan.name, plan.role] for line in data.splitlines()[3:])


def test_categorical_levels_and_imputation_are_shown(penguins):
    data = section(render(penguins), "Data: penguins.csv")
    assert "levels: Biscoe, Dream, Torgersen" in data
    assert "levels: (missing), female, male" in data
    assert "3 classes (Adelie, Chinstrap, Gentoo)" in data
    assert "Folds: StratifiedKFold(n_splits=5, shuffle=True, random_state=0)." in data


def test_wide_file_collapses_alike_columns(khan):
    text = render(khan)
    data = text[: text.index("\nModels\n")]
    assert len(data.splitlines()) < 60
    assert "2308 numeric columns" in data
    assert "standardized (G0001 … G2308)" in data
    assert "G0002" not in data


def test_data_table_is_capped_and_keeps_dropped_columns(khan):
    junk = tuple(ColumnPlan(f"junk{i:03d}", "dropped", "constant", 0) for i in range(100))
    report = replace(khan, columns=khan.columns + junk)
    data = section(render(report, max_rows=10), "Data: khan_train.csv")
    # heading, header, rule, rows (a wrapped cell continues on indented lines), three facts
    rows = [line for line in data.splitlines()[3:-3] if not line.startswith("  ")]
    assert len(rows) == 10
    assert rows[1].split()[:3] == ["2308", "numeric", "columns"]
    assert [r.split()[0] for r in rows[2:9]] == [f"junk{i:03d}" for i in range(7)]
    assert rows[9].split() == ["…", "and", "93", "more", "columns", "93", "dropped", "0", "0"]


def test_data_table_cap_can_fold_the_summary_rows_too(khan):
    junk = tuple(ColumnPlan(f"junk{i:03d}", "dropped", "constant", 0) for i in range(100))
    report = replace(khan, columns=khan.columns + junk)
    data = section(render(report, max_rows=2), "Data: khan_train.csv")
    rows = [line for line in data.splitlines()[3:-3] if not line.startswith("  ")]
    assert [row.split()[0] for row in rows] == ["Y", "…"]
    assert rows[1].split() == ["…", "and", "2408", "more", "columns", "2308", "numeric,", "100",
                               "dropped", "0", "2308"]


def test_max_rows_below_two_is_refused(diabetes):
    with pytest.raises(ValueError, match="max_rows must be at least 2"):
        render_terminal(diabetes, max_rows=1)


def test_renderer_prints_nothing(diabetes, capsys):
    renderable = render_terminal(diabetes)
    assert hasattr(renderable, "__rich_console__")
    assert capsys.readouterr() == ("", "")


def test_user_names_are_shown_literally_never_as_markup():
    rng = np.random.default_rng(0)
    n = 60
    signal = rng.normal(size=n)
    long_name = "a_very_long_column_name_that_goes_on_and_on_forever_and_ever"
    frame = pd.DataFrame({
        "[bold red]x[/]": signal,
        "bell\x07\x1b[31mred": rng.normal(size=n),
        long_name: rng.normal(size=n),
        "[i]kind[/i]": rng.choice(["[b]a[/b]", "b"], size=n),
        "y": 3 * signal + rng.normal(scale=0.5, size=n),
    })
    report = diagnose(frame, target="y")
    text = render(report)
    data = section(text, "Data: DataFrame")
    assert "[bold red]x[/]" in data
    assert "[i]kind[/i]" in data and "levels: [b]a[/b], b" in data
    assert "[bold red]x[/]" in section(text, "Largest coefficients")
    assert "\x1b" not in text and "\x07" not in text
    assert "bell\\x07\\x1b[31mred" in data
    assert long_name[:39] + "…" in data and long_name not in text


@pytest.mark.parametrize("value, shown", [
    (54.52717, "54.53"), (0.0001077553, "0.0001078"), (1.974438e-08, "1.974e-08"),
    (-9.84289, "-9.843"), (0.7, "0.7"), (123456.7, "123,500"), (0.0, "0"),
    (math.nan, "—"), (math.inf, "∞"), (9.99996, "10"),
])
def test_numbers_have_four_significant_digits(value, shown):
    assert _num(value) == shown


@pytest.mark.parametrize("fraction, shown", [
    (0.015287, "1.5%"), (0.0038722, "0.39%"), (0.14072, "14%"), (-0.0009, "-0.09%"),
    (1e-7, "~0%"), (math.inf, "—"),
])
def test_percentages(fraction, shown):
    assert _pct(fraction) == shown


def test_counts_and_names():
    assert (_count(2308), _count(12345)) == ("2308", "12,345")
    assert _clean("tab\there\u202e") == "tab\\there\\u202e"
    assert _clean("x" * 41) == "x" * 39 + "…"
    assert _clean("x" * 40) == "x" * 40


def test_fold_definition_names_the_group_column():
    folds = {"splitter": "GroupKFold", "n_splits": 5, "group_col": "[b]shop[/b]",
             "train_sizes": [80, 80], "validation_sizes": [20, 20]}
    assert _folds(folds) == "GroupKFold(n_splits=5), grouped by column [b]shop[/b]"
