"""Generate a seeded synthetic shop with hidden ground truth.

The synthetic shop is a small online retailer whose customers sign up over a period,
buy while they are active, lapse, and sometimes come back. It produces the four
tables of the data contract (customers, transactions, engagement, offers) with
realistic quirks: refunds as separate negative rows, weekly e-mail sends with
opens, clicks and unsubscribes, site visits that cluster before purchases, and three
past referral campaign waves with random control groups.

Each customer belongs to a hidden latent segment that drives their behaviour. The
``truth`` table exposes that segment, the rates used to simulate the customer and
the true probability of answering each kind of referral offer. The truth is for
tests only: it lets a test measure how close segmentation and scoring come to what
really drives the data. A pipeline must never read it as an input.

Examples
--------
>>> shop = generate_shop(n_customers=200, seed=1)
>>> sorted(shop.tables())
['customers', 'engagement', 'offers', 'transactions', 'truth']
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

SEGMENTS = (
    "loyal_high_spender",
    "bargain_hunter",
    "one_time_buyer",
    "occasional_buyer",
    "socially_engaged",
)
OFFER_TYPES = ("discount", "freebie", "early_access", "personal_message")
EVENT_TYPES = ("email_send", "email_open", "email_click", "site_visit", "unsubscribe")
# codes of the event types while simulating, positions in EVENT_TYPES
_SEND, _OPEN, _CLICK, _VISIT, _UNSUBSCRIBE = range(len(EVENT_TYPES))
TABLE_NAMES = ("customers", "transactions", "engagement", "offers", "truth")
RESPONSE_WINDOW_DAYS = 60

_DAY_S = 86_400
_HOUR_S = 3_600

# Per-segment parameters, in the order of SEGMENTS. Rates and hazards are per 30
# days; amounts are in the shop's currency.
_SEGMENT_SHARE = np.array([0.15, 0.22, 0.23, 0.25, 0.15])
_PURCHASE_RATE = np.array([1.6, 0.8, 0.3, 0.4, 0.7])
_CHURN_HAZARD = np.array([0.05, 0.10, 0.60, 0.12, 0.08])
_REACTIVATION_HAZARD = np.array([0.07, 0.045, 0.006, 0.022, 0.035])
_AMOUNT_MEDIAN = np.array([85.0, 30.0, 45.0, 50.0, 55.0])
_AMOUNT_SIGMA = np.array([0.50, 0.45, 0.60, 0.55, 0.50])
_OPEN_RATE = np.array([0.40, 0.28, 0.12, 0.20, 0.50])
_CLICK_RATE = np.array([0.15, 0.18, 0.05, 0.08, 0.22])  # share of opens
_DISCOUNT_USE = np.array([0.10, 0.70, 0.25, 0.20, 0.15])  # share of orders
_REFUND_RATE = np.array([0.02, 0.05, 0.04, 0.03, 0.03])  # share of orders
_EXTRA_QUANTITY = np.array([1.2, 1.5, 0.5, 0.7, 0.9])  # mean items beyond the first
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
_GENDERS = ("female", "male", "other")
_GENDER_SHARE = np.array([0.52, 0.45, 0.03])
_REGIONS = ("north", "south", "east", "west", "central")
_REGION_SHARE = np.array([0.18, 0.24, 0.20, 0.22, 0.16])
_DISCOUNT_LEVELS = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50])
_OPT_IN_SHARE = 0.96

# Referral response model: log-odds of a referral within RESPONSE_WINDOW_DAYS.
_RESPONSE_INTERCEPT = -2.9
_RESPONSE_SEGMENT = np.array([0.10, 0.00, -0.70, -0.40, 0.20])
# offer fit, rows in the order of SEGMENTS, columns in the order of OFFER_TYPES
_RESPONSE_FIT = np.array(
    [
        [-0.30, 0.00, 0.90, 0.30],
        [0.90, 0.50, -0.40, -0.20],
        [0.30, 0.10, -0.50, -0.30],
        [0.30, 0.20, 0.00, 0.00],
        [-0.10, 0.20, 0.30, 1.00],
    ]
)
_RESPONSE_NO_OFFER = -1.8  # shift for a referral nobody asked for
_RESPONSE_ENGAGEMENT = 0.30  # per 0.15 of open rate above 0.30
_RESPONSE_VALUE = 0.25  # per unit of log expected spend per 30 days above log(40)
_RESPONSE_LAPSED = -0.4  # being lapsed at all
_RESPONSE_LAPSE_YEAR = -0.6  # a further shift after a full year of lapse
_RESPONSE_DELAY_DAYS = 12.0  # mean delay of a response, before truncation

_WAVE_FRACTIONS = (0.30, 0.55, 0.80)  # campaign dates as shares of the period
_WAVE_MIN_TENURE_DAYS = 30
_CONTROL_SHARE = 0.15
_MIN_PERIOD_DAYS = 180

_SEND_WEEKDAY = 1  # Tuesday
_CLICK_REACTIVATION = 0.20  # chance that a click brings a lapsed customer back
_UNSUBSCRIBE_ACTIVE = 0.001  # per send
_UNSUBSCRIBE_LAPSED = 0.003  # per send
_OPEN_DELAY_H = 5.0
_REFUND_MIN_DAYS, _REFUND_MAX_DAYS = 2.0, 15.0


@dataclass(frozen=True)
class SyntheticShop:
    """The tables of a synthetic shop and its hidden ground truth.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer: ``customer_id`` (str, ``"S000123"``), ``signup_date``
        (midnight UTC), ``age`` (int), ``gender``, ``region``, ``income_band``
        (``"low"``, ``"mid"`` or ``"high"``) and ``marketing_opt_in`` (bool).
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
        ``p_respond_<offer_type>`` for each offer type, ``p_respond_none`` (a
        referral without any offer) and ``is_lapsed_at_end``.
    """

    customers: pd.DataFrame
    transactions: pd.DataFrame
    engagement: pd.DataFrame
    offers: pd.DataFrame
    truth: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the frames by table name.

        Returns
        -------
        dict of str to pandas.DataFrame
            Keys are TABLE_NAMES.
        """
        return {name: getattr(self, name) for name in TABLE_NAMES}


