"""Property: whatever small CSV it is given, the whole command exits 0, 1 or 3 (never 4, never a
traceback), writes only inside its output folder, leaves the input's bytes alone, and on success
writes a report.json with every documented top-level key.

CI runs OVERFITCHECK_HYPOTHESIS_EXAMPLES (default 25) derandomized examples; run it with a few
thousand once in a while to hunt for new failures."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from overfitcheck.cli import app

EXAMPLES = int(os.environ.get("OVERFITCHECK_HYPOTHESIS_EXAMPLES", "25"))
# README, "report.json": the documented top-level keys.
REPORT_KEYS = {
    "schema_version", "tool", "task", "target", "classes", "metric", "metric_label",
    "metric_direction", "alpha_scale", "n_rows", "n_features", "n_rows_read",
    "n_rows_dropped_missing_target", "input", "seed", "config", "folds", "columns", "verdict",
    "verdict_reasons", "recommendation", "more_data_would_help", "thresholds", "baseline",
    "models", "paths", "learning_curves", "notes", "warnings", "versions"}
HOSTILE_NAMES = ["x", "y", "a", "a", "", " ", "../x", "a/b", "a\\b", "CON", "nul", "é", "名前",
                 "😀", "ctl\x01\x1b[31m", "[bold]x", "a,b", 'q"uote', "line\nbreak", "L" * 300,
                 "NA", "1", "Unnamed: 0", "a.1", "-", "#"]
MISSING = ["", "NA", "n/a", "?", "NULL", "-", "nan"]
LABELS = ["yes", "no", "Yes", "maybe", "é", "名", "😀", "a,b", 'say "hi"', "two\nlines",
          " pad ", "0", "1.5", "TRUE"]


def _cell(kind: str, draw, i: int) -> str:
    if kind == "float":
        value = draw(st.floats(allow_nan=True, allow_infinity=True, width=64))
        return repr(value) if value == value else "nan"
    if kind == "small":
        return f"{draw(st.floats(-3, 3, allow_nan=False)):.3f}"
    if kind == "int":
        return str(draw(st.integers(-5, 5)))
    if kind == "row":
        return str(i)
    if kind == "text":
        return draw(st.sampled_from(LABELS))
    if kind == "bool":
        return draw(st.sampled_from(["True", "False", "true", "0", "1"]))
    if kind == "date":
        return f"2024-0{draw(st.integers(1, 9))}-1{draw(st.integers(0, 9))}"
    if kind == "messy":
        return draw(st.sampled_from(["1,200", "3,400.5", "12", "7", "-3", *MISSING, "abc"]))
    if kind == "magnitude":
        return f"{draw(st.floats(-9, 9)):.3f}e{draw(st.sampled_from([-300, -150, 150, 300]))}"
    if kind == "unicode":
        return draw(st.text(max_size=6))
    if kind == "constant":
        return "7"
    raise AssertionError(kind)  # pragma: no cover


KINDS = ["float", "small", "small", "int", "row", "text", "bool", "date", "messy", "magnitude",
         "unicode", "constant"]


@st.composite
def csv_files(draw):
    """(CSV bytes, target name, extra options)."""
    n_rows = draw(st.integers(2, 40))
    n_columns = draw(st.integers(1, 6))
    names = [draw(st.sampled_from(HOSTILE_NAMES) | st.text(max_size=8))
             for _ in range(n_columns)]
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(n_columns)]
    missing = [draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 0.95, 1.0])) for _ in range(n_columns)]
    rows = []
    for i in range(n_rows):
        row = []
        for kind, share in zip(kinds, missing, strict=True):
            hole = draw(st.floats(0, 1)) < share
            row.append(draw(st.sampled_from(MISSING)) if hole else _cell(kind, draw, i))
        rows.append(row)
    delimiter = draw(st.sampled_from([",", ",", ";", "\t"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=draw(
        st.sampled_from(["\n", "\r\n"])))
    writer.writerow(names)
    writer.writerows(rows)
    data = buffer.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-8"])),
                                    errors="surrogatepass")
    target = draw(st.sampled_from(names) | st.sampled_from(HOSTILE_NAMES))
    options = ["--cv", str(draw(st.sampled_from([2, 3, 5])))]
    if draw(st.booleans()):
        options += ["--fail-on", "any"]
    return data, target, options


def _listing(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in root.rglob("*")}


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(csv_files())
def test_any_small_csv_gets_a_report_or_one_clear_line(case):
    data, target, options = case
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "input.csv"
        source.write_bytes(data)
        out = root / "out"
        before = _listing(root)
        result = CliRunner().invoke(app, [
            "diagnose", str(source), "--target", target, "--no-plots", "--n-alphas", "3",
            "--jobs", "1", "--format", "json", "-o", str(out), *options])
        assert "Traceback" not in result.output
        if target == "" and result.exit_code == 2:  # an empty --target reads as no --target
            assert result.stderr.startswith("overfitcheck: error: no target column for ")
            return
        assert result.exit_code in (0, 1, 3), result.output
        after = _listing(root)
        assert after.pop("out", None) is None
        written = {k for k in after if k.startswith("out" + os.sep)}
        assert {k: v for k, v in after.items() if k not in written} == before
        if result.exit_code == 3:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("overfitcheck: error: "), lines
            assert "Fix: " in lines[0]
            assert not out.exists()
            return
        assert written == {os.path.join("out", "report.json")}
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        assert REPORT_KEYS <= report.keys()
        assert json.loads(result.stdout) == report
        assert report["input"]["path"] == str(source)
