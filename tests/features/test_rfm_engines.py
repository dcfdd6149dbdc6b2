"""The purchase feature definitions give the same numbers on pandas and DuckDB."""

from __future__ import annotations

import datetime as dt

import narwhals as nw
import numpy as np
import pandas as pd
import pytest

from referral_propensity.engine import connect
from referral_propensity.features.rfm import build_rfm_features
from referral_propensity.io.load import TableSource, load_table
from referral_propensity.io.tables import to_day

AS_OF = dt.date(2024, 7, 1)
TODAY = dt.date(2024, 9, 30)
WINDOWS = (30, 90)

TRANSACTIONS_CSV = (
    "customer_id,order_id,timestamp,amount\n"
    "A,A1,2024-05-01T10:00:00,50.00\n"
    "A,A2,2024-06-20T08:00:00,30.00\n"
    "A,A2R,2024-06-25T09:00:00,-10.00\n"
    "B,B1,2024-03-15T12:00:00,40.00\n"
    "B,B2,2024-07-01T00:00:00,99.00\n"
    "C,C1,2024-06-01T00:00:00,0.00\n"
)

# the same rows typed by hand for pandas: event_day is days since 1970-01-01
PANDAS_ROWS = pd.DataFrame(
    {
        "customer_id": ["A", "A", "A", "B", "B", "C"],
        "order_id": ["A1", "A2", "A2R", "B1", "B2", "C1"],
        "event_day": [
            to_day(dt.date(2024, 5, 1)),
            to_day(dt.date(2024, 6, 20)),
            to_day(dt.date(2024, 6, 25)),
            to_day(dt.date(2024, 3, 15)),
            to_day(dt.date(2024, 7, 1)),
            to_day(dt.date(2024, 6, 1)),
        ],
        "amount": [50.0, 30.0, -10.0, 40.0, 99.0, 0.0],
    }
)

# Hand values as of 2024-07-01 (B's 07-01 row is not before as_of; C's only
# row has amount 0, so C has no purchase):
# A: recency 11, tenure 61, 2 orders, net 70, gross 80, refund 10,
#    30d: 1 order / 20.0, 90d: 2 orders / 70.0
# B: recency = tenure = 108, 1 order, 40.0, nothing in either window
# C: no purchase: n_orders 0, recency null, spend 0 (its 06-01 row lies in
#    both windows but adds 0)
HAND_VALUES = pd.DataFrame(
    {
        "customer_id": ["A", "B", "C"],
        "recency_days": [11.0, 108.0, np.nan],
        "tenure_days": [61.0, 108.0, np.nan],
        "n_orders": [2.0, 1.0, 0.0],
        "spend_total": [70.0, 40.0, 0.0],
        "gross_spend_total": [80.0, 40.0, 0.0],
        "refund_total": [10.0, 0.0, 0.0],
        "n_orders_30d": [1.0, 0.0, 0.0],
        "spend_30d": [20.0, 0.0, 0.0],
        "n_orders_90d": [2.0, 0.0, 0.0],
        "spend_90d": [70.0, 0.0, 0.0],
    }
)


def _as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    # engines differ in integer and null types; compare every measure as float
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    measures = frame.drop(columns="customer_id").astype("float64")
    ids = pd.Series(frame["customer_id"].astype(str).tolist(), name="customer_id")
    return pd.concat([ids, measures], axis=1)


def _duckdb_features(write_file) -> pd.DataFrame:
    path = write_file("transactions.csv", TRANSACTIONS_CSV)
    loaded = load_table(connect(), TableSource("transactions", path=path), today=TODAY)
    result = build_rfm_features(
        nw.from_native(loaded.relation),
        as_of_day=to_day(AS_OF),
        windows_days=WINDOWS,
    )
    return _as_floats(result.to_native().df())


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_pandas_frame_gives_the_same_features_as_duckdb(write_file, lazy):
    rows = nw.from_native(PANDAS_ROWS)
    if lazy:
        rows = rows.lazy()

    result = build_rfm_features(rows, as_of_day=to_day(AS_OF), windows_days=WINDOWS)
    if lazy:
        result = result.collect()
    from_pandas = _as_floats(result.to_native())

    pd.testing.assert_frame_equal(
        from_pandas, _duckdb_features(write_file), check_exact=False, rtol=1e-12, atol=0
    )


def test_duckdb_features_match_hand_values(write_file):
    from_duckdb = _duckdb_features(write_file)

    pd.testing.assert_frame_equal(
        from_duckdb[HAND_VALUES.columns],
        _as_floats(HAND_VALUES),
        check_exact=False,
        rtol=1e-12,
        atol=0,
    )
