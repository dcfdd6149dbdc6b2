"""Tests of the synthetic shop's win-back referral campaigns and their truth.

Who should get an offer, lapse lengths and response rates are worked out here
with plain pandas from the customers, transactions and engagement tables, not with
the generator's helpers.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from referral_propensity.datasets.synthetic import (
    OFFER_TYPES,
    RESPONSE_WINDOW_DAYS,
    SyntheticShop,
    generate_shop,
)

START = pd.Timestamp("2023-01-01", tz="UTC")
AFTER_END = pd.Timestamp("2026-01-01", tz="UTC")  # midnight after the last day
WAVE_SHARES = (0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85)
P_COLUMNS = [f"p_respond_{offer}" for offer in OFFER_TYPES]


def _wave_days(offers: pd.DataFrame) -> pd.Series:
    """Midnight of the day each offer was sent."""
    return offers["sent_at"].dt.normalize()


def _treated(shop: SyntheticShop) -> pd.DataFrame:
    """Treatment rows with the customer's psychographics and a response flag."""
    customers = shop.customers.set_index("customer_id")
    offers = shop.offers
    treated = offers[offers["group"] == "treatment"]
    return treated.join(
        customers[["price_sensitivity", "social_connectedness"]], on="customer_id"
    ).assign(responded=treated["responded_at"].notna())


def _eligible_on(shop: SyntheticShop, wave_day: pd.Timestamp) -> set[str]:
    """Customers a win-back wave on ``wave_day`` (midnight UTC) should reach.

    Opted in, not unsubscribed before the day, signed up at least 30 days before
    it, and no order in the 90 days before it.
    """
    customers = shop.customers
    sales = shop.transactions[shop.transactions["amount"] > 0]
    engagement = shop.engagement

    recent = sales[
        (sales["timestamp"] >= wave_day - pd.Timedelta(days=90))
        & (sales["timestamp"] < wave_day)
    ]
    unsubscribed_at = (
        engagement[engagement["event_type"] == "unsubscribe"]
        .groupby("customer_id")["timestamp"]
        .min()
    )
    unsubscribed_before = customers["customer_id"].map(unsubscribed_at) < wave_day

    eligible = customers[
        customers["marketing_opt_in"]
        & ~unsubscribed_before
        & (customers["signup_date"] <= wave_day - pd.Timedelta(days=30))
        & ~customers["customer_id"].isin(recent["customer_id"])
    ]
    return set(eligible["customer_id"])


def _days_since_last_order(shop: SyntheticShop, offers: pd.DataFrame) -> pd.Series:
    """Whole days from each offer's wave day back to the customer's last order."""
    sales = shop.transactions[shop.transactions["amount"] > 0]
    points = offers[["customer_id"]].assign(wave_day=_wave_days(offers))
    last_order = pd.merge_asof(
        points.reset_index().sort_values("wave_day"),
        sales[["customer_id", "timestamp"]].sort_values("timestamp"),
        left_on="wave_day",
        right_on="timestamp",
        by="customer_id",
        direction="backward",
        allow_exact_matches=False,
    ).set_index("index")
    days = last_order["wave_day"] - last_order["timestamp"].dt.normalize()
    return days.dt.days.reindex(offers.index)


def test_seven_waves_each_on_one_day_holding_out_10_to_20_percent(shop):
    offers = shop.offers
    wave_day = _wave_days(offers)

    control_share = (offers["group"] == "control").groupby(wave_day).mean()

    assert len(control_share) == 7
    assert control_share.between(0.10, 0.20).all()
    # a customer gets at most one offer per wave
    assert (
        not offers.assign(wave_day=wave_day)
        .duplicated(["customer_id", "wave_day"])
        .any()
    )


def test_waves_fall_at_25_to_85_percent_and_every_response_window_closes_in_time(shop):
    n_days = (AFTER_END - START).days
    wave_days = np.sort(_wave_days(shop.offers).unique())

    expected = [START + pd.Timedelta(days=share * n_days) for share in WAVE_SHARES]
    gaps = [abs(found - want) for found, want in zip(wave_days, expected, strict=True)]
    window = pd.Timedelta(days=RESPONSE_WINDOW_DAYS)

    assert max(gaps) <= pd.Timedelta(days=1)
    assert shop.offers["sent_at"].max() + window < AFTER_END


def test_each_wave_reaches_exactly_the_inactive_opted_in_subscribed_customers(shop):
    offers = shop.offers

    for wave_day, wave in offers.groupby(_wave_days(offers)):
        assert set(wave["customer_id"]) == _eligible_on(shop, wave_day), wave_day


