"""Case 03: several orders on one day, with explicitly named frequencies."""

from __future__ import annotations

import datetime as dt

import numpy as np

from referral_propensity.engine import connect
from referral_propensity.features import build_features
from referral_propensity.features.rfm import ORDER_RULES
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables

AS_OF = dt.date(2024, 7, 1)
TODAY = dt.date(2024, 9, 30)

TRANSACTIONS_CSV = (
    "customer_id,order_id,timestamp,amount\n"
    "C20,O1001,2024-02-10T09:15:00,12.00\n"
    "C20,O1002,2024-02-10T17:40:00,8.00\n"
    "C20,O1003,2024-04-05T11:00:00,20.00\n"
    "C21,O1004,2024-05-01T10:00:00,50.00\n"
    "C21,O1005,2024-05-01T10:05:00,5.00\n"
)


def _features(write_file):
    path = write_file("transactions.csv", TRANSACTIONS_CSV)
    con = connect()
    tables = load_tables(
        con, {"transactions": TableSource("transactions", path=path)}, today=TODAY
    )
    return build_features(tables, as_of=AS_OF)


def test_same_day_orders_count_as_orders_but_one_purchase_day(write_file):
    frame = _features(write_file).frame

    # C20: orders O1001, O1002 (both 02-10) and O1003 (04-05): 3 orders on 2 days
    # C21: O1004 and O1005 on 05-01: 2 orders on 1 day
    assert frame["customer_id"].tolist() == ["C20", "C21"]
    assert frame["n_orders"].tolist() == [3, 2]
    assert frame["n_purchase_days"].tolist() == [2, 1]


def test_same_day_orders_recency_tenure_and_spend_match_hand_values(write_file):
    frame = _features(write_file).frame

    # recency: C20 04-05 -> 07-01 = 25 + 31 + 30 + 1 = 87; C21 05-01 -> 61
    # tenure:  C20 02-10 -> 07-01 = 19 + 31 + 30 + 31 + 30 + 1 = 142; C21 61
    # spend_total 12 + 8 + 20 = 40 and 50 + 5 = 55
    # spend_mean is per order: 40 / 3 = 13.333..., 55 / 2 = 27.5
    np.testing.assert_allclose(frame["recency_days"], [87, 61], rtol=0, atol=1e-9)
    np.testing.assert_allclose(frame["tenure_days"], [142, 61], rtol=0, atol=1e-9)
    np.testing.assert_allclose(frame["spend_total"], [40.0, 55.0], rtol=1e-12)
    np.testing.assert_allclose(frame["spend_mean"], [40 / 3, 27.5], rtol=1e-12)

    # mean per purchase day: 40 / 2 = 20 and 55 / 1 = 55
    per_day = frame["spend_total"] / frame["n_purchase_days"]
    np.testing.assert_allclose(per_day, [20.0, 55.0], rtol=1e-12)


def test_repeat_periods_are_zero_when_first_and_last_purchase_day_coincide(write_file):
    frame = _features(write_file).frame

    # BTYD style: repeat periods = purchase days - 1 (C20: 1, C21: 0);
    # first -> last purchase = tenure - recency (C20: 142 - 87 = 55, C21: 0)
    repeat_periods = frame["n_purchase_days"] - 1
    first_to_last = frame["tenure_days"] - frame["recency_days"]
    assert repeat_periods.tolist() == [1, 0]
    np.testing.assert_allclose(first_to_last, [55, 0], rtol=0, atol=1e-9)

    # mean_gap_days is the mean distance between purchase days: 55 / 1 for
    # C20, undefined for C21 with a single purchase day
    np.testing.assert_allclose(frame["mean_gap_days"], [55.0, np.nan], rtol=1e-12)


def test_no_customer_has_orders_with_zero_recency(write_file):
    # as_of is exclusive, so a customer with orders has recency_days >= 1
    frame = _features(write_file).frame

    assert (frame.loc[frame["n_orders"] > 0, "recency_days"] >= 1).all()


def test_frequency_definition_is_recorded_on_the_feature_table(write_file):
    features = _features(write_file)

    assert features.order_definition == "order_id"
    assert "distinct order_id" in ORDER_RULES[features.order_definition]
