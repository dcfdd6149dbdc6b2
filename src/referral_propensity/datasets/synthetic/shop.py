"""Generate the whole synthetic shop: tables and hidden truth in one call."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from referral_propensity.datasets.synthetic.campaigns import (
    build_offers,
    build_truth,
    plan_wave_days,
)
from referral_propensity.datasets.synthetic.common import DAY_S
from referral_propensity.datasets.synthetic.history import (
    plan_send_days,
    simulate_history,
)
from referral_propensity.datasets.synthetic.tables import (
    build_customers,
    build_engagement,
    build_transactions,
)
from referral_propensity.datasets.synthetic.traits import draw_traits

logger = logging.getLogger(__name__)

TABLE_NAMES = (
    "customers",
    "transactions",
    "engagement",
    "offers",
    "truth",
    "offer_truth",
)
_MIN_PERIOD_DAYS = 365


@dataclass(frozen=True)
class SyntheticShop:
    """The tables of a synthetic shop and its hidden ground truth.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer: ``customer_id`` (str, ``"S000123"``), ``signup_date``
        (midnight UTC), ``age`` (int), ``gender``, ``region``, ``income_band``
        (``"low"``, ``"mid"`` or ``"high"``), ``marketing_opt_in`` (bool), and the
        psychographics ``interests`` (one of ``outdoors``, ``fashion``, ``tech``,
        ``home``, ``beauty``, ``gaming``), ``price_sensitivity`` and
        ``social_connectedness`` (floats in ``[0, 1]`` with 2 decimals) and
        ``lifestyle`` (one of ``thrifty``, ``trendsetter``, ``homebody``,
        ``achiever``, ``community``).
    transactions : pandas.DataFrame
        One row per order or refund: ``customer_id``, ``order_id`` (``"O..."`` for
        orders, ``"R..."`` with the same digits for the refund of that order),
        ``timestamp`` (UTC), ``amount`` (paid, 2 decimals, negative for refunds),
        ``quantity`` (int, negative for refunds), ``category`` and ``discount``
        (share of the list price, 0 to 0.5).
    engagement : pandas.DataFrame
        ``customer_id``, ``timestamp`` (UTC) and ``event_type``, one of
        ``email_send``, ``email_open``, ``email_click``, ``site_visit`` and
        ``unsubscribe``.
    offers : pandas.DataFrame
        One row per customer and campaign wave: ``customer_id``, ``sent_at`` (UTC),
        ``offer_type`` (one of OFFER_TYPES), ``group`` (``"treatment"`` or
        ``"control"``) and ``responded_at`` (UTC, NaT without a response).
    truth : pandas.DataFrame
        One row per customer, for tests only: ``customer_id``, ``latent_segment``,
        ``purchase_rate`` (expected orders per 30 days while active),
        ``churn_hazard`` and ``reactivation_hazard`` (per 30 days),
        ``p_respond_<offer_type>`` for each offer type and ``p_respond_none`` (a
        referral without any offer) for an offer sent on the day after the
        period, and ``is_lapsed_at_end``.
    offer_truth : pandas.DataFrame
        For tests only, one row per row of ``offers`` in the same order:
        ``customer_id``, ``sent_at``, ``offer_type``, ``group``, ``p_respond``
        (the chance used to draw that row's response: ``p_respond_none`` for
        control rows, the column of the row's offer type otherwise), and
        ``p_respond_<offer_type>`` for each type and ``p_respond_none`` on the
        day of that wave.
    """

    customers: pd.DataFrame
    transactions: pd.DataFrame
    engagement: pd.DataFrame
    offers: pd.DataFrame
    truth: pd.DataFrame
    offer_truth: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the frames by table name.

        Returns
        -------
        dict of str to pandas.DataFrame
            Keys are TABLE_NAMES: customers, transactions, engagement, offers,
            truth and offer_truth.
        """
        return {name: getattr(self, name) for name in TABLE_NAMES}


def generate_shop(
    *,
    n_customers: int = 20_000,
    start: date = date(2023, 1, 1),
    end: date = date(2025, 12, 31),
    seed: int = 0,
) -> SyntheticShop:
    """Generate a synthetic shop whose customers buy, lapse and come back.

    Parameters
    ----------
    n_customers : int, default=20_000
        Number of customers; each signs up on a day drawn uniformly over the period.
    start : datetime.date, default=2023-01-01
        First day of the period.
    end : datetime.date, default=2025-12-31
        Last day of the period, included; the period covers at least 365 days.
    seed : int, default=0
        Seed of ``numpy.random.default_rng``; equal arguments give equal frames.

    Returns
    -------
    SyntheticShop
        The customers, transactions, engagement and offers tables, and the truth.

    Raises
    ------
    ValueError
        If ``n_customers`` is not a positive integer or the period is too short.

    Notes
    -----
    Every timestamp is in UTC, falls on a day in ``[start, end]`` (so before
    midnight at the end of ``end``) and is never before the customer's signup.

    The simulation runs day by day. A customer is active from signup, when they
    place a first order, and buys at ``purchase_rate`` while active. Each day an
    active customer lapses with the ``churn_hazard``; a lapsed one comes back with
    the ``reactivation_hazard``, which is higher for customers who open more
    e-mails, and a click on an e-mail brings a lapsed customer back with a chance
    of 5 %. A comeback starts with an order.

    E-mails go out weekly (on Tuesdays) to opted-in customers until they
    unsubscribe; opens fade after a lapse. Site visits come before most orders,
    follow clicks, and happen at random, more often while active.

    Seven win-back referral waves go out at 25 %, 35 %, ... 85 % of the period
    (the last one at least 61 days before the end) to the opted-in, subscribed
    customers with at least 30 days of tenure and no order in the 90 days before
    the wave day. Each customer gets one offer type drawn uniformly at random and
    a random 15 % is held out as control. A response is a referral within 60 days
    of ``sent_at``, so every response window closes inside the period.

    The chance of a response grows with e-mail engagement and expected spend,
    falls with the days since the last order, and depends on how well the offer
    fits the customer's own psychographics: a discount suits price-sensitive
    customers (a freebie a little), early access loyal ones (long tenure, an
    achiever or trendsetter lifestyle), a personal message socially connected
    ones. Control customers answer with the much lower chance of a referral
    nobody asked for. The truth gives these chances for an offer sent on the day
    after ``end``, the offer truth for each past offer on its wave day.

    The five latent segments differ clearly in price level, order rate, e-mail
    engagement and psychographics, so clustering inactive customers on their
    purchase and engagement history finds most of them again.

    Examples
    --------
    >>> shop = generate_shop(n_customers=100, seed=3)
    >>> len(shop.customers), len(shop.truth)
    (100, 100)
    """
    _check_arguments(n_customers=n_customers, start=start, end=end, seed=seed)
    start, end = _as_date(start), _as_date(end)

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    n_days = (end - start).days + 1
    origin_ns = pd.Timestamp(start).value

    traits = draw_traits(rng, n_customers=n_customers, n_days=n_days)
    customer_ids = np.array([f"S{i:06d}" for i in range(n_customers)], dtype=object)
    customers = build_customers(rng, traits, customer_ids, origin_ns=origin_ns)

    history = simulate_history(
        rng,
        traits,
        n_days=n_days,
        send_days=plan_send_days(start, n_days),
    )
    transactions, sale_customer, sale_s = build_transactions(
        rng,
        traits,
        history,
        customer_ids,
        n_days=n_days,
        origin_ns=origin_ns,
    )
    engagement = build_engagement(
        rng,
        history,
        customer_ids,
        sale_customer=sale_customer,
        sale_s=sale_s,
        signup_s=traits.signup_day * DAY_S,
        origin_ns=origin_ns,
    )
    offers, offer_truth = build_offers(
        rng,
        traits,
        history,
        customer_ids,
        wave_days=plan_wave_days(n_days),
        origin_ns=origin_ns,
    )
    truth = build_truth(traits, history, customer_ids, n_days=n_days)

    logger.info(
        "Generated a synthetic shop of %d customers from %s to %s: %d transactions, "
        "%d engagement events, %d offers in %.1f s",
        n_customers,
        start,
        end,
        len(transactions),
        len(engagement),
        len(offers),
        time.perf_counter() - started,
    )
    return SyntheticShop(
        customers=customers,
        transactions=transactions,
        engagement=engagement,
        offers=offers,
        truth=truth,
        offer_truth=offer_truth,
    )


def _check_arguments(*, n_customers: int, start: date, end: date, seed: int) -> None:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise ValueError(
            f"n_customers must be an integer, got {type(n_customers).__name__}; "
            "pass a whole number such as 20000"
        )
    if n_customers < 1:
        raise ValueError(f"n_customers is {n_customers}; pass at least 1")
    if n_customers > 999_999:
        raise ValueError(
            f"n_customers is {n_customers}; customer ids have 6 digits, "
            "so pass at most 999,999"
        )
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, date):
            raise ValueError(
                f"{name} must be a datetime.date, got {type(value).__name__}"
            )
    n_days = (_as_date(end) - _as_date(start)).days + 1
    if n_days < _MIN_PERIOD_DAYS:
        raise ValueError(
            f"the period from start {start} to end {end} covers {n_days} days; "
            f"pick an end at least {_MIN_PERIOD_DAYS - 1} days after start so that "
            "the campaign waves and their response windows fit"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {type(seed).__name__}")


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value
