"""Win-back referral campaigns: who gets an offer, how likely they answer, the truth.

Every wave goes out on one day to the opted-in, still subscribed customers with at
least 30 days of tenure who placed no order in the 90 days before it. Each of them
gets one offer type drawn at random; a random 15 % is held out as control and
gets nothing (their row keeps the type they would have got). A response is a
referral within RESPONSE_WINDOW_DAYS of the send.

The chance of a referral, on the log-odds scale, is a base that grows with
e-mail engagement (open rate) and value (expected spend) and falls with the
length of the lapse (days since the last order), plus the fit of the offer to
the customer's own psychographics:

- discount: price sensitivity, and a little of it for a freebie;
- early access: loyalty, the mean of a tenure part (full after two years) and a
  lifestyle part (achievers most, thrifty customers least);
- personal message: social connectedness.

Every input of the fit is in the customers table (``price_sensitivity``,
``social_connectedness``, ``lifestyle``, ``signup_date``), so a model that sees it
and the offer type can learn which offer suits whom. Control customers answer
with the chance of a referral nobody asked for, the base shifted down.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from referral_propensity.datasets.synthetic.common import (
    DAY_S,
    HOUR_S,
    sigmoid,
    to_utc,
    truncated_exponential,
)
from referral_propensity.datasets.synthetic.history import (
    History,
    last_order_day_before,
)
from referral_propensity.datasets.synthetic.traits import (
    SEGMENTS,
    Traits,
    expected_spend,
)

OFFER_TYPES = ("discount", "freebie", "early_access", "personal_message")
RESPONSE_WINDOW_DAYS = 60

_WAVE_FRACTIONS = np.linspace(0.25, 0.85, 7)  # wave days as shares of the period
_WAVE_MIN_TENURE_DAYS = 30
_WAVE_INACTIVE_DAYS = 90  # no order in this many days before the wave day
_CONTROL_SHARE = 0.15
_SENT_HOUR = 8  # offers leave between 08:00 and 09:00, before the weekly e-mail

# Response model: log-odds of a referral within RESPONSE_WINDOW_DAYS.
_RESPONSE_INTERCEPT = -2.6
_RESPONSE_ENGAGEMENT = 0.28  # per 0.15 of open rate above 0.30
_RESPONSE_VALUE = 0.35  # per unit of log expected spend per 30 days above log(40)
_RESPONSE_LAPSE = -0.45  # per unit of log(days since the last order / 91)
_RESPONSE_NO_OFFER = -2.2  # shift for a referral nobody asked for
# fit of each offer type, per unit of its driver above 0.5
_FIT_PRICE = 4.0  # discount, by price sensitivity
_FIT_PRICE_FREEBIE = 1.6  # freebie, by price sensitivity
_FIT_LOYALTY = 3.0  # early access, by loyalty
_FIT_SOCIAL = 3.5  # personal message, by social connectedness
# loyalty part of each lifestyle, in the order of traits.LIFESTYLES
_LIFESTYLE_LOYALTY = np.array([0.0, 0.6, 0.3, 1.0, 0.4])
_LOYALTY_TENURE_DAYS = 730
_RESPONSE_DELAY_DAYS = 12.0  # mean delay of a response, before truncation


def plan_wave_days(n_days: int) -> np.ndarray:
    """Days of the campaign waves: 25 %, 35 %, ... 85 % of the period.

    Parameters
    ----------
    n_days : int
        Length of the period.

    Returns
    -------
    numpy.ndarray
        Seven increasing days, each at least ``RESPONSE_WINDOW_DAYS + 1`` days
        before the end, so every response window closes inside the period.
    """
    days = np.floor(_WAVE_FRACTIONS * n_days).astype(np.int64)
    return np.minimum(days, n_days - RESPONSE_WINDOW_DAYS - 1)


def response_probabilities(
    traits: Traits, *, day: int, last_order_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Chance of a referral after an offer sent on a day, per customer.

    Parameters
    ----------
    traits : Traits
    day : int
        Day the offer is sent; the customer's state is taken at its start.
    last_order_day : numpy.ndarray
        Per customer, the day of the last order before ``day``.

    Returns
    -------
    p_offer : numpy.ndarray
        Shape ``(n_customers, len(OFFER_TYPES))``, the chance with each offer type.
    p_none : numpy.ndarray
        The chance without any offer.

    Notes
    -----
    Lapses shorter than 91 days count as 91 days, so the lapse term is 0 for a
    customer who bought recently.
    """
    recency_days = np.maximum(day - last_order_day, _WAVE_INACTIVE_DAYS + 1)
    tenure_days = day - traits.signup_day
    base = (
        _RESPONSE_INTERCEPT
        + _RESPONSE_ENGAGEMENT * (traits.open_rate - 0.30) / 0.15
        + _RESPONSE_VALUE * (np.log(expected_spend(traits)) - np.log(40.0))
        + _RESPONSE_LAPSE * np.log(recency_days / (_WAVE_INACTIVE_DAYS + 1))
    )

    loyalty = 0.5 * np.minimum(tenure_days / _LOYALTY_TENURE_DAYS, 1.0) + (
        0.5 * _LIFESTYLE_LOYALTY[traits.lifestyle]
    )
    thrift = traits.price_sensitivity - 0.5
    fit = np.column_stack(
        [
            _FIT_PRICE * thrift,
            _FIT_PRICE_FREEBIE * thrift,
            _FIT_LOYALTY * (loyalty - 0.5),
            _FIT_SOCIAL * (traits.social_connectedness - 0.5),
        ]
    )

    p_offer = sigmoid(base[:, None] + fit)
    p_none = sigmoid(base + _RESPONSE_NO_OFFER)
    return p_offer, p_none