def test_offer_types_are_drawn_about_uniformly_in_each_wave(shop):
    offers = shop.offers

    share = pd.crosstab(_wave_days(offers), offers["offer_type"], normalize="index")

    # about 1,300 offers a wave: a share of 25 % has a standard error near 1.2 %
    assert list(share.columns) == sorted(OFFER_TYPES)
    assert share.stack().between(0.20, 0.30).all()


def test_responses_come_within_60_days_of_sent_at(shop):
    offers = shop.offers.dropna(subset=["responded_at"])
    delay = offers["responded_at"] - offers["sent_at"]

    assert len(offers) > 0
    assert (delay >= pd.Timedelta(0)).all()
    assert (delay < pd.Timedelta(days=RESPONSE_WINDOW_DAYS)).all()


def test_treated_respond_at_2_to_10_percent_and_control_clearly_less(default_shop):
    offers = default_shop.offers
    responded = offers["responded_at"].notna()
    is_treated = offers["group"] == "treatment"

    treated_rate = responded[is_treated].mean()
    control_rate = responded[~is_treated].mean()

    assert 0.02 <= treated_rate <= 0.10
    assert control_rate < treated_rate / 3
    for _, wave in offers[is_treated].groupby(_wave_days(offers[is_treated])):
        assert 0.02 <= wave["responded_at"].notna().mean() <= 0.10


@pytest.mark.parametrize("seed", [0, 7])
def test_oracle_auc_on_the_last_wave_is_between_0_70_and_0_90(seed):
    # 10,000 customers put about 140 responses into the last wave, so the AUC
    # has a standard error near 0.02
    shop = generate_shop(n_customers=10_000, seed=seed)
    offers, offer_truth = shop.offers, shop.offer_truth
    wave_day = _wave_days(offers)
    in_last_wave = (wave_day == wave_day.max()) & (offers["group"] == "treatment")

    auc = roc_auc_score(
        offers.loc[in_last_wave, "responded_at"].notna(),
        offer_truth.loc[in_last_wave, "p_respond"],
    )

    assert in_last_wave.sum() > 1000
    assert 0.70 <= auc <= 0.90


def test_offer_truth_lines_up_with_offers_row_for_row(shop):
    keys = ["customer_id", "sent_at", "offer_type", "group"]

    pd.testing.assert_frame_equal(shop.offer_truth[keys], shop.offers[keys])
    pd.testing.assert_index_equal(shop.offer_truth.index, shop.offers.index)


def test_offer_truth_p_respond_is_the_chance_of_the_row_offer_or_none_for_control(shop):
    offer_truth = shop.offer_truth
    is_control = offer_truth["group"] == "control"
    column = ("p_respond_" + offer_truth["offer_type"]).where(
        ~is_control, "p_respond_none"
    )
    chances = offer_truth[[*P_COLUMNS, "p_respond_none"]]

    position = chances.columns.get_indexer(column)
    chosen = chances.to_numpy()[np.arange(len(chances)), position]

    assert (position >= 0).all()
    # the very same number, so only rounding noise of the comparison is allowed
    np.testing.assert_allclose(offer_truth["p_respond"], chosen, rtol=1e-12, atol=0)
    # no offer is always less likely to bring a referral than any offer
    assert (offer_truth["p_respond_none"] < offer_truth[P_COLUMNS].min(axis=1)).all()


def test_responses_follow_the_offer_truth_chances(default_shop):
    offers, offer_truth = default_shop.offers, default_shop.offer_truth
    responded = offers["responded_at"].notna()

    for group in ("treatment", "control"):
        rows = offers["group"] == group
        p = offer_truth.loc[rows, "p_respond"]
        # a sum of independent draws: mean sum(p), variance sum(p * (1 - p))
        expected, sd = p.sum(), np.sqrt((p * (1 - p)).sum())
        assert abs(responded[rows].sum() - expected) < 4 * sd, group


def test_responses_fall_with_the_length_of_the_lapse(default_shop):
    treated = _treated(default_shop)
    lapse_days = _days_since_last_order(default_shop, treated)

    recent_rate = treated.loc[lapse_days <= 180, "responded"].mean()
    long_rate = treated.loc[lapse_days > 365, "responded"].mean()

    assert lapse_days.min() > 90
    assert recent_rate > 1.5 * long_rate


def test_responses_rise_with_email_engagement(default_shop):
    treated = _treated(default_shop)
    opens = default_shop.engagement[
        default_shop.engagement["event_type"] == "email_open"
    ]
    n_opens = opens.groupby("customer_id").size()
    n_opens = treated["customer_id"].map(n_opens).fillna(0)

    top = treated.loc[n_opens >= n_opens.quantile(0.75), "responded"].mean()
    bottom = treated.loc[n_opens <= n_opens.quantile(0.25), "responded"].mean()

    assert top > 2 * bottom


