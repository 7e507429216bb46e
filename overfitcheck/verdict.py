"""Curves -> verdict: overfitting, underfitting, good_fit or inconclusive, with the evidence.

The rules (documented in the README; every threshold is a Config option):
  B   = the Dummy baseline's validation error (mean / class prior), the problem's own scale
  M   = max(gap_floor, gap_fraction * B)          overfitting margin
  U   = max(gap_floor, underfit_fraction * B)     underfitting margin
  z   = noise_se                                  standard errors a difference must clear
For a family at its alpha_min, with T / V the mean training / validation error, G = V - T the gap
and SE_G the standard error of the per-fold gaps:
  overfitting   G - z SE_G > M, or (unregularized only) the best regularized family validates
                better by more than z paired SE (per-fold differences) and more than
                gain_fraction * B, or (unregularized only) it interpolates the training
                rows (T < interpolation_fraction * B, or at least as many features as training
                rows) while validating worse (G > z SE_G, or G > 0 when features >= rows)
  underfitting  B - V < U (barely better than the baseline) and G <= M
  good_fit      neither, and G + z SE_G <= M (the gap is below the margin beyond fold noise)
  inconclusive  otherwise: the gap is within fold noise of the margin
Overall: underfitting when the best family is barely better than the baseline; inconclusive when
fold noise exceeds its improvement over the baseline; else overfitting when the unregularized
model overfits; else good_fit when the unregularized model underfits (the best family clearly
beats the baseline); else the unregularized model's verdict (good_fit or inconclusive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Config
from .curves import Curve, LearningCurve

FAMILY_NAMES = {"none": "unregularized", "l1": "L1 (lasso)", "l2": "L2 (ridge)"}


@dataclass(frozen=True)
class FamilyVerdict:
    """One family's numbers at its chosen alpha and what they say."""

    penalty: str
    alpha: float
    alpha_1se: float
    train_error: float
    validation_error: float
    validation_error_se: float
    gap: float
    gap_se: float
    gap_relative: float  # gap / baseline validation error
    n_nonzero: int
    verdict: str
    reasons: tuple[str, ...]
    more_data_helps: bool | None


@dataclass(frozen=True)
class Verdict:
    """The overall call, its reasons and what to use instead."""

    overall: str
    reasons: tuple[str, ...]
    families: tuple[FamilyVerdict, ...]
    best: str
    recommendation: str
    more_data_helps: bool | None
    margin: float
    underfit_margin: float


