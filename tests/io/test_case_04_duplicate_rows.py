"""Case 04: exact duplicate rows are dropped, counted and logged."""

from __future__ import annotations

import datetime as dt
import logging
import re

import numpy as np

from referral_propensity.engine import connect
from referral_propensity.features import build_features
from referral_propensity.io.load import TableSource, load_table
from referral_propensity.io.tables import load_tables

AS_OF = dt.date(2024, 7, 1)
TODAY = dt.date(2024, 9, 30)

# C30 has one duplicated line, C31 two; C32's two lines share an order but
# differ in amount, so they are two lines of one order, not duplicates
TRANSACTIONS_CSV = (
    "customer_id,order_id,timestamp,amount\n"
    "C30,O2001,2024-03-03T10:00:00,25.00\n"
    "C30,O2001,2024-03-03T10:00:00,25.00\n"
    "C30,O2002,2024-05-20T14:30:00,40.00\n"
    "C31,O2003,2024-06-01T09:00:00,15.00\n"
    "C31,O2003,2024-06-01T09:00:00,15.00\n"
    "C31,O2003,2024-06-01T09:00:00,15.00\n"
    "C32,O2004,2024-04-12T16:00:00,10.00\n"
    "C32,O2004,2024-04-12T16:00:00,12.00\n"
)

NO_ORDER_ID_CSV = (
    "customer_id,timestamp,amount\n"
    "C33,2024-02-02T08:00:00,9.90\n"
    "C33,2024-02-02T08:00:00,9.90\n"
    "C33,2024-03-02T08:00:00,9.90\n"
)


def _duplicate_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "duplicate" in record.getMessage()
    ]


def test_exact_duplicates_are_dropped_and_counted(write_file):
    path = write_file("transactions.csv", TRANSACTIONS_CSV)

    loaded = load_table(connect(), TableSource("transactions", path=path), today=TODAY)

    # 8 rows read; 1 extra copy for C30 and 2 for C31 -> 3 dropped, 5 kept
    assert loaded.n_rows_read == 8
    assert loaded.n_duplicate_rows_dropped == 3
    assert loaded.n_rows == 5


def test_duplicate_warning_names_the_file_and_the_count(write_file, caplog):
    path = write_file("transactions.csv", TRANSACTIONS_CSV)

    with caplog.at_level(logging.WARNING, logger="referral_propensity"):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)

    messages = _duplicate_warnings(caplog)
    assert len(messages) == 1
    assert "transactions.csv" in messages[0]
    assert re.search(r"\b3\b", messages[0])


def test_deduplicated_features_match_hand_computed_table(write_file):
    path = write_file("transactions.csv", TRANSACTIONS_CSV)
    con = connect()
    tables = load_tables(
        con, {"transactions": TableSource("transactions", path=path)}, today=TODAY
    )

    frame = build_features(tables, as_of=AS_OF).frame

    # C30: orders O2001 (25, kept once) and O2002 (40) -> 2 orders, 65,
    #      recency 05-20 -> 07-01 = 11 + 30 + 1 = 42
    # C31: O2003 kept once -> 1 order, 15, recency 06-01 -> 30
    # C32: O2004 lines 10 + 12 -> 1 order, 22, recency 04-12 -> 18 + 31 + 30 + 1 = 80
    assert frame["customer_id"].tolist() == ["C30", "C31", "C32"]
    assert frame["n_orders"].tolist() == [2, 1, 1]
    np.testing.assert_allclose(frame["spend_total"], [65.0, 15.0, 22.0], rtol=1e-12)
    np.testing.assert_allclose(frame["recency_days"], [42, 30, 80], rtol=0, atol=1e-9)


def test_duplicates_without_order_id_are_dropped_before_counting_days(
    write_file, caplog
):
    path = write_file("transactions_no_order_id.csv", NO_ORDER_ID_CSV)
    con = connect()

    with caplog.at_level(logging.WARNING, logger="referral_propensity"):
        tables = load_tables(
            con,
            {"transactions": TableSource("transactions", path=path)},
            today=TODAY,
        )
    frame = build_features(tables, as_of=AS_OF).frame

    # the second 02-02 row is an exact copy -> 1 dropped; what is left is one
    # order on 02-02 and one on 03-02: 2 orders, 9.90 + 9.90 = 19.80,
    # recency 03-02 -> 07-01 = 29 + 30 + 31 + 30 + 1 = 121
    assert tables.transactions.n_duplicate_rows_dropped == 1
    messages = _duplicate_warnings(caplog)
    assert len(messages) == 1
    assert "transactions_no_order_id.csv" in messages[0]
    assert re.search(r"\b1\b", messages[0])
    assert frame["n_orders"].tolist() == [2]
    np.testing.assert_allclose(frame["spend_total"], [19.80], rtol=1e-12)
    np.testing.assert_allclose(frame["recency_days"], [121], rtol=0, atol=1e-9)


def test_file_without_duplicates_logs_no_duplicate_warning(write_file, caplog):
    path = write_file(
        "clean.csv",
        "customer_id,order_id,timestamp,amount\nC30,O1,2024-03-03,25.00\n",
    )

    with caplog.at_level(logging.WARNING, logger="referral_propensity"):
        loaded = load_table(
            connect(), TableSource("transactions", path=path), today=TODAY
        )

    assert loaded.n_duplicate_rows_dropped == 0
    assert _duplicate_warnings(caplog) == []
