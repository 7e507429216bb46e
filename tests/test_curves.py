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


def _curves(path, target: str, alphas: list[int], coef_on_all_rows: bool = True):
    """A 3-fold binary dataset, its splits and its validation curves at a few grid alphas."""
    config = Config(target=target, cv=3)
    dataset = load_dataset(path, config)
    splits = make_splits(dataset, config)
    grids = {p: grid[alphas] for p, grid in alpha_grids(dataset, config).items()}
    paths = fit_paths(dataset.X, dataset.y, dataset.task, dataset.n_classes, splits.folds,
                      {"none": np.array([0.0]), **grids}, coef_on_all_rows=coef_on_all_rows)
    return config, dataset, splits, {p: summarize(path, "log_loss") for p, path in paths.items()}


def _unpenalized_from_l2(monkeypatch, value: bool) -> None:
    """learning_curves' fits with fit_paths' unpenalized_from_l2 set to `value`."""
    import overfitcheck.curves as curves_module

    real = fit_paths
    monkeypatch.setattr(curves_module, "fit_paths", lambda *a, **kw: real(
        *a, **{**kw, "unpenalized_from_l2": value}))


def test_learning_subsets_started_from_the_model_on_all_rows_equal_cold_fits(monkeypatch):
    config, dataset, splits, curves = _curves(ROOT / "sample_data" / "telco_churn.csv", "churn",
                                              [6, 12, 18])
    starts = []
    cold_path = newton.binary_path

    def recording_path(design, y, penalty, *args):
        starts.append((penalty, args[-1] is not None))
        return cold_path(design, y, penalty, *args)

    monkeypatch.setattr(newton, "binary_path", recording_path)
    warm = learning_curves(dataset, splits, curves, "log_loss", config.seed)
    # Every subset but the whole fold (the fold's own fit, already on the validation curve):
    # L1 and L2 from the model on all rows, the unpenalized fit from the subset's own L2 fit.
    subsets = (len(warm["l1"].fractions) - 1) * splits.n_splits
    assert sorted(starts) == sorted([(p, True) for p in ("l1", "l2", "none")] * subsets)
    starts.clear()
    cold = learning_curves(dataset, splits, {p: replace(c, coef=None) for p, c in curves.items()},
                           "log_loss", config.seed)
    assert sorted(starts) == sorted([("l1", False), ("l2", False), ("none", True)] * subsets)
    for penalty in ("none", "l1", "l2"):
        np.testing.assert_allclose(warm[penalty].validation_folds,
                                   cold[penalty].validation_folds, rtol=1e-4, err_msg=penalty)
        np.testing.assert_allclose(warm[penalty].train_folds, cold[penalty].train_folds,
                                   rtol=1e-4, err_msg=penalty)


def test_the_whole_fold_point_of_a_learning_curve_is_the_fold_fit_at_the_chosen_alpha():
    """The largest learning subset is the whole training fold: its errors are taken from the
    validation curve, and equal a fit of that fold at the chosen alpha made afresh."""
    config, dataset, splits, curves = _curves(ROOT / "sample_data" / "telco_churn.csv", "churn",
                                              [6, 12, 18], coef_on_all_rows=False)
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

    config, dataset, splits, curves = _curves(ROOT / "tests" / "data" / "breast_cancer.csv",
                                              "target", [6, 12])
    assert curves["none"].not_converged[0] > 0
    fitted = []
    real = curves_module.fit_paths
    monkeypatch.setattr(curves_module, "fit_paths",
                        lambda X, y, task, k, folds, *a, **kw: fitted.append(len(folds))
                        or real(X, y, task, k, folds, *a, **kw))
    learning = learning_curves(dataset, splits, curves, "log_loss", config.seed)
    assert fitted == [len(learning["none"].fractions) * splits.n_splits]


def _learning_exact(monkeypatch, dataset, splits, curves, config, from_l2: bool):
    """learning_curves at the EXACT tolerance, its unpenalized fits from L2's or from zero."""
    import overfitcheck.curves as curves_module
    from overfitcheck.paths import EXACT

    monkeypatch.setattr(curves_module, "PLOT", EXACT)
    _unpenalized_from_l2(monkeypatch, from_l2)
    return learning_curves(dataset, splits, curves, "log_loss", config.seed)


def test_unpenalized_subset_fits_started_from_their_l2_fit_equal_fits_from_zero(monkeypatch):
    """An L2 optimum is a combination of the subset's standardized rows, as zero is: started
    there, the unpenalized fit reaches the model a start from zero reaches, also along what the
    subset cannot determine. (Started from the model on all rows instead, a level that a small
    telco subset lacks kept that model's coefficient: validation log loss 1.4e-3 off.)"""
    config, dataset, splits, curves = _curves(ROOT / "sample_data" / "telco_churn.csv", "churn",
                                              [6, 12, 18])
    from_l2 = _learning_exact(monkeypatch, dataset, splits, curves, config, True)
    from_zero = _learning_exact(monkeypatch, dataset, splits, curves, config, False)
    for side in ("train_folds", "validation_folds"):
        np.testing.assert_allclose(getattr(from_l2["none"], side),
                                   getattr(from_zero["none"], side), rtol=1e-7, err_msg=side)


def test_an_unpenalized_subset_fit_capped_from_its_l2_start_is_fitted_again_from_zero(
        monkeypatch):
    """Separable classes, where the unpenalized fit has no optimum and where its capped steps
    stop depends on the start: a subset fit that reaches its cap from L2's coefficients is
    fitted again from zero, so the curves equal fits from zero."""
    config, dataset, splits, curves = _curves(ROOT / "tests" / "data" / "breast_cancer.csv",
                                              "target", [6, 12])
    calls = []
    real_path = newton.binary_path

    def recording_path(design, y, penalty, *args):
        fit = real_path(design, y, penalty, *args)
        if penalty == "none":
            calls.append((args[-1] is not None, bool(fit.not_converged.any())))
        return fit

    monkeypatch.setattr(newton, "binary_path", recording_path)
    from_l2 = learning_curves(dataset, splits, curves, "log_loss", config.seed)
    capped = [i for i, (started, stopped) in enumerate(calls) if started and stopped]
    assert capped, "no unpenalized fit reached its cap from L2's start: the case is not exercised"
    assert all(calls[i + 1] == (False, True) for i in capped)  # fitted again, from zero
    _unpenalized_from_l2(monkeypatch, False)
    from_zero = learning_curves(dataset, splits, curves, "log_loss", config.seed)
    for penalty in ("none", "l1", "l2"):
        np.testing.assert_array_equal(from_l2[penalty].validation_folds,
                                      from_zero[penalty].validation_folds, err_msg=penalty)
        np.testing.assert_array_equal(from_l2[penalty].train_folds,
                                      from_zero[penalty].train_folds, err_msg=penalty)
