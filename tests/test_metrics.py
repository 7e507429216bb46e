"""Every error equals scikit-learn's metric (as 1 - score for scores)."""

from __future__ import annotations

import numpy as np
import sklearn.metrics as skm

from overfitcheck.metrics import binary_errors, classification_errors, regression_errors


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


def test_binary_errors_from_p1_equal_the_stacked_probabilities():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    eta = rng.normal(scale=20, size=(4, 500))  # some saturate: clipping and ties at 0 and 1
    eta[1, ::7] = 0.0  # p1 = 0.5 exactly: argmax ties go to class 0
    eta[2] = np.round(eta[2])  # many tied scores for the AUC
    p1 = 1 / (1 + np.exp(-eta))
    stacked = classification_errors(y, np.stack([1 - p1, p1], axis=2), 2)
    fast = binary_errors(y, p1)
    assert fast.keys() == stacked.keys()
    for name in fast:  # the log loss's mean sums in another order: the last bit may differ
        np.testing.assert_allclose(fast[name], stacked[name], rtol=1e-14, atol=0, err_msg=name)
    for name in ("accuracy", "balanced_accuracy", "roc_auc", "brier"):
        np.testing.assert_array_equal(fast[name], stacked[name], err_msg=name)
    for a in range(4):
        assert np.isclose(fast["roc_auc"][a], 1 - skm.roc_auc_score(y, p1[a]), rtol=0, atol=1e-15)


def test_binary_errors_score_only_the_metrics_asked_for():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    p1 = rng.random((3, 300))
    every = binary_errors(y, p1)
    for names in (("log_loss",), ("roc_auc", "brier"), ("balanced_accuracy",)):
        some = binary_errors(y, p1, names)
        assert set(names) <= some.keys()
        for name in names:
            np.testing.assert_array_equal(some[name], every[name])
    assert "roc_auc" not in binary_errors(y, p1, ("log_loss",))


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
