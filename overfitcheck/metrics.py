"""Errors of predictions: every metric as a loss, lower is better, vectorised over an alpha path.

Scores (R^2, accuracy, balanced accuracy, ROC AUC) are reported as 1 - score so that every
column reads the same way. Each function equals scikit-learn's metric (tests prove it) but scores
a whole path of predictions at once.
"""

from __future__ import annotations

import numpy as np

LABELS = {
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "1 - R²",
    "log_loss": "log loss",
    "accuracy": "error rate (1 - accuracy)",
    "balanced_accuracy": "1 - balanced accuracy",
    "roc_auc": "1 - ROC AUC",
    "brier": "Brier score",
}


def metric_names(task: str) -> tuple[str, ...]:
    if task == "regression":
        return ("rmse", "mae", "r2")
    if task == "binary":
        return ("log_loss", "accuracy", "balanced_accuracy", "roc_auc", "brier")
    return ("log_loss", "accuracy", "balanced_accuracy", "brier")


def regression_errors(y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """y (n,), pred (n, A) -> each metric as an array of A errors."""
    resid = pred - y[:, None]
    mse = np.mean(resid**2, axis=0)
    total = np.sum((y - y.mean()) ** 2)
    # scikit-learn's r2_score: 1 when the fit is perfect, 0 for a constant y predicted exactly.
    # A nearly constant y under large errors (2.6e-146 beside 0) has a ratio beyond the largest
    # float: it is inf, as the limit says, not an overflow warning.
    with np.errstate(over="ignore"):
        one_minus_r2 = np.sum(resid**2, axis=0) / total if total > 0 else \
            np.where(mse > 0, 1.0, 0.0)
    return {"rmse": np.sqrt(mse), "mae": np.mean(np.abs(resid), axis=0), "r2": one_minus_r2}


def classification_errors(y: np.ndarray, proba: np.ndarray, n_classes: int
                          ) -> dict[str, np.ndarray]:
    """y (n,) class indices, proba (A, n, K) -> each metric as an array of A errors."""
    n = y.size
    eps = np.finfo(proba.dtype).eps  # scikit-learn's log_loss clips at the dtype's eps
    p = np.clip(proba, eps, 1 - eps)
    p = p / p.sum(axis=2, keepdims=True)
    rows = np.arange(n)
    errors = {"log_loss": -np.mean(np.log(p[:, rows, y]), axis=1)}
    predicted = np.argmax(proba, axis=2)
    correct = predicted == y[None, :]
    errors["accuracy"] = 1 - correct.mean(axis=1)
    present = np.unique(y)
    recall = np.stack([correct[:, y == c].mean(axis=1) for c in present], axis=1)
    errors["balanced_accuracy"] = 1 - recall.mean(axis=1)
    onehot = np.zeros((n, n_classes))
    onehot[rows, y] = 1.0
    if n_classes == 2:
        errors["roc_auc"] = 1 - _auc_path(y, proba[:, :, 1])
        errors["brier"] = np.mean((proba[:, :, 1] - y[None, :]) ** 2, axis=1)
    else:
        errors["brier"] = np.mean(np.sum((proba - onehot[None]) ** 2, axis=2), axis=1)
    return errors


def binary_errors(y: np.ndarray, p1: np.ndarray, names=None) -> dict[str, np.ndarray]:
    """classification_errors for two classes from P(class 1) alone, p1 (A, n): the same
    numbers as for the stacked (A, n, 2) probabilities [1 - p1, p1] (the log loss's mean may
    differ in the last bit: it sums contiguous rows pairwise), without building them (scoring
    was a fifth of a binary fold's time on 160,000 rows). `names` limits it to those metrics
    (a learning curve needs one; the ROC AUC's sorts are the dearest).

    One alpha's row at a time (a row of 160,000 stays in the cache for every metric): 61 rows of
    160,000 scored on every metric in about 40% less time than with (A, n) temporaries, the
    same numbers to the last bit (each row's sums are the ones a sum along the rows makes)."""
    wanted = set(metric_names("binary") if names is None else names)  # the rest are skipped
    A = p1.shape[0]
    positive = y == 1
    eps = np.finfo(p1.dtype).eps
    errors: dict[str, np.ndarray] = {}
    if "log_loss" in wanted:
        errors["log_loss"] = np.empty(A)
    if wanted & {"accuracy", "balanced_accuracy"}:  # the two come together
        errors["accuracy"], errors["balanced_accuracy"] = np.empty(A), np.empty(A)
        present = [y == c for c in np.unique(y)]  # the classes' rows, for the recalls
        counts = [int(np.count_nonzero(mask)) for mask in present]
    brier = np.empty(A) if "brier" in wanted else None
    for a in range(A):
        p = p1[a]
        if "log_loss" in errors:
            # scikit-learn's log_loss of [1 - p, p]: clipped at eps and renormalized.
            q1 = np.clip(p, eps, 1 - eps)
            q0 = np.clip(1 - p, eps, 1 - eps)
            total = q0 + q1
            np.copyto(q0, q1, where=positive)  # the true class's probability
            q0 /= total
            np.log(q0, out=q0)
            errors["log_loss"][a] = -q0.mean()
        if "accuracy" in errors:
            correct = (p > 1 - p) == positive  # argmax of [1 - p, p]: ties: class 0
            errors["accuracy"][a] = 1 - np.count_nonzero(correct) / y.size
            recall = [np.count_nonzero(correct & mask) / count
                      for mask, count in zip(present, counts, strict=True)]
            errors["balanced_accuracy"][a] = 1 - np.mean(recall)
        if brier is not None:
            miss = p - y
            brier[a] = np.mean(np.square(miss, out=miss))
    if "roc_auc" in wanted:
        errors["roc_auc"] = 1 - _auc_path(y, p1)
    if brier is not None:
        errors["brier"] = brier
    return errors


def _auc_path(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of scores (A, n): the share of (positive, negative) pairs the
    positive scores above, ties counting one half (the rank-sum formula without the positives'
    ranks among themselves, which cancel); NaN when a class is absent. Sorting values, not
    indices, is the fast path of numpy's sort."""
    positive = y == 1
    n_pos = int(positive.sum())
    n_neg = y.size - n_pos
    out = np.full(scores.shape[0], np.nan)
    if n_pos == 0 or n_neg == 0:
        return out
    # Each class's scores of every row at once, sorted along the rows (one call each).
    negative_scores = np.compress(~positive, scores, axis=1)
    negative_scores.sort(axis=1)
    positive_scores = np.compress(positive, scores, axis=1)
    positive_scores.sort(axis=1)
    for a, (negatives, ours) in enumerate(zip(negative_scores, positive_scores, strict=True)):
        first = np.searchsorted(negatives, ours, "left")
        below = first.sum(dtype=np.int64)
        # Ties with a negative are where a positive's first place holds its own score; the
        # second search (as dear as the first) runs for those positives only.
        tied = negatives[np.minimum(first, n_neg - 1)] == ours
        not_above = below + (np.searchsorted(negatives, ours[tied], "right")
                             - first[tied]).sum(dtype=np.int64)
        out[a] = (below + not_above) / 2.0 / (n_pos * n_neg)
    return out