def build_offers(
    rng: np.random.Generator,
    traits: Traits,
    history: History,
    customer_ids: np.ndarray,
    *,
    wave_days: np.ndarray,
    origin_ns: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Send every campaign wave and draw the responses.

    Parameters
    ----------
    rng : numpy.random.Generator
    traits : Traits
    history : History
    customer_ids : numpy.ndarray
    wave_days : numpy.ndarray
        Days of the waves, increasing.
    origin_ns : int
        Midnight UTC of the first day, in nanoseconds since the epoch.

    Returns
    -------
    offers : pandas.DataFrame
        customer_id, sent_at, offer_type, group, responded_at; sorted by sent_at
        and customer_id.
    offer_truth : pandas.DataFrame
        One row per row of ``offers``, in the same order: customer_id, sent_at,
        offer_type, group, p_respond (the chance used to draw the response),
        ``p_respond_<offer_type>`` for each type and p_respond_none.
    """
    waves = [
        _send_wave(
            rng,
            traits,
            history,
            customer_ids,
            wave_day=wave_day,
            origin_ns=origin_ns,
        )
        for wave_day in wave_days
    ]
    return (
        pd.concat([offers for offers, _ in waves], ignore_index=True),
        pd.concat([truth for _, truth in waves], ignore_index=True),
    )


def build_truth(
    traits: Traits, history: History, customer_ids: np.ndarray, *, n_days: int
) -> pd.DataFrame:
    """Build the hidden truth of every customer, as of the day after the period.

    Parameters
    ----------
    traits : Traits
    history : History
    customer_ids : numpy.ndarray
    n_days : int
        Length of the period; the response chances are for an offer sent on day
        ``n_days``, the day after the last one.

    Returns
    -------
    pandas.DataFrame
        customer_id, latent_segment, purchase_rate, churn_hazard,
        reactivation_hazard, ``p_respond_<offer_type>`` for each type,
        p_respond_none and is_lapsed_at_end.
    """
    last_order_day = last_order_day_before(history, n_days, len(customer_ids))
    p_offer, p_none = response_probabilities(
        traits, day=n_days, last_order_day=last_order_day
    )

    truth = pd.DataFrame(
        {
            "customer_id": customer_ids,
            "latent_segment": np.array(SEGMENTS, dtype=object)[traits.segment],
            "purchase_rate": traits.purchase_rate,
            "churn_hazard": traits.churn_hazard,
            "reactivation_hazard": traits.reactivation_hazard,
        }
    )
    for column, offer_type in enumerate(OFFER_TYPES):
        truth[f"p_respond_{offer_type}"] = p_offer[:, column]
    truth["p_respond_none"] = p_none
    truth["is_lapsed_at_end"] = history.is_lapsed_at_end
    return truth


def _is_eligible(
    traits: Traits, history: History, *, wave_day: int, last_order_day: np.ndarray
) -> np.ndarray:
    """Opted in, subscribed, tenured and inactive at the start of the wave day."""
    subscribed = (history.unsubscribe_day < 0) | (history.unsubscribe_day >= wave_day)
    tenured = traits.signup_day <= wave_day - _WAVE_MIN_TENURE_DAYS
    inactive = last_order_day < wave_day - _WAVE_INACTIVE_DAYS
    return traits.opt_in & subscribed & tenured & inactive


def _send_wave(
    rng: np.random.Generator,
    traits: Traits,
    history: History,
    customer_ids: np.ndarray,
    *,
    wave_day: int,
    origin_ns: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Send one wave; return its offers and offer truth rows, sorted alike."""
    last_order_day = last_order_day_before(history, wave_day, len(customer_ids))
    is_eligible = _is_eligible(
        traits, history, wave_day=wave_day, last_order_day=last_order_day
    )
    eligible = np.flatnonzero(is_eligible)
    n = eligible.size

    is_control = rng.random(n) < _CONTROL_SHARE
    offer = rng.integers(0, len(OFFER_TYPES), size=n)
    p_offer, p_none = response_probabilities(
        traits, day=wave_day, last_order_day=last_order_day
    )
    p_offer, p_none = p_offer[eligible], p_none[eligible]
    p = np.where(is_control, p_none, p_offer[np.arange(n), offer])
    responds = rng.random(n) < p

    sent_s = wave_day * DAY_S + _SENT_HOUR * HOUR_S + rng.integers(0, HOUR_S, n)
    delay_s = truncated_exponential(
        rng,
        scale=_RESPONSE_DELAY_DAYS * DAY_S,
        upper=np.full(n, RESPONSE_WINDOW_DAYS * DAY_S - 1),
    )

    order = np.lexsort((eligible, sent_s))
    keys = {
        "customer_id": customer_ids[eligible[order]],
        "sent_at": to_utc(origin_ns, sent_s[order]),
        "offer_type": np.array(OFFER_TYPES, dtype=object)[offer[order]],
        "group": np.where(is_control[order], "control", "treatment").astype(object),
    }
    responded_at = to_utc(origin_ns, (sent_s + delay_s)[order]).where(responds[order])
    offers = pd.DataFrame({**keys, "responded_at": responded_at})
    truth = pd.DataFrame({**keys, "p_respond": p[order]})
    for column, offer_type in enumerate(OFFER_TYPES):
        truth[f"p_respond_{offer_type}"] = p_offer[order, column]
    truth["p_respond_none"] = p_none[order]
    return offers, truth
