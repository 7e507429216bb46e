"""Every error equals scikit-learn's metric (as 1 - score for scores)."""

from __future__ import annotations

import numpy as np
import sklearn.metrics as skm

from overfitcheck.metrics import classification_errors, regression_errors


def test_regression_errors_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.normal(size=40)
    pred = y[:, None] + rng.normal(size=(40, 3))
    errors = regression_errors(y, pred)
    for a in range(3):
        assert np.isclose(errors["rmse"][a], skm.root_mean_squared_error(y, pred[:, a]))
        assert np.isclose(errors["mae"][a], skm.mean_absolute_error(y, pred[:, a]))
        assert np.isclose(errors["r2"][a], 1 - skm.r2_score(y, pred[:, a]))


def test_binary_errors_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    p1 = rng.random((2, 60))
    proba = np.stack([1 - p1, p1], axis=2)
    errors = classification_errors(y, proba, 2)
    for a in range(2):
        assert np.isclose(errors["log_loss"][a], skm.log_loss(y, proba[a]))
        assert np.isclose(errors["accuracy"][a], 1 - skm.accuracy_score(y, p1[a] > 0.5))
        assert np.isclose(errors["balanced_accuracy"][a],
                          1 - skm.balanced_accuracy_score(y, p1[a] > 0.5))
        assert np.isclose(errors["roc_auc"][a], 1 - skm.roc_auc_score(y, p1[a]))
        assert np.isclose(errors["brier"][a], skm.brier_score_loss(y, p1[a]))


def test_multiclass_errors_match_sklearn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 50)
    proba = rng.dirichlet(np.ones(3), size=(2, 50))
    errors = classification_errors(y, proba, 3)
    for a in range(2):
        assert np.isclose(errors["log_loss"][a], skm.log_loss(y, proba[a], labels=[0, 1, 2]))
        assert np.isclose(errors["balanced_accuracy"][a],
                          1 - skm.balanced_accuracy_score(y, proba[a].argmax(1)))
        assert np.isclose(errors["brier"][a], skm.brier_score_loss(y, proba[a], labels=[0, 1, 2]))
