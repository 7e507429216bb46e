"""CSV chunks -> cell statistics: a file read in chunks gives the report a file read whole gives."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from helpers import DATA

from overfitcheck import diagnose
from overfitcheck.cells import CellStats
from overfitcheck.config import Config
from overfitcheck.curves import summarize
from overfitcheck.errors import NotACsv
from overfitcheck.paths_gram import fit_regression_paths
from overfitcheck.stream import StreamedDataset, stream_regression


def _hostile_file(path, n=6000, seed=0):
    """Columns whose story only the whole file tells: types that change after the first chunk,
    levels that appear late, missing values that start late, an ID, a date, a constant."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(10, 3, size=n)
    city = rng.choice([f"c{i:02d}" for i in range(24)], size=n)
    half = n // 2
    city[:half] = rng.choice(["c00", "c01", "c02"], size=half)  # 21 levels appear later
    flag = rng.choice(["yes", "no"], size=n).astype(object)
    flag[rng.random(n) < 0.05] = None
    y = 2 * x1 - 0.3 * x2 + (city == "c05") * 1.5 + rng.normal(size=n)
    frame = pd.DataFrame({"row_id": np.arange(1, n + 1), "x1": x1, "x2": x2, "city": city,
                          "flag": flag, "constant": 7, "when": "2024-05-01", "y": y})
    late = 2 * n // 3  # x2 starts missing values late
    frame.loc[late:, "x2"] = frame.loc[late:, "x2"].where(rng.random(n - late) > 0.1)
    amount = np.round(rng.gamma(2, 100, size=n), 2).astype(object)
    amount[n // 2::97] = "unknown"  # text after the first chunks: still a numeric column
    frame["amount"] = amount
    mixed = rng.normal(size=n).round(3).astype(object)
    mixed[n // 4:] = rng.choice(["low", "high", "mid"], size=n - n // 4)  # numbers, then labels
    frame["mixed"] = mixed
    frame.loc[rng.choice(n, 40, replace=False), "y"] = np.nan
    frame.to_csv(path, index=False)
    return path


def _compare(whole, streamed, path=""):
    if isinstance(whole, dict):
        assert set(whole) == set(streamed), path
        for key in whole:
            if f"{path}/{key}" != "/config/chunk_rows":
                _compare(whole[key], streamed[key], f"{path}/{key}")
    elif isinstance(whole, list):
        assert len(whole) == len(streamed), path
        for i, (a, b) in enumerate(zip(whole, streamed, strict=True)):
            _compare(a, b, f"{path}[{i}]")
    elif isinstance(whole, float) and isinstance(streamed, float):
        assert (math.isnan(whole) and math.isnan(streamed)) or \
            math.isclose(whole, streamed, rel_tol=1e-8, abs_tol=1e-12), (path, whole, streamed)
    else:
        assert whole == streamed, path


@pytest.mark.parametrize("metric", ["rmse", "mae"])
def test_streamed_report_equals_the_whole_file_report(tmp_path, metric):
    path = _hostile_file(tmp_path / "hostile.csv")
    stages = []
    streamed = diagnose(path, target="y", chunk_rows=1000, metric=metric,
                        progress=lambda stage, done, total: stages.append((stage, done)))
    whole = diagnose(path, target="y", chunk_rows=0, metric=metric)
    read = [done for stage, done in stages if stage == "reading rows"]
    assert len(read) >= 5 and read[-1] == 6000  # it did stream, about 1,000 rows at a time
    # "mixed" held numbers, then labels: read again as text, then with its levels known
    assert sum(stage.startswith("reading rows again") for stage, _ in stages) == 2 * len(read)
    _compare(whole.to_dict(), streamed.to_dict())
    roles = {c.name: (c.role, c.detail) for c in streamed.columns}
    assert roles["row_id"][0] == roles["constant"][0] == roles["when"][0] == "dropped"
    raw = pd.read_csv(path)
    unknown = int((raw.loc[raw["y"].notna(), "amount"] == "unknown").sum())
    assert unknown > 30
    assert roles["amount"] == ("numeric", f"{unknown} missing: imputed with the training fold's "
                               f"mean, plus an indicator; {unknown} non-numeric values read as "
                               "missing (e.g. 'unknown')")
    assert roles["mixed"][0] == "categorical"  # a second pass re-read it as text
    assert roles["city"][1] == "one-hot, 20 most frequent of 24 levels, rest (other)"
    assert "dropped 40 rows with a missing target" in streamed.notes


def test_streamed_real_file_equals_whole():
    """default.csv's balance as a regression target, read 1,000 rows at a time. drop_first:
    with both levels of a yes/no column the lasso's choice between the two is arbitrary (the
    columns are exactly collinear), so only its predictions, not its pick, are reproducible."""
    whole = diagnose(DATA / "default.csv", target="balance", chunk_rows=0, drop_first=True)
    streamed = diagnose(DATA / "default.csv", target="balance", chunk_rows=1000,
                        drop_first=True)
    _compare(whole.to_dict(), streamed.to_dict())
    assert streamed.folds["train_sizes"] == [8000] * 5


@pytest.mark.parametrize("metric", ["mae", "rmse"])  # rmse: the second read runs beside the
def test_rows_beyond_the_cache_are_read_again(tmp_path, monkeypatch, metric):  # curves
    """With no room to keep rows, the mean absolute errors come from a second read."""
    import overfitcheck.stream as stream

    path = _hostile_file(tmp_path / "hostile.csv", n=3000, seed=1)
    monkeypatch.setattr(stream, "CACHE_BYTES", 0)
    config = Config(target="y", chunk_rows=1000)
    streamed = stream_regression(path, config)
    assert isinstance(streamed, StreamedDataset)
    reread = diagnose(path, target="y", chunk_rows=1000, metric=metric, jobs=2)
    monkeypatch.setattr(stream, "CACHE_BYTES", 1 << 30)
    cached = diagnose(path, target="y", chunk_rows=1000, metric=metric, jobs=2)
    _compare(cached.to_dict(), reread.to_dict())


def test_the_mae_pass_beside_the_learning_curves_reaches_the_report(tmp_path):
    """With rmse choosing the alphas, the MAE pass over the rows runs beside the learning
    curves: the report still has every fold's MAE, as the paths scored in one go give it."""
    path = _hostile_file(tmp_path / "hostile.csv")
    report = diagnose(path, target="y", chunk_rows=1000)
    data = stream_regression(path, Config(target="y", chunk_rows=1000)).data
    grids = {p: report.curves[p].alphas for p in ("none", "l1", "l2")}
    for penalty, path_ in fit_regression_paths(data, grids).items():
        expected = summarize(path_, "rmse")
        for side in ("all_train", "all_validation"):
            got = getattr(report.curves[penalty], side)["mae"]
            assert np.isfinite(got).all(), (penalty, side)
            np.testing.assert_allclose(got, getattr(expected, side)["mae"], rtol=1e-12)


def test_a_stopped_mae_pass_ends_without_scoring(tmp_path):
    """The pass beside the learning curves stops at its next block once the diagnosis fails or
    is interrupted (diagnose sets the event), rather than reading the rest of the rows."""
    import threading

    from overfitcheck.paths_gram import fit_regression_paths_deferred

    path = _hostile_file(tmp_path / "hostile.csv")
    data = stream_regression(path, Config(target="y", chunk_rows=1000)).data
    blocks = []
    rows = data.rows

    def counted():
        for block in rows():
            blocks.append(block)
            yield block

    data = dataclasses.replace(data, rows=counted)
    paths, absolute_errors = fit_regression_paths_deferred(data, {"l2": np.array([1.0])})
    stop = threading.Event()
    stop.set()
    absolute_errors(stop)
    assert len(blocks) <= 1 and np.isnan(paths["l2"].validation["mae"]).all()
    absolute_errors()
    assert len(blocks) > 5 and np.isfinite(paths["l2"].validation["mae"]).all()


def test_the_mae_pass_beside_the_learning_curves_fails_and_stops_with_the_diagnosis(
        tmp_path, monkeypatch):
    """An error in the pass reaches the caller; an error in the learning curves stops the
    pass (its Event is set) before it is raised."""
    import importlib

    import overfitcheck.paths_gram as paths_gram

    # the module, not the package's diagnose function of the same name
    diagnose_module = importlib.import_module("overfitcheck.diagnose")
    path = _hostile_file(tmp_path / "hostile.csv")
    real = paths_gram._absolute_errors

    def broken(*args):
        raise RuntimeError("the pass failed")

    monkeypatch.setattr(paths_gram, "_absolute_errors", broken)
    with pytest.raises(RuntimeError, match="the pass failed"):
        diagnose(path, target="y", chunk_rows=1000, jobs=2)
    seen = {}

    def watched(*args):
        stop = args[5]
        seen["stopped"] = stop.wait(timeout=20)  # set by diagnose once the curves fail
        return real(*args)

    def curves_fail(*args, **kwargs):
        raise RuntimeError("the curves failed")

    monkeypatch.setattr(paths_gram, "_absolute_errors", watched)
    monkeypatch.setattr(diagnose_module, "learning_curves_gram", curves_fail)
    with pytest.raises(RuntimeError, match="the curves failed"):
        diagnose(path, target="y", chunk_rows=1000, jobs=2)
    assert seen["stopped"]


def test_small_files_and_class_targets_are_read_whole(tmp_path):
    assert stream_regression(DATA / "hitters.csv", Config(target="Salary")) is None
    assert stream_regression(DATA / "default.csv",
                             Config(target="default", chunk_rows=1000)) is None


def test_a_worded_target_is_handed_over_before_any_range_is_parsed(tmp_path, monkeypatch):
    """Words in the head's target (yes/no) decide it: no byte range is parsed to find out. A
    target of numbers is still probed on a whole first chunk."""
    import overfitcheck.stream as stream

    parsed = []
    real = stream.read_range
    monkeypatch.setattr(stream, "read_range", lambda *a, **k: parsed.append(a) or real(*a, **k))
    assert stream_regression(DATA / "default.csv",
                             Config(target="default", chunk_rows=1000)) is None
    assert parsed == []
    rng = np.random.default_rng(0)
    y = rng.normal(size=5000).astype(object)
    y[:100] = "n/a"  # spelled missing at the head: the numbers after it decide
    frame = pd.DataFrame({"x": rng.normal(size=5000), "y": y})
    frame.to_csv(tmp_path / "numbers.csv", index=False)
    streamed = stream_regression(tmp_path / "numbers.csv", Config(target="y", chunk_rows=1000))
    assert parsed and isinstance(streamed, StreamedDataset)


def test_quoted_line_breaks_and_bad_rows_deep_in_a_streamed_file(tmp_path):
    """Quoted fields with line breaks stream like the rest; a broken row deep in the file is
    reported at its line, as when the file is read whole."""
    rng = np.random.default_rng(3)
    n = 4000
    notes = np.where(rng.random(n) < 0.3, 'two\nlines, "quoted"', "plain")
    frame = pd.DataFrame({"x": rng.normal(size=n), "note": notes, "y": rng.normal(size=n)})
    path = tmp_path / "quoted.csv"
    frame.to_csv(path, index=False)
    whole = diagnose(path, target="y", chunk_rows=0, drop_first=True)  # see default.csv's test
    streamed = diagnose(path, target="y", chunk_rows=1000, drop_first=True)
    _compare(whole.to_dict(), streamed.to_dict())
    assert streamed.n_rows == n
    lines = frame.assign(note="plain").to_csv(index=False).splitlines(keepends=True)
    lines.insert(len(lines) - 10, "1.0,extra,2.0,3.0\n")
    broken = tmp_path / "broken.csv"
    broken.write_text("".join(lines))
    line = len(lines) - 10  # 1-based line of the inserted row
    for chunk_rows in (0, 1000):
        with pytest.raises(NotACsv, match=f"Expected 3 fields in line {line}, saw 4"):
            diagnose(broken, target="y", chunk_rows=chunk_rows)


def test_trouble_deep_in_a_streamed_file_gets_the_whole_file_answer(tmp_path):
    """Text in the target after the first chunks (one clear error, no hang), a byte that is not
    UTF-8 after the first chunks (read as cp1252, as whole), True/False with late blanks
    (one-hot, as whole)."""
    from overfitcheck.errors import BadTarget

    rng = np.random.default_rng(5)
    n = 5000
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n).round(3)})
    frame["y"] = frame["y"].astype(object)
    frame.loc[4200, "y"] = "oops"
    bad_target = tmp_path / "bad_target.csv"
    frame.to_csv(bad_target, index=False)
    for chunk_rows in (0, 1000):
        with pytest.raises(BadTarget, match="is not numeric"):
            diagnose(bad_target, target="y", chunk_rows=chunk_rows)

    frame = pd.DataFrame({"x": rng.normal(size=n), "city": "Paris", "y": rng.normal(size=n)})
    frame.loc[::2, "city"] = "Lyon"
    frame.loc[4501, "city"] = "Orléans"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(frame.to_csv(index=False).encode("cp1252"))
    whole = diagnose(latin, target="y", chunk_rows=0)
    streamed = diagnose(latin, target="y", chunk_rows=1000)
    _compare(whole.to_dict(), streamed.to_dict())
    assert "city=Orléans" in streamed.feature_names

    flags = np.where(rng.random(n) < 0.5, "True", "False").astype(object)
    flags[4600::50] = None
    frame = pd.DataFrame({"x": rng.normal(size=n), "flag": flags, "y": rng.normal(size=n)})
    booleans = tmp_path / "booleans.csv"
    frame.to_csv(booleans, index=False)
    whole = diagnose(booleans, target="y", chunk_rows=0, drop_first=True)
    streamed = diagnose(booleans, target="y", chunk_rows=1000, drop_first=True)
    _compare(whole.to_dict(), streamed.to_dict())
    assert next(c for c in streamed.columns if c.name == "flag").role == "categorical"


