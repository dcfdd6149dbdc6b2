"""Tests of batch scoring: who is scored, offers, expected value, selection, rank."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from referral_propensity.errors import InputValidationError
from referral_propensity.io.write import write_scores
from referral_propensity.score import SCORE_COLUMNS, predicted_spend, score_customers
from referral_propensity.selection import Offer
from small_model import fit_small_model, seeded_customers, seeded_offer_responses

FEATURE_COLUMNS = ["recency_days", "n_orders", "spend_total", "spend_mean"]
# spend_mean is left out of the segments so a test can set it freely
SEGMENT_FEATURES = ["recency_days", "n_orders", "spend_total"]
# one offer worth a lot, so every scored customer has a positive expected value
ONE_OFFER = (Offer("points", cost=0.5, value=1000.0),)


def _synthetic_customers(seed: int, n: int = 300) -> pd.DataFrame:
    return seeded_customers(
        seed, n, prefix="T", intercept=1.0, recency_scale=300, order_weight=0.2
    )


def _offer_responses(seed: int, n: int = 1200) -> pd.DataFrame:
    return seeded_offer_responses(_synthetic_customers(seed, n), seed)


@pytest.fixture(scope="module")
def train():
    return _synthetic_customers(seed=42)


@pytest.fixture(scope="module")
def model(train):
    return fit_small_model(
        train, segment_features=SEGMENT_FEATURES, feature_columns=FEATURE_COLUMNS
    )


@pytest.fixture(scope="module")
def offer_model():
    return fit_small_model(
        _offer_responses(seed=7),
        segment_features=SEGMENT_FEATURES,
        feature_columns=[*FEATURE_COLUMNS, "offer_type"],
        categories={"offer_type": ["discount", "points"]},
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
    scores = score_customers(model, scoring_frame, catalog=ONE_OFFER)

    assert sorted(scores["customer_id"]) == ["K1", "K2", "K3", "K4", "K5", "K6"]
    assert tuple(scores.columns) == SCORE_COLUMNS


def test_without_offer_type_every_offer_gets_the_model_propensity(model, scoring_frame):
    catalog = (
        Offer("points", cost=0.5, value=20.0),
        Offer("discount", cost=1.5),  # worth the predicted spend
    )

    scores = score_customers(model, scoring_frame, catalog=catalog).set_index(
        "customer_id"
    )

    order = ["K1", "K2", "K3", "K4", "K5", "K6"]
    inactive = scoring_frame[scoring_frame["is_inactive"]]
    p = (
        model.predict_frame(inactive)
        .set_index("customer_id")
        .loc[order, "propensity"]
        .to_numpy()
    )
    # spend_mean 40, 10, 0, NaN, -5, 25: the positive values among the
    # inactive customers are 40, 10, 25 (median 25); the active customers'
    # 1000s must not enter the median (it would become 40)
    spend = np.array([40.0, 10.0, 25.0, 25.0, 25.0, 25.0])
    points = p * 20.0 - 0.5
    discount = p * spend - 1.5
    np.testing.assert_allclose(scores.loc[order, "propensity"], p, rtol=1e-12)
    np.testing.assert_allclose(
        scores.loc[order, "expected_value"], np.maximum(points, discount), rtol=1e-12
    )
    assert scores.loc[order, "offer"].tolist() == [
        "discount" if d > pt else "points"
        for d, pt in zip(discount, points, strict=True)
    ]
    np.testing.assert_allclose(
        scores.loc[order, "cost"], np.where(discount > points, 1.5, 0.5), rtol=1e-12
    )


def test_segment_restricted_offers_go_only_to_their_segments(model, scoring_frame):
    names = model.segmenter.names_
    catalog = (
        Offer("points", cost=0.5, value=1.0),
        # worth far more, so it wins wherever it is allowed
        Offer("gift_card", cost=2.0, value=1000.0, segments=(names[0],)),  # by name
        Offer("discount", cost=1.5, value=1000.0, segments=("1",)),  # by id
    )

    scores = score_customers(model, scoring_frame, catalog=catalog).set_index(
        "customer_id"
    )

    # K1, K2 in segment 0, K3, K4 in 1, K5, K6 in 2 (picked that way)
    order = ["K1", "K2", "K3", "K4", "K5", "K6"]
    np.testing.assert_array_equal(scores.loc[order, "segment_id"], [0, 0, 1, 1, 2, 2])
    assert scores.loc[order, "segment_name"].tolist() == [
        names[s] for s in [0, 0, 1, 1, 2, 2]
    ]
    assert scores.loc[order, "offer"].tolist() == [
        "gift_card",
        "gift_card",
        "discount",
        "discount",
        "points",
        "points",
    ]


def test_catalog_segment_the_model_does_not_have_is_warned_about(
    model, scoring_frame, caplog
):
    catalog = (*ONE_OFFER, Offer("gift_card", cost=1.0, segments=("no such",)))

    with caplog.at_level(logging.WARNING, logger="referral_propensity.score"):
        scores = score_customers(model, scoring_frame, catalog=catalog)

    assert set(scores["offer"]) == {"points"}
    assert "Offer 'gift_card' lists 1 segment(s) the model does not have" in (
        caplog.text
    )


def test_rank_runs_from_one_by_expected_value_descending(model, scoring_frame):
    scores = score_customers(model, scoring_frame, catalog=ONE_OFFER)

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

    # both offers are worth 50. x's segment pays cost 0, y's segment pays
    # c = fl(p_y * 50) - fl(p_x * 50). With p_x * 50 <= p_y * 50 <= 2 p_x * 50
    # the subtraction is exact (Sterbenz), so fl(p_y * 50) - c == fl(p_x * 50):
    # the two expected values are equal to the last bit.
    rows = candidates.iloc[[x, y, x]].reset_index(drop=True)
    # input order x, y, z (z a copy of x); ids make x < y, z < x
    rows["customer_id"] = ["M2", "M3", "M1"]
    p_x = predicted["propensity"].iloc[x]
    p_y = predicted["propensity"].iloc[y]
    cost_y = p_y * 50.0 - p_x * 50.0
    y_name = model.segmenter.names_[int(predicted["segment_id"].iloc[y])]
    others = tuple(name for name in model.segmenter.names_.values() if name != y_name)
    catalog = (
        Offer("points", cost=0.0, value=50.0, segments=others),
        Offer("discount", cost=cost_y, value=50.0, segments=(y_name,)),
    )

    scores = score_customers(model, rows, catalog=catalog)

    # the tie is exact, so the order comes from the tie-breaks alone:
    # y first (higher propensity), then z and x (same propensity) by id
    ev = scores["expected_value"].to_numpy()
    np.testing.assert_array_equal(ev, np.full(3, p_x * 50.0))
    assert scores["customer_id"].tolist() == ["M3", "M1", "M2"]
    assert scores["offer"].tolist() == ["discount", "points", "points"]
    np.testing.assert_array_equal(scores["rank"], [1, 2, 3])


def test_budget_and_contact_limit_reach_the_selection(model, scoring_frame):
    by_budget = score_customers(
        model, scoring_frame, catalog=ONE_OFFER, total_cost=1.25
    )
    by_contacts = score_customers(
        model, scoring_frame, catalog=ONE_OFFER, max_contacts=1
    )

    # each contact costs 0.5: a budget of 1.25 pays for the first two ranks
    assert by_budget["reason"].tolist() == ["selected"] * 2 + ["over_budget"] * 4
    assert by_contacts["reason"].tolist() == ["selected"] + ["over_contacts"] * 5
    assert by_budget["selected"].dtype == bool


def test_marketing_opt_in_false_is_an_opt_out_and_missing_is_not(model, scoring_frame):
    opt_in = {"K1": 0.0, "K2": np.nan, "K3": 1.0, "K4": 1.0, "K5": 1.0, "K6": 1.0}
    features = scoring_frame.assign(
        marketing_opt_in=scoring_frame["customer_id"].map(opt_in).fillna(1.0)
    )

    scores = score_customers(model, features, catalog=ONE_OFFER).set_index(
        "customer_id"
    )

    assert scores.loc["K1", "reason"] == "opted_out"
    assert scores.drop(index="K1")["reason"].eq("selected").all()


def test_days_since_offer_inside_the_cooldown_leaves_a_customer_out(
    model, scoring_frame
):
    # K3 was offered 5 days ago, K4 30 days ago, the others never
    days = {"K3": 5.0, "K4": 30.0}
    features = scoring_frame.assign(
        days_since_offer=scoring_frame["customer_id"].map(days)
    )

    scores = score_customers(
        model, features, catalog=ONE_OFFER, cooldown_days=30
    ).set_index("customer_id")

    # 5 < 30 is inside the cooldown; 30 < 30 is not
    assert scores.loc["K3", "reason"] == "cooldown"
    assert scores.drop(index="K3")["reason"].eq("selected").all()


def test_without_opt_in_or_offer_history_everyone_may_be_contacted(
    model, scoring_frame
):
    scores = score_customers(model, scoring_frame, catalog=ONE_OFFER, cooldown_days=30)

    assert scores["selected"].all()


def test_offer_aware_model_picks_the_offer_that_fits_each_customer(offer_model):
    # four rare buyers (2 orders) and four frequent ones (8 orders); the true
    # response is 0.8 to the fitting offer and 0.1 to the other
    features = _synthetic_customers(seed=11, n=8).assign(
        n_orders=[2, 2, 2, 2, 8, 8, 8, 8]
    )
    features["spend_total"] = features["spend_mean"] * features["n_orders"]
    catalog = (
        Offer("discount", cost=0.0, value=10.0),
        Offer("points", cost=0.0, value=10.0),
    )

    scores = score_customers(offer_model, features, catalog=catalog).set_index(
        "customer_id"
    )

    fits = np.where(features["n_orders"] >= 5, "points", "discount")
    assert scores.loc[features["customer_id"], "offer"].tolist() == fits.tolist()
    # the calibrated propensity of the fitting offer is near its true 0.8
    assert scores["propensity"].between(0.5, 1.0).all()


def test_offer_aware_propensity_is_the_prediction_for_that_offer(offer_model):
    features = _synthetic_customers(seed=12, n=6)
    catalog = (Offer("points", cost=0.0, value=10.0),)

    scores = score_customers(offer_model, features, catalog=catalog)

    expected = (
        offer_model.predict_frame(features.assign(offer_type="points"))
        .set_index("customer_id")
        .loc[scores["customer_id"], "propensity"]
    )
    np.testing.assert_allclose(scores["propensity"], expected, rtol=1e-12)


def test_offer_type_the_model_never_saw_is_an_error_naming_it(offer_model):
    features = _synthetic_customers(seed=12, n=6)
    catalog = (
        Offer("points", cost=0.0, value=10.0),
        Offer("cashback", cost=1.0, value=10.0),
    )

    with pytest.raises(
        InputValidationError,
        match=r"offer type\(s\) 'cashback' .*known: discount, points",
    ):
        score_customers(offer_model, features, catalog=catalog)


def test_retired_offer_type_the_model_never_saw_is_fine(offer_model):
    features = _synthetic_customers(seed=12, n=6)
    catalog = (
        Offer("points", cost=0.0, value=10.0),
        Offer("cashback", cost=1.0, value=10.0, segments=()),
    )

    scores = score_customers(offer_model, features, catalog=catalog)

    assert set(scores["offer"]) == {"points"}


def test_offer_without_value_needs_spend_mean(scoring_frame):
    # the model does not use spend_mean here, so it may be left out of the
    # features; an offer worth the predicted spend then has nothing to go on
    no_spend_model = fit_small_model(
        _synthetic_customers(seed=42),
        segment_features=SEGMENT_FEATURES,
        feature_columns=SEGMENT_FEATURES,
    )
    features = scoring_frame.drop(columns=["spend_mean"])

    with pytest.raises(InputValidationError, match="no spend_mean column"):
        score_customers(no_spend_model, features, catalog=(Offer("points", 1.0),))


def test_scores_do_not_depend_on_the_input_row_order(model, scoring_frame):
    shuffled = scoring_frame.sample(frac=1.0, random_state=5).reset_index(drop=True)
    catalog = (Offer("points", cost=0.5, value=20.0), Offer("discount", cost=1.5))

    first = score_customers(model, scoring_frame, catalog=catalog, total_cost=2.0)
    second = score_customers(model, shuffled, catalog=catalog, total_cost=2.0)

    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_no_inactive_customers_give_an_empty_typed_score_table(model, scoring_frame):
    everyone_active = scoring_frame.assign(is_inactive=False)

    scores = score_customers(model, everyone_active, catalog=ONE_OFFER)

    assert len(scores) == 0
    assert tuple(scores.columns) == SCORE_COLUMNS
    # the same dtypes as a table with rows
    some = score_customers(model, scoring_frame, catalog=ONE_OFFER)
    pd.testing.assert_series_equal(scores.dtypes, some.dtypes)
    assert scores["selected"].dtype == bool
    assert scores["rank"].dtype == "int64"


def test_scores_round_trip_through_parquet_and_csv(model, scoring_frame, tmp_path):
    # gift_card only for segment 0, so the others have no eligible offer and
    # their offer, propensity, cost and expected_value are missing
    catalog = (Offer("gift_card", cost=1.0, value=1000.0, segments=("0",)),)
    scores = score_customers(model, scoring_frame, catalog=catalog, total_cost=1.0)
    assert scores["offer"].isna().sum() == 4
    # a table where no one has an offer keeps a text offer column
    nobody = score_customers(
        model, scoring_frame, catalog=(Offer("x", 1.0, 1.0, segments=("9",)),)
    )
    assert nobody["offer"].isna().all()
    assert nobody["offer"].dtype == scores["offer"].dtype

    write_scores(scores, tmp_path)

    from_parquet = pd.read_parquet(tmp_path / "scores.parquet")
    pd.testing.assert_frame_equal(from_parquet, scores, check_exact=True)
    from_csv = pd.read_csv(tmp_path / "scores.csv")
    assert list(from_csv.columns) == list(SCORE_COLUMNS)
    assert from_csv["selected"].dtype == bool
    assert from_csv["selected"].tolist() == scores["selected"].tolist()
    assert from_csv["reason"].tolist() == scores["reason"].tolist()
    assert from_csv["offer"].isna().tolist() == scores["offer"].isna().tolist()
    np.testing.assert_allclose(
        from_csv["expected_value"], scores["expected_value"], rtol=1e-12
    )
    np.testing.assert_array_equal(from_csv["rank"], scores["rank"])
