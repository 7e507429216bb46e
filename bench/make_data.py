"""Synthetic benchmark CSVs: correlated numerics, a few categoricals, missing values, a sparse
true model plus noise, as a regression target (`y`) or a binary one (`churned`).

Deterministic for a given (rows, seed): each block of BLOCK rows is drawn from
numpy's default_rng([seed, block]), so a 10M-row file is written in bounded memory and its first
200,000 rows equal the 200,000-row file's.

    python bench/make_data.py OUT.csv --rows 200000 --task regression --seed 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

BLOCK = 50_000
N_NUMERIC = 100
RHO = 0.5  # neighbouring numeric columns correlate 0.5 (an AR(1) chain across columns)
MISSING_COLUMNS = 10  # the first 10 numeric columns and `region` miss 2% of their values
MISSING_RATE = 0.02
CATEGORIES = {"region": ["north", "south", "east", "west", "centre"],
              "plan": ["basic", "plus", "pro", "enterprise"],
              "channel": [f"c{i:02d}" for i in range(12)]}
# The sparse truth: 10 numeric coefficients and two categorical effects; the rest are zero.
TRUE_COEF = {0: 1.0, 1: -0.8, 4: 0.6, 9: 0.5, 15: -0.5, 22: 0.4, 37: -0.4, 51: 0.3,
             68: -0.3, 90: 0.2}
PLAN_EFFECT = np.array([0.0, 0.3, 0.6, 1.0])
REGION_EFFECT = np.array([0.0, -0.2, 0.2, 0.0, 0.4])
NOISE_SD = 1.5


def columns() -> list[str]:
    return [f"x{j:03d}" for j in range(1, N_NUMERIC + 1)] + list(CATEGORIES)


def block(task: str, seed: int, index: int, rows: int) -> pa.Table:
    rng = np.random.default_rng([seed, index])
    X = rng.standard_normal((rows, N_NUMERIC))
    for j in range(1, N_NUMERIC):
        X[:, j] = RHO * X[:, j - 1] + np.sqrt(1 - RHO**2) * X[:, j]
    codes = {name: rng.integers(0, len(levels), rows) for name, levels in CATEGORIES.items()}
    eta = sum(c * X[:, j] for j, c in TRUE_COEF.items())
    eta = eta + PLAN_EFFECT[codes["plan"]] + REGION_EFFECT[codes["region"]]
    if task == "regression":
        target = np.round(eta + NOISE_SD * rng.standard_normal(rows), 4)
        name = "y"
    else:
        target = np.where(rng.random(rows) < 1 / (1 + np.exp(-(eta - 0.5))), "yes", "no")
        name = "churned"
    data = {}
    values = np.round(X, 6)
    for j, col in enumerate(columns()[:N_NUMERIC]):
        array = pa.array(values[:, j])
        if j < MISSING_COLUMNS:
            array = pa.array(values[:, j], mask=rng.random(rows) < MISSING_RATE)
        data[col] = array
    for name_, levels in CATEGORIES.items():
        labels = np.asarray(levels, dtype=object)[codes[name_]]
        mask = rng.random(rows) < MISSING_RATE if name_ == "region" else None
        data[name_] = pa.array(labels, type=pa.string(), mask=mask)
    data[name] = pa.array(target)
    return pa.table(data)


def write(path: Path, rows: int, task: str, seed: int = 0) -> Path:
    """Write the CSV (atomically: a half-written file is never left under `path`)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    writer = None
    try:
        for index, start in enumerate(range(0, rows, BLOCK)):
            table = block(task, seed, index, min(BLOCK, rows - start))
            if writer is None:
                writer = pacsv.CSVWriter(str(tmp), table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--task", choices=("regression", "binary"), default="regression")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write(args.out, args.rows, args.task, args.seed)


if __name__ == "__main__":
    main()
