"""Turn simulated traits and history into the customers, transactions and engagement tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from referral_propensity.datasets.synthetic.common import (
    DAY_S,
    HOUR_S,
    choose_per_row,
    to_utc,
)
from referral_propensity.datasets.synthetic.history import (
    EVENT_TYPES,
    VISIT,
    History,
)
from referral_propensity.datasets.synthetic.traits import (
    INTERESTS,
    LIFESTYLES,
    PRICE_SIGMA,
    Traits,
)

# Demographics, rows in the order of SEGMENTS where they depend on the segment.
_AGE_MEAN = np.array([46.0, 35.0, 38.0, 42.0, 31.0])
_INCOME_BANDS = ("low", "mid", "high")
_INCOME_SHARE = np.array(
    [
        [0.15, 0.45, 0.40],
        [0.50, 0.40, 0.10],
        [0.35, 0.45, 0.20],
        [0.30, 0.50, 0.20],
        [0.25, 0.50, 0.25],
    ]
)
_GENDERS = ("female", "male", "other")
_GENDER_SHARE = np.array([0.52, 0.45, 0.03])
_REGIONS = ("north", "south", "east", "west", "central")
_REGION_SHARE = np.array([0.18, 0.24, 0.20, 0.22, 0.16])

_CATEGORIES = ("apparel", "beauty", "electronics", "home", "grocery", "toys")
_CATEGORY_SHARE = np.array(
    [
        [0.20, 0.15, 0.25, 0.25, 0.10, 0.05],
        [0.25, 0.15, 0.10, 0.15, 0.25, 0.10],
        [0.20, 0.15, 0.25, 0.20, 0.05, 0.15],
        [0.20, 0.20, 0.15, 0.20, 0.15, 0.10],
        [0.30, 0.25, 0.15, 0.10, 0.05, 0.15],
    ]
)
_DISCOUNT_LEVELS = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50])
_REFUND_MIN_DAYS, _REFUND_MAX_DAYS = 2.0, 15.0


def build_customers(
    rng: np.random.Generator,
    traits: Traits,
    customer_ids: np.ndarray,
    *,
    origin_ns: int,
) -> pd.DataFrame:
    """Build the customers table: signup, demographics, opt-in and psychographics.

    Parameters
    ----------
    rng : numpy.random.Generator
    traits : Traits
    customer_ids : numpy.ndarray
        One id per customer, in the order of ``traits``.
    origin_ns : int
        Midnight UTC of the first day, in nanoseconds since the epoch.

    Returns
    -------
    pandas.DataFrame
        customer_id, signup_date, age, gender, region, income_band,
        marketing_opt_in, interests, price_sensitivity, social_connectedness and
        lifestyle (see ``SyntheticShop``).
    """
    n_customers = len(customer_ids)
    segment = traits.segment

    age = np.clip(np.rint(rng.normal(_AGE_MEAN[segment], 12.0)), 18, 85)
    gender = rng.choice(len(_GENDERS), size=n_customers, p=_GENDER_SHARE)
    region = rng.choice(len(_REGIONS), size=n_customers, p=_REGION_SHARE)
    income = choose_per_row(rng, _INCOME_SHARE[segment])

    return pd.DataFrame(
        {
            "customer_id": customer_ids,
            "signup_date": to_utc(origin_ns, traits.signup_day * DAY_S),
            "age": age.astype(np.int64),
            "gender": np.array(_GENDERS, dtype=object)[gender],
            "region": np.array(_REGIONS, dtype=object)[region],
            "income_band": np.array(_INCOME_BANDS, dtype=object)[income],
            "marketing_opt_in": traits.opt_in,
            "interests": np.array(INTERESTS, dtype=object)[traits.interest],
            "price_sensitivity": traits.price_sensitivity,
            "social_connectedness": traits.social_connectedness,
            "lifestyle": np.array(LIFESTYLES, dtype=object)[traits.lifestyle],
        }
    )


def build_transactions(
    rng: np.random.Generator,
    traits: Traits,
    history: History,
    customer_ids: np.ndarray,
    *,
    n_days: int,
    origin_ns: int,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Build the transactions table from the simulated orders.

    Parameters
    ----------
    rng : numpy.random.Generator
    traits : Traits
    history : History
    customer_ids : numpy.ndarray
    n_days : int
        Length of the period; refunds that would fall after it are left out.
    origin_ns : int
        Midnight UTC of the first day, in nanoseconds since the epoch.

    Returns
    -------
    transactions : pandas.DataFrame
        customer_id, order_id, timestamp, amount, quantity, category, discount,
        sorted by timestamp and order_id.
    sale_customer, sale_s : numpy.ndarray
        Per order (refunds excluded), its customer index and seconds since start.
    """
    customer = history.order_customer
    segment = traits.segment[customer]
    n_orders = customer.size

    # order times cluster in the evening; seconds wrap around within the same day
    hour = np.mod(rng.normal(19.0, 4.0, size=n_orders), 24.0)
    order_s = history.order_day * DAY_S + np.floor(hour * HOUR_S).astype(np.int64)
    order = np.lexsort((customer, order_s))
    customer, segment, order_s = customer[order], segment[order], order_s[order]

    list_price = rng.lognormal(np.log(traits.price_level[customer]), PRICE_SIGMA)
    uses_discount = rng.random(n_orders) < traits.discount_use[customer]
    discount = np.where(uses_discount, rng.choice(_DISCOUNT_LEVELS, size=n_orders), 0.0)
    amount = np.maximum(np.round(list_price * (1.0 - discount), 2), 1.0)
    quantity = 1 + rng.poisson(traits.extra_quantity[customer])
    category = choose_per_row(rng, _CATEGORY_SHARE[segment])
    number = np.arange(n_orders)

    # a few orders are refunded a few days later, in full or in part
    refunded = rng.random(n_orders) < traits.refund_rate[customer]
    is_full = rng.random(n_orders) < 0.6
    share = np.where(is_full, 1.0, np.round(rng.uniform(0.2, 0.8, size=n_orders), 2))
    refund_delay = rng.uniform(_REFUND_MIN_DAYS, _REFUND_MAX_DAYS, size=n_orders)
    refund_s = order_s + np.floor(refund_delay * DAY_S).astype(np.int64)
    refunded &= refund_s < n_days * DAY_S
    refund_amount = -np.maximum(np.round(amount * share, 2), 0.01)
    refund_quantity = -np.clip(np.rint(quantity * share), 1, quantity)

    def rows(
        mask: np.ndarray,
        prefix: str,
        seconds: np.ndarray,
        signed_amount: np.ndarray,
        signed_quantity: np.ndarray,
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": customer_ids[customer[mask]],
                "order_id": [f"{prefix}{i:08d}" for i in number[mask]],
                "seconds": seconds[mask],
                "amount": signed_amount[mask],
                "quantity": signed_quantity[mask].astype(np.int64),
                "category": np.array(_CATEGORIES, dtype=object)[category[mask]],
                "discount": discount[mask],
            }
        )

    everything = np.ones(n_orders, dtype=bool)
    sales = rows(everything, "O", order_s, amount, quantity)
    refunds = rows(refunded, "R", refund_s, refund_amount, refund_quantity)
    transactions = pd.concat([sales, refunds], ignore_index=True)
    transactions = transactions.sort_values(
        ["seconds", "order_id"],
        kind="stable",
        ignore_index=True,
    )
    transactions.insert(2, "timestamp", to_utc(origin_ns, transactions["seconds"]))
    return transactions.drop(columns="seconds"), customer, order_s


