"""Verdict -> report: the one frozen object every renderer reads, and its JSON contract."""

from __future__ import annotations

import json
import math
import platform
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

from .config import Config
from .curves import Curve, LearningCurve
from .dataset import ColumnPlan
from .metrics import LABELS
from .verdict import Verdict

# Bump when a key is renamed or removed or its meaning changes; adding keys keeps the version.
SCHEMA_VERSION = 1
TOP_COEFFICIENTS = 10
ALPHA_SCALE = (
    "glmnet's lambda on standardized features: minimize mean loss + alpha * P(w), mean loss = "
    "half the mean squared error (regression) or the mean log loss (classes), P = ||w||_1 (L1) "
    "or ||w||^2/2 (L2). scikit-learn: Lasso(alpha=alpha), Ridge(alpha=n_train*alpha), "
    "LogisticRegression(C=1/(n_train*alpha), l1_ratio=1 or 0)."
)


@dataclass(frozen=True)
class Report:
    """Everything a diagnosis found. Renderers read it; nothing changes it."""

    task: str
    target: str
    metric: str
    classes: tuple[str, ...]
    n_rows: int
    n_features: int
    n_rows_read: int
    n_rows_dropped: int
    input_path: str | None
    input_sha256: str | None
    columns: tuple[ColumnPlan, ...]
    feature_names: tuple[str, ...]
    folds: dict[str, Any]
    config: Config
    baseline: Curve
    curves: dict[str, Curve]
    learning: dict[str, LearningCurve]
    verdict: Verdict
    notes: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def metric_label(self) -> str:
        return LABELS[self.metric]

    def top_coefficients(self, penalty: str, count: int = TOP_COEFFICIENTS
                         ) -> list[tuple[str, float, str | None]]:
        """Largest standardized coefficients at the chosen alpha: (feature, value, class)."""
        curve = self.curves[penalty]
        if curve.coef is None:
            return []
        coef = curve.coef[curve.index_min]  # (outputs, features)
        strongest = np.argmax(np.abs(coef), axis=0)
        values = coef[strongest, np.arange(coef.shape[1])]
        order = np.argsort(-np.abs(values), kind="stable")[:count]
        multi = coef.shape[0] > 1
        return [(self.feature_names[j], float(values[j]),
                 self.classes[strongest[j]] if multi else None)
                for j in order if abs(values[j]) > 0]

    def dropped_by_l1(self) -> list[str]:
        curve = self.curves.get("l1")
        if curve is None or curve.coef is None:
            return []
        coef = curve.coef[curve.index_min]
        return [self.feature_names[j] for j in np.flatnonzero(np.all(coef == 0, axis=0))]

    def to_dict(self) -> dict[str, Any]:
        """The documented report.json contract (see README, "report.json")."""
        v = self.verdict
        best_curve = self.curves[v.best]
        models = []
        for fv in v.families:
            curve = self.curves[fv.penalty]
            models.append({
                "penalty": fv.penalty,
                "alpha": fv.alpha,
                "alpha_1se": fv.alpha_1se,
                "alpha_at_edge": curve.at_edge,
                "sklearn": _sklearn_equivalent(fv.penalty, fv.alpha, self.task),
                "train_error": fv.train_error,
                "validation_error": fv.validation_error,
                "validation_error_se": fv.validation_error_se,
                "gap": fv.gap,
                "gap_se": fv.gap_se,
                "gap_relative": fv.gap_relative,
                "n_nonzero": fv.n_nonzero,
                "verdict": fv.verdict,
                "reasons": list(fv.reasons),
                "more_data_would_help": fv.more_data_helps,
                "not_converged": int(curve.not_converged.sum()),
                "top_coefficients": [
                    {"feature": name, "coefficient": value, "class": cls}
                    for name, value, cls in self.top_coefficients(fv.penalty)],
            })
        out = {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "overfitcheck", "version": _version("overfitcheck")},
            "task": self.task,
            "target": self.target,
            "classes": list(self.classes),
            "metric": self.metric,
            "metric_label": self.metric_label,
            "metric_direction": "lower is better",
            "alpha_scale": ALPHA_SCALE,
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "n_rows_read": self.n_rows_read,
            "n_rows_dropped_missing_target": self.n_rows_dropped,
            "input": {"path": self.input_path, "sha256": self.input_sha256},
            "seed": self.config.seed,
            "config": self.config.to_dict(),
            "folds": self.folds,
            "columns": [{"name": c.name, "role": c.role, "detail": c.detail,
                         "n_missing": c.n_missing, "features": list(c.features)}
                        for c in self.columns],
            "verdict": v.overall,
            "verdict_reasons": list(v.reasons),
            "recommendation": {"penalty": v.best, "alpha": best_curve.alpha_min,
                               "alpha_1se": best_curve.alpha_1se,
                               "text": v.recommendation,
                               "l1_dropped_features": self.dropped_by_l1()},
            "more_data_would_help": v.more_data_helps,
            "thresholds": {"overfit_margin": v.margin, "underfit_margin": v.underfit_margin},
            "baseline": {
                "train_error": float(self.baseline.train_mean[0]),
                "validation_error": float(self.baseline.validation_mean[0]),
                "validation_error_se": float(self.baseline.validation_se[0]),
                "validation_error_per_fold": self.baseline.validation_folds[0].tolist(),
            },
            "models": models,
            "paths": {p: _path_dict(c) for p, c in self.curves.items()},
            "learning_curves": {p: _learning_dict(lc) for p, lc in self.learning.items()},
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "versions": versions(),
        }
        return _clean(out)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _sklearn_equivalent(penalty: str, alpha: float, task: str) -> str:
    if task == "regression":
        return {"none": "LinearRegression()", "l1": f"Lasso(alpha={alpha:.6g})",
                "l2": f"Ridge(alpha=n_train*{alpha:.6g})"}[penalty]
    if penalty == "none":
        return "LogisticRegression(C=inf)"
    ratio = 1 if penalty == "l1" else 0
    return f"LogisticRegression(C=1/(n_train*{alpha:.6g}), l1_ratio={ratio})"


def _path_dict(c: Curve) -> dict[str, Any]:
    return {
        "alphas": c.alphas.tolist(),  # the unregularized model's grid is [0.0]
        "train_error": c.train_folds.tolist(),
        "validation_error": c.validation_folds.tolist(),
        "train_error_mean": c.train_mean.tolist(),
        "validation_error_mean": c.validation_mean.tolist(),
        "validation_error_se": c.validation_se.tolist(),
        "n_nonzero": c.n_nonzero.tolist(),
        "not_converged": c.not_converged.tolist(),
        "alpha_min": c.alpha_min,
        "alpha_1se": c.alpha_1se,
        "other_metrics": {m: {"train_mean": c.all_train[m].tolist(),
                              "validation_mean": c.all_validation[m].tolist()}
                          for m in c.all_train},
    }


def _learning_dict(lc: LearningCurve) -> dict[str, Any]:
    return {"alpha": lc.alpha,
            "fractions": list(lc.fractions), "n_train": lc.n_train.tolist(),
            "train_error": lc.train_folds.tolist(),
            "validation_error": lc.validation_folds.tolist(),
            "train_error_mean": lc.train_mean.tolist(),
            "validation_error_mean": lc.validation_mean.tolist()}


def versions() -> dict[str, str]:
    names = ("overfitcheck", "numpy", "scipy", "scikit-learn", "pandas", "pyarrow")
    return {"python": platform.python_version(), **{n: _version(n) for n in names}}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _clean(value: Any) -> Any:
    """JSON has no NaN or inf: they become null. numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
