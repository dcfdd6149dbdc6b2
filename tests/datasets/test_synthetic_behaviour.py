"""Tests of how the synthetic shop's customers behave: buying, lapsing, e-mails.

Expectations are computed here with plain pandas from the generated tables. The
last test runs the project's own feature and segment steps to check that the
latent segments can be found from observed behaviour alone.
"""

from datetime import date

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from referral_propensity.datasets.synthetic import SyntheticShop, generate_shop
from referral_propensity.engine import connect
from referral_propensity.features import build_features
from referral_propensity.inactivity import mark_inactive
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables
from referral_propensity.segments import Segmenter

# about nine months before the end of the default period
AS_OF = pd.Timestamp("2025-04-01", tz="UTC")
NINETY_DAYS = pd.Timedelta(days=90)


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
    opens = shop.engagement[shop.engagement["event_type"] == "email_open"]
    n_opens = opens.groupby("customer_id").size().reindex(segment.index, fill_value=0)
    mean_opens = n_opens.groupby(segment).mean()

    assert mean_orders["loyal_high_spender"] > 3 * mean_orders["one_time_buyer"]
    assert mean_orders["bargain_hunter"] > 2 * mean_orders["occasional_buyer"]
    # most one-time buyers never place a second order
    assert (n_orders[segment == "one_time_buyer"] == 1).mean() > 0.8
    assert mean_amount["loyal_high_spender"] > 1.5 * mean_amount["occasional_buyer"]
    assert mean_amount["occasional_buyer"] > 2 * mean_amount["bargain_hunter"]
    assert discount_share["bargain_hunter"] > 2 * discount_share["occasional_buyer"]
    assert mean_opens.idxmax() == "socially_engaged"
    assert mean_opens.idxmin() == "one_time_buyer"


def test_share_inactive_for_90_days_and_their_comeback_rate_are_sane(shop, sales):
    n_buyers = sales.loc[sales["timestamp"] < AS_OF, "customer_id"].nunique()
    inactive = _inactive_at_as_of(shop, sales)

    inactive_share = len(inactive) / n_buyers
    comeback_rate = inactive["came_back"].mean()

    assert 0.40 <= inactive_share <= 0.70
    # occasional buyers order about every 100 days, so many of them come back
    assert 0.05 <= comeback_rate <= 0.30


def test_comeback_is_predictable_from_history_but_not_perfectly(shop, sales):
    inactive = _inactive_at_as_of(shop, sales)
    came_back = inactive["came_back"]

    recency_days = (AS_OF - inactive["last_purchase_ts"]).dt.days
    for score in (-recency_days, inactive["n_orders"], inactive["n_email_opens_90d"]):
        auc = roc_auc_score(came_back, score)
        assert 0.55 <= auc <= 0.90, score.name


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
    # a lapse keeps 60 % of the opens, and some "lapsed" here are occasional
    # buyers between two orders, whose opens do not fade at all
    assert open_rate["lapsed"].mean() < 0.8 * open_rate["recent"].mean()


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


def test_project_segmenter_finds_the_latent_segments_of_inactive_customers():
    # the settings of the default job: 90 days without a purchase is inactive
    shop = generate_shop(n_customers=10_000, seed=7)
    sources = {
        name: TableSource(name=name, frame=getattr(shop, name))
        for name in ("transactions", "customers", "engagement")
    }
    tables = load_tables(connect(), sources)
    features = build_features(
        tables,
        as_of=date(2026, 1, 1),
        windows_days=[30, 90, 180, 365],
    ).frame
    marked = mark_inactive(
        features,
        no_purchase_days=90,
        no_engagement_days=None,
        lapse_stage_edges_days=[180, 365],
    )
    inactive = marked[marked["is_inactive"]]

    segmenter = Segmenter(k_min=3, k_max=7, random_state=7, recently_lapsed_days=180)
    found = segmenter.fit(inactive).predict(inactive)
    latent = inactive["customer_id"].map(
        shop.truth.set_index("customer_id")["latent_segment"]
    )

    # every latent segment is among the inactive customers
    assert latent.value_counts(normalize=True).min() >= 0.03
    assert adjusted_rand_score(latent, found) >= 0.5
