"""The options of one diagnosis: each default lives here, and the CLI help and README read it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import UsageProblem

TASKS = ("regression", "binary", "multiclass")
REGRESSION_METRICS = ("rmse", "mae", "r2")
CLASSIFICATION_METRICS = ("log_loss", "accuracy", "balanced_accuracy", "roc_auc", "brier")
METRICS = REGRESSION_METRICS + CLASSIFICATION_METRICS
PENALTIES = ("none", "l1", "l2")
FAIL_ON = ("never", "overfitting", "underfitting", "any")


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Config:
    """Every knob of a diagnosis. Frozen: a run never changes the options it was given."""

    target: str = _opt("", "Name of the column to predict.")
    task: str | None = _opt(
        None, "regression, binary or multiclass; inferred from the target column when not given."
    )
    cv: int = _opt(5, "Number of cross-validation folds.")
    seed: int = _opt(0, "Seed of the fold shuffle and learning-curve subsets.")
    group_col: str | None = _opt(
        None, "Column whose values must not straddle folds (GroupKFold), e.g. a customer id."
    )
    time_col: str | None = _opt(
        None, "Column giving time order; folds become TimeSeriesSplit on that order."
    )
    metric: str | None = _opt(
        None, "Primary error: rmse (default for regression), mae, r2, log_loss (default for "
        "classes), accuracy, balanced_accuracy, roc_auc, brier. Scores are shown as 1 - score.",
    )
    alphas: tuple[float, ...] | None = _opt(
        None, "Comma-separated alpha grid used for both L1 and L2, e.g. 0.01,0.1,1."
    )
    n_alphas: int = _opt(30, "Number of alphas in the derived grid.")
    alpha_min: float | None = _opt(None, "Smallest alpha of the derived grid.")
    alpha_max: float | None = _opt(None, "Largest alpha of the derived grid.")
    max_levels: int = _opt(
        20, "Most one-hot levels per categorical column; rarer levels are grouped as (other)."
    )
    drop_first: bool = _opt(False, "Drop the first level of each categorical (as pd.get_dummies).")
    gap_fraction: float = _opt(
        0.10, "Overfitting margin: validation minus training error beyond this fraction of the "
        "baseline's validation error.",
    )
    gap_floor: float = _opt(
        0.0, "Smallest overfitting and underfitting margins, in units of the metric."
    )
    underfit_fraction: float = _opt(
        0.05, "Underfitting: the best model improves on the baseline by less than this fraction "
        "of the baseline's validation error.",
    )
    noise_se: float = _opt(
        1.0, "How many standard errors of fold noise a difference must clear to count."
    )
    gain_fraction: float = _opt(
        0.01, "Regularization helps (so the unregularized model overfits) when it lowers the "
        "validation error by more than this fraction of the baseline's, beyond fold noise.",
    )
    interpolation_fraction: float = _opt(
        0.01, "The unregularized model interpolates when its training error is below this "
        "fraction of the baseline's; if it then validates worse, it overfits.",
    )
    more_data_fraction: float = _opt(
        0.01, "More data would help: the validation learning curve falls by more than this "
        "fraction of the baseline's validation error from its third-largest training size "
        "(about 74%) to the largest.",
    )
    max_rows: int | None = _opt(
        None, "Diagnose a seeded random sample of this many rows instead of the whole file."
    )
    encoding: str | None = _opt(
        None, "Text encoding of the CSV; detected (UTF-8, else cp1252) when not given."
    )
    # With ~100 columns a chunk of 100,000 rows is ~100 MB of parsed frame; larger chunks gain
    # nothing measurable.
    chunk_rows: int = _opt(
        100_000, "Rows read at a time from a regression CSV larger than this; with the number "
        "of columns it sets the memory used, whatever the file's length. 0: read the file whole.",
    )
    jobs: int = _opt(
        -1, "Worker processes fitting folds in parallel (BLAS runs one thread in each); -1: one "
        "per CPU core for classes or a design of a million cells or more, else 1. With several "
        "datasets, N runs N datasets in parallel instead, each fitting its folds one after "
        "another; -1 runs the datasets one after another, each with the automatic rule.",
    )

    def __post_init__(self) -> None:
        problems = []
        numbers = {f.name: getattr(self, f.name) for f in fields(self)
                   if isinstance(getattr(self, f.name), float)}
        for name, value in [*numbers.items(), *(("alphas", a) for a in self.alphas or ())]:
            if not math.isfinite(value):
                problems.append(f"--{name.replace('_', '-')} must be a finite number, not "
                                f"{value}")
        if self.task is not None and self.task not in TASKS:
            problems.append(f"--task must be one of {', '.join(TASKS)}, not {self.task!r}")
        if self.metric is not None and self.metric not in METRICS:
            problems.append(f"--metric must be one of {', '.join(METRICS)}, not {self.metric!r}")
        if self.cv < 2:
            problems.append(f"--cv must be at least 2, not {self.cv}")
        if self.n_alphas < 1:
            problems.append(f"--n-alphas must be at least 1, not {self.n_alphas}")
        if self.alphas is not None and (not self.alphas or min(self.alphas) <= 0):
            problems.append("--alphas must be positive numbers")
        for name in ("alpha_min", "alpha_max"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                problems.append(f"--{name.replace('_', '-')} must be positive, not {value}")
        if self.alpha_min and self.alpha_max and self.alpha_min >= self.alpha_max:
            problems.append("--alpha-min must be below --alpha-max")
        if self.max_levels < 1:
            problems.append("--max-levels must be at least 1")
        if min(self.gap_fraction, self.gap_floor, self.underfit_fraction, self.noise_se,
               self.more_data_fraction, self.interpolation_fraction,
               self.gain_fraction) < 0:
            problems.append("thresholds must not be negative")
        if self.max_rows is not None and self.max_rows < 2:
            problems.append("--max-rows must be at least 2")
        if self.chunk_rows < 0 or 0 < self.chunk_rows < 1000:
            problems.append(f"--chunk-rows must be 0 (read whole) or at least 1000, not "
                            f"{self.chunk_rows}")
        if self.jobs == 0 or self.jobs < -1:
            problems.append("--jobs must be -1 (automatic) or at least 1")
        if self.group_col and self.time_col:
            problems.append("--group-col and --time-col cannot be combined")
        if problems:
            raise UsageProblem(problems[0], "see overfitcheck diagnose --help")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}


def help_for(name: str) -> str:
    """The help text of one option, with its default: the single source for CLI and README."""
    f = {f.name: f for f in fields(Config)}[name]
    return f.metadata["help"]


def default_of(name: str) -> Any:
    return {f.name: f.default for f in fields(Config)}[name]