def test_truth_favours_the_offer_that_fits_each_segment(shop):
    truth = shop.truth
    mean_p = truth.groupby("latent_segment")[P_COLUMNS].mean()
    best = mean_p.idxmax(axis=1)

    assert best["bargain_hunter"] == "p_respond_discount"
    assert best["loyal_high_spender"] == "p_respond_early_access"
    assert best["socially_engaged"] == "p_respond_personal_message"
    # without an offer a referral is less likely than with any offer
    assert (truth["p_respond_none"] < truth[P_COLUMNS].min(axis=1)).all()


def test_truth_favours_discount_for_price_sensitive_and_message_for_connected(shop):
    truth = shop.truth.join(
        shop.customers.set_index("customer_id")[
            ["price_sensitivity", "social_connectedness"]
        ],
        on="customer_id",
    )
    price_sensitive = truth[truth["price_sensitivity"] >= 0.65]
    connected = truth[truth["social_connectedness"] >= 0.65]

    # log-odds lift of an offer over no offer, per customer
    def lift(frame: pd.DataFrame, offer: str) -> pd.Series:
        def logit(p: pd.Series) -> pd.Series:
            return np.log(p / (1 - p))

        return logit(frame[f"p_respond_{offer}"]) - logit(frame["p_respond_none"])

    assert price_sensitive[P_COLUMNS].mean().idxmax() == "p_respond_discount"
    assert connected[P_COLUMNS].mean().idxmax() == "p_respond_personal_message"
    # the discount's pull grows with the customer's own price sensitivity, and
    # the personal message's with their social connectedness
    assert lift(truth, "discount").corr(truth["price_sensitivity"]) > 0.9
    assert lift(truth, "personal_message").corr(truth["social_connectedness"]) > 0.9
    assert abs(lift(truth, "discount").corr(truth["social_connectedness"])) < 0.3


def test_truth_favours_early_access_for_long_standing_achievers(shop):
    customers = shop.customers.set_index("customer_id")
    truth = shop.truth.join(customers[["signup_date", "lifestyle"]], on="customer_id")
    tenure_days = (AFTER_END - truth["signup_date"]).dt.days

    # log-odds lift of early access over no offer
    p, p_none = truth["p_respond_early_access"], truth["p_respond_none"]
    lift = np.log(p / (1 - p)) - np.log(p_none / (1 - p_none))
    by_lifestyle = lift.groupby(truth["lifestyle"]).mean()

    assert by_lifestyle.idxmax() == "achiever"
    assert by_lifestyle.idxmin() == "thrifty"
    assert lift.corr(tenure_days) > 0.4


def test_observed_responses_favour_the_offer_that_fits_the_customer(default_shop):
    treated = _treated(default_shop)
    price_sensitive = treated[treated["price_sensitivity"] >= 0.65]
    connected = treated[treated["social_connectedness"] >= 0.65]

    thrifty_rate = price_sensitive.groupby("offer_type")["responded"].mean()
    social_rate = connected.groupby("offer_type")["responded"].mean()

    # 20,000 customers give about 1,200 such rows per offer type in each group
    assert thrifty_rate.idxmax() == "discount"
    assert thrifty_rate["discount"] > 1.5 * thrifty_rate["personal_message"]
    assert thrifty_rate["freebie"] > thrifty_rate["personal_message"]
    assert social_rate.idxmax() == "personal_message"
    assert social_rate["personal_message"] > 1.5 * social_rate["discount"]


def test_truth_is_taken_the_day_after_the_end_with_the_lapse_grown(shop):
    offers, offer_truth = shop.offers, shop.offer_truth
    wave_day = _wave_days(offers)
    in_last_wave = wave_day == wave_day.max()
    sales = shop.transactions[shop.transactions["amount"] > 0]
    bought_since = sales.loc[sales["timestamp"] >= wave_day.max(), "customer_id"]

    # customers of the last wave who have not bought since: the only thing that
    # changes the chance of a referral without an offer is the longer lapse
    still_lapsed = in_last_wave & ~offers["customer_id"].isin(bought_since)
    at_wave = offer_truth.loc[still_lapsed].set_index("customer_id")["p_respond_none"]
    at_end = shop.truth.set_index("customer_id").loc[at_wave.index, "p_respond_none"]

    assert len(at_wave) > 500
    assert (at_end < at_wave).all()