def judge(curves: dict[str, Curve], baseline: Curve, learning: dict[str, LearningCurve],
          config: Config, metric_label: str, task: str, n_features: int, n_train: int
          ) -> Verdict:
    """Apply the documented rules to every family, then to the whole."""
    B = float(baseline.validation_mean[0])
    M = max(config.gap_floor, config.gap_fraction * B)
    U = max(config.gap_floor, config.underfit_fraction * B)
    z = config.noise_se
    f = _fmt
    guess = "the mean" if task == "regression" else "the class prior"
    best_regularized = min((c for p, c in curves.items() if p != "none"),
                           key=lambda c: c.validation_mean[c.index_min], default=None)
    families = []
    for penalty, c in curves.items():
        i = c.index_min
        T, V, se = float(c.train_mean[i]), float(c.validation_mean[i]), float(c.validation_se[i])
        G, gse = V - T, float(c.gap_se[i])
        reasons = []
        overfit = G - z * gse > M
        if overfit:
            reasons.append(f"Validation {metric_label} {f(V)} exceeds training {f(T)} by {f(G)} "
                           f"(± {f(gse)}), more than the margin {f(M)} "
                           f"({config.gap_fraction:.0%} of the baseline's {f(B)}).")
        if penalty == "none":
            wide = n_features >= n_train
            memorizes = T < config.interpolation_fraction * B
            if (wide and G > 0) or (memorizes and G - z * gse > 0):
                overfit = True
                why = (f"it has {n_features} features for {n_train} training rows" if wide
                       else f"its training {metric_label} is {f(T)}, under "
                            f"{config.interpolation_fraction:.0%} of the baseline's")
                reasons.append(f"It interpolates the training rows ({why}), yet validates at "
                               f"{f(V)} ± {f(se)}: it memorizes rather than generalizes.")
        if penalty == "none" and best_regularized is not None:
            r = best_regularized
            Vr = float(r.validation_mean[r.index_min])
            # Paired over the same folds: fold-to-fold noise common to both models cancels.
            diff = c.validation_folds[i] - r.validation_folds[r.index_min]
            diff = diff[np.isfinite(diff)]
            diff_se = float(np.std(diff, ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else 0.0
            if V - Vr > z * diff_se and V - Vr > config.gain_fraction * B:
                overfit = True
                reasons.append(
                    f"Regularization helps: {FAMILY_NAMES[r.penalty]} at alpha "
                    f"{f(r.alpha_min)} validates at {f(Vr)} against {f(V)} unregularized, "
                    f"{f(V - Vr)} better (± {f(diff_se)} over the same folds).")
        if overfit:
            verdict = "overfitting"
        elif B - V < U and G <= M:
            verdict = "underfitting"
            reasons.append(f"Validation {metric_label} {f(V)} is within {f(U)} of the baseline's "
                           f"{f(B)}: the model barely beats predicting "
                           f"{guess}, and the gap to training ({f(G)}) is small.")
        elif G + z * gse <= M:
            verdict = "good_fit"
            reasons.append(f"Validation {metric_label} {f(V)} ± {f(se)} is {f(G)} above training, "
                           f"within the margin {f(M)}, and beats the baseline's {f(B)}.")
        else:
            verdict = "inconclusive"
            reasons.append(f"The gap {f(G)} ± {f(gse)} between validation and training is within "
                           f"fold noise of the margin {f(M)}.")
        more = _more_data(learning.get(penalty), config.more_data_fraction * B)
        families.append(FamilyVerdict(
            penalty, c.alpha_min, c.alpha_1se, T, V, se, G, gse,
            G / B if B else float("inf"), int(c.n_nonzero[i]), verdict, tuple(reasons), more))
    by_penalty = {fv.penalty: fv for fv in families}
    best = min(families, key=lambda fv: fv.validation_error)
    overall, reasons = _overall(by_penalty, best, B, U, z, metric_label)
    recommendation = _recommend(best, curves[best.penalty], by_penalty)
    return Verdict(overall, tuple(reasons), tuple(families), best.penalty, recommendation,
                   best.more_data_helps, M, U)


def _overall(by_penalty, best, B, U, z, label):
    f = _fmt
    name = FAMILY_NAMES[best.penalty]
    if B - best.validation_error < U:
        return "underfitting", [f"Even the best model ({name}) reaches only "
                                f"{f(best.validation_error)} against the baseline's {f(B)}: the "
                                "features explain little of the target."]
    if B - best.validation_error < z * best.validation_error_se:
        return "inconclusive", [f"Fold noise (± {f(best.validation_error_se)}) is larger than "
                                f"the best model's gain over the baseline "
                                f"({f(B - best.validation_error)}); use more rows or folds."]
    none = by_penalty.get("none")
    if none is None:
        return best.verdict, list(best.reasons)
    if none.verdict == "overfitting":
        return "overfitting", ["The unregularized model overfits. " + " ".join(none.reasons)]
    if none.verdict == "underfitting":  # the best family beats the baseline clearly: fine
        return "good_fit", [f"{name} beats the baseline's {f(B)} with {f(best.validation_error)}."]
    return none.verdict, list(none.reasons)


def _recommend(best: FamilyVerdict, curve: Curve, by_penalty) -> str:
    f = _fmt
    name = FAMILY_NAMES[best.penalty]
    if best.penalty == "none":
        return f"Use the {name} model: no penalty beats it on validation error."
    text = f"Use {name} at alpha {f(best.alpha)}"
    if best.alpha_1se != best.alpha:
        i = curve.index_1se
        text += (f" (or the simpler 1-SE choice alpha {f(best.alpha_1se)}, validation error "
                 f"{f(float(curve.validation_mean[i]))})")
    return text + "."


def _more_data(curve: LearningCurve | None, threshold: float) -> bool | None:
    """True when the validation error still falls from the third-largest size to the largest."""
    if curve is None:
        return None
    mean = curve.validation_mean
    if not np.all(np.isfinite(mean[-3:])):
        return None
    return bool(mean[-3] - mean[-1] > threshold)


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    magnitude = abs(x)
    if 1e-3 <= magnitude < 1e5:
        return f"{x:.4g}"
    return f"{x:.3g}"
