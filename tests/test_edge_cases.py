"""Inputs that once broke the run: each now gets a correct answer or one clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT
from sklearn.linear_model import LinearRegression

from overfitcheck import diagnose
from overfitcheck.config import Config
from overfitcheck.dataset import load_dataset
from overfitcheck.errors import BadTarget, TooFewRows, UsageProblem
from overfitcheck.paths import fit_paths
from overfitcheck.splits import Fold

RNG = np.random.default_rng(11)


def test_two_classes_modelled_as_multiclass():
    x = RNG.normal(size=120)
    frame = pd.DataFrame({"x": x, "y": (x + RNG.normal(size=120) > 0).astype(int)})
    report = diagnose(frame, target="y", task="multiclass")
    assert report.task == "multiclass" and report.classes == ("0", "1")
    assert report.verdict.overall in ("good_fit", "inconclusive")
    assert "roc_auc" not in report.to_dict()["paths"]["l1"]["other_metrics"]


def test_numbers_written_as_text_are_a_regression_target():
    x = RNG.normal(size=200)
    price = [f"{v:,.2f}" for v in 5000 + 900 * x + RNG.normal(scale=50, size=200)]
    report = diagnose(pd.DataFrame({"x": x, "price": price}), target="price")
    assert report.task == "regression"


def test_too_many_text_labels_is_refused():
    frame = pd.DataFrame({"x": RNG.normal(size=300), "y": [f"user{i}" for i in range(300)]})
    with pytest.raises(BadTarget, match="300 distinct labels"):
        load_dataset(frame, Config(target="y"))


def test_unregularized_fit_matches_linear_regression_on_near_collinear_columns():
    a = RNG.normal(size=80)
    X = np.column_stack([a, a + 1e-8 * RNG.normal(size=80), RNG.normal(size=80)])
    y = a + X[:, 2] + RNG.normal(scale=0.1, size=80)
    ours = fit_paths(X, y, "regression", 0, [Fold(np.arange(60), np.arange(60, 80))],
                     {"none": np.array([0.0])}, coef_on_all_rows=True)
    Xs = (X - X.mean(0)) / X.std(0)  # the coefficients are fitted on all rows
    reference = LinearRegression().fit(Xs, y)
    np.testing.assert_allclose(ours["none"].coef[0, 0], reference.coef_, rtol=1e-6, atol=1e-8)
    assert np.abs(ours["none"].coef).max() < 10


@pytest.mark.parametrize("options", [{"alpha_max": float("inf")},
                                     {"gap_fraction": float("nan")},
                                     {"alphas": (float("nan"), 0.1)}])
def test_non_finite_options_are_usage_errors(options):
    with pytest.raises(UsageProblem, match="must be a finite number"):
        Config(target="y", **options)


def test_group_or_time_column_cannot_be_the_target():
    frame = pd.DataFrame({"x": RNG.normal(size=30), "y": [0, 1] * 15})
    with pytest.raises(UsageProblem, match="is the target column"):
        load_dataset(frame, Config(target="y", group_col="y"))


def test_time_folds_need_one_more_row_than_folds():
    frame = pd.DataFrame({"x": [0.1, 0.5, 0.2, 0.9, 0.4], "t": range(5),
                          "y": [1.0, 2.0, 1.5, 3.0, 2.2]})
    with pytest.raises(TooFewRows, match="TimeSeriesSplit needs 6"):
        diagnose(frame, target="y", time_col="t")


def test_unique_integer_measurements_are_kept_but_consecutive_ids_dropped():
    n = 40
    frame = pd.DataFrame({"sqft": RNG.choice(np.arange(400, 4000), n, replace=False),
                          "row": RNG.permutation(n) + 1, "customer_id": RNG.choice(10**6, n,
                                                                                   replace=False),
                          "y": RNG.normal(size=n)})
    roles = {c.name: c.role for c in load_dataset(frame, Config(target="y")).columns}
    assert roles == {"y": "target", "sqft": "numeric", "row": "dropped",
                     "customer_id": "dropped"}


def test_single_alpha_on_a_wide_regression():
    X = RNG.normal(size=(40, 300))
    frame = pd.DataFrame(X, columns=[f"g{j}" for j in range(300)])
    frame["y"] = X[:, 0] * 2 + RNG.normal(size=40)
    report = diagnose(frame, target="y", alphas=(0.3,))
    assert report.curves["l1"].n_nonzero[0] >= 1


def test_collinear_levels_do_not_look_like_separable_classes():
    """Both levels of a yes/no column beside the intercept leave the loss flat along a
    direction; the unpenalized fit must still converge, not be reported as diverging."""
    report = diagnose(ROOT / "sample_data" / "telco_churn.csv", target="churn", n_alphas=5)
    assert {"internet_service=No", "online_security=No internet service"} <= \
        set(report.feature_names)  # the same rows: exactly collinear
    assert report.curves["none"].not_converged.tolist() == [0]
    assert not any("separable" in w for w in report.warnings)
