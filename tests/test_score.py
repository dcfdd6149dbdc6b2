"""Tests of batch scoring: who is scored, offers, expected value and rank."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from referral_propensity.score import SCORE_COLUMNS, predicted_spend, score_customers
from small_model import fit_small_model

FEATURE_COLUMNS = ["recency_days", "n_orders", "spend_total", "spend_mean"]
# spend_mean is left out of the segments so a test can set it freely
SEGMENT_FEATURES = ["recency_days", "n_orders", "spend_total"]
DEFAULT_OFFER = ("points", 0.5)


def _synthetic_customers(seed: int, n: int = 300) -> pd.DataFrame:
    """Seeded inactive customers whose label depends on recency and orders."""
    rng = np.random.default_rng(seed)
    recency = rng.integers(91, 900, n).astype("float64")
    orders = rng.integers(1, 10, n)
    spend = np.exp(rng.normal(np.log(80), 0.6, n)) * orders
    logit = 1.0 - recency / 300 + 0.2 * orders
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "customer_id": [f"T{i:03d}" for i in range(n)],
            "recency_days": recency,
            "n_orders": orders,
            "spend_total": spend.round(2),
            "spend_mean": (spend / orders).round(2),
            "is_inactive": True,
            "label": label,
        }
    )


@pytest.fixture(scope="module")
def train():
    return _synthetic_customers(seed=42)


@pytest.fixture(scope="module")
def model(train):
    return fit_small_model(
        train, segment_features=SEGMENT_FEATURES, feature_columns=FEATURE_COLUMNS
    )


def _two_of_each_segment(model, train, segments=(0, 1, 2)) -> pd.DataFrame:
    """Two training customers from each of the given segments, renamed K1..Kn."""
    segment_ids = model.segmenter.predict(train)
    picked = pd.concat(
        [train[segment_ids == s].head(2) for s in segments], ignore_index=True
    )
    picked["customer_id"] = [f"K{i}" for i in range(1, len(picked) + 1)]
    return picked


@pytest.fixture
def scoring_frame(model, train):
    # six inactive customers, two in each of segments 0, 1 and 2, with hand
    # picked spend_mean values, and two active ones with a high spend_mean
    inactive = _two_of_each_segment(model, train)
    inactive["spend_mean"] = [40.0, 10.0, 0.0, np.nan, -5.0, 25.0]
    active = train.tail(2).assign(
        customer_id=["A1", "A2"], is_inactive=False, spend_mean=1000.0
    )
    return pd.concat([active.iloc[[0]], inactive, active.iloc[[1]]], ignore_index=True)


def test_predicted_spend_falls_back_to_the_median_positive_spend_mean():
    features = pd.DataFrame({"spend_mean": [40.0, 10.0, 0.0, np.nan, -5.0, 25.0]})

    # positive values 40, 10, 25 -> median 25 for the zero, missing and
    # negative ones
    np.testing.assert_allclose(
        predicted_spend(features), [40.0, 10.0, 25.0, 25.0, 25.0, 25.0], rtol=1e-12
    )


def test_predicted_spend_median_of_an_even_count_is_the_midpoint():
    features = pd.DataFrame({"spend_mean": [10.0, 30.0, 0.0]})

    # median of 10 and 30 is 20
    np.testing.assert_allclose(
        predicted_spend(features), [10.0, 30.0, 20.0], rtol=1e-12
    )


def test_only_inactive_customers_are_scored(model, scoring_frame):
    scores = score_customers(model, scoring_frame, default_offer=DEFAULT_OFFER)

    assert sorted(scores["customer_id"]) == ["K1", "K2", "K3", "K4", "K5", "K6"]
    assert tuple(scores.columns) == SCORE_COLUMNS


def test_expected_value_is_propensity_times_spend_minus_offer_cost(
    model, scoring_frame
):
    names = model.segmenter.names_
    offers_by_segment = {
        names[0]: ("gift card", 2.0),  # by segment name
        "1": ("discount", 1.5),  # by segment id as text
    }

    scores = score_customers(
        model,
        scoring_frame,
        default_offer=DEFAULT_OFFER,
        offers_by_segment=offers_by_segment,
    ).set_index("customer_id")

    # K1, K2 in segment 0, K3, K4 in 1, K5, K6 in 2 (picked that way)
    order = ["K1", "K2", "K3", "K4", "K5", "K6"]
    np.testing.assert_array_equal(scores.loc[order, "segment_id"], [0, 0, 1, 1, 2, 2])
    assert scores.loc[order, "segment_name"].tolist() == [
        names[s] for s in [0, 0, 1, 1, 2, 2]
    ]
    assert scores.loc[order, "offer"].tolist() == [
        "gift card",
        "gift card",
        "discount",
        "discount",
        "points",
        "points",
    ]
    cost = np.array([2.0, 2.0, 1.5, 1.5, 0.5, 0.5])
    # spend_mean 40, 10, 0, NaN, -5, 25: the positive values among the
    # inactive customers are 40, 10, 25 (median 25); the active customers'
    # 1000s must not enter the median (it would become 40)
    spend = np.array([40.0, 10.0, 25.0, 25.0, 25.0, 25.0])
    inactive = scoring_frame[scoring_frame["is_inactive"]]
    p = model.predict_frame(inactive).set_index("customer_id").loc[order, "propensity"]
    np.testing.assert_allclose(scores.loc[order, "propensity"], p, rtol=1e-12)
    np.testing.assert_allclose(
        scores.loc[order, "expected_value"], p.to_numpy() * spend - cost, rtol=1e-12
    )


def test_unknown_segment_keys_fall_back_to_the_default_offer(model, scoring_frame):
    scores = score_customers(
        model,
        scoring_frame,
        default_offer=DEFAULT_OFFER,
        offers_by_segment={"no such segment": ("gift card", 2.0), "99": ("x", 1.0)},
    )

    assert set(scores["offer"]) == {"points"}


def test_rank_runs_from_one_by_expected_value_descending(model, scoring_frame):
    scores = score_customers(model, scoring_frame, default_offer=DEFAULT_OFFER)

    np.testing.assert_array_equal(scores["rank"], np.arange(1, 7))
    assert scores["rank"].dtype == "int64"
    ev = scores["expected_value"].to_numpy()
    assert np.all(np.diff(ev) <= 0)


def test_expected_value_ties_break_by_propensity_then_customer_id(model, train):
    # pick x and y in different segments with p_x < p_y <= 2 p_x
    candidates = _two_of_each_segment(model, train, segments=(0, 1, 2))
    predicted = model.predict_frame(candidates)
    x = y = None
    for i in range(len(candidates)):
        for j in range(len(candidates)):
            p_i = predicted["propensity"].iloc[i]
            p_j = predicted["propensity"].iloc[j]
            different = (
                predicted["segment_id"].iloc[i] != predicted["segment_id"].iloc[j]
            )
            if different and p_i < p_j <= 2 * p_i:
                x, y = i, j
    assert x is not None, "the fixture model has no usable pair of customers"

    # both spend 50. x's segment pays the default cost 0, y's segment pays
    # c = fl(p_y * 50) - fl(p_x * 50). With p_x * 50 <= p_y * 50 <= 2 p_x * 50
    # the subtraction is exact (Sterbenz), so fl(p_y * 50) - c == fl(p_x * 50):
    # the two expected values are equal to the last bit.
    rows = candidates.iloc[[x, y, x]].reset_index(drop=True)
    # input order x, y, z (z a copy of x); ids make x < y, z < x
    rows["customer_id"] = ["M2", "M3", "M1"]
    rows["spend_mean"] = 50.0
    p_x = predicted["propensity"].iloc[x]
    p_y = predicted["propensity"].iloc[y]
    cost_y = p_y * 50.0 - p_x * 50.0
    y_name = model.segmenter.names_[int(predicted["segment_id"].iloc[y])]

    scores = score_customers(
        model,
        rows,
        default_offer=("points", 0.0),
        offers_by_segment={y_name: ("discount", cost_y)},
    )

    # the tie is exact, so the order comes from the tie-breaks alone:
    # y first (higher propensity), then z and x (same propensity) by id
    ev = scores["expected_value"].to_numpy()
    np.testing.assert_array_equal(ev, np.full(3, p_x * 50.0))
    assert scores["customer_id"].tolist() == ["M3", "M1", "M2"]
    np.testing.assert_array_equal(scores["rank"], [1, 2, 3])


def test_scores_do_not_depend_on_the_input_row_order(model, scoring_frame):
    shuffled = scoring_frame.sample(frac=1.0, random_state=5).reset_index(drop=True)

    first = score_customers(model, scoring_frame, default_offer=DEFAULT_OFFER)
    second = score_customers(model, shuffled, default_offer=DEFAULT_OFFER)

    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_no_inactive_customers_give_an_empty_score_table(model, scoring_frame):
    everyone_active = scoring_frame.assign(is_inactive=False)

    scores = score_customers(model, everyone_active, default_offer=DEFAULT_OFFER)

    assert len(scores) == 0
    assert tuple(scores.columns) == SCORE_COLUMNS
