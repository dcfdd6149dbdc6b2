"""Case 13: semicolon delimiter, decimal comma and dot as thousands separator."""

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

EU_CSV = (
    "customer_id;timestamp;amount\n"
    "C110;2024-03-05;12,50\n"
    "C110;2024-04-10;1.234,56\n"
    "C111;2024-05-20;7,05\n"
)


def _eu_source(path) -> TableSource:
    return TableSource("transactions", path=path, sep=";", decimal=",", thousands=".")


def test_eu_amounts_load_as_floats_with_thousands_removed(write_file):
    path = write_file("transactions_eu.csv", EU_CSV)

    rows = (
        load_table(connect(), _eu_source(path), today=TODAY)
        .to_pandas()
        .sort_values(["customer_id", "timestamp"])
    )

    # 12,50 -> 12.5; 1.234,56 -> 1234.56 (not 1.23456 nor 1.234); 7,05 -> 7.05
    assert rows["amount"].dtype == np.float64
    np.testing.assert_allclose(rows["amount"], [12.50, 1234.56, 7.05], rtol=1e-12)


def test_eu_features_match_hand_computed_table(write_file):
    path = write_file("transactions_eu.csv", EU_CSV)
    tables = load_tables(connect(), {"transactions": _eu_source(path)}, today=TODAY)

    frame = build_features(tables, as_of=AS_OF).frame

    # C110: 12.50 + 1234.56 = 1247.06 over 2 orders,
    #       recency 04-10 -> 07-01 = 20 + 31 + 30 + 1 = 82
    # C111: 7.05, recency 05-20 -> 11 + 30 + 1 = 42
    assert frame["customer_id"].tolist() == ["C110", "C111"]
    assert frame["n_orders"].tolist() == [2, 1]
    np.testing.assert_allclose(frame["spend_total"], [1247.06, 7.05], rtol=1e-12)
    np.testing.assert_allclose(frame["recency_days"], [82, 42], rtol=0, atol=1e-9)


def test_default_settings_on_semicolon_file_error_mentions_the_delimiter(write_file):
    path = write_file("transactions_eu.csv", EU_CSV)

    with pytest.raises(InputValidationError, match=r"delimit"):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)


def test_default_settings_error_lists_the_header_actually_found(write_file):
    # read with ',' the header line is one column, 'customer_id;timestamp;amount';
    # the error must list what the file's header holds, not a data row
    path = write_file("transactions_eu.csv", EU_CSV)

    with pytest.raises(InputValidationError) as info:
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)

    message = str(info.value)
    assert "customer_id, timestamp, amount" in message
    assert "found: 'customer_id;timestamp;amount'" in message
    assert "C110" not in message
