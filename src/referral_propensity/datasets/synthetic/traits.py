"""Hidden latent segments and the per-customer traits drawn from them.

Each customer belongs to one of five latent segments. The segment sets the
centre of every trait (order rate, lapse and comeback hazards, price level,
e-mail engagement and psychographics) and each customer draws their own value
around it, so two customers of one segment never behave exactly alike. Some
traits also lean on the customer's own psychographics: price-sensitive
customers use more discounts and pay lower prices, socially connected ones open
more e-mails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from referral_propensity.datasets.synthetic.common import choose_per_row, draw_share

SEGMENTS = (
    "loyal_high_spender",
    "bargain_hunter",
    "one_time_buyer",
    "occasional_buyer",
    "socially_engaged",
)
INTERESTS = ("outdoors", "fashion", "tech", "home", "beauty", "gaming")
LIFESTYLES = ("thrifty", "trendsetter", "homebody", "achiever", "community")
#: spread (log scale) of the list price of single orders around a customer's level
PRICE_SIGMA = 0.25

# Per-segment parameters, in the order of SEGMENTS. Rates and hazards are per 30
# days; prices are in the shop's currency.
_SEGMENT_SHARE = np.array([0.17, 0.25, 0.10, 0.28, 0.20])
_PURCHASE_RATE = np.array([1.8, 1.5, 0.1, 0.3, 0.45])
_CHURN_HAZARD = np.array([0.04, 0.10, 3.0, 0.02, 0.08])
_REACTIVATION_HAZARD = np.array([0.08, 0.05, 0.001, 0.025, 0.04])
_PRICE_LEVEL = np.array([180.0, 15.0, 30.0, 90.0, 45.0])  # median list price
_OPEN_RATE = np.array([0.45, 0.25, 0.02, 0.12, 0.85])
_CLICK_RATE = np.array([0.15, 0.40, 0.03, 0.05, 0.30])  # share of opens
_REFUND_RATE = np.array([0.02, 0.05, 0.04, 0.03, 0.03])  # share of orders
_EXTRA_QUANTITY = np.array([1.2, 1.5, 0.5, 0.7, 0.9])  # mean items beyond the first
_PRICE_SENSITIVITY = np.array([0.20, 0.80, 0.50, 0.45, 0.40])  # segment mean
_SOCIAL_CONNECTEDNESS = np.array([0.40, 0.35, 0.20, 0.30, 0.80])  # segment mean
_PSYCHOGRAPHIC_CONCENTRATION = 12.0  # beta concentration, sd about 0.13 at 0.5
# rows in the order of SEGMENTS, columns in the order of INTERESTS / LIFESTYLES
_INTEREST_SHARE = np.array(
    [
        [0.20, 0.15, 0.30, 0.20, 0.10, 0.05],
        [0.10, 0.25, 0.10, 0.25, 0.20, 0.10],
        [0.15, 0.20, 0.20, 0.15, 0.15, 0.15],
        [0.25, 0.10, 0.15, 0.30, 0.10, 0.10],
        [0.10, 0.30, 0.10, 0.05, 0.25, 0.20],
    ]
)
_LIFESTYLE_SHARE = np.array(
    [
        [0.05, 0.25, 0.10, 0.50, 0.10],
        [0.55, 0.10, 0.15, 0.05, 0.15],
        [0.20, 0.15, 0.35, 0.15, 0.15],
        [0.20, 0.10, 0.40, 0.15, 0.15],
        [0.05, 0.30, 0.05, 0.10, 0.50],
    ]
)
_OPT_IN_SHARE = 0.96


@dataclass(frozen=True)
class Traits:
    """Hidden per-customer parameters, customers ordered by signup.

    Every attribute is an array with one entry per customer. Rates and hazards
    are per 30 days; ``price_level`` is the median list price of an order;
    ``discount_use`` and ``refund_rate`` are shares of orders; ``interest`` and
    ``lifestyle`` are positions in INTERESTS and LIFESTYLES. The psychographics
    (``price_sensitivity``, ``social_connectedness``, ``interest``,
    ``lifestyle``) are the values shown in the customers table.
    """

    segment: np.ndarray
    signup_day: np.ndarray
    opt_in: np.ndarray
    purchase_rate: np.ndarray
    churn_hazard: np.ndarray
    reactivation_hazard: np.ndarray
    price_level: np.ndarray
    discount_use: np.ndarray
    refund_rate: np.ndarray
    extra_quantity: np.ndarray
    open_rate: np.ndarray
    click_rate: np.ndarray
    price_sensitivity: np.ndarray
    social_connectedness: np.ndarray
    interest: np.ndarray
    lifestyle: np.ndarray


def draw_traits(rng: np.random.Generator, *, n_customers: int, n_days: int) -> Traits:
    """Draw the segment, signup day and traits of every customer.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_customers : int
        Number of customers.
    n_days : int
        Length of the period; signup days are uniform on ``[0, n_days)``.

    Returns
    -------
    Traits
        Customers sorted by signup day, so those signed up by any day form a
        prefix of every array.
    """
    segment = rng.choice(len(SEGMENTS), size=n_customers, p=_SEGMENT_SHARE)
    signup_day = np.sort(rng.integers(0, n_days, size=n_customers))
    opt_in = rng.random(n_customers) < _OPT_IN_SHARE

    price_sensitivity = draw_share(
        rng, _PRICE_SENSITIVITY[segment], concentration=_PSYCHOGRAPHIC_CONCENTRATION
    )
    social_connectedness = draw_share(
        rng, _SOCIAL_CONNECTEDNESS[segment], concentration=_PSYCHOGRAPHIC_CONCENTRATION
    )
    interest = choose_per_row(rng, _INTEREST_SHARE[segment])
    lifestyle = choose_per_row(rng, _LIFESTYLE_SHARE[segment])
    # how far a customer stands from their segment's typical psychographics
    thriftier = price_sensitivity - _PRICE_SENSITIVITY[segment]
    more_social = social_connectedness - _SOCIAL_CONNECTEDNESS[segment]

    def spread(base: np.ndarray, sigma: float) -> np.ndarray:
        return base[segment] * rng.lognormal(0.0, sigma, size=n_customers)

    purchase_rate = spread(_PURCHASE_RATE, 0.25)
    churn_hazard = np.minimum(spread(_CHURN_HAZARD, 0.3), 3.0)
    price_level = spread(_PRICE_LEVEL, 0.10) * np.exp(-0.5 * thriftier)
    discount_use = 0.03 + 0.7 * price_sensitivity**2
    open_rate = np.clip(
        spread(_OPEN_RATE, 0.15) * np.exp(0.8 * more_social), 0.01, 0.95
    )
    click_rate = np.clip(spread(_CLICK_RATE, 0.25), 0.005, 0.60)
    # customers who read more of the mail come back more often
    engagement_lift = open_rate / _OPEN_RATE[segment]
    reactivation_hazard = spread(_REACTIVATION_HAZARD, 0.3) * engagement_lift

    return Traits(
        segment=segment,
        signup_day=signup_day,
        opt_in=opt_in,
        purchase_rate=purchase_rate,
        churn_hazard=churn_hazard,
        reactivation_hazard=reactivation_hazard,
        price_level=price_level,
        discount_use=discount_use,
        refund_rate=_REFUND_RATE[segment],
        extra_quantity=_EXTRA_QUANTITY[segment],
        open_rate=open_rate,
        click_rate=click_rate,
        price_sensitivity=price_sensitivity,
        social_connectedness=social_connectedness,
        interest=interest,
        lifestyle=lifestyle,
    )


def expected_spend(traits: Traits) -> np.ndarray:
    """Expected list-price spend per 30 days while active, one value per customer.

    Parameters
    ----------
    traits : Traits

    Returns
    -------
    numpy.ndarray
        ``purchase_rate`` times the mean list price of an order.
    """
    return traits.purchase_rate * traits.price_level * np.exp(PRICE_SIGMA**2 / 2)