@dataclass(frozen=True)
class _Traits:
    """Hidden per-customer parameters, customers ordered by signup."""

    segment: np.ndarray
    signup_day: np.ndarray
    opt_in: np.ndarray
    purchase_rate: np.ndarray
    churn_hazard: np.ndarray
    reactivation_hazard: np.ndarray
    open_rate: np.ndarray
    click_rate: np.ndarray


@dataclass
class _History:
    """Events of the daily simulation, as customer indices and seconds since start."""

    order_customer: np.ndarray
    order_day: np.ndarray
    event_customer: np.ndarray
    event_s: np.ndarray
    event_code: np.ndarray
    unsubscribe_day: np.ndarray
    wave_lapse_days: list[np.ndarray]
    end_lapse_days: np.ndarray


def generate_shop(
    *,
    n_customers: int = 5000,
    start: date = date(2023, 1, 1),
    end: date = date(2025, 12, 31),
    seed: int = 0,
) -> SyntheticShop:
    """Generate a synthetic shop whose customers buy, lapse and come back.

    Parameters
    ----------
    n_customers : int, default=5000
        Number of customers; each signs up on a day drawn uniformly over the period.
    start : datetime.date, default=2023-01-01
        First day of the period.
    end : datetime.date, default=2025-12-31
        Last day of the period, included; at least 180 days after ``start``.
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
    the ``reactivation_hazard``, which fades over a year of lapse and is higher
    for customers who open more e-mails, and a click on an e-mail brings a lapsed
    customer back with a chance of 20 %. A comeback starts with an order.

    E-mails go out weekly (on Tuesdays) to opted-in customers until they
    unsubscribe; opens fade after a lapse. Site visits come before most orders,
    follow clicks, and happen at random, more often while active.

    Three referral waves go out at 30 %, 55 % and 80 % of the period to every
    opted-in, subscribed customer with at least 30 days of tenure. In each wave a
    random 15 % is held out as control, and each customer gets one offer type drawn
    at random (control rows carry the type they would have got). A response is a
    referral within 60 days of ``sent_at``; responses that would fall after
    ``end`` are censored (``responded_at`` is NaT).

    A customer's response probability depends on segment, fit of the offer type to
    the segment, e-mail engagement, expected spend and the length of the current
    lapse. The ``p_respond_*`` columns of the truth give it for an offer sent at
    the end of the period, with the state the customer is in then; past waves used
    the same formula with the state on the day of the wave.

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
    wave_days = [int(fraction * n_days) for fraction in _WAVE_FRACTIONS]
    origin_ns = pd.Timestamp(start).value

    traits = _draw_traits(rng, n_customers=n_customers, n_days=n_days)
    customer_ids = np.array([f"S{i:06d}" for i in range(n_customers)], dtype=object)
    customers = _build_customers(rng, traits, customer_ids, origin_ns=origin_ns)

    send_days = _send_days(start, n_days)
    history = _simulate_history(
        rng,
        traits,
        n_days=n_days,
        send_days=send_days,
        wave_days=wave_days,
    )

    transactions, sale_customer, sale_s = _build_transactions(
        rng,
        traits,
        history,
        customer_ids,
        n_days=n_days,
        origin_ns=origin_ns,
    )
    engagement = _build_engagement(
        rng,
        history,
        customer_ids,
        sale_customer=sale_customer,
        sale_s=sale_s,
        signup_s=traits.signup_day * _DAY_S,
        origin_ns=origin_ns,
    )
    offers = _build_offers(
        rng,
        traits,
        history,
        customer_ids,
        wave_days=wave_days,
        n_days=n_days,
        origin_ns=origin_ns,
    )
    truth = _build_truth(traits, history, customer_ids)

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
    )


def write_shop(shop: SyntheticShop, folder: Path) -> dict[str, Path]:
    """Write each table of a shop to a Parquet file in a folder.

    Parameters
    ----------
    shop : SyntheticShop
        The shop to write, truth included.
    folder : pathlib.Path
        Target folder, created when missing. Existing files of the same names are
        replaced.

    Returns
    -------
    dict of str to pathlib.Path
        Table name (``customers``, ``transactions``, ``engagement``, ``offers``,
        ``truth``) to the path of its ``<name>.parquet`` file.

    Notes
    -----
    Each file is written to a temporary file in the same folder and then moved into
    place with ``os.replace``, so a reader never sees a half-written file. If a
    write fails, its temporary file is removed and the tables written before it
    stay in place.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    paths = {}
    for name, frame in shop.tables().items():
        path = folder / f"{name}.parquet"
        _write_parquet_atomically(frame, path)
        paths[name] = path

    logger.info(
        "Wrote %d synthetic shop tables to %s in %.1f s",
        len(paths),
        folder,
        time.perf_counter() - started,
    )
    return paths