def test_the_head_of_a_file_tells_a_regression_target(tmp_path):
    """head_is_regression (diagnose imports scikit-learn's solvers beside the reading only for
    other targets) applies the whole-file rules to the first rows, --task first; unsure is
    False."""
    from overfitcheck.stream import head_is_regression

    rng = np.random.default_rng(10)
    n = 3000
    frame = pd.DataFrame({"x": rng.normal(size=n), "amount": rng.normal(size=n).round(3),
                          "flag": rng.integers(0, 2, n), "word": rng.choice(["yes", "no"], n)})
    path = tmp_path / "targets.csv"
    frame.to_csv(path, index=False)
    assert head_is_regression(path, Config(target="amount"))
    assert not head_is_regression(path, Config(target="flag"))
    assert not head_is_regression(path, Config(target="word"))
    assert head_is_regression(path, Config(target="flag", task="regression"))
    assert not head_is_regression(path, Config(target="amount", task="binary"))
    assert not head_is_regression(path, Config(target="missing"))
    assert not head_is_regression(tmp_path / "absent.csv", Config(target="amount"))


def test_byte_ranges_cover_the_file_and_parse_as_the_whole_file(tmp_path):
    """The cuts fall after line ends, cover every byte once, and the ranges parsed on their
    own (the later ones with the header's names) are the file read whole, row for row."""
    from overfitcheck.read import read_range, read_table, sniff, split_ranges

    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame({"x": rng.normal(size=n).round(4), "label": rng.choice(["a, b", "c"], n),
                          "count": rng.integers(0, 9, n), "y": rng.normal(size=n)})
    frame.loc[rng.choice(n, 50, replace=False), "x"] = np.nan
    path = tmp_path / "plain.csv"
    frame.to_csv(path, index=False)
    fmt = sniff(path)
    ranges = split_ranges(fmt, 1000)
    data = path.read_bytes()
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data) and len(ranges) >= 3
    assert all(stop == start for (_, stop), (start, _) in zip(ranges[:-1], ranges[1:], strict=True))
    assert all(data[stop - 1:stop] == b"\n" for _, stop in ranges)
    first = read_range(fmt, *ranges[0], None)
    parts = [first] + [read_range(fmt, *r, list(first.columns)) for r in ranges[1:]]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), read_table(path).frame)
    assert split_ranges(sniff(_gzip(path)), 1000) is None  # a compressed file is read in order


