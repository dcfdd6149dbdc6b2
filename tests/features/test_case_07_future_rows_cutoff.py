"""Case 07: an explicit as_of, future-dated rows, and no wall-clock dependence."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
import pytest

from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.features import build_features
from referral_propensity.io.load import TableSource, load_table
from referral_propensity.io.tables import load_tables

AS_OF = dt.date(2024, 7, 1)
EXTRACTED_ON = dt.date(2024, 9, 30)
LATER_DAY = dt.date(2025, 1, 15)

# line 3 (2024-08-20) is after as_of but before the extract; line 4
# (2031-01-01) is after the extract date itself
TRANSACTIONS_CSV = (
    "customer_id,timestamp,amount\n"
    "C60,2024-05-10,30.00\n"
    "C60,2024-08-20,45.00\n"
    "C61,2031-01-01,99.00\n"
    "C61,2024-04-01,20.00\n"
)

# the same rows, dates written day first
TRANSACTIONS_DAYFIRST_CSV = (
    "customer_id,timestamp,amount\n"
    "C60,10/05/2024,30.00\n"
    "C60,20/08/2024,45.00\n"
    "C61,01/01/2031,99.00\n"
    "C61,01/04/2024,20.00\n"
)


def _features(path, *, today, as_of=AS_OF):
    con = connect()
    tables = load_tables(
        con, {"transactions": TableSource("transactions", path=path)}, today=today
    )
    return build_features(tables, as_of=as_of)


def _future_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "after today" in record.getMessage()
    ]


def test_rows_on_or_after_as_of_are_left_out_and_counted(write_file):
    path = write_file("transactions.csv", TRANSACTIONS_CSV)

    features = _features(path, today=EXTRACTED_ON)
    frame = features.frame

    # C60: 05-10 (30.00) only -> recency 21 + 30 + 1 = 52
    # C61: 04-01 (20.00) only -> recency 29 + 31 + 30 + 1 = 91
    # left out: C60 2024-08-20 and C61 2031-01-01 -> 2 rows
    assert features.n_rows_after_cutoff == 2
    assert frame["customer_id"].tolist() == ["C60", "C61"]
    assert frame["n_orders"].tolist() == [1, 1]
    np.testing.assert_allclose(frame["spend_total"], [30.0, 20.0], rtol=1e-12)
    np.testing.assert_allclose(frame["recency_days"], [52, 91], rtol=0, atol=1e-9)


def test_row_dated_after_today_is_warned_about_by_line(write_file, caplog):
    # the project keeps customer ids out of logs, so the warning names the
    # line (4) and the date, not customer C61
    path = write_file("transactions.csv", TRANSACTIONS_CSV)

    with caplog.at_level(logging.WARNING, logger="referral_propensity"):
        load_table(
            connect(), TableSource("transactions", path=path), today=EXTRACTED_ON
        )

    messages = _future_warnings(caplog)
    assert len(messages) == 1
    assert "transactions.csv" in messages[0]
    assert "line 4" in messages[0]
    assert "2031-01-01" in messages[0]
    # 2024-08-20 is before the extract date, so line 3 is not a future row
    assert "line 3" not in messages[0]
    assert "C61" not in messages[0]


def test_future_row_warning_names_the_line_for_dayfirst_dates(write_file, caplog):
    # same data as above, dates written dd/mm/yyyy: line 4 is still the row
    path = write_file("transactions_dayfirst.csv", TRANSACTIONS_DAYFIRST_CSV)
    source = TableSource("transactions", path=path, date_format="%d/%m/%Y")

    with caplog.at_level(logging.WARNING, logger="referral_propensity"):
        load_table(connect(), source, today=EXTRACTED_ON)

    messages = _future_warnings(caplog)
    assert len(messages) == 1
    assert "line 4" in messages[0]


def test_features_do_not_depend_on_the_wall_clock_day(write_file):
    path = write_file("transactions.csv", TRANSACTIONS_CSV)

    first = _features(path, today=EXTRACTED_ON)
    second = _features(path, today=LATER_DAY)

    pd.testing.assert_frame_equal(first.frame, second.frame, check_exact=True)
    assert first.n_rows_after_cutoff == second.n_rows_after_cutoff == 2


def test_missing_as_of_errors_saying_it_is_required(write_file):
    path = write_file("transactions.csv", TRANSACTIONS_CSV)
    con = connect()
    tables = load_tables(
        con,
        {"transactions": TableSource("transactions", path=path)},
        today=EXTRACTED_ON,
    )

    with pytest.raises(InputValidationError, match="as_of is required"):
        build_features(tables, as_of=None)