def _write_parquet_atomically(frame: pd.DataFrame, path: Path) -> None:
    handle, temp_name = tempfile.mkstemp(
        dir=path.parent,
        prefix=f".{path.stem}.",
        suffix=".parquet.tmp",
    )
    os.close(handle)
    try:
        frame.to_parquet(temp_name, index=False)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    logger.debug("Wrote %d rows to %s", len(frame), path)


def _check_arguments(*, n_customers: int, start: date, end: date, seed: int) -> None:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise ValueError(
            f"n_customers must be an integer, got {type(n_customers).__name__}; "
            "pass a whole number such as 5000"
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
            f"pick an end at least {_MIN_PERIOD_DAYS} days after start so that "
            "the three campaign waves fit"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {type(seed).__name__}")


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _draw_traits(rng: np.random.Generator, *, n_customers: int, n_days: int) -> _Traits:
    segment = rng.choice(len(SEGMENTS), size=n_customers, p=_SEGMENT_SHARE)
    # customers are numbered in signup order, so the signed-up ones form a prefix
    signup_day = np.sort(rng.integers(0, n_days, size=n_customers))
    opt_in = rng.random(n_customers) < _OPT_IN_SHARE

    def spread(base: np.ndarray, sigma: float) -> np.ndarray:
        return base[segment] * rng.lognormal(0.0, sigma, size=n_customers)

    purchase_rate = spread(_PURCHASE_RATE, 0.5)
    churn_hazard = np.minimum(spread(_CHURN_HAZARD, 0.4), 3.0)
    open_rate = np.clip(spread(_OPEN_RATE, 0.35), 0.01, 0.90)
    click_rate = np.clip(spread(_CLICK_RATE, 0.30), 0.005, 0.60)
    # customers who read more of the mail come back more often
    engagement_lift = open_rate / _OPEN_RATE[segment]
    reactivation_hazard = spread(_REACTIVATION_HAZARD, 0.4) * engagement_lift

    return _Traits(
        segment=segment,
        signup_day=signup_day,
        opt_in=opt_in,
        purchase_rate=purchase_rate,
        churn_hazard=churn_hazard,
        reactivation_hazard=reactivation_hazard,
        open_rate=open_rate,
        click_rate=click_rate,
    )


def _build_customers(
    rng: np.random.Generator,
    traits: _Traits,
    customer_ids: np.ndarray,
    *,
    origin_ns: int,
) -> pd.DataFrame:
    n_customers = len(customer_ids)
    segment = traits.segment

    age = np.clip(np.rint(rng.normal(_AGE_MEAN[segment], 12.0)), 18, 85)
    gender = rng.choice(len(_GENDERS), size=n_customers, p=_GENDER_SHARE)
    region = rng.choice(len(_REGIONS), size=n_customers, p=_REGION_SHARE)
    income = _choose_per_row(rng, _INCOME_SHARE[segment])

    return pd.DataFrame(
        {
            "customer_id": customer_ids,
            "signup_date": _to_utc(origin_ns, traits.signup_day * _DAY_S),
            "age": age.astype(np.int64),
            "gender": np.array(_GENDERS, dtype=object)[gender],
            "region": np.array(_REGIONS, dtype=object)[region],
            "income_band": np.array(_INCOME_BANDS, dtype=object)[income],
            "marketing_opt_in": traits.opt_in,
        }
    )


def _send_days(start: date, n_days: int) -> np.ndarray:
    first = (_SEND_WEEKDAY - start.weekday()) % 7
    return np.arange(first, n_days, 7)


def _simulate_history(
    rng: np.random.Generator,
    traits: _Traits,
    *,
    n_days: int,
    send_days: np.ndarray,
    wave_days: list[int],
) -> _History:
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
    wave_lapse_days = []

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
        seconds = day * _DAY_S + rng.integers(0, _DAY_S, size=visitors.size)
        events.append((visitors, seconds, np.full(visitors.size, _VISIT)))

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

        if day in wave_days:
            wave_lapse_days.append(np.where(alive, -1, lapse_days))
        lapse_days[:k] += ~alive[:k]

    return _History(
        order_customer=np.concatenate(order_customers),
        order_day=np.concatenate(order_days),
        event_customer=np.concatenate([e[0] for e in events]),
        event_s=np.concatenate([e[1] for e in events]),
        event_code=np.concatenate([e[2] for e in events]),
        unsubscribe_day=unsubscribe_day,
        wave_lapse_days=wave_lapse_days,
        end_lapse_days=np.where(alive, -1, lapse_days),
    )


def _simulate_send_day(
    rng: np.random.Generator,
    traits: _Traits,
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
    sent_s = day * _DAY_S + 9 * _HOUR_S + rng.integers(0, _HOUR_S, size=n)
    events.append((recipients, sent_s, np.full(n, _SEND)))

    # opens fade over the first months of a lapse, down to a third of the usual
    is_alive = alive[recipients]
    fade = np.where(is_alive, 1.0, 0.35 + 0.65 * np.exp(-lapse_days[recipients] / 60.0))
    opens = rng.random(n) < traits.open_rate[recipients] * fade
    # opens stay on the send day, early enough for a click and a visit after them
    left_today = (day + 1) * _DAY_S - 10 * 60 - sent_s[opens]
    open_s = sent_s[opens] + _truncated_exponential(
        rng, scale=_OPEN_DELAY_H * _HOUR_S, upper=left_today
    )
    openers = recipients[opens]
    events.append((openers, open_s, np.full(openers.size, _OPEN)))

    clicks = rng.random(openers.size) < traits.click_rate[openers]
    click_s = open_s[clicks] + rng.integers(5, 300, size=clicks.sum())
    clickers = openers[clicks]
    events.append((clickers, click_s, np.full(clickers.size, _CLICK)))
    events.append((clickers, click_s + 10, np.full(clickers.size, _VISIT)))

    unsubscribe_p = np.where(is_alive, _UNSUBSCRIBE_ACTIVE, _UNSUBSCRIBE_LAPSED)
    leaves = rng.random(n) < unsubscribe_p
    leavers = recipients[leaves]
    leave_s = sent_s[leaves] + rng.integers(600, 12 * _HOUR_S, size=leavers.size)
    events.append((leavers, leave_s, np.full(leavers.size, _UNSUBSCRIBE)))
    unsubscribe_day[leavers] = day

    return clickers


def _truncated_exponential(
    rng: np.random.Generator, *, scale: float, upper: np.ndarray
) -> np.ndarray:
    """Draw whole seconds from an exponential distribution cut off at ``upper``."""
    u = rng.random(upper.size)
    delay = -scale * np.log1p(-u * (1.0 - np.exp(-upper / scale)))
    return np.minimum(np.floor(delay).astype(np.int64), upper)


def _build_transactions(
    rng: np.random.Generator,
    traits: _Traits,
    history: _History,
    customer_ids: np.ndarray,
    *,
    n_days: int,
    origin_ns: int,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Return the transactions and, per order, its customer index and seconds."""
    customer = history.order_customer
    segment = traits.segment[customer]
    n_orders = customer.size

    # order times cluster in the evening; seconds wrap around within the same day
    hour = np.mod(rng.normal(19.0, 4.0, size=n_orders), 24.0)
    order_s = history.order_day * _DAY_S + np.floor(hour * _HOUR_S).astype(np.int64)
    order = np.lexsort((customer, order_s))
    customer, segment, order_s = customer[order], segment[order], order_s[order]

    list_price = rng.lognormal(np.log(_AMOUNT_MEDIAN[segment]), _AMOUNT_SIGMA[segment])
    uses_discount = rng.random(n_orders) < _DISCOUNT_USE[segment]
    discount = np.where(uses_discount, rng.choice(_DISCOUNT_LEVELS, size=n_orders), 0.0)
    amount = np.maximum(np.round(list_price * (1.0 - discount), 2), 1.0)
    quantity = 1 + rng.poisson(_EXTRA_QUANTITY[segment])
    category = _choose_per_row(rng, _CATEGORY_SHARE[segment])
    number = np.arange(n_orders)

    # a few orders are refunded a few days later, in full or in part
    refunded = rng.random(n_orders) < _REFUND_RATE[segment]
    is_full = rng.random(n_orders) < 0.6
    share = np.where(is_full, 1.0, np.round(rng.uniform(0.2, 0.8, size=n_orders), 2))
    refund_delay = rng.uniform(_REFUND_MIN_DAYS, _REFUND_MAX_DAYS, size=n_orders)
    refund_s = order_s + np.floor(refund_delay * _DAY_S).astype(np.int64)
    refunded &= refund_s < n_days * _DAY_S
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
    transactions.insert(2, "timestamp", _to_utc(origin_ns, transactions["seconds"]))
    return transactions.drop(columns="seconds"), customer, order_s


def _build_engagement(
    rng: np.random.Generator,
    history: _History,
    customer_ids: np.ndarray,
    *,
    sale_customer: np.ndarray,
    sale_s: np.ndarray,
    signup_s: np.ndarray,
    origin_ns: int,
) -> pd.DataFrame:
    # most orders follow a visit in the same session, many a visit in the days before
    order_customer, order_s = sale_customer, sale_s
    in_session = rng.random(order_s.size) < 0.9
    session_s = order_s - rng.integers(60, 45 * 60, size=order_s.size)
    n_before = rng.poisson(1.0, size=order_s.size)
    before_customer = np.repeat(order_customer, n_before)
    before_s = np.repeat(order_s, n_before) - rng.integers(
        _HOUR_S, 4 * _DAY_S, size=n_before.sum()
    )

    customer = np.concatenate(
        [history.event_customer, order_customer[in_session], before_customer]
    )
    seconds = np.concatenate([history.event_s, session_s[in_session], before_s])
    code = np.concatenate(
        [history.event_code, np.full(in_session.sum() + before_s.size, _VISIT)]
    )
    keep = seconds >= signup_s[customer]
    customer, seconds, code = customer[keep], seconds[keep], code[keep]

    order = np.lexsort((code, customer, seconds))
    return pd.DataFrame(
        {
            "customer_id": customer_ids[customer[order]],
            "timestamp": _to_utc(origin_ns, seconds[order]),
            "event_type": np.array(EVENT_TYPES, dtype=object)[code[order]],
        }
    )


def _build_offers(
    rng: np.random.Generator,
    traits: _Traits,
    history: _History,
    customer_ids: np.ndarray,
    *,
    wave_days: list[int],
    n_days: int,
    origin_ns: int,
) -> pd.DataFrame:
    waves = []
    for wave_day, lapse_days in zip(wave_days, history.wave_lapse_days, strict=True):
        subscribed = (history.unsubscribe_day < 0) | (
            history.unsubscribe_day >= wave_day
        )
        tenured = traits.signup_day <= wave_day - _WAVE_MIN_TENURE_DAYS
        eligible = np.flatnonzero(traits.opt_in & subscribed & tenured)
        n = eligible.size

        is_control = rng.random(n) < _CONTROL_SHARE
        offer = rng.integers(0, len(OFFER_TYPES), size=n)
        p_offer, p_none = _response_probabilities(traits, lapse_days)
        p = np.where(
            is_control,
            p_none[eligible],
            p_offer[eligible, offer],
        )
        responds = rng.random(n) < p

        sent_s = wave_day * _DAY_S + 10 * _HOUR_S + rng.integers(0, 2 * _HOUR_S, n)
        window_s = RESPONSE_WINDOW_DAYS * _DAY_S - 1
        delay_s = _truncated_exponential(
            rng,
            scale=_RESPONSE_DELAY_DAYS * _DAY_S,
            upper=np.full(n, window_s),
        )
        responded_s = sent_s + delay_s
        # responses after the end of the period are not seen yet
        responds &= responded_s < n_days * _DAY_S

        waves.append(
            pd.DataFrame(
                {
                    "customer_id": customer_ids[eligible],
                    "sent_at": _to_utc(origin_ns, sent_s),
                    "offer_type": np.array(OFFER_TYPES, dtype=object)[offer],
                    "group": np.where(is_control, "control", "treatment").astype(
                        object
                    ),
                    "responded_at": _to_utc(origin_ns, responded_s).where(responds),
                }
            )
        )

    offers = pd.concat(waves, ignore_index=True)
    return offers.sort_values(
        ["sent_at", "customer_id"],
        kind="stable",
        ignore_index=True,
    )


def _response_probabilities(
    traits: _Traits, lapse_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the chance of a referral per offer type (n x 4) and without an offer.

    ``lapse_days`` is -1 for an active customer and the length of the lapse
    otherwise.
    """
    segment = traits.segment
    expected_spend = (
        traits.purchase_rate
        * _AMOUNT_MEDIAN[segment]
        * np.exp(_AMOUNT_SIGMA[segment] ** 2 / 2)
    )
    lapse_years = np.minimum(np.maximum(lapse_days, 0) / 365.0, 1.0)
    base = (
        _RESPONSE_INTERCEPT
        + _RESPONSE_SEGMENT[segment]
        + _RESPONSE_ENGAGEMENT * (traits.open_rate - 0.30) / 0.15
        + _RESPONSE_VALUE * (np.log(expected_spend) - np.log(40.0))
        + np.where(lapse_days >= 0, _RESPONSE_LAPSED, 0.0)
        + _RESPONSE_LAPSE_YEAR * lapse_years
    )
    p_offer = _sigmoid(base[:, None] + _RESPONSE_FIT[segment])
    p_none = _sigmoid(base + _RESPONSE_NO_OFFER)
    return p_offer, p_none


def _build_truth(
    traits: _Traits, history: _History, customer_ids: np.ndarray
) -> pd.DataFrame:
    p_offer, p_none = _response_probabilities(traits, history.end_lapse_days)
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
    truth["is_lapsed_at_end"] = history.end_lapse_days >= 0
    return truth


def _choose_per_row(rng: np.random.Generator, shares: np.ndarray) -> np.ndarray:
    """Draw one column index per row of a matrix of shares that sum to 1."""
    cumulative = np.cumsum(shares, axis=1)
    u = rng.random(len(shares))[:, None]
    return np.minimum((u >= cumulative).sum(axis=1), shares.shape[1] - 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _to_utc(origin_ns: int, seconds: np.ndarray | pd.Series) -> pd.Series:
    """Turn whole seconds since the start of the period into UTC timestamps."""
    ns = origin_ns + np.asarray(seconds, dtype=np.int64) * 10**9
    return pd.Series(pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC"))
