"""Tests of the synthetic shop's tables: columns, domains, determinism and speed.

Each expectation is computed here with plain pandas from the generated tables, not
with the generator's own helpers, so a bug in the generator cannot hide itself.
"""

import re
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from referral_propensity.datasets.synthetic import (
    EVENT_TYPES,
    OFFER_TYPES,
    SEGMENTS,
    SyntheticShop,
    generate_shop,
)

START = date(2023, 1, 1)
END = date(2025, 12, 31)
INTERESTS = {"outdoors", "fashion", "tech", "home", "beauty", "gaming"}
LIFESTYLES = {"thrifty", "trendsetter", "homebody", "achiever", "community"}
P_COLUMNS = [f"p_respond_{offer}" for offer in OFFER_TYPES] + ["p_respond_none"]

EXPECTED_COLUMNS = {
    "customers": [
        "customer_id",
        "signup_date",
        "age",
        "gender",
        "region",
        "income_band",
        "marketing_opt_in",
        "interests",
        "price_sensitivity",
        "social_connectedness",
        "lifestyle",
    ],
    "transactions": [
        "customer_id",
        "order_id",
        "timestamp",
        "amount",
        "quantity",
        "category",
        "discount",
    ],
    "engagement": ["customer_id", "timestamp", "event_type"],
    "offers": ["customer_id", "sent_at", "offer_type", "group", "responded_at"],
    "truth": [
        "customer_id",
        "latent_segment",
        "purchase_rate",
        "churn_hazard",
        "reactivation_hazard",
        *P_COLUMNS,
        "is_lapsed_at_end",
    ],
    "offer_truth": [
        "customer_id",
        "sent_at",
        "offer_type",
        "group",
        "p_respond",
        *P_COLUMNS,
    ],
}
TIMESTAMP_COLUMNS = {
    "customers": ["signup_date"],
    "transactions": ["timestamp"],
    "engagement": ["timestamp"],
    "offers": ["sent_at", "responded_at"],
    "offer_truth": ["sent_at"],
}


def _small_shop(seed: int) -> SyntheticShop:
    return generate_shop(
        n_customers=300,
        start=date(2024, 1, 1),
        end=date(2024, 12, 31),
        seed=seed,
    )


def test_same_seed_gives_identical_frames():
    first, second = _small_shop(seed=3), _small_shop(seed=3)

    assert len(first.offers) > 0
    for name, frame in first.tables().items():
        pd.testing.assert_frame_equal(frame, second.tables()[name], obj=name)


def test_another_seed_gives_different_frames():
    first, other = _small_shop(seed=3), _small_shop(seed=4)

    assert set(first.tables()) == set(EXPECTED_COLUMNS)
    for name, frame in first.tables().items():
        assert not frame.equals(other.tables()[name]), name


def test_tables_have_the_documented_columns_and_dtypes(shop):
    for name, columns in EXPECTED_COLUMNS.items():
        assert list(shop.tables()[name].columns) == columns, name

    for name, columns in TIMESTAMP_COLUMNS.items():
        for column in columns:
            dtype = shop.tables()[name][column].dtype
            assert isinstance(dtype, pd.DatetimeTZDtype), (name, column)
            assert str(dtype.tz) == "UTC", (name, column)

    customers, transactions = shop.customers, shop.transactions
    assert pd.api.types.is_integer_dtype(customers["age"])
    assert pd.api.types.is_bool_dtype(customers["marketing_opt_in"])
    assert pd.api.types.is_float_dtype(customers["price_sensitivity"])
    assert pd.api.types.is_float_dtype(customers["social_connectedness"])
    assert pd.api.types.is_string_dtype(customers["interests"])
    assert pd.api.types.is_string_dtype(customers["lifestyle"])
    assert pd.api.types.is_float_dtype(transactions["amount"])
    assert pd.api.types.is_integer_dtype(transactions["quantity"])
    assert pd.api.types.is_float_dtype(transactions["discount"])
    assert pd.api.types.is_bool_dtype(shop.truth["is_lapsed_at_end"])
    for frame in shop.tables().values():
        assert pd.api.types.is_string_dtype(frame["customer_id"])


