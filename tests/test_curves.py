"""Learning curves: a warm start saves Newton steps, never changes the fits."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from helpers import ROOT

import overfitcheck.paths_newton as newton
from overfitcheck.config import Config
from overfitcheck.curves import learning_curves, summarize
from overfitcheck.dataset import load_dataset
from overfitcheck.grid import alpha_grids
from overfitcheck.paths import fit_paths
from overfitcheck.splits import make_splits


def test_learning_subsets_started_from_the_model_on_all_rows_equal_cold_fits(monkeypatch):
    config = Config(target="churn", cv=3)
    dataset = load_dataset(ROOT / "sample_data" / "telco_churn.csv", config)
    splits = make_splits(dataset, config)
    grids = {p: alphas[[6, 12, 18]] for p, alphas in alpha_grids(dataset, config).items()}
    paths = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds,
                      {"none": np.array([0.0]), **grids})
    curves = {p: summarize(path, "log_loss") for p, path in paths.items()}
    starts = []
    cold_path = newton.binary_path

    def recording_path(*args):
        starts.append(args[-1] is not None)
        return cold_path(*args)

    monkeypatch.setattr(newton, "binary_path", recording_path)
    warm = learning_curves(dataset, splits, curves, "log_loss", config.seed)
    # Every subset but the whole fold (the fold's own fit, already on the validation curve).
    subsets = (len(warm["l1"].fractions) - 1) * splits.n_splits
    assert sum(starts) == 2 * subsets  # l1 and l2
    cold = learning_curves(dataset, splits, {p: replace(c, coef=None) for p, c in curves.items()},
                           "log_loss", config.seed)
    assert sum(starts) == 2 * subsets  # none this time
    for penalty in ("none", "l1", "l2"):
        np.testing.assert_allclose(warm[penalty].validation_folds,
                                   cold[penalty].validation_folds, rtol=1e-4, err_msg=penalty)
        np.testing.assert_allclose(warm[penalty].train_folds, cold[penalty].train_folds,
                                   rtol=1e-4, err_msg=penalty)


def test_the_whole_fold_point_of_a_learning_curve_is_the_fold_fit_at_the_chosen_alpha():
    """The largest learning subset is the whole training fold: its errors are taken from the
    validation curve, and equal a fit of that fold at the chosen alpha made afresh."""
    config = Config(target="churn", cv=3)
    dataset = load_dataset(ROOT / "sample_data" / "telco_churn.csv", config)
    splits = make_splits(dataset, config)
    grids = {p: alphas[[6, 12, 18]] for p, alphas in alpha_grids(dataset, config).items()}
    paths = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds,
                      {"none": np.array([0.0]), **grids}, coef_on_all_rows=False)
    curves = {p: summarize(path, "log_loss") for p, path in paths.items()}
    learning = learning_curves(dataset, splits, curves, "log_loss", config.seed)
    for penalty, curve in curves.items():
        assert learning[penalty].fractions[-1] == 1.0
        np.testing.assert_array_equal(learning[penalty].validation_folds[-1],
                                      curve.validation_folds[curve.index_min])
        again = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds,
                          {penalty: curve.alphas[[curve.index_min]]}, coef_on_all_rows=False)
        np.testing.assert_allclose(learning[penalty].validation_folds[-1],
                                   again[penalty].validation["log_loss"][0], rtol=1e-8)
        np.testing.assert_allclose(learning[penalty].train_folds[-1],
                                   again[penalty].train["log_loss"][0], rtol=1e-8)
        # and the smaller subsets were fitted: fewer rows, a lower training error on average
        assert learning[penalty].train_mean[0] < learning[penalty].train_mean[-1]


def test_a_fit_that_stopped_at_its_cap_is_fitted_again_on_the_whole_fold(monkeypatch):
    """Separable classes: the unpenalized fits stop at their step cap, where they stop depends
    on the cap, so the whole-fold subset is fitted like the others, not taken from the path."""
    import overfitcheck.curves as curves_module

    config = Config(target="target", cv=3)
    dataset = load_dataset(ROOT / "tests" / "data" / "breast_cancer.csv", config)
    splits = make_splits(dataset, config)
    grids = {p: alphas[[6, 12]] for p, alphas in alpha_grids(dataset, config).items()}
    paths = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds,
                      {"none": np.array([0.0]), **grids})
    curves = {p: summarize(path, "log_loss") for p, path in paths.items()}
    assert curves["none"].not_converged[0] > 0
    fitted = []
    real = curves_module.fit_paths
    monkeypatch.setattr(curves_module, "fit_paths",
                        lambda X, y, task, k, folds, *a, **kw: fitted.append(len(folds))
                        or real(X, y, task, k, folds, *a, **kw))
    learning = learning_curves(dataset, splits, curves, "log_loss", config.seed)
    assert fitted == [len(learning["none"].fractions) * splits.n_splits]
