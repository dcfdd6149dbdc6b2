"""Generate a seeded synthetic shop with hidden ground truth.

The synthetic shop is an online retailer whose customers sign up over a period,
buy while they are active, lapse, and sometimes come back. It produces the four
tables of the data contract (customers, transactions, engagement, offers) with
realistic quirks: refunds as separate negative rows, weekly e-mail sends with
opens, clicks and unsubscribes, site visits that cluster before purchases,
psychographic customer attributes, and seven past win-back referral waves with
random control groups.

Each customer belongs to a hidden latent segment that drives their behaviour and
psychographics. The ``truth`` table exposes that segment, the rates used to
simulate the customer and the true chance of answering each kind of referral
offer on the day after the period; ``offer_truth`` gives the chances behind every
past offer. The truth is for tests only: it lets a test measure how close
segmentation and scoring come to what really drives the data. A pipeline must
never read it as an input.

The modules follow the steps of the simulation: ``traits`` (latent segments and
per-customer traits), ``history`` (the day-by-day simulation), ``tables``
(customers, transactions, engagement), ``campaigns`` (referral waves, responses
and truth), ``shop`` (the whole generation) and ``write`` (Parquet files).

Examples
--------
>>> shop = generate_shop(n_customers=200, seed=1)
>>> sorted(shop.tables())
['customers', 'engagement', 'offer_truth', 'offers', 'transactions', 'truth']
"""

from referral_propensity.datasets.synthetic.campaigns import (
    OFFER_TYPES,
    RESPONSE_WINDOW_DAYS,
)
from referral_propensity.datasets.synthetic.history import EVENT_TYPES
from referral_propensity.datasets.synthetic.shop import (
    TABLE_NAMES,
    SyntheticShop,
    generate_shop,
)
from referral_propensity.datasets.synthetic.traits import (
    INTERESTS,
    LIFESTYLES,
    SEGMENTS,
)
from referral_propensity.datasets.synthetic.write import write_shop

__all__ = [
    "EVENT_TYPES",
    "INTERESTS",
    "LIFESTYLES",
    "OFFER_TYPES",
    "RESPONSE_WINDOW_DAYS",
    "SEGMENTS",
    "TABLE_NAMES",
    "SyntheticShop",
    "generate_shop",
    "write_shop",
]