def build_engagement(
    rng: np.random.Generator,
    history: History,
    customer_ids: np.ndarray,
    *,
    sale_customer: np.ndarray,
    sale_s: np.ndarray,
    signup_s: np.ndarray,
    origin_ns: int,
) -> pd.DataFrame:
    """Build the engagement table: simulated events plus visits around orders.

    Parameters
    ----------
    rng : numpy.random.Generator
    history : History
    customer_ids : numpy.ndarray
    sale_customer, sale_s : numpy.ndarray
        Per order, its customer index and seconds since start.
    signup_s : numpy.ndarray
        Per customer, the signup in seconds since start; earlier visits are
        dropped.
    origin_ns : int
        Midnight UTC of the first day, in nanoseconds since the epoch.

    Returns
    -------
    pandas.DataFrame
        customer_id, timestamp and event_type, sorted by timestamp.
    """
    # most orders follow a visit in the same session, many a visit in the days before
    in_session = rng.random(sale_s.size) < 0.9
    session_s = sale_s - rng.integers(60, 45 * 60, size=sale_s.size)
    n_before = rng.poisson(1.0, size=sale_s.size)
    before_customer = np.repeat(sale_customer, n_before)
    before_s = np.repeat(sale_s, n_before) - rng.integers(
        HOUR_S, 4 * DAY_S, size=n_before.sum()
    )

    customer = np.concatenate(
        [history.event_customer, sale_customer[in_session], before_customer]
    )
    seconds = np.concatenate([history.event_s, session_s[in_session], before_s])
    code = np.concatenate(
        [history.event_code, np.full(in_session.sum() + before_s.size, VISIT)]
    )
    keep = seconds >= signup_s[customer]
    customer, seconds, code = customer[keep], seconds[keep], code[keep]

    order = np.lexsort((code, customer, seconds))
    return pd.DataFrame(
        {
            "customer_id": customer_ids[customer[order]],
            "timestamp": to_utc(origin_ns, seconds[order]),
            "event_type": np.array(EVENT_TYPES, dtype=object)[code[order]],
        }
    )
