"""Features as of a date see only events strictly before it.

Transactions and engagement events are planted on and after as_of (exactly at
midnight, later that day, months later, and for a customer who appears only
then), and one second before it. Only the events before as_of may move a
feature, and exactly as hand-computed.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from referral_propensity.engine import connect
from referral_propensity.features import build_features
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables

AS_OF = dt.date(2024, 7, 1)
TODAY = dt.date(2031, 12, 31)
WINDOWS = (30, 90)
TRANSACTIONS_HEADER = "customer_id,order_id,timestamp,amount\n"
ENGAGEMENT_HEADER = "customer_id,timestamp,event_type\n"

BASE_TRANSACTIONS = (
    "A,A1,2024-05-01T10:00:00,50.00\n"
    "A,A2,2024-06-20T08:00:00,30.00\n"
    "A,A2R,2024-06-25T09:00:00,-10.00\n"
    "B,B1,2024-03-15T12:00:00,40.00\n"
)
BASE_ENGAGEMENT = (
    "A,2024-06-10T09:00:00,email_open\n"
    "B,2024-04-01T09:00:00,email_click\n"
    "B,2024-06-28T09:00:00,email_open\n"
)

# on and after as_of: a big order and a refund exactly at midnight, a late
# line of B's earlier order B1, later orders, and customer D who starts then
AFTER_TRANSACTIONS = (
    "A,A3,2024-07-01T00:00:00,500.00\n"
    "A,A3R,2024-07-01T00:00:00,-30.00\n"
    "B,B1,2024-07-01T00:00:00,5.00\n"
    "B,B2,2024-07-02T15:00:00,70.00\n"
    "A,A4,2025-01-01T00:00:00,10.00\n"
    "D,D1,2024-07-01T00:00:00,20.00\n"
)
AFTER_ENGAGEMENT = (
    "A,2024-07-01T00:00:00,email_open\n"
    "B,2024-07-01T00:00:00,email_click\n"
    "A,2024-08-01T12:00:00,email_click\n"
    "D,2024-07-03T10:00:00,email_open\n"
)

# one second before as_of: a purchase by A and an e-mail click by B
JUST_BEFORE_TRANSACTIONS = "A,A5,2024-06-30T23:59:59,15.00\n"
JUST_BEFORE_ENGAGEMENT = "B,2024-06-30T23:59:59,email_click\n"


def _build(write_file, transactions: str, engagement: str, **options):
    transactions_path = write_file(
        "transactions.csv", TRANSACTIONS_HEADER + transactions
    )
    engagement_path = write_file("engagement.csv", ENGAGEMENT_HEADER + engagement)
    tables = load_tables(
        connect(),
        {
            "transactions": TableSource("transactions", path=transactions_path),
            "engagement": TableSource("engagement", path=engagement_path),
        },
        today=TODAY,
    )
    return build_features(tables, as_of=AS_OF, windows_days=WINDOWS, **options)


def _expected(columns: dict[str, list]) -> pd.DataFrame:
    # the table's dtypes: text ids, int64 counts, float64 for every measure
    frame = pd.DataFrame(
        {"customer_id": pd.Series(columns.pop("customer_id"), dtype=str)}
    )
    for name, values in columns.items():
        frame[name] = np.array(
            values, dtype=np.int64 if name.startswith("n_") else float
        )
    return frame


# Base data, as of 2024-07-01; window starts: 30d 06-01, 90d 04-02.
# A: buys 05-01 (50) and 06-20 (30), refund 06-25 (-10)
#    recency 06-20 -> 11, tenure 05-01 -> 61, 2 orders on 2 days,
#    net 70, mean 35, gross 80, refund 10 (1 refund), share 10 / 80 = 0.125,
#    mean gap (61 - 11) / 1 = 50, recency_to_gap 11 / 50 = 0.22
#    30d: order 06-20, spend 30 - 10 = 20; 90d: both orders, 70
#    engagement: last 06-10 -> 21 days; opens 1 in 30d and 90d, no clicks
# B: buys 03-15 (40): recency = tenure = 16 + 30 + 31 + 30 + 1 = 108, 1 order,
#    no refunds (share 0), no gap; nothing in the 30d or 90d windows
#    engagement: last 06-28 -> 3 days; open 06-28 in both windows; the click
#    on 04-01 is one day before the 90d window, so clicks are 0 in both
BASE_EXPECTED = {
    "customer_id": ["A", "B"],
    "recency_days": [11, 108],
    "tenure_days": [61, 108],
    "n_orders": [2, 1],
    "n_purchase_days": [2, 1],
    "spend_total": [70.0, 40.0],
    "spend_mean": [35.0, 40.0],
    "gross_spend_total": [80.0, 40.0],
    "refund_total": [10.0, 0.0],
    "n_refunds": [1, 0],
    "refund_share": [0.125, 0.0],
    "mean_gap_days": [50.0, np.nan],
    "recency_to_gap": [0.22, np.nan],
    "n_orders_30d": [1, 0],
    "spend_30d": [20.0, 0.0],
    "n_orders_90d": [2, 0],
    "spend_90d": [70.0, 0.0],
    "days_since_engagement": [21, 3],
    "n_email_click_30d": [0, 0],
    "n_email_click_90d": [0, 0],
    "n_email_open_30d": [1, 1],
    "n_email_open_90d": [1, 1],
}

# Base plus the two events one second before as_of.
# A: a third purchase on 06-30 (15): recency 1, tenure 61, 3 orders on 3 days,
#    net 85, mean 85 / 3, gross 95, refund 10, share 10 / 95,
#    mean gap (61 - 1) / 2 = 30, recency_to_gap 1 / 30
#    30d: 06-20 and 06-30 -> 2 orders, 30 - 10 + 15 = 35; 90d: 3 orders, 85
# B: click on 06-30: days_since_engagement 1, one click in both windows
JUST_BEFORE_EXPECTED = {
    **BASE_EXPECTED,
    "recency_days": [1, 108],
    "n_orders": [3, 1],
    "n_purchase_days": [3, 1],
    "spend_total": [85.0, 40.0],
    "spend_mean": [85.0 / 3, 40.0],
    "gross_spend_total": [95.0, 40.0],
    "refund_share": [10.0 / 95.0, 0.0],
    "mean_gap_days": [30.0, np.nan],
    "recency_to_gap": [1.0 / 30.0, np.nan],
    "n_orders_30d": [2, 0],
    "spend_30d": [35.0, 0.0],
    "n_orders_90d": [3, 0],
    "spend_90d": [85.0, 0.0],
    "days_since_engagement": [21, 1],
    "n_email_click_30d": [0, 1],
    "n_email_click_90d": [0, 1],
}


def _assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        actual, expected, check_exact=False, rtol=1e-12, atol=0
    )


def test_base_features_match_hand_computed_values(write_file):
    features = _build(write_file, BASE_TRANSACTIONS, BASE_ENGAGEMENT)

    _assert_same(features.frame, _expected(dict(BASE_EXPECTED)))


def test_events_on_and_after_as_of_do_not_change_features(write_file):
    base = _build(write_file, BASE_TRANSACTIONS, BASE_ENGAGEMENT)
    planted = _build(
        write_file,
        BASE_TRANSACTIONS + AFTER_TRANSACTIONS,
        BASE_ENGAGEMENT + AFTER_ENGAGEMENT,
    )

    _assert_same(planted.frame, base.frame)
    _assert_same(planted.frame, _expected(dict(BASE_EXPECTED)))


def test_planted_rows_are_counted_as_after_cutoff(write_file):
    planted = _build(
        write_file,
        BASE_TRANSACTIONS + AFTER_TRANSACTIONS,
        BASE_ENGAGEMENT + AFTER_ENGAGEMENT,
    )

    # the six planted transaction rows, none of the four before as_of
    assert planted.n_rows_after_cutoff == 6


def test_event_one_second_before_as_of_changes_only_what_it_dictates(write_file):
    just_before = _build(
        write_file,
        BASE_TRANSACTIONS + JUST_BEFORE_TRANSACTIONS,
        BASE_ENGAGEMENT + JUST_BEFORE_ENGAGEMENT,
    )

    _assert_same(just_before.frame, _expected(dict(JUST_BEFORE_EXPECTED)))


def test_events_after_as_of_do_not_change_features_next_to_one_just_before(
    write_file,
):
    just_before = _build(
        write_file,
        BASE_TRANSACTIONS + JUST_BEFORE_TRANSACTIONS,
        BASE_ENGAGEMENT + JUST_BEFORE_ENGAGEMENT,
    )
    everything = _build(
        write_file,
        BASE_TRANSACTIONS + JUST_BEFORE_TRANSACTIONS + AFTER_TRANSACTIONS,
        BASE_ENGAGEMENT + JUST_BEFORE_ENGAGEMENT + AFTER_ENGAGEMENT,
    )

    _assert_same(everything.frame, just_before.frame)


def test_customer_whose_events_all_start_at_as_of_is_left_out(write_file):
    planted = _build(
        write_file,
        BASE_TRANSACTIONS + AFTER_TRANSACTIONS,
        BASE_ENGAGEMENT + AFTER_ENGAGEMENT,
    )

    assert "D" not in set(planted.frame["customer_id"])


def test_event_type_seen_only_after_as_of_adds_only_zero_counts(write_file):
    # event types default to every type in the table, so a type that first
    # appears after as_of gets columns, but they must count nothing; with the
    # types fixed (as scoring passes them) the frame is unchanged
    late_type = "A,2024-07-01T00:00:00,sms_click\nB,2024-09-01T00:00:00,sms_click\n"
    base = _build(write_file, BASE_TRANSACTIONS, BASE_ENGAGEMENT)

    inferred = _build(write_file, BASE_TRANSACTIONS, BASE_ENGAGEMENT + late_type)
    fixed = _build(
        write_file,
        BASE_TRANSACTIONS,
        BASE_ENGAGEMENT + late_type,
        event_types=["email_click", "email_open"],
    )

    new_columns = [c for c in inferred.frame.columns if c not in base.frame.columns]
    assert new_columns == ["n_sms_click_30d", "n_sms_click_90d"]
    assert (inferred.frame[new_columns] == 0).all().all()
    _assert_same(inferred.frame.drop(columns=new_columns), base.frame)
    _assert_same(fixed.frame, base.frame)
