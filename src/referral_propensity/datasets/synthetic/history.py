"""Day-by-day simulation of orders, e-mails, site visits, lapses and comebacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from referral_propensity.datasets.synthetic.common import (
    DAY_S,
    HOUR_S,
    truncated_exponential,
)
from referral_propensity.datasets.synthetic.traits import Traits

EVENT_TYPES = ("email_send", "email_open", "email_click", "site_visit", "unsubscribe")
# codes of the event types while simulating, positions in EVENT_TYPES
SEND, OPEN, CLICK, VISIT, UNSUBSCRIBE = range(len(EVENT_TYPES))

_SEND_WEEKDAY = 1  # Tuesday
SEND_HOUR = 9  # weekly e-mails leave between 09:00 and 10:00
_CLICK_REACTIVATION = 0.05  # chance that a click brings a lapsed customer back
_UNSUBSCRIBE_ACTIVE = 0.0001  # per send
_UNSUBSCRIBE_LAPSED = 0.0002  # per send
_OPEN_DELAY_H = 5.0


@dataclass
class History:
    """Events of the daily simulation, as customer indices and seconds since start.

    Attributes
    ----------
    order_customer, order_day : numpy.ndarray
        One entry per order: the customer's index and the day of the order.
    event_customer, event_s, event_code : numpy.ndarray
        One entry per engagement event: customer, seconds since the start of the
        period, and position in EVENT_TYPES.
    unsubscribe_day : numpy.ndarray
        Per customer, the day of the unsubscribe, -1 if none.
    is_lapsed_at_end : numpy.ndarray
        Per customer, whether they were lapsed after the last day.
    """

    order_customer: np.ndarray
    order_day: np.ndarray
    event_customer: np.ndarray
    event_s: np.ndarray
    event_code: np.ndarray
    unsubscribe_day: np.ndarray
    is_lapsed_at_end: np.ndarray


def plan_send_days(start: date, n_days: int) -> np.ndarray:
    """Days (counted from ``start``) of the weekly e-mail sends, every Tuesday."""
    first = (_SEND_WEEKDAY - start.weekday()) % 7
    return np.arange(first, n_days, 7)


def simulate_history(
    rng: np.random.Generator,
    traits: Traits,
    *,
    n_days: int,
    send_days: np.ndarray,
) -> History:
    """Simulate every customer day by day from their signup to the end.

    Parameters
    ----------
    rng : numpy.random.Generator
    traits : Traits
        Customers sorted by signup day.
    n_days : int
        Length of the period in days.
    send_days : numpy.ndarray
        Days of the weekly e-mail sends.

    Returns
    -------
    History

    Notes
    -----
    A customer is active from signup, when they place a first order, and buys at
    ``purchase_rate`` while active. Each day an active customer lapses with the
    ``churn_hazard``; a lapsed one comes back with the ``reactivation_hazard``,
    and a click on an e-mail brings a lapsed customer back the next day with a
    chance of 5 %. A comeback starts with an order.
    """
    n_customers = len(traits.segment)
    churn_daily = 1.0 - np.exp(-traits.churn_hazard / 30.0)
    buy_daily = traits.purchase_rate / 30.0
    react_daily = 1.0 - np.exp(-traits.reactivation_hazard / 30.0)
    visit_active = 0.01 + 0.5 * buy_daily
    visit_lapsed = 0.004 * traits.open_rate / 0.3
    n_signed_up = np.searchsorted(traits.signup_day, np.arange(n_days), side="right")
    is_send_day = np.zeros(n_days, dtype=bool)
    is_send_day[send_days] = True

    alive = np.zeros(n_customers, dtype=bool)
    lapse_days = np.zeros(n_customers, dtype=np.int64)
    come_back_tomorrow = np.zeros(n_customers, dtype=bool)
    unsubscribe_day = np.full(n_customers, -1, dtype=np.int64)
    order_customers: list[np.ndarray] = []
    order_days: list[np.ndarray] = []
    events: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    for day in range(n_days):
        k = n_signed_up[day]
        is_new = traits.signup_day[:k] == day
        was_alive = alive[:k].copy()

        churns = was_alive & (rng.random(k) < churn_daily[:k])
        returns = ~was_alive & ~is_new & (rng.random(k) < react_daily[:k])
        returns |= come_back_tomorrow[:k]
        come_back_tomorrow[:k] = False
        alive[:k] = (was_alive & ~churns) | returns | is_new
        lapse_days[:k] = np.where(alive[:k], 0, lapse_days[:k])

        n_orders = rng.poisson(buy_daily[:k] * (was_alive & ~churns))
        n_orders += (returns | is_new).astype(n_orders.dtype)
        buyers = np.flatnonzero(n_orders)
        order_customers.append(np.repeat(buyers, n_orders[buyers]))
        order_days.append(np.full(order_customers[-1].size, day))

        visit_p = np.where(alive[:k], visit_active[:k], visit_lapsed[:k])
        visitors = np.flatnonzero(rng.random(k) < visit_p)
        seconds = day * DAY_S + rng.integers(0, DAY_S, size=visitors.size)
        events.append((visitors, seconds, np.full(visitors.size, VISIT)))

        if is_send_day[day]:
            clickers = _simulate_send_day(
                rng,
                traits,
                day=day,
                k=k,
                alive=alive,
                lapse_days=lapse_days,
                unsubscribe_day=unsubscribe_day,
                events=events,
            )
            lapsed_clickers = clickers[~alive[clickers]]
            back = lapsed_clickers[
                rng.random(lapsed_clickers.size) < _CLICK_REACTIVATION
            ]
            come_back_tomorrow[back] = True

        lapse_days[:k] += ~alive[:k]

    return History(
        order_customer=np.concatenate(order_customers),
        order_day=np.concatenate(order_days),
        event_customer=np.concatenate([e[0] for e in events]),
        event_s=np.concatenate([e[1] for e in events]),
        event_code=np.concatenate([e[2] for e in events]),
        unsubscribe_day=unsubscribe_day,
        is_lapsed_at_end=~alive,
    )


def last_order_day_before(history: History, day: int, n_customers: int) -> np.ndarray:
    """Day of each customer's last order strictly before ``day``, -1 if none.

    Parameters
    ----------
    history : History
    day : int
        Cutoff day; orders on it or later are ignored.
    n_customers : int
        Length of the returned array.

    Returns
    -------
    numpy.ndarray
        One int64 per customer.
    """
    before = history.order_day < day
    last = np.full(n_customers, -1, dtype=np.int64)
    np.maximum.at(last, history.order_customer[before], history.order_day[before])
    return last


def _simulate_send_day(
    rng: np.random.Generator,
    traits: Traits,
    *,
    day: int,
    k: int,
    alive: np.ndarray,
    lapse_days: np.ndarray,
    unsubscribe_day: np.ndarray,
    events: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Simulate one weekly e-mail send; return the customers who clicked."""
    recipients = np.flatnonzero(traits.opt_in[:k] & (unsubscribe_day[:k] < 0))
    n = recipients.size
    sent_s = day * DAY_S + SEND_HOUR * HOUR_S + rng.integers(0, HOUR_S, size=n)
    events.append((recipients, sent_s, np.full(n, SEND)))

    # opens fade over the first months of a lapse, down to 60 % of the usual
    is_alive = alive[recipients]
    fade = np.where(is_alive, 1.0, 0.6 + 0.4 * np.exp(-lapse_days[recipients] / 60.0))
    opens = rng.random(n) < traits.open_rate[recipients] * fade
    # opens stay on the send day, early enough for a click and a visit after them
    left_today = (day + 1) * DAY_S - 10 * 60 - sent_s[opens]
    open_s = sent_s[opens] + truncated_exponential(
        rng, scale=_OPEN_DELAY_H * HOUR_S, upper=left_today
    )
    openers = recipients[opens]
    events.append((openers, open_s, np.full(openers.size, OPEN)))

    clicks = rng.random(openers.size) < traits.click_rate[openers]
    click_s = open_s[clicks] + rng.integers(5, 300, size=clicks.sum())
    clickers = openers[clicks]
    events.append((clickers, click_s, np.full(clickers.size, CLICK)))
    events.append((clickers, click_s + 10, np.full(clickers.size, VISIT)))

    unsubscribe_p = np.where(is_alive, _UNSUBSCRIBE_ACTIVE, _UNSUBSCRIBE_LAPSED)
    leaves = rng.random(n) < unsubscribe_p
    leavers = recipients[leaves]
    leave_s = sent_s[leaves] + rng.integers(600, 12 * HOUR_S, size=leavers.size)
    events.append((leavers, leave_s, np.full(leavers.size, UNSUBSCRIBE)))
    unsubscribe_day[leavers] = day

    return clickers