def test_values_stay_in_their_documented_domains(shop):
    customers, transactions = shop.customers, shop.transactions

    assert customers["customer_id"].is_unique
    assert (
        customers["customer_id"]
        .map(lambda cid: re.fullmatch(r"S\d{6}", cid) is not None)
        .all()
    )
    assert set(customers["income_band"]) == {"low", "mid", "high"}
    assert customers["age"].between(18, 100).all()

    assert transactions["discount"].between(0.0, 0.5).all()
    cents = transactions["amount"] * 100
    np.testing.assert_allclose(cents, cents.round(), atol=1e-6)
    assert (transactions["amount"] != 0).all()

    assert set(shop.engagement["event_type"]) == set(EVENT_TYPES)
    assert set(shop.offers["offer_type"]) == set(OFFER_TYPES)
    assert set(shop.offers["group"]) == {"treatment", "control"}

    truth = shop.truth
    assert truth["customer_id"].tolist() == customers["customer_id"].tolist()
    assert set(truth["latent_segment"]) == set(SEGMENTS)
    for frame in (truth, shop.offer_truth):
        probabilities = frame[P_COLUMNS]
        assert ((probabilities > 0) & (probabilities < 1)).all().all()


def test_about_four_percent_opted_out_of_marketing(shop):
    opted_out = 1 - shop.customers["marketing_opt_in"].mean()

    # 5,000 customers: a share of 4 % has a standard error of about 0.3 %
    assert 0.025 <= opted_out <= 0.055


def test_psychographics_take_their_documented_values(shop):
    customers = shop.customers

    assert set(customers["interests"]) == INTERESTS
    assert set(customers["lifestyle"]) == LIFESTYLES
    for column in ("price_sensitivity", "social_connectedness"):
        values = customers[column]
        assert values.between(0.0, 1.0).all(), column
        hundredths = values * 100
        np.testing.assert_allclose(hundredths, hundredths.round(), atol=1e-9)
        # spread over most of the range, not a handful of levels
        assert values.nunique() >= 50, column
        assert values.quantile(0.95) - values.quantile(0.05) >= 0.4, column


def test_psychographics_vary_between_customers_of_one_segment(shop):
    segment = shop.truth["latent_segment"]
    customers = shop.customers

    for column in ("price_sensitivity", "social_connectedness"):
        spread = customers[column].groupby(segment).std()
        assert (spread >= 0.05).all(), column
    for column in ("interests", "lifestyle"):
        n_values = customers[column].groupby(segment).nunique()
        assert (n_values >= 4).all(), column


def test_psychographics_lean_with_the_latent_segment(shop):
    by_segment = shop.customers.groupby(shop.truth["latent_segment"])

    price_sensitivity = by_segment["price_sensitivity"].mean()
    social_connectedness = by_segment["social_connectedness"].mean()
    lifestyle = by_segment["lifestyle"].agg(lambda values: values.mode()[0])

    assert (
        price_sensitivity["bargain_hunter"]
        > price_sensitivity["loyal_high_spender"] + 0.3
    )
    assert price_sensitivity.idxmax() == "bargain_hunter"
    assert social_connectedness.idxmax() == "socially_engaged"
    assert social_connectedness.drop("socially_engaged").max() < (
        social_connectedness["socially_engaged"] - 0.2
    )
    assert lifestyle["bargain_hunter"] == "thrifty"
    assert lifestyle["loyal_high_spender"] == "achiever"
    assert lifestyle["socially_engaged"] == "community"


def test_price_sensitive_customers_use_more_discounts(shop, sales):
    price_sensitivity = shop.customers.set_index("customer_id")["price_sensitivity"]
    sensitivity = sales["customer_id"].map(price_sensitivity)
    is_discounted = sales["discount"] > 0

    thrifty_share = is_discounted[sensitivity >= 0.7].mean()
    carefree_share = is_discounted[sensitivity <= 0.3].mean()

    assert thrifty_share > 2 * carefree_share


