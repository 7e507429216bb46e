"""CSV -> a seeded random sample of its rows (--max-rows), read in chunks so the file's size
never has to fit in memory."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pandas as pd

from .draws import row_draws
from .read import (
    EncodingChanged,
    Format,
    Table,
    header_notes,
    header_of,
    read_chunks,
    sha256,
    sniff,
)

SAMPLE_SALT = 0x5A4D_504C_4553  # "SAMPLES": the sample's draws differ from the folds'
SAMPLE_CHUNK_ROWS = 100_000  # with --chunk-rows 0 (read whole) the sample still reads in chunks

# rows of a chunk to sample from, given the chunk and the header as written in the file
Keep = Callable[[pd.DataFrame, tuple[str, ...] | None], np.ndarray]


def read_sample(path: str | os.PathLike[str], rows: int, seed: int, chunk_rows: int,
                keep: Keep, encoding: str | None = None) -> tuple[Table, int, int]:
    """The `rows` rows with the smallest seeded draws among those `keep` accepts (rows with a
    target), in file order, plus the counts of rows read and accepted.

    Each row's draw depends only on the seed and its line in the file, so the sample is the
    same however the file is chunked, and holding it costs memory for `rows` rows only.
    Columns that are text in some chunks and numbers in others are read again as text, as a
    whole-file read would parse them.
    """
    fmt = sniff(path, encoding)
    text: tuple[str, ...] = ()
    while True:
        notes = list(fmt.notes)
        try:
            frame, n_read, n_kept, mixed = _sample_pass(fmt, notes, text, rows, seed,
                                                        chunk_rows, keep)
        except EncodingChanged as changed:  # not UTF-8 after its first chunks: start over
            fmt = changed.fmt
            continue
        if set(mixed) <= set(text):
            break
        text = tuple(sorted(set(text) | set(mixed)))
    header = header_of(fmt, frame)
    notes += header_notes(header, frame)
    return (Table(frame, fmt.path, sha256(fmt.path), fmt.delimiter, fmt.decimal, fmt.encoding,
                  fmt.compression, tuple(notes), header), n_read, n_kept)


def _sample_pass(fmt: Format, notes: list[str], text: tuple[str, ...], rows: int, seed: int,
                 chunk_rows: int, keep: Keep) -> tuple[pd.DataFrame, int, int, list[str]]:
    kinds: dict[str, set[bool]] = {}  # column -> {read as numbers (or bools)?} per chunk
    sample: pd.DataFrame | None = None
    draws = np.empty(0, dtype=np.uint64)
    start = n_kept = 0
    for chunk in read_chunks(fmt, chunk_rows, notes, text=text):
        for name, dtype in chunk.dtypes.items():
            kinds.setdefault(str(name), set()).add(pd.api.types.is_numeric_dtype(dtype))
        accepted = np.asarray(keep(chunk, header_of(fmt, chunk)), dtype=bool)
        chunk_draws = row_draws(start, start + len(chunk), seed ^ SAMPLE_SALT)[accepted]
        start += len(chunk)
        n_kept += int(accepted.sum())
        sample = chunk.loc[accepted] if sample is None else pd.concat([sample,
                                                                       chunk.loc[accepted]])
        draws = np.concatenate([draws, chunk_draws])
        if len(draws) > rows:  # keep the smallest draws, in file order
            chosen = np.sort(np.argpartition(draws, rows - 1)[:rows])
            sample, draws = sample.iloc[chosen], draws[chosen]
    mixed = sorted(name for name, kind in kinds.items() if len(kind) > 1)
    return sample.reset_index(drop=True), start, n_kept, mixed
