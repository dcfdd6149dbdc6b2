"""Tests for the seeded synthetic shop generator.

Each expectation is computed here with plain pandas from the generated tables, not
with the generator's own helpers, so a bug in the generator cannot hide itself.
"""

import re
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from referral_propensity.datasets.synthetic import (
    OFFER_TYPES,
    SEGMENTS,
    SyntheticShop,
    generate_shop,
    write_shop,
)

START = date(2023, 1, 1)
END = date(2025, 12, 31)
# about nine months before the end of the default period
AS_OF = pd.Timestamp("2025-04-01", tz="UTC")
NINETY_DAYS = pd.Timedelta(days=90)

EXPECTED_COLUMNS = {
    "customers": [
        "customer_id",
        "signup_date",
        "age",
        "gender",
        "region",
        "income_band",
        "marketing_opt_in",
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
}
TIMESTAMP_COLUMNS = {
    "customers": ["signup_date"],
    "transactions": ["timestamp"],
    "engagement": ["timestamp"],
    "offers": ["sent_at", "responded_at"],
}


@pytest.fixture(scope="module")
def shop() -> SyntheticShop:
    return generate_shop(n_customers=2000, start=START, end=END, seed=11)


@pytest.fixture(scope="module")
def sales(shop: SyntheticShop) -> pd.DataFrame:
    transactions = shop.transactions
    return transactions[transactions["amount"] > 0]


def _small_shop(seed: int) -> SyntheticShop:
    return generate_shop(
        n_customers=300,
        start=date(2024, 1, 1),
        end=date(2024, 12, 31),
        seed=seed,
    )


def _rank_auc(score: pd.Series, label: pd.Series) -> float:
    """Area under the ROC curve from the Mann-Whitney rank sum, ties averaged."""
    ranks = score.rank()
    n_pos = int(label.sum())
    n_neg = len(label) - n_pos
    rank_sum = ranks[label].sum()
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _inactive_at_as_of(shop: SyntheticShop, sales: pd.DataFrame) -> pd.DataFrame:
    """Customers who bought before AS_OF but not in the 90 days before it.

    Returns one row per customer with the number of orders before AS_OF, the
    e-mail opens in the 90 days before AS_OF and ``came_back``: a purchase in
    ``[AS_OF, AS_OF + 90 days)``.
    """
    before = sales[sales["timestamp"] < AS_OF]
    per_customer = before.groupby("customer_id").agg(
        last_purchase_ts=("timestamp", "max"),
        n_orders=("order_id", "size"),
    )
    inactive = per_customer[per_customer["last_purchase_ts"] < AS_OF - NINETY_DAYS]

    engagement = shop.engagement
    recent_opens = engagement[
        (engagement["event_type"] == "email_open")
        & (engagement["timestamp"] >= AS_OF - NINETY_DAYS)
        & (engagement["timestamp"] < AS_OF)
    ]
    n_opens = recent_opens.groupby("customer_id").size()
    inactive = inactive.assign(
        n_email_opens_90d=n_opens.reindex(inactive.index, fill_value=0),
    )

    after = sales[
        (sales["timestamp"] >= AS_OF) & (sales["timestamp"] < AS_OF + NINETY_DAYS)
    ]
    came_back = inactive.index.isin(after["customer_id"].unique())
    return inactive.assign(came_back=came_back)


def test_same_seed_gives_identical_frames():
    first, second = _small_shop(seed=3), _small_shop(seed=3)

    for name, frame in first.tables().items():
        pd.testing.assert_frame_equal(frame, second.tables()[name], obj=name)


def test_another_seed_gives_different_frames():
    first, other = _small_shop(seed=3), _small_shop(seed=4)

    for name in ("customers", "transactions", "engagement", "offers", "truth"):
        assert not first.tables()[name].equals(other.tables()[name]), name


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
    assert pd.api.types.is_float_dtype(transactions["amount"])
    assert pd.api.types.is_integer_dtype(transactions["quantity"])
    assert pd.api.types.is_float_dtype(transactions["discount"])
    for frame in shop.tables().values():
        assert pd.api.types.is_string_dtype(frame["customer_id"])

    truth_columns = [f"p_respond_{offer}" for offer in OFFER_TYPES]
    expected_truth = [
        "customer_id",
        "latent_segment",
        "purchase_rate",
        "churn_hazard",
        *truth_columns,
        "p_respond_none",
    ]
    assert set(expected_truth) <= set(shop.truth.columns)


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
    # a few percent opted out of marketing
    opted_out = 1 - customers["marketing_opt_in"].mean()
    assert 0.01 <= opted_out <= 0.10

    assert transactions["discount"].between(0.0, 0.5).all()
    cents = transactions["amount"] * 100
    np.testing.assert_allclose(cents, cents.round(), atol=1e-6)
    assert (transactions["amount"] != 0).all()

    assert set(shop.engagement["event_type"]) == {
        "email_send",
        "email_open",
        "email_click",
        "site_visit",
        "unsubscribe",
    }
    assert set(shop.offers["offer_type"]) == set(OFFER_TYPES)
    assert set(shop.offers["group"]) == {"treatment", "control"}

    truth = shop.truth
    assert truth["customer_id"].tolist() == customers["customer_id"].tolist()
    assert set(truth["latent_segment"]) <= set(SEGMENTS)
    probabilities = truth.filter(like="p_respond_")
    assert probabilities.shape[1] == len(OFFER_TYPES) + 1
    assert ((probabilities > 0) & (probabilities < 1)).all().all()


def test_signup_dates_are_spread_over_the_period(shop):
    quarter = shop.customers["signup_date"].dt.tz_localize(None).dt.to_period("Q")
    share = quarter.value_counts(normalize=True)

    # twelve quarters, so about 8.3 % each for a uniform spread
    assert len(share) == 12
    assert share.between(0.05, 0.12).all()


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


def test_latent_segments_differ_in_observed_behaviour(shop, sales):
    segment = shop.truth.set_index("customer_id")["latent_segment"]
    assert segment.value_counts(normalize=True).min() >= 0.05

    with_segment = sales.assign(segment=sales["customer_id"].map(segment))
    n_orders = with_segment.groupby("customer_id").size()
    mean_orders = n_orders.groupby(segment).mean()
    mean_amount = with_segment.groupby("segment")["amount"].mean()
    discount_share = with_segment.groupby("segment")["discount"].apply(
        lambda discount: (discount > 0).mean()
    )

    assert mean_orders["loyal_high_spender"] > 3 * mean_orders["one_time_buyer"]
    assert mean_amount["loyal_high_spender"] > 2 * mean_amount["bargain_hunter"]
    assert discount_share["bargain_hunter"] > 2 * discount_share["occasional_buyer"]


def test_share_inactive_for_90_days_and_their_comeback_rate_are_sane(shop, sales):
    n_buyers = sales.loc[sales["timestamp"] < AS_OF, "customer_id"].nunique()
    inactive = _inactive_at_as_of(shop, sales)

    inactive_share = len(inactive) / n_buyers
    comeback_rate = inactive["came_back"].mean()

    assert 0.40 <= inactive_share <= 0.70
    assert 0.05 <= comeback_rate <= 0.20


def test_comeback_is_predictable_from_history_but_not_perfectly(shop, sales):
    inactive = _inactive_at_as_of(shop, sales)
    came_back = inactive["came_back"]

    recency_days = (AS_OF - inactive["last_purchase_ts"]).dt.days
    for score in (-recency_days, inactive["n_orders"], inactive["n_email_opens_90d"]):
        auc = _rank_auc(score, came_back)
        assert 0.55 <= auc <= 0.90, score.name


def test_treated_response_rate_is_2_to_10_percent_and_control_lower(shop):
    offers = shop.offers
    responded = offers["responded_at"].notna()
    is_treated = offers["group"] == "treatment"

    treated_rate = responded[is_treated].mean()
    control_rate = responded[~is_treated].mean()

    assert 0.02 <= treated_rate <= 0.10
    assert control_rate < treated_rate / 2


def test_three_waves_each_hold_out_10_to_20_percent_as_control(shop):
    offers = shop.offers
    wave = offers["sent_at"].dt.date

    control_share = (offers["group"] == "control").groupby(wave).mean()

    assert len(control_share) == 3
    assert control_share.between(0.10, 0.20).all()
    # a customer gets at most one offer per wave
    assert not offers.assign(wave=wave).duplicated(["customer_id", "wave"]).any()


def test_responses_come_within_60_days_of_sent_at(shop):
    offers = shop.offers.dropna(subset=["responded_at"])
    delay = offers["responded_at"] - offers["sent_at"]

    assert len(offers) > 0
    assert (delay >= pd.Timedelta(0)).all()
    assert (delay < pd.Timedelta(days=60)).all()


def test_offers_go_only_to_opted_in_customers_still_subscribed(shop):
    opted_in = shop.customers.set_index("customer_id")["marketing_opt_in"]
    engagement = shop.engagement
    unsubscribed_at = (
        engagement[engagement["event_type"] == "unsubscribe"]
        .groupby("customer_id")["timestamp"]
        .min()
    )
    offers = shop.offers

    assert offers["customer_id"].map(opted_in).all()
    offer_unsubscribed_at = offers["customer_id"].map(unsubscribed_at)
    assert not (offer_unsubscribed_at < offers["sent_at"]).any()


def test_no_email_sends_after_unsubscribe(shop):
    engagement = shop.engagement
    unsubscribed_at = (
        engagement[engagement["event_type"] == "unsubscribe"]
        .groupby("customer_id")["timestamp"]
        .min()
    )
    sends = engagement[engagement["event_type"] == "email_send"]
    opted_out = shop.customers.loc[~shop.customers["marketing_opt_in"], "customer_id"]

    assert len(unsubscribed_at) > 0
    send_unsubscribed_at = sends["customer_id"].map(unsubscribed_at)
    assert not (sends["timestamp"] > send_unsubscribed_at).any()
    assert not sends["customer_id"].isin(opted_out).any()


def test_email_opens_decline_after_a_lapse(shop, sales):
    engagement = shop.engagement
    sends = engagement[engagement["event_type"] == "email_send"]
    opens = engagement[engagement["event_type"] == "email_open"]
    # sends are weekly, so an open on the day of a send belongs to that send
    opened = pd.MultiIndex.from_arrays(
        [opens["customer_id"], opens["timestamp"].dt.normalize()]
    )
    send_key = pd.MultiIndex.from_arrays(
        [sends["customer_id"], sends["timestamp"].dt.normalize()]
    )
    sends = sends.assign(is_opened=send_key.isin(opened))

    purchases = sales[["customer_id", "timestamp"]].rename(
        columns={"timestamp": "last_purchase_ts"}
    )
    with_last_purchase = pd.merge_asof(
        sends.sort_values("timestamp"),
        purchases.sort_values("last_purchase_ts"),
        left_on="timestamp",
        right_on="last_purchase_ts",
        by="customer_id",
        direction="backward",
    )
    days_since = (
        with_last_purchase["timestamp"] - with_last_purchase["last_purchase_ts"]
    ).dt.days
    state = np.select([days_since < 30, days_since >= 180], ["recent", "lapsed"], "")
    with_state = with_last_purchase.assign(state=state)
    # compare each customer with themselves: fewer opens from customers with low
    # open rates would otherwise pass for a decline
    open_rate = (
        with_state[with_state["state"] != ""]
        .groupby(["customer_id", "state"])["is_opened"]
        .mean()
        .unstack()
        .dropna()
    )

    assert len(open_rate) >= 200
    assert open_rate["lapsed"].mean() < 0.7 * open_rate["recent"].mean()


def test_site_visits_cluster_before_purchases(shop, sales):
    visits = shop.engagement[shop.engagement["event_type"] == "site_visit"]
    signup = shop.customers.set_index("customer_id")["signup_date"]
    # the same customers 45 days earlier, when they were not necessarily buying
    shifted = sales.assign(timestamp=sales["timestamp"] - pd.Timedelta(days=45))
    shifted = shifted[
        shifted["timestamp"] > shifted["customer_id"].map(signup) + pd.Timedelta(days=1)
    ]

    def share_with_visit_in_day_before(points: pd.DataFrame) -> float:
        last_visit = pd.merge_asof(
            points[["customer_id", "timestamp"]].sort_values("timestamp"),
            visits.rename(columns={"timestamp": "visit_ts"}).sort_values("visit_ts"),
            left_on="timestamp",
            right_on="visit_ts",
            by="customer_id",
            direction="backward",
        )
        gap = last_visit["timestamp"] - last_visit["visit_ts"]
        return (gap <= pd.Timedelta(days=1)).mean()

    before_orders = share_with_visit_in_day_before(sales)
    before_other_times = share_with_visit_in_day_before(shifted)

    assert before_orders > 0.8
    assert before_other_times < before_orders / 2


def test_truth_favours_the_offer_that_fits_each_segment(shop):
    truth = shop.truth
    offer_columns = [f"p_respond_{offer}" for offer in OFFER_TYPES]
    mean_p = truth.groupby("latent_segment")[offer_columns].mean()
    best = mean_p.idxmax(axis=1)

    assert best["bargain_hunter"] == "p_respond_discount"
    assert best["loyal_high_spender"] == "p_respond_early_access"
    assert best["socially_engaged"] == "p_respond_personal_message"
    # without an offer a referral is less likely than with any offer
    assert (truth["p_respond_none"] < truth[offer_columns].min(axis=1)).all()


def test_observed_responses_favour_the_offer_that_fits(shop):
    fitting_offer = {
        "bargain_hunter": "discount",
        "loyal_high_spender": "early_access",
        "socially_engaged": "personal_message",
    }
    segment = shop.truth.set_index("customer_id")["latent_segment"]
    treated = shop.offers[shop.offers["group"] == "treatment"]
    treated = treated.assign(segment=treated["customer_id"].map(segment))
    treated = treated[treated["segment"].isin(fitting_offer)]

    fits = treated["offer_type"] == treated["segment"].map(fitting_offer)
    responded = treated["responded_at"].notna()

    assert responded[fits].mean() > 1.5 * responded[~fits].mean()


def test_write_shop_round_trip_reads_back_equal_frames(shop, tmp_path):
    folder = tmp_path / "shop"

    paths = write_shop(shop, folder)

    assert set(paths) == {"customers", "transactions", "engagement", "offers", "truth"}
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{name}.parquet" for name in paths
    )
    for name, path in paths.items():
        assert path == folder / f"{name}.parquet"
        pd.testing.assert_frame_equal(
            pd.read_parquet(path), shop.tables()[name], obj=name
        )


