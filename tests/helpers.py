"""Shared test helpers: paths to the real datasets and scikit-learn reference pipelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from overfitcheck.dataset import Dataset

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"


def reference_frame(path: Path, dataset: Dataset) -> pd.DataFrame:
    """The raw CSV rows the dataset kept (missing targets dropped), feature columns only."""
    frame = pd.read_csv(path)
    frame = frame[frame[dataset.target].notna()].reset_index(drop=True)
    used = [c.name for c in dataset.columns if c.role in ("numeric", "categorical")]
    return frame[used]


def reference_pipeline(frame: pd.DataFrame, dataset: Dataset, model, drop_first: bool = False
                       ) -> Pipeline:
    """scikit-learn's own preprocessing, equivalent to overfitcheck's, in front of `model`.

    Mean imputation, missing indicators for columns with missing values, one-hot with the file's
    levels and unknown levels ignored, then StandardScaler on everything: all fitted per fold.
    """
    plans = {c.name: c for c in dataset.columns}
    numeric = [c for c in frame.columns if plans[c].role == "numeric"]
    categorical = [c for c in frame.columns if plans[c].role == "categorical"]
    with_missing = [c for c in numeric if plans[c].n_missing]
    parts = [("num", SimpleImputer(strategy="mean", keep_empty_features=True), numeric)]
    if with_missing:
        parts.append(("ind", MissingIndicator(features="all"), with_missing))
    if categorical:
        levels = [sorted(frame[c].fillna("(missing)").astype(str).unique()) for c in categorical]
        encoder = OneHotEncoder(categories=levels, handle_unknown="ignore",
                                drop="first" if drop_first else None, sparse_output=False)
        parts.append(("cat", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(missing)", missing_values=np.nan),
            encoder), categorical))
    return Pipeline([("prep", ColumnTransformer(parts)), ("scale", StandardScaler()),
                     ("model", model)])


def check_golden(name: str, text: str, update: bool) -> None:
    """Compare `text` with tests/golden/NAME, or rewrite that file under --update-golden."""
    path = GOLDEN / name
    if update:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing; create it with pytest --update-golden"
    assert text == path.read_text(encoding="utf-8"), (
        f"rendered text differs from {path}; if the change is intended, run pytest "
        "--update-golden on its test and review the diff")
