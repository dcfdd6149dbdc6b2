"""Tests of explanations: contributions, top reasons, the explain command."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from referral_propensity.cli import EXIT_BAD_INPUT, app
from referral_propensity.errors import InputValidationError
from referral_propensity.explain import explain_customer, format_value, top_reasons
from referral_propensity.score import REASON_COLUMNS, SCORE_COLUMNS, score_customers
from referral_propensity.selection import Offer
from small_model import fit_small_model, seeded_customers, seeded_offer_responses
from small_shop import write_small_shop_config

FEATURE_COLUMNS = ["recency_days", "n_orders", "spend_total", "spend_mean"]
SEGMENT_FEATURES = ["recency_days", "n_orders", "spend_total"]
ONE_OFFER = (Offer("points", cost=0.5, value=1000.0),)


def _customers(seed: int, n: int = 400) -> pd.DataFrame:
    # recency dominates the true log-odds: 2 - recency / 150 + 0.3 * n_orders
    # runs from about +1.7 (91 days, 9 orders) to about -3.7 (899 days, 1 order)
    return seeded_customers(
        seed, n, prefix="E", intercept=2.0, recency_scale=150, order_weight=0.3
    )


def _offer_responses(seed: int, n: int = 1200) -> pd.DataFrame:
    return seeded_offer_responses(_customers(seed, n), seed)


@pytest.fixture(scope="module")
def train():
    return _customers(seed=5)


@pytest.fixture(scope="module")
def model(train):
    return fit_small_model(
        train, segment_features=SEGMENT_FEATURES, feature_columns=FEATURE_COLUMNS
    )


@pytest.fixture(scope="module")
def offer_model():
    return fit_small_model(
        _offer_responses(seed=9),
        segment_features=SEGMENT_FEATURES,
        feature_columns=[*FEATURE_COLUMNS, "offer_type"],
        categories={"offer_type": ["discount", "points"]},
    )


@pytest.fixture
def frame(train):
    # the training customers plus two active ones, A1 and A2
    active = train.head(2).assign(customer_id=["A1", "A2"], is_inactive=False)
    return pd.concat([train, active], ignore_index=True).drop(columns="label")


def test_contributions_add_up_to_the_raw_score(model, frame):
    for customer_id in ("E000", "E017", "E123"):
        explanation = explain_customer(model, frame, customer_id)
        row = frame[frame["customer_id"] == customer_id]

        # the reference is the booster's raw prediction, not pred_contrib
        raw = model.raw_score(row)[0]
        total = explanation.contributions["contribution"].sum() + explanation.bias
        np.testing.assert_allclose(total, raw, rtol=0, atol=1e-6)
        np.testing.assert_allclose(explanation.raw_score, raw, rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            explanation.propensity, model.calibrate(np.array([raw]))[0], rtol=1e-12
        )
        assert set(explanation.contributions["feature"]) == set(FEATURE_COLUMNS)


def test_every_row_of_contributions_adds_up_to_its_raw_score(model, frame):
    contributions = model.contributions(frame)

    np.testing.assert_allclose(
        contributions.sum(axis=1), model.raw_score(frame), rtol=0, atol=1e-6
    )


def test_a_recent_buyer_is_pushed_up_by_recency_and_a_long_lapsed_one_down(
    model, frame
):
    # the label falls with recency_days, so a customer lapsed 95 days should
    # owe the model's optimism mostly to recency, one lapsed 890 days the
    # opposite
    edited = frame.copy()
    edited.loc[edited["customer_id"] == "E000", "recency_days"] = 95.0
    edited.loc[edited["customer_id"] == "E001", "recency_days"] = 890.0

    recent = explain_customer(model, edited, "E000")
    lapsed = explain_customer(model, edited, "E001")

    assert recent.pushed_up["feature"].iloc[0] == "recency_days"
    assert recent.pushed_up["value"].iloc[0] == 95.0
    assert lapsed.pushed_down["feature"].iloc[0] == "recency_days"


def test_pushed_up_and_down_are_signed_and_ordered(model, frame):
    explanation = explain_customer(model, frame, "E042", top=2)

    up = explanation.pushed_up["contribution"]
    down = explanation.pushed_down["contribution"]
    assert len(up) <= 2 and len(down) <= 2
    assert (up > 0).all() and (down < 0).all()
    assert up.is_monotonic_decreasing and down.is_monotonic_increasing
    # the full table is sorted, largest first, and up / down are its ends
    table = explanation.contributions
    assert table["contribution"].is_monotonic_decreasing
    n_up, n_down = len(up), len(down)
    np.testing.assert_array_equal(up, table["contribution"].head(n_up))
    np.testing.assert_array_equal(down, table["contribution"].tail(n_down)[::-1])
    assert list(explanation.pushed_up.columns) == ["feature", "value", "contribution"]


def test_an_absent_customer_is_an_error_naming_them(model, frame):
    with pytest.raises(InputValidationError, match=r"'nobody' is not in the feature"):
        explain_customer(model, frame, "nobody")


def test_an_active_customer_is_an_error_saying_they_are_not_scored(model, frame):
    with pytest.raises(InputValidationError, match=r"'A1' is active .* not scored"):
        explain_customer(model, frame, "A1")


def test_offer_aware_default_is_the_offer_scoring_chooses(offer_model, train):
    features = train.drop(columns="label")
    catalog = (
        Offer("discount", cost=0.5, value=30.0),
        Offer("points", cost=0.4, value=30.0),
    )
    scores = score_customers(offer_model, features, catalog=catalog).set_index(
        "customer_id"
    )

    for customer_id in ("E000", "E001", "E002", "E003", "E004", "E005"):
        explanation = explain_customer(
            offer_model, features, customer_id, catalog=catalog
        )
        assert explanation.offer == scores.loc[customer_id, "offer"]
        np.testing.assert_allclose(
            explanation.propensity, scores.loc[customer_id, "propensity"], rtol=1e-12
        )
        offered = explanation.contributions.set_index("feature")
        assert offered.loc["offer_type", "value"] == explanation.offer


def test_offer_aware_explains_the_offer_it_is_given(offer_model, train):
    features = train.drop(columns="label")
    row = features[features["customer_id"] == "E007"]

    for offer in ("discount", "points"):
        explanation = explain_customer(offer_model, features, "E007", offer=offer)
        expected = offer_model.predict_frame(row.assign(offer_type=offer))
        assert explanation.offer == offer
        np.testing.assert_allclose(
            explanation.propensity, expected["propensity"].iloc[0], rtol=1e-12
        )
        total = explanation.contributions["contribution"].sum() + explanation.bias
        raw = offer_model.raw_score(row.assign(offer_type=offer))[0]
        np.testing.assert_allclose(total, raw, rtol=0, atol=1e-6)


def test_offer_aware_without_a_catalog_explains_the_likeliest_offer(offer_model, train):
    features = train.drop(columns="label")
    row = features[features["customer_id"] == "E011"]
    by_offer = {
        offer: offer_model.predict_frame(row.assign(offer_type=offer))[
            "propensity"
        ].iloc[0]
        for offer in ("discount", "points")
    }

    explanation = explain_customer(offer_model, features, "E011")

    assert explanation.offer == max(by_offer, key=by_offer.get)


def test_an_offer_the_model_never_saw_is_refused(offer_model, train):
    features = train.drop(columns="label")
    with pytest.raises(InputValidationError, match=r"'gift' is not an offer type"):
        explain_customer(offer_model, features, "E000", offer="gift")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (412.0, "412"),
        (7, "7"),
        (0.3333, "0.33"),
        (-1.005, "-1"),
        (np.nan, "missing"),
        (None, "missing"),
        (True, "true"),
        ("north", "north"),
    ],
)
def test_format_value_is_short_text(value, text):
    # round(-1.005, 2) is -1.0 in binary floating point, hence "-1"
    assert format_value(value) == text


def test_top_reasons_are_the_largest_positive_contributions_as_text(model, frame):
    rows = frame.head(40)
    reasons = top_reasons(model, rows, n=3)
    contributions = model.contributions(rows)[FEATURE_COLUMNS]

    assert list(reasons.columns) == ["reason_1", "reason_2", "reason_3"]
    assert reasons.index.equals(rows.index)
    pattern = re.compile(r"^(\w+)=(\S+) \(\+(\d+\.\d\d)\)$")
    for i in rows.index:
        positive = contributions.loc[i][contributions.loc[i] > 0]
        expected = positive.sort_values(ascending=False, kind="stable").head(3)
        texts = reasons.loc[i].dropna().tolist()
        assert len(texts) == len(expected)
        for text, (feature, contribution) in zip(texts, expected.items(), strict=True):
            match = pattern.match(text)
            assert match, text
            assert match.group(1) == feature
            assert match.group(2) == format_value(rows.loc[i, feature])
            assert match.group(3) == f"{contribution:.2f}"


def test_top_reasons_of_one_hand_checked_row(model, frame):
    row = frame[frame["customer_id"] == "E000"]
    contributions = model.contributions(row)[FEATURE_COLUMNS].iloc[0]
    best = contributions.idxmax()

    reasons = top_reasons(model, row, n=1)

    if contributions[best] > 0:
        value = format_value(row[best].iloc[0])
        assert reasons["reason_1"].iloc[0] == (
            f"{best}={value} ({contributions[best]:+.2f})"
        )
    else:
        # nothing raised the score: no reason
        assert pd.isna(reasons["reason_1"].iloc[0])


def test_scores_have_no_reasons_by_default(model, frame):
    scores = score_customers(model, frame, catalog=ONE_OFFER)

    assert tuple(scores.columns) == SCORE_COLUMNS


def test_scores_get_three_reasons_after_rank_when_asked(model, frame):
    scores = score_customers(model, frame, catalog=ONE_OFFER, reasons=True)

    assert tuple(scores.columns) == (*SCORE_COLUMNS, *REASON_COLUMNS)
    # the same scores as without reasons
    plain = score_customers(model, frame, catalog=ONE_OFFER)
    pd.testing.assert_frame_equal(scores[list(SCORE_COLUMNS)], plain)
    expected = top_reasons(model, frame, n=3)
    expected.index = frame["customer_id"]
    by_customer = scores.set_index("customer_id")
    for column in REASON_COLUMNS:
        pd.testing.assert_series_equal(
            by_customer[column],
            expected.loc[by_customer.index, column],
            check_names=False,
            check_index=False,
        )


def test_offer_aware_reasons_explain_the_chosen_offer(offer_model, train):
    features = train.drop(columns="label").head(60)
    catalog = (
        Offer("discount", cost=0.5, value=30.0),
        Offer("points", cost=0.4, value=30.0),
    )

    scores = score_customers(offer_model, features, catalog=catalog, reasons=True)

    by_customer = scores.set_index("customer_id")
    chosen = features.assign(
        offer_type=by_customer.loc[features["customer_id"], "offer"].to_numpy()
    )
    expected = top_reasons(offer_model, chosen, n=3).set_axis(features["customer_id"])
    for column in REASON_COLUMNS:
        assert by_customer[column].fillna("").tolist() == (
            expected.loc[by_customer.index, column].fillna("").tolist()
        )


def test_empty_scores_with_reasons_have_the_reason_columns(model, frame):
    nobody = frame.assign(is_inactive=False)

    scores = score_customers(model, nobody, catalog=ONE_OFFER, reasons=True)

    assert scores.empty
    assert tuple(scores.columns) == (*SCORE_COLUMNS, *REASON_COLUMNS)


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def scored_shop(tmp_path_factory):
    """One `run` of a small synthetic shop, with its own MLflow store."""
    folder = tmp_path_factory.mktemp("explain")
    config = write_small_shop_config(folder, experiment="explain")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = _invoke(
            "run", "--config", str(config), "--output-dir", str(folder / "out")
        )
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(folder / "out" / "scores.parquet")
    features = folder / "features"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = _invoke(
            "features", "--config", str(config), "--output-dir", str(features)
        )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(next(features.glob("features_*.parquet")))
    return config, store, scores, table


def _explain(shop, *args: str):
    config, store, _, _ = shop
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        return _invoke("explain", "--config", str(config), *args)


@pytest.mark.slow
def test_explain_prints_the_scored_segment_offer_and_propensity(scored_shop):
    _, _, scores, _ = scored_shop
    best = scores.iloc[0]

    result = _explain(scored_shop, "--customer-id", best["customer_id"])

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Customer {best['customer_id']} as of " in out
    assert f"Segment {best['segment_id']}: {best['segment_name']}" in out
    assert f"Offer {best['offer']}: propensity {best['propensity']:.4f}" in out
    assert "Top contributions to the raw score" in out
    assert re.search(r"up\s+│?\s*\w+", out)
    # the raw score is split into the bias and the features' sum
    numbers = re.search(
        r"raw score ([-+]\d+\.\d+) = bias ([-+]\d+\.\d+) \+ features ([-+]\d+\.\d+)",
        out,
    )
    assert numbers
    raw, bias, rest = (float(x) for x in numbers.groups())
    np.testing.assert_allclose(bias + rest, raw, atol=2e-3)


@pytest.mark.slow
def test_explain_lists_contributions_with_feature_values(scored_shop):
    _, _, scores, table = scored_shop
    customer = scores.iloc[3]["customer_id"]
    recency = table.loc[table["customer_id"] == customer, "recency_days"].iloc[0]

    result = _explain(scored_shop, "--customer-id", customer, "--top", "40")

    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stdout.splitlines() if " recency_days " in ln)
    assert format_value(recency) in line
    assert re.search(r"[-+]\d+\.\d{3}", line)


@pytest.mark.slow
def test_explain_of_an_other_offer_gives_its_propensity(scored_shop):
    _, _, scores, _ = scored_shop
    customer = scores.iloc[0]["customer_id"]

    chosen = _explain(scored_shop, "--customer-id", customer)
    other = [o for o in ("discount", "freebie") if o != scores.iloc[0]["offer"]][0]
    result = _explain(scored_shop, "--customer-id", customer, "--offer", other)

    assert chosen.exit_code == 0 and result.exit_code == 0, result.output
    assert f"Offer {other}: propensity" in result.stdout


@pytest.mark.slow
def test_explain_of_an_active_customer_exits_with_the_bad_input_code(scored_shop):
    _, _, _, table = scored_shop
    active = table.loc[~table["is_inactive"], "customer_id"].iloc[0]

    result = _explain(scored_shop, "--customer-id", active)

    assert result.exit_code == EXIT_BAD_INPUT
    assert f"customer '{active}' is active" in result.output


@pytest.mark.slow
def test_explain_of_an_unknown_customer_exits_with_the_bad_input_code(scored_shop):
    result = _explain(scored_shop, "--customer-id", "NOT-A-CUSTOMER")

    assert result.exit_code == EXIT_BAD_INPUT
    assert "'NOT-A-CUSTOMER' is not in the feature table" in result.output
    assert "absent" in result.output