def test_signup_dates_are_spread_over_the_period(shop):
    quarter = shop.customers["signup_date"].dt.tz_localize(None).dt.to_period("Q")
    share = quarter.value_counts(normalize=True)

    # twelve quarters, so about 8.3 % each for a uniform spread
    assert len(share) == 12
    assert share.between(0.06, 0.11).all()


def test_no_event_before_signup_or_after_end(shop):
    signup = shop.customers.set_index("customer_id")["signup_date"]
    first_day = pd.Timestamp(START, tz="UTC")
    after_end = pd.Timestamp(END, tz="UTC") + pd.Timedelta(days=1)

    assert signup.between(first_day, after_end, inclusive="left").all()
    for name, columns in TIMESTAMP_COLUMNS.items():
        if name == "customers":
            continue
        frame = shop.tables()[name]
        customer_signup = frame["customer_id"].map(signup)
        for column in columns:
            seen = frame[column].notna()
            assert (frame.loc[seen, column] >= customer_signup[seen]).all(), column
            assert (frame.loc[seen, column] < after_end).all(), column


def test_transactions_have_a_time_of_day(shop):
    timestamp = shop.transactions["timestamp"]
    at_midnight = (timestamp == timestamp.dt.normalize()).mean()

    assert at_midnight < 0.01
    assert timestamp.dt.hour.nunique() == 24


def test_refunds_are_negative_rows_with_r_order_ids_and_a_few_percent_share(shop):
    transactions = shop.transactions
    is_refund = transactions["amount"] < 0
    order_id = transactions["order_id"]

    assert order_id.is_unique
    assert order_id[is_refund].str.startswith("R").all()
    assert order_id[~is_refund].str.startswith("O").all()
    assert (transactions.loc[is_refund, "quantity"] < 0).all()
    assert (transactions.loc[~is_refund, "quantity"] >= 1).all()

    refund_share = is_refund.sum() / (~is_refund).sum()
    assert 0.01 <= refund_share <= 0.08


def test_each_refund_follows_its_order_within_days_and_never_exceeds_it(shop):
    transactions = shop.transactions
    refunds = transactions[transactions["amount"] < 0]
    orders = transactions[transactions["amount"] > 0].set_index("order_id")

    original = orders.loc["O" + refunds["order_id"].str.slice(1)]
    delay = refunds["timestamp"].to_numpy() - original["timestamp"].to_numpy()

    assert (refunds["customer_id"].to_numpy() == original["customer_id"]).all()
    assert (delay > np.timedelta64(1, "D")).all()
    assert (delay < np.timedelta64(16, "D")).all()
    assert (-refunds["amount"].to_numpy() <= original["amount"].to_numpy()).all()
    # most refunds are full, some partial
    is_full = np.isclose(-refunds["amount"].to_numpy(), original["amount"].to_numpy())
    assert 0.4 <= is_full.mean() <= 0.8


def test_generate_shop_rejects_a_period_too_short_for_the_waves():
    with pytest.raises(ValueError, match="covers 31 days"):
        generate_shop(n_customers=10, start=date(2024, 1, 1), end=date(2024, 1, 31))
    # 2023 is not a leap year: 364 days are one too few, 365 are enough
    with pytest.raises(ValueError, match="covers 364 days"):
        generate_shop(n_customers=10, start=date(2023, 1, 1), end=date(2023, 12, 30))
    shop = generate_shop(n_customers=10, start=date(2023, 1, 1), end=date(2023, 12, 31))
    assert len(shop.customers) == 10


def test_generate_shop_rejects_a_non_positive_customer_count():
    with pytest.raises(ValueError, match="n_customers is 0"):
        generate_shop(n_customers=0)


def test_generates_the_default_20000_customers_over_three_years_in_under_15_seconds():
    started = time.perf_counter()
    shop = generate_shop()
    elapsed = time.perf_counter() - started

    assert len(shop.customers) == 20_000
    assert shop.transactions["timestamp"].min() >= pd.Timestamp(START, tz="UTC")
    assert shop.transactions["timestamp"].max() < pd.Timestamp("2026-01-01", tz="UTC")
    assert elapsed < 15.0
