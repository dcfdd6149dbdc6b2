"""Case 02: timestamps with different UTC offsets are converted to UTC."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.features import build_features
from referral_propensity.io.load import TableSource, load_table
from referral_propensity.io.tables import load_tables

AS_OF = dt.date(2024, 7, 1)
TODAY = dt.date(2024, 9, 30)

TZ_CSV = (
    "customer_id,timestamp,amount\n"
    "C10,2024-03-30T23:30:00+01:00,40.00\n"
    "C10,2024-03-31T23:30:00+02:00,15.00\n"
    "C11,2024-06-30T23:30:00+02:00,22.00\n"
    "C11,2024-07-01T00:30:00+02:00,18.00\n"
    "C12,2024-06-30T22:15:00Z,35.00\n"
)

# the same rows with an order id per row, to count orders by order_id
TZ_WITH_ORDER_ID_CSV = (
    "customer_id,order_id,timestamp,amount\n"
    "C10,O1,2024-03-30T23:30:00+01:00,40.00\n"
    "C10,O2,2024-03-31T23:30:00+02:00,15.00\n"
    "C11,O3,2024-06-30T23:30:00+02:00,22.00\n"
    "C11,O4,2024-07-01T00:30:00+02:00,18.00\n"
    "C12,O5,2024-06-30T22:15:00Z,35.00\n"
)

NAIVE_AND_AWARE_CSV = (
    "customer_id,timestamp,amount\n"
    "C13,2024-05-01T10:00:00+02:00,20.00\n"
    "C13,2024-05-03 09:00:00,25.00\n"
)


def _features(path):
    con = connect()
    tables = load_tables(
        con, {"transactions": TableSource("transactions", path=path)}, today=TODAY
    )
    return build_features(tables, as_of=AS_OF)


def test_offset_timestamps_load_as_utc_aware_datetimes(write_file):
    path = write_file("transactions_tz.csv", TZ_CSV)

    loaded = load_table(connect(), TableSource("transactions", path=path), today=TODAY)
    rows = loaded.to_pandas().sort_values(["customer_id", "timestamp"])

    assert isinstance(rows["timestamp"].dtype, pd.DatetimeTZDtype)
    assert str(rows["timestamp"].dt.tz) == "UTC"
    # each local time minus its offset, by hand
    expected = pd.to_datetime(
        [
            "2024-03-30T22:30:00Z",
            "2024-03-31T21:30:00Z",
            "2024-06-30T21:30:00Z",
            "2024-06-30T22:30:00Z",
            "2024-06-30T22:15:00Z",
        ],
        utc=True,
    )
    assert list(rows["timestamp"]) == list(expected)


def test_local_july_first_is_june_30_in_utc_and_before_as_of(write_file):
    # C11's 2024-07-01T00:30+02:00 is 2024-06-30T22:30Z, so it is a feature row
    path = write_file("transactions_tz.csv", TZ_CSV)

    features = _features(path)

    assert features.n_rows_after_cutoff == 0


def test_offset_features_without_order_id_count_customer_days(write_file):
    path = write_file("transactions_tz.csv", TZ_CSV)

    features = _features(path)
    frame = features.frame

    # The case counts transaction rows as frequency (C11 = 2). This project,
    # without order_id, counts one order per customer and UTC day: both C11
    # rows fall on 2024-06-30 in UTC, so n_orders is 1 there. The total
    # (22 + 18 = 40) still proves the offsets were converted: stripping them
    # would put the 18.00 row on 07-01, after as_of, and leave 22.00.
    #   C10: UTC days 03-30 and 03-31 -> 2 orders, 40 + 15 = 55,
    #        recency 03-31 -> 07-01 = 1 + 30 + 31 + 30 = 92
    #   C11: 1 order, 40, recency 06-30 -> 07-01 = 1
    #   C12: 1 order, 35, recency 1
    assert features.order_definition == "customer_day"
    assert frame["customer_id"].tolist() == ["C10", "C11", "C12"]
    assert frame["n_orders"].tolist() == [2, 1, 1]
    assert frame["n_purchase_days"].tolist() == [2, 1, 1]
    np.testing.assert_allclose(frame["spend_total"], [55.0, 40.0, 35.0], rtol=1e-12)
    np.testing.assert_allclose(frame["recency_days"], [92, 1, 1], rtol=0, atol=1e-9)


def test_offset_features_with_order_id_match_case_frequency(write_file):
    # with one order id per row the case's frequency is n_orders: (2, 2, 1)
    path = write_file("transactions_tz_orders.csv", TZ_WITH_ORDER_ID_CSV)

    frame = _features(path).frame

    assert frame["n_orders"].tolist() == [2, 2, 1]
    np.testing.assert_allclose(frame["spend_total"], [55.0, 40.0, 35.0], rtol=1e-12)
    np.testing.assert_allclose(frame["recency_days"], [92, 1, 1], rtol=0, atol=1e-9)


def test_naive_beside_aware_timestamps_errors_naming_column_and_line(write_file):
    path = write_file("transactions_naive_and_aware.csv", NAIVE_AND_AWARE_CSV)

    with pytest.raises(InputValidationError) as info:
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)

    message = str(info.value)
    assert "timestamp" in message
    assert "line 3" in message
    assert "2024-05-03 09:00:00" in message
