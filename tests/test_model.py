"""Tests of the fitted propensity model: inputs, outputs, contributions, saving."""

from __future__ import annotations

import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from referral_propensity.model import OUTPUT_COLUMNS, PropensityModel
from small_model import fit_small_model

FEATURE_COLUMNS = ["recency_days", "n_orders", "spend_total", "spend_mean", "region"]
REGIONS = ["east", "north", "south"]


def _synthetic_customers(seed: int, n: int = 300) -> pd.DataFrame:
    """Seeded customers whose label depends on recency, orders and region."""
    rng = np.random.default_rng(seed)
    recency = rng.integers(91, 900, n).astype("float64")
    orders = rng.integers(1, 10, n)
    spend = np.exp(rng.normal(np.log(80), 0.6, n)) * orders
    region = rng.choice(REGIONS, n)
    logit = 1.0 - recency / 300 + 0.2 * orders + np.where(region == "north", 0.8, 0.0)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "customer_id": [f"T{i:03d}" for i in range(n)],
            "recency_days": recency,
            "n_orders": orders,
            "spend_total": spend.round(2),
            "spend_mean": (spend / orders).round(2),
            "region": region,
            "is_inactive": True,
            "label": label,
        }
    )


def _fit_model(train: pd.DataFrame) -> PropensityModel:
    return fit_small_model(
        train,
        segment_features=["recency_days", "n_orders", "spend_total"],
        feature_columns=FEATURE_COLUMNS,
        categories={"region": REGIONS},
    )


@pytest.fixture(scope="module")
def train():
    return _synthetic_customers(seed=42)


@pytest.fixture(scope="module")
def model(train):
    return _fit_model(train)


def _new_customers() -> pd.DataFrame:
    # a missing value, an unseen region and a missing region among them
    return pd.DataFrame(
        {
            "customer_id": ["N1", "N2", "N3", "N4", "N5"],
            "recency_days": [100.0, 450.0, np.nan, 800.0, 200.0],
            "n_orders": [1, 5, 3, 9, 2],
            "spend_total": [50.0, 400.0, 240.0, 1000.0, 0.0],
            "spend_mean": [50.0, 80.0, 80.0, 111.1, 0.0],
            "region": ["north", "west", "south", None, "east"],
        },
        index=[7, 3, 5, 1, 9],
    )


def test_contributions_sum_to_the_raw_score(model, train):
    rows = pd.concat([train.head(20), _new_customers()], ignore_index=True)

    contributions = model.contributions(rows)

    assert list(contributions.columns) == [*FEATURE_COLUMNS, "bias"]
    np.testing.assert_allclose(
        contributions.sum(axis=1).to_numpy(), model.raw_score(rows), rtol=0, atol=1e-6
    )


def test_contributions_keep_the_input_index(model):
    rows = _new_customers()

    contributions = model.contributions(rows)

    assert contributions.index.tolist() == [7, 3, 5, 1, 9]


def test_design_matrix_fills_missing_columns_and_drops_extra_ones(model):
    # no spend_mean column; an extra column the model never saw; a number as text
    rows = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "unused": [1, 2, 3],
            "region": ["south", "north", "east"],
            "n_orders": ["2", "7", "not a number"],
            "recency_days": [120, 300, 500],
            "spend_total": [10.0, 20.0, 30.0],
        }
    )

    X = model.design_matrix(rows)

    # the model's columns, in the model's order
    assert list(X.columns) == FEATURE_COLUMNS
    assert X["spend_mean"].isna().all()
    assert X["spend_mean"].dtype == "float64"
    # numbers given as text are parsed; text that is no number becomes missing
    np.testing.assert_allclose(X["n_orders"], [2.0, 7.0, np.nan], rtol=1e-12)
    np.testing.assert_allclose(X["recency_days"], [120.0, 300.0, 500.0], rtol=1e-12)


def test_design_matrix_turns_unseen_categories_into_missing(model):
    rows = _new_customers()

    X = model.design_matrix(rows)

    # categories are those of training, in training's order
    assert isinstance(X["region"].dtype, pd.CategoricalDtype)
    assert list(X["region"].cat.categories) == REGIONS
    # "west" was never seen and None is missing: both become NaN
    assert X["region"].isna().tolist() == [False, True, False, True, False]
    assert X["region"].iloc[[0, 2, 4]].astype(str).tolist() == [
        "north",
        "south",
        "east",
    ]


