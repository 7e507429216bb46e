"""Verdict -> report: the one frozen object every renderer reads, and its JSON contract."""

from __future__ import annotations

import json
import math
import os
import platform
import uuid
from dataclasses import dataclass, fields
from importlib import metadata
from typing import Any

import numpy as np

from .config import Config
from .curves import Curve, LearningCurve, _se
from .dataset import ColumnPlan
from .errors import BadReport, OverfitcheckError
from .metrics import LABELS
from .verdict import FamilyVerdict, Verdict

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
    # The versions the report was written with. None (a fresh diagnosis): the running
    # environment's, read when the JSON is made. A loaded report keeps its file's, so writing it
    # again reproduces the file byte for byte.
    versions: dict[str, str] | None = None
    tool_version: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The Report that `to_dict` made `data` from: renderers work on it without refitting.

        Reads reports of this schema_version written before the keys it needs for an exact
        rebuild existed (`coef`, `feature_names`, ...): those come back as the renderers'
        "not recorded" or are recomputed from the per-fold errors. Raises BadReport when
        `data` is not an overfitcheck report this version can read.
        """
        return _from_dict(data, "the report")

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
            "tool": {"name": "overfitcheck",
                     "version": self.tool_version or _version("overfitcheck")},
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
            "feature_names": list(self.feature_names),
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
                "path": _path_dict(self.baseline),
            },
            "models": models,
            "paths": {p: _path_dict(c) for p, c in self.curves.items()},
            "learning_curves": {p: _learning_dict(lc) for p, lc in self.learning.items()},
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "versions": dict(self.versions) if self.versions is not None else versions(),
        }
        return _clean(out)

    def to_json(self) -> str:
        """report.json's text: the dict indented by 2, each coefficient row on one line.

        One line per alpha keeps a wide file's coefficient paths readable and about half the
        size of one number per line (10,000 features x 30 alphas x 2 families: ~12 MB).
        """
        data = self.to_dict()
        rows = {}
        # "paths" -> penalty -> "coef" and "baseline" -> "path" -> "coef" sit equally deep.
        for path in [*data["paths"].values(), data["baseline"]["path"]]:
            if path.get("coef") is not None:
                # A placeholder no user text can equal, swapped for the compact rows below.
                marker = f"\0coef {uuid.uuid4().hex}"
                rows[json.dumps(marker)] = path["coef"]
                path["coef"] = marker
        text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        for marker, coef in rows.items():
            # Those coefficient lists' rows sit 8 spaces deep, their closing bracket 6.
            lines = ",\n".join(" " * 8 + json.dumps(row, ensure_ascii=False, allow_nan=False)
                               for row in coef)
            text = text.replace(marker, f"[\n{lines}\n{' ' * 6}]" if coef else "[]", 1)
        return text


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
        "train_error_se": c.train_se.tolist(),
        "gap_se": c.gap_se.tolist(),
        "index_min": c.index_min,
        "index_1se": c.index_1se,
        # Standardized coefficients fitted on all rows: one row per alpha, one list per output
        # (one for regression and binary, one per class), one number per feature.
        "coef": None if c.coef is None else c.coef.tolist(),
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


def load_report(path: str | os.PathLike[str]) -> Report:
    """Read a report.json back into the Report it was written from, without refitting.

    Raises BadReport (exit 3) naming the file when it is missing, not JSON, not an
    overfitcheck report or of a schema_version this version cannot read.
    """
    name = os.fspath(path)
    hint = "give the report.json that overfitcheck diagnose wrote"
    if os.path.isdir(name):
        inside = os.path.join(name, "report.json")
        raise BadReport(f"{name} is a folder, not a report file",
                        f"give {inside}" if os.path.isfile(inside) else hint)
    try:
        with open(name, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise BadReport(f"report {name} does not exist", hint) from None
    except UnicodeDecodeError:
        raise BadReport(f"{name} is not a report: it is not UTF-8 text", hint) from None
    except OSError as err:
        raise BadReport(f"cannot read report {name} ({err.strerror or err})",
                        "check the path and its permissions") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadReport(f"{name} is not a report: it is not JSON ({err.msg} at line "
                        f"{err.lineno}, column {err.colno})", hint) from None
    return _from_dict(data, name)


def _from_dict(data: Any, name: str) -> Report:
    if not isinstance(data, dict) or not isinstance(data.get("tool"), dict) \
            or data["tool"].get("name") != "overfitcheck":
        raise BadReport(f"{name} is not an overfitcheck report (it lacks "
                        '"tool": {"name": "overfitcheck"})',
                        "give the report.json that overfitcheck diagnose wrote")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadReport(f"{name} has an unsupported schema_version {version!r}",
                        f"give a report of schema_version 1 to {SCHEMA_VERSION}")
    if version > SCHEMA_VERSION:
        raise BadReport(f"{name} has schema_version {version}, newer than the "
                        f"{SCHEMA_VERSION} this overfitcheck reads",
                        "upgrade overfitcheck (pip install -U overfitcheck) to read it")
    try:
        return _rebuild(data)
    except OverfitcheckError as err:  # e.g. a config this version rejects
        raise BadReport(f"{name} holds a report this version cannot rebuild ({err.message})",
                        "rerun overfitcheck diagnose to write it again") from None
    except KeyError as err:
        raise BadReport(f"{name} is an incomplete overfitcheck report (no key {err})",
                        "rerun overfitcheck diagnose to write it again") from None
    except (TypeError, ValueError, IndexError, AttributeError) as err:
        raise BadReport(f"{name} is a malformed overfitcheck report ({err})",
                        "rerun overfitcheck diagnose to write it again") from None


def _rebuild(d: dict[str, Any]) -> Report:
    columns = tuple(ColumnPlan(c["name"], c["role"], c["detail"], c["n_missing"],
                               tuple(c["features"])) for c in d["columns"])
    # Reports written before "feature_names": the columns' features, in the columns' order.
    feature_names = d.get("feature_names")
    if feature_names is None:
        feature_names = [f for c in columns for f in c.features]
    known = {f.name for f in fields(Config)}
    config = Config(**{k: tuple(v) if isinstance(v, list) else v
                       for k, v in d["config"].items() if k in known})
    baseline_dict = d["baseline"]
    if baseline_dict.get("path") is not None:
        baseline = _curve("baseline", baseline_dict["path"])
    else:  # written before "path": only the means, the SE and the validation folds are known
        folds = _array([baseline_dict["validation_error_per_fold"]])
        nan = np.full(1, np.nan)
        baseline = Curve("baseline", np.zeros(1), np.full(folds.shape, np.nan), folds,
                         _array([baseline_dict["train_error"]]),
                         _array([baseline_dict["validation_error"]]),
                         _array([baseline_dict["validation_error_se"]]), nan, nan, 0, 0, None,
                         np.zeros(1, dtype=int), np.zeros(1, dtype=int), {}, {})
    curves = {p: _curve(p, c) for p, c in d["paths"].items()}
    learning = {p: LearningCurve(p, _number(lc["alpha"]), tuple(lc["fractions"]),
                                 _array(lc["n_train"]), _array(lc["train_error"]),
                                 _array(lc["validation_error"]))
                for p, lc in d["learning_curves"].items()}
    B = _number(baseline_dict["validation_error"])
    families = tuple(_family(m, B) for m in d["models"])
    recommendation = d["recommendation"]
    verdict = Verdict(d["verdict"], tuple(d["verdict_reasons"]), families,
                      recommendation["penalty"], recommendation["text"],
                      d["more_data_would_help"], _number(d["thresholds"]["overfit_margin"]),
                      _number(d["thresholds"]["underfit_margin"]))
    inputs = d["input"]
    return Report(
        task=d["task"], target=d["target"], metric=d["metric"], classes=tuple(d["classes"]),
        n_rows=d["n_rows"], n_features=d["n_features"], n_rows_read=d["n_rows_read"],
        n_rows_dropped=d["n_rows_dropped_missing_target"], input_path=inputs["path"],
        input_sha256=inputs["sha256"], columns=columns, feature_names=tuple(feature_names),
        folds=dict(d["folds"]), config=config, baseline=baseline, curves=curves,
        learning=learning, verdict=verdict, notes=tuple(d["notes"]),
        warnings=tuple(d["warnings"]), versions=dict(d["versions"]),
        tool_version=d["tool"]["version"])


def _curve(penalty: str, c: dict[str, Any]) -> Curve:
    alphas = _array(c["alphas"])
    train, validation = _array(c["train_error"]), _array(c["validation_error"])
    # Reports written before these keys: the same computation curves.summarize made.
    train_se = _array(c["train_error_se"]) if "train_error_se" in c else _se(train)
    gap_se = _array(c["gap_se"]) if "gap_se" in c else _se(validation - train)
    index_min = c["index_min"] if "index_min" in c else _index(alphas, c["alpha_min"])
    index_1se = c["index_1se"] if "index_1se" in c else _index(alphas, c["alpha_1se"])
    coef = c.get("coef")
    other = c.get("other_metrics", {})
    return Curve(penalty, alphas, train, validation, _array(c["train_error_mean"]),
                 _array(c["validation_error_mean"]), _array(c["validation_error_se"]),
                 train_se, gap_se, int(index_min), int(index_1se),
                 None if coef is None else _array(coef), _array(c["n_nonzero"]),
                 _array(c["not_converged"]),
                 {m: _array(v["train_mean"]) for m, v in other.items()},
                 {m: _array(v["validation_mean"]) for m, v in other.items()})


def _family(m: dict[str, Any], baseline_error: float) -> FamilyVerdict:
    gap = _number(m["gap"])
    relative = _number(m["gap_relative"])
    if m["gap_relative"] is None and baseline_error == 0:
        relative = math.inf  # verdict.judge's gap / baseline when the baseline error is 0
    return FamilyVerdict(m["penalty"], _number(m["alpha"]), _number(m["alpha_1se"]),
                         _number(m["train_error"]), _number(m["validation_error"]),
                         _number(m["validation_error_se"]), gap, _number(m["gap_se"]),
                         relative, m["n_nonzero"], m["verdict"], tuple(m["reasons"]),
                         m["more_data_would_help"])


def _array(values: Any) -> np.ndarray:
    """A JSON list back to the array it was: ints stay ints, null (NaN or inf) becomes NaN."""
    out = np.array(values)
    if out.dtype == object:  # a null among the numbers
        out = np.array(values, dtype=float)
    if out.dtype.kind not in "iuf":
        raise ValueError(f"expected numbers, found {out.dtype} values")
    return out


def _number(value: Any) -> float:
    """A JSON number or null (what _clean made of NaN and inf) as a float."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, found {value!r}")
    return value


def _index(alphas: np.ndarray, alpha: float) -> int:
    return int(np.flatnonzero(alphas == alpha)[0])
