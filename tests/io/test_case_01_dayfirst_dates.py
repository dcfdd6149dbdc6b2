"""Case 01: day-first dates must never be read month-first, nor row by row."""

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

DAYFIRST_CSV = (
    "customer_id,timestamp,amount\n"
    "C01,04/02/2024,30.00\n"
    "C01,15/03/2024,45.00\n"
    "C02,11/01/2024,20.00\n"
    "C02,02/05/2024,25.00\n"
    "C03,07/06/2024,60.00\n"
)

# dd/mm/yyyy with one ISO value on line 3
MIXED_CSV = (
    "customer_id,timestamp,amount\n"
    "C04,03/04/2024,10.00\n"
    "C04,2024-04-20,12.00\n"
    "C05,09/05/2024,18.00\n"
)

# the dates of DAYFIRST_CSV read day first, sorted by customer and time
EXPECTED_DATES = [
    ("C01", dt.date(2024, 2, 4)),
    ("C01", dt.date(2024, 3, 15)),
    ("C02", dt.date(2024, 1, 11)),
    ("C02", dt.date(2024, 5, 2)),
    ("C03", dt.date(2024, 6, 7)),
]


def _parsed_dates(loaded) -> list[tuple[str, dt.date]]:
    rows = loaded.to_pandas().sort_values(["customer_id", "timestamp"])
    return list(zip(rows["customer_id"], rows["timestamp"].dt.date, strict=True))


def _features(path, **settings):
    con = connect()
    source = TableSource("transactions", path=path, **settings)
    tables = load_tables(con, {"transactions": source}, today=TODAY)
    return build_features(tables, as_of=AS_OF).frame


def test_configured_dayfirst_format_reads_every_date_day_first(write_file):
    path = write_file("transactions_dayfirst.csv", DAYFIRST_CSV)

    loaded = load_table(
        connect(),
        TableSource("transactions", path=path, date_format="%d/%m/%Y"),
        today=TODAY,
    )

    assert _parsed_dates(loaded) == EXPECTED_DATES


def test_dayfirst_features_match_hand_computed_table(write_file):
    path = write_file("transactions_dayfirst.csv", DAYFIRST_CSV)

    frame = _features(path, date_format="%d/%m/%Y")

    # recency_days = 2024-07-01 minus the last purchase date:
    #   C01 2024-03-15 -> 16 + 30 + 31 + 30 + 1 = 108
    #   C02 2024-05-02 -> 29 + 30 + 1 = 60
    #   C03 2024-06-07 -> 23 + 1 = 24
    # n_orders (the case's "frequency"): no order_id, so one order per customer
    # and UTC day; each purchase here is on its own day, 2 / 2 / 1.
    # spend_total: 30 + 45 = 75, 20 + 25 = 45, 60.
    # tenure_days from the first purchase: C01 02-04 -> 148, C02 01-11 -> 172.
    assert frame["customer_id"].tolist() == ["C01", "C02", "C03"]
    np.testing.assert_allclose(frame["recency_days"], [108, 60, 24], rtol=0, atol=1e-9)
    assert frame["n_orders"].tolist() == [2, 2, 1]
    np.testing.assert_allclose(frame["spend_total"], [75.0, 45.0, 60.0], rtol=1e-12)
    np.testing.assert_allclose(frame["tenure_days"], [148, 172, 24], rtol=0, atol=1e-9)


def test_unconfigured_dayfirst_column_infers_one_format_for_all_rows(write_file):
    # only %d/%m/%Y fits every value, because 15/03/2024 cannot be month first
    path = write_file("transactions_dayfirst.csv", DAYFIRST_CSV)

    loaded = load_table(connect(), TableSource("transactions", path=path), today=TODAY)

    assert loaded.date_formats["timestamp"] == "%d/%m/%Y"
    assert _parsed_dates(loaded) == EXPECTED_DATES


def test_unconfigured_dayfirst_gives_the_same_features_as_configured(write_file):
    path = write_file("transactions_dayfirst.csv", DAYFIRST_CSV)

    inferred = _features(path)
    configured = _features(path, date_format="%d/%m/%Y")

    pd.testing.assert_frame_equal(inferred, configured, check_exact=False, rtol=1e-12)


def test_ambiguous_day_month_column_without_format_asks_for_date_format(write_file):
    # every value here fits both dd/mm and mm/dd, so no single format is certain
    path = write_file(
        "ambiguous.csv",
        "customer_id,timestamp,amount\nC01,04/02/2024,30.00\nC02,11/01/2024,20.00\n",
    )

    with pytest.raises(InputValidationError, match=r"timestamp.*date_format"):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)


def test_iso_row_in_dayfirst_column_errors_naming_column_line_and_value(write_file):
    path = write_file("transactions_mixed_formats.csv", MIXED_CSV)
    source = TableSource("transactions", path=path, date_format="%d/%m/%Y")

    with pytest.raises(InputValidationError) as info:
        load_table(connect(), source, today=TODAY)

    message = str(info.value)
    assert "timestamp" in message
    assert "line 3" in message
    assert "2024-04-20" in message
    assert "%d/%m/%Y" in message


def test_mixed_formats_without_configured_format_error_instead_of_dropping(write_file):
    # no single candidate format fits both 03/04/2024 and 2024-04-20
    path = write_file("transactions_mixed_formats.csv", MIXED_CSV)

    with pytest.raises(
        InputValidationError, match=r"timestamp.*line 3 \('2024-04-20'\)"
    ):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)
