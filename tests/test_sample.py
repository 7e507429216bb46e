"""--max-rows: a seeded random sample read in chunks, the same however the file is chunked and
whether it comes from a path or a DataFrame."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from overfitcheck.diagnose import diagnose
from overfitcheck.draws import row_draws
from overfitcheck.errors import BadTarget
from overfitcheck.sample import SAMPLE_SALT, read_sample


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    rng = np.random.default_rng(1)
    n = 5000
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n).astype(object),
                          "c": rng.choice(["x", "y", "z"], n)})
    frame["y"] = frame.a * 2 + rng.normal(size=n)
    frame.loc[rng.choice(n, 100, replace=False), "y"] = np.nan
    frame.loc[4000, "b"] = "late text"  # text in one chunk only: read again as text
    path = tmp_path_factory.mktemp("sample") / "f.csv"
    frame.to_csv(path, index=False)
    return path


def _numbers(report) -> dict:
    data = json.loads(report.to_json())
    return {k: v for k, v in data.items() if k not in ("config", "input")}


def test_the_sample_does_not_depend_on_chunks_or_source(csv):
    chunked = diagnose(csv, target="y", max_rows=700, n_alphas=5, chunk_rows=1000)
    assert (chunked.n_rows, chunked.n_rows_read, chunked.n_rows_dropped) == (700, 5000, 100)
    assert chunked.notes == ("dropped 100 rows with a missing target",
                             "diagnosing a random sample of 700 of 4900 rows (--max-rows, seed 0)")
    whole = diagnose(csv, target="y", max_rows=700, n_alphas=5, chunk_rows=0)
    frame = diagnose(pd.read_csv(csv), target="y", max_rows=700, n_alphas=5)
    assert _numbers(chunked) == _numbers(whole) == _numbers(frame)


def test_the_sample_is_the_rows_with_the_smallest_seeded_draws(csv):
    frame = pd.read_csv(csv)  # whole: "b" is text throughout, as the sample re-reads it
    kept = frame["y"].notna().to_numpy()
    draws = row_draws(0, len(frame), 3 ^ SAMPLE_SALT)
    draws[~kept] = np.iinfo(np.uint64).max
    expected = np.sort(np.argsort(draws, kind="stable")[:300])

    def has_target(chunk, header):
        assert header == ("a", "b", "c", "y")
        return chunk["y"].notna().to_numpy()

    table, n_read, n_kept = read_sample(csv, 300, 3, 1000, has_target)
    assert (n_read, n_kept) == (5000, 4900)
    pd.testing.assert_frame_equal(table.frame, frame.iloc[expected].reset_index(drop=True),
                                  check_dtype=False)  # "b": object of str vs str dtype
    other, _, _ = read_sample(csv, 300, 4, 1000, has_target)
    assert not other.frame.equals(table.frame)


def test_a_sample_larger_than_the_file_is_the_file(csv):
    report = diagnose(csv, target="y", max_rows=10_000, n_alphas=5, chunk_rows=1000)
    assert report.n_rows == 4900
    assert not any("random sample" in note for note in report.notes)


def test_a_sample_says_what_a_whole_read_says_about_names(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("a,a,y\n" + "".join(f"{i},{i % 4},{(i * 7) % 11}\n" for i in range(40)),
                    encoding="utf-8")
    sampled = diagnose(path, target="y", max_rows=30, n_alphas=3)
    assert sampled.notes[0] == "columns 1 and 2 are both named 'a': read as 'a' and 'a.1'"
    twice = tmp_path / "twice.csv"
    twice.write_text("a,y,y\n" + "".join(f"{i},{i},{i % 3}\n" for i in range(40)),
                     encoding="utf-8")
    with pytest.raises(BadTarget, match=r"target 'y' names 2 columns \(columns 2 and 3\)"):
        diagnose(twice, target="y", max_rows=30, n_alphas=3)