def test_a_cut_inside_a_quoted_line_break_is_caught(tmp_path):
    """Every field spans lines: some cut falls inside quotes, that range does not parse as
    rows (CutFailed), and the stream reads the file in order instead, as whole."""
    from overfitcheck.read import CutFailed, read_range, sniff, split_ranges

    rng = np.random.default_rng(8)
    n = 3000
    frame = pd.DataFrame({"x": rng.normal(size=n), "note": "one\ntwo\nthree\nfour",
                          "y": rng.normal(size=n)})
    path = tmp_path / "lines.csv"
    frame.to_csv(path, index=False)
    fmt = sniff(path)
    ranges = split_ranges(fmt, 1000)
    names = list(frame.columns)
    failed = 0
    for i, r in enumerate(ranges):
        try:
            read_range(fmt, *r, names if i else None)
        except CutFailed:
            failed += 1
    assert failed
    whole = diagnose(path, target="y", chunk_rows=0, drop_first=True)
    streamed = diagnose(path, target="y", chunk_rows=1000, drop_first=True)
    _compare(whole.to_dict(), streamed.to_dict())


def _gzip(path):
    import gzip

    packed = path.with_suffix(".csv.gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    return packed


def test_a_column_that_turns_to_text_inside_a_range_reads_as_whole(tmp_path):
    """Ranges are parsed with low_memory, which types blocks of lines apart: numbers turning
    to text within one range come out mixed, and that range is parsed again whole (no
    warning), so the column is text as in a whole-file read and the reports agree."""
    from overfitcheck.read import read_range, read_table, sniff, split_ranges

    rng = np.random.default_rng(11)
    n = 120_000
    mixed = rng.normal(size=n).round(3).astype(object)
    mixed[100_000:] = rng.choice(["low", "high"], size=n - 100_000)
    frame = pd.DataFrame({"x": rng.normal(size=n), "mixed": mixed, "y": rng.normal(size=n)})
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    fmt = sniff(path)
    ranges = split_ranges(fmt, 60_000)
    first = read_range(fmt, *ranges[0], None)
    last = read_range(fmt, *ranges[-1], list(first.columns))
    whole = read_table(path).frame
    assert last["mixed"].dtype == whole["mixed"].dtype
    assert list(last["mixed"].iloc[-3:]) == list(whole["mixed"].iloc[-3:])
    assert isinstance(last["mixed"].iloc[0], str)  # the numbers as written, not as floats
    streamed = diagnose(path, target="y", chunk_rows=100_000)
    _compare(diagnose(path, target="y", chunk_rows=0).to_dict(), streamed.to_dict())


def test_cell_totals_are_the_sums_of_their_cells_until_more_rows_arrive():
    rng = np.random.default_rng(3)
    Z, y, cell = rng.standard_normal((400, 6)), rng.standard_normal(400), rng.integers(0, 8, 400)
    stats = CellStats.of(Z, y, cell, 8)
    mask = np.array([True, False, True, True, False, True, True, False])
    total = stats.total(mask)
    rows = mask[cell]
    assert total.count == rows.sum()
    np.testing.assert_allclose(total.gram, Z[rows].T @ Z[rows], rtol=1e-12)
    np.testing.assert_allclose(total.zy, Z[rows].T @ y[rows], rtol=1e-12)
    assert np.array_equal(total.gram, stats.gram[mask].sum(axis=0))  # the same additions
    assert stats.total(np.flatnonzero(mask)) is total  # kept, whichever way it is asked
    with pytest.raises(ValueError):
        total.gram[0, 0] = 0.0  # shared with every caller: read-only
    stats.add(Z[:10], y[:10], cell[:10])
    again = stats.total(mask)
    assert again is not total
    assert again.count == total.count + mask[cell[:10]].sum()
