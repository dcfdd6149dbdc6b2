"""Case 12: a UTF-8 byte order mark must not stick to the first column name."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.features import build_features
from referral_propensity.io.load import TableSource, load_table
from referral_propensity.io.tables import load_tables

AS_OF = dt.date(2024, 7, 1)
TODAY = dt.date(2024, 9, 30)
BOM = b"\xef\xbb\xbf"

# every field quoted, as spreadsheet exports write them
BOM_CSV = BOM + (
    b'"customer_id","timestamp","amount"\n'
    b'"C100","2024-04-01","20.50"\n'
    b'"C100","2024-05-15","35.00"\n'
    b'"C101","2024-06-01","8.00"\n'
)


def test_bom_file_columns_are_the_plain_contract_names(write_file):
    path = write_file("transactions_bom.csv", BOM_CSV)
    assert path.read_bytes()[:3] == BOM

    loaded = load_table(connect(), TableSource("transactions", path=path), today=TODAY)

    # the three source columns, then the one the loader derives: event_day
    # (the file has no order_id, so orders are counted per customer and day)
    assert loaded.columns == ["customer_id", "timestamp", "amount", "event_day"]
    assert loaded.order_definition == "customer_day"


def test_bom_file_features_match_hand_computed_table(write_file):
    path = write_file("transactions_bom.csv", BOM_CSV)
    tables = load_tables(
        connect(), {"transactions": TableSource("transactions", path=path)}, today=TODAY
    )

    frame = build_features(tables, as_of=AS_OF).frame

    # C100: 04-01 (20.50) and 05-15 (35.00) -> 2 orders, 55.50,
    #       recency 05-15 -> 07-01 = 16 + 30 + 1 = 47
    # C101: 06-01 (8.00) -> 1 order, 8.00, recency 30
    assert frame["customer_id"].tolist() == ["C100", "C101"]
    assert frame["n_orders"].tolist() == [2, 1]
    np.testing.assert_allclose(frame["spend_total"], [55.50, 8.00], rtol=1e-12)
    np.testing.assert_allclose(frame["recency_days"], [47, 30], rtol=0, atol=1e-9)


def test_missing_column_in_bom_file_lists_found_names_with_repr(write_file):
    # first column misnamed: the error shows the names found as repr(), and
    # the byte order mark is not among them
    path = write_file(
        "transactions_bom_bad.csv",
        BOM + b'"cust","timestamp","amount"\n"C100","2024-04-01","20.50"\n',
    )

    with pytest.raises(InputValidationError) as info:
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)

    message = str(info.value)
    assert "customer_id" in message
    assert "found: 'cust', 'timestamp', 'amount'" in message
    assert "\ufeff" not in message