def test_write_shop_leaves_no_temporary_file_when_a_write_fails(
    shop, tmp_path, monkeypatch
):
    (tmp_path / "engagement.parquet").write_bytes(b"previous")
    original_to_parquet = pd.DataFrame.to_parquet

    def fail_on_engagement(frame, path, *args, **kwargs):
        if list(frame.columns) == EXPECTED_COLUMNS["engagement"]:
            Path(path).write_bytes(b"half")
            raise OSError("disk full")
        return original_to_parquet(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail_on_engagement)

    with pytest.raises(OSError, match="disk full"):
        write_shop(shop, tmp_path)

    # customers and transactions came first and are complete; engagement is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "customers.parquet",
        "engagement.parquet",
        "transactions.parquet",
    ]
    assert (tmp_path / "engagement.parquet").read_bytes() == b"previous"


def test_generate_shop_rejects_a_period_too_short_for_the_waves():
    with pytest.raises(ValueError, match="covers 31 days"):
        generate_shop(n_customers=10, start=date(2024, 1, 1), end=date(2024, 1, 31))


def test_generate_shop_rejects_a_non_positive_customer_count():
    with pytest.raises(ValueError, match="n_customers is 0"):
        generate_shop(n_customers=0)


def test_generates_5000_customers_over_three_years_in_under_10_seconds():
    started = time.perf_counter()
    shop = generate_shop(n_customers=5000, seed=1)
    elapsed = time.perf_counter() - started

    assert len(shop.customers) == 5000
    assert elapsed < 10.0
