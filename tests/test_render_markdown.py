"""The Markdown summary, read back with a Markdown parser: the table, the sections, the images."""

from __future__ import annotations

import dataclasses
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt
from outcomes import FOLDERS, HOSTILE, make_outcomes

from overfitcheck.errors import ExitCode
from overfitcheck.outcome import Outcome
from overfitcheck.render_markdown import HEADER, render_markdown

SHOWN_HOSTILE = HOSTILE.replace("\x07", "\\x07")  # control characters shown as escapes


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    return folder, make_outcomes(folder, plots=True)


def parse(text: str):
    # CommonMark plus GitHub's tables and strikethrough (a stray "~~" must not strike text).
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)


def plain(inline) -> str:
    """What a reader sees of an inline token: its text, code spans and line breaks."""
    return "".join(c.content if c.type in ("text", "code_inline") else
                   " " if c.type in ("softbreak", "hardbreak") else ""
                   for c in inline.children)


def tables(tokens) -> list[list[list[str]]]:
    """Every table as rows of cell texts, the header row first."""
    out, rows, row = [], None, None
    for i, token in enumerate(tokens):
        if token.type == "table_open":
            rows = []
        elif token.type == "tr_open":
            row = []
        elif token.type in ("th_open", "td_open"):
            row.append(plain(tokens[i + 1]))
        elif token.type == "tr_close":
            rows.append(row)
        elif token.type == "table_close":
            out.append(rows)
    return out


def test_the_summary_table_has_a_row_per_dataset(batch):
    folder, outcomes = batch
    tokens = parse(render_markdown(outcomes, folder))
    summary = tables(tokens)[0]
    assert summary[0] == list(HEADER)
    assert len(summary) == 1 + len(outcomes)
    assert all(len(row) == len(HEADER) for row in summary)  # no name split a row's cells
    diabetes = outcomes[0].report
    best = next(fv for fv in diabetes.verdict.families if fv.penalty == diabetes.verdict.best)
    assert summary[1] == [
        "diabetes", "regression", "442", "good_fit", f"L1 (lasso), alpha {best.alpha:.4g}",
        f"RMSE {best.validation_error:.4g} ± {best.validation_error_se:.4g} vs "
        f"{float(diabetes.baseline.validation_mean[0]):.4g}"]
    assert summary[2][:4] == [SHOWN_HOSTILE, "regression", "150", "overfitting ❌"]
    assert summary[3][:4] == ["no_signal", "binary", "600", "underfitting"]
    assert summary[4] == [f"hitters {SHOWN_HOSTILE}", "—", "—", "error", "—", "—"]


def test_hostile_names_stay_text(batch):
    """The name's pipe, backticks, HTML, emphasis and control character render literally."""
    folder, outcomes = batch
    tokens = parse(render_markdown(outcomes, folder))
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    assert not kinds & {"html_inline", "html_block", "em_open", "s_open", "link_open"}
    code = [c.content for t in tokens for c in t.children or [] if c.type == "code_inline"]
    assert set(code) == {"--fail-on"}  # only the renderer's own code spans
    headings = [plain(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["overfitcheck summary", "diabetes: good fit",
                        f"{SHOWN_HOSTILE}: overfitting", "no_signal: underfitting",
                        f"hitters {SHOWN_HOSTILE}: could not be diagnosed"]


def test_names_that_start_blocks_or_break_lines_stay_one_cell(tmp_path):
    names = ["1. first", "- dash", "+ plus", "# hash", "two\nlines", "a\\|b", "x" * 200]
    outcomes = [Outcome(n, f"{i}.csv", None, None, "bad. Fix: good", ExitCode.BAD_DATA)
                for i, n in enumerate(names)]
    text = render_markdown(outcomes, tmp_path)
    summary = tables(parse(text))[0]
    assert [row[0] for row in summary[1:]] == [
        "1. first", "- dash", "+ plus", "# hash", "two lines", "a\\|b", "x" * 59 + "…"]
    assert all(len(row) == len(HEADER) for row in summary)
    tokens = parse(text)
    assert "bullet_list_open" not in {t.type for t in tokens}
    assert "ordered_list_open" not in {t.type for t in tokens}


def test_each_dataset_has_its_verdict_reasons_models_and_recommendation(batch):
    folder, outcomes = batch
    text = render_markdown(outcomes, folder)
    tokens = parse(text)
    report = outcomes[1].report
    items = [plain(tokens[i + 2]) for i, t in enumerate(tokens) if t.type == "list_item_open"]
    for reason in report.verdict.reasons:
        assert reason in items
    paragraphs = [plain(tokens[i + 1]) for i, t in enumerate(tokens)
                  if t.type == "paragraph_open"]
    assert f"Recommendation: {report.verdict.recommendation}" in paragraphs
    assert any(p.endswith("The verdict matches --fail-on.") for p in paragraphs)
    models = tables(tokens)[2]  # the summary, then diabetes', then this dataset's
    assert models[0] == ["model", "verdict", "validation error ± SE", "gap ± SE"]
    assert [row[:2] for row in models[1:]] == [
        ["unregularized", "overfitting"], ["L1 (lasso) (recommended)", "inconclusive"],
        ["L2 (ridge)", "overfitting"]]
    error = outcomes[3]
    assert f"{error.path}: {error.error}" in paragraphs


def _images(text: str) -> list[tuple[str, str]]:
    return [(plain(c), c.attrs["src"]) for t in parse(text) for c in t.children or []
            if c.type == "image"]


@pytest.mark.parametrize("where", [".", "elsewhere/deeper"])
def test_summary_pngs_are_linked_relative_to_the_markdown_file(batch, where):
    folder, outcomes = batch
    relative_to = (folder / where).resolve()
    relative_to.mkdir(parents=True, exist_ok=True)
    images = _images(render_markdown(outcomes, relative_to))
    assert [alt for alt, _ in images] == ["summary of diabetes", f"summary of {SHOWN_HOSTILE}",
                                          "summary of no_signal"]
    for (_, src), sub in zip(images, FOLDERS.values(), strict=True):
        assert not src.startswith("/") and " " not in src and "(" not in src  # URL-escaped
        assert (relative_to / unquote(src)).resolve() == (folder / sub / "summary.png").resolve()
        assert (relative_to / unquote(src)).is_file()
    assert images[1][1].endswith("over%20fit%20%28v2%29/summary.png")


def test_no_image_link_when_the_png_was_not_drawn(batch, tmp_path):
    folder, outcomes = batch
    without = dataclasses.replace(outcomes[0], output_dir=tmp_path)  # report.json only
    assert _images(render_markdown([without], folder)) == []