def test_design_matrix_maps_unseen_categories_without_deprecated_pandas_calls(model):
    # pandas deprecates building a Categorical from values outside its
    # categories (it will raise in pandas 4), so unseen categories must be
    # set to missing before the Categorical is built
    rows = _new_customers()

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        X = model.design_matrix(rows)

    assert X["region"].isna().tolist() == [False, True, False, True, False]


def test_design_matrix_missing_categorical_column_is_all_missing(model):
    rows = _new_customers().drop(columns="region")

    X = model.design_matrix(rows)

    assert isinstance(X["region"].dtype, pd.CategoricalDtype)
    assert X["region"].isna().all()


def test_unseen_category_scores_like_a_missing_one(model):
    # "west" becomes missing before the booster sees it, so it scores as None
    rows = _new_customers().iloc[[0, 0]].reset_index(drop=True)
    rows.loc[0, "region"] = "west"
    rows.loc[1, "region"] = None

    raw = model.raw_score(rows)

    np.testing.assert_allclose(raw[0], raw[1], rtol=0, atol=1e-12)


def test_predict_frame_columns_order_and_values(model):
    rows = _new_customers()

    predicted = model.predict_frame(rows)

    assert tuple(predicted.columns) == OUTPUT_COLUMNS
    assert predicted["customer_id"].tolist() == ["N1", "N2", "N3", "N4", "N5"]
    assert predicted["segment_id"].dtype == "int64"
    # recompute every column straight from the fitted parts
    raw = model.booster.predict(model.design_matrix(rows), raw_score=True)
    np.testing.assert_allclose(predicted["raw_score"], raw, rtol=1e-12)
    expected_p = model.calibrator.predict_proba(raw.reshape(-1, 1))[:, 1]
    np.testing.assert_allclose(predicted["propensity"], expected_p, rtol=1e-12)
    # Platt scaling: p = 1 / (1 + exp(-(a * raw + b)))
    a = model.calibrator.coef_[0, 0]
    b = model.calibrator.intercept_[0]
    np.testing.assert_allclose(
        predicted["propensity"], 1 / (1 + np.exp(-(a * raw + b))), rtol=1e-9
    )
    segment_ids = model.segmenter.predict(rows)
    np.testing.assert_array_equal(predicted["segment_id"], segment_ids)
    assert predicted["segment_name"].tolist() == [
        model.segmenter.names_[int(s)] for s in segment_ids
    ]


def test_predict_frame_gives_text_customer_ids(model):
    rows = _new_customers().assign(customer_id=[101, 102, 103, 104, 105])

    predicted = model.predict_frame(rows)

    assert predicted["customer_id"].tolist() == ["101", "102", "103", "104", "105"]


def test_isotonic_calibrator_output_is_clipped_to_probabilities(model, train):
    raw = model.raw_score(train)
    isotonic = IsotonicRegression(out_of_bounds="clip").fit(raw, train["label"])
    calibrated = PropensityModel(
        segmenter=model.segmenter,
        booster=model.booster,
        calibrator=isotonic,
        feature_columns=FEATURE_COLUMNS,
        categories={"region": REGIONS},
    )

    p = calibrated.calibrate(np.array([raw.min() - 5, raw.mean(), raw.max() + 5]))

    np.testing.assert_allclose(
        p,
        isotonic.predict(np.array([raw.min() - 5, raw.mean(), raw.max() + 5])),
        rtol=1e-12,
    )
    assert np.all((p >= 0) & (p <= 1))


def test_model_fits_better_than_chance(model):
    # a loose floor on fresh customers from the same generator
    # (the generator's own logit reaches about 0.73 on this sample)
    fresh = _synthetic_customers(seed=7, n=1000)

    p = model.predict_frame(fresh)["propensity"]

    assert roc_auc_score(fresh["label"], p) > 0.62


def test_joblib_round_trip_gives_identical_predictions(model, train, tmp_path):
    rows = pd.concat([train.head(30), _new_customers()], ignore_index=True)
    path = tmp_path / "model.joblib"

    joblib.dump(model, path)
    loaded = joblib.load(path)

    pd.testing.assert_frame_equal(
        loaded.predict_frame(rows), model.predict_frame(rows), check_exact=True
    )
    pd.testing.assert_frame_equal(
        loaded.contributions(rows), model.contributions(rows), check_exact=True
    )
    assert loaded.feature_columns == model.feature_columns
    assert loaded.categories == model.categories
