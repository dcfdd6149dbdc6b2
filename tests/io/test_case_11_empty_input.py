"""Case 11: empty inputs stop early with a clear message.

The case's "no model trained, no MLflow run FINISHED" part is checked by the
command-line tests; here only the loader and feature errors are checked.
"""

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
TODAY = dt.date(2024, 9, 30)

HEADER_ONLY_CSV = "customer_id,timestamp,amount\n"
ALL_AFTER_CUTOFF_CSV = (
    "customer_id,timestamp,amount\nC95,2024-07-02,10.00\nC96,2024-08-15,20.00\n"
)
# a valid transactions table for the optional-input checks
TRANSACTIONS_CSV = (
    "customer_id,timestamp,amount\nC90,2024-06-01,10.00\nC91,2024-05-02,20.00\n"
)


def test_header_only_transactions_error_names_file_and_zero_rows(write_file):
    path = write_file("transactions_header_only.csv", HEADER_ONLY_CSV)

    with pytest.raises(
        InputValidationError,
        match=r"transactions file `transactions_header_only\.csv` has 0 data rows",
    ):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)


def test_zero_byte_transactions_error_says_no_header_row(write_file):
    path = write_file("transactions_zero_bytes.csv", b"")

    with pytest.raises(
        InputValidationError,
        match=r"transactions file `transactions_zero_bytes\.csv` is empty "
        r"\(no header row\)",
    ):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)


def test_all_rows_after_cutoff_error_gives_zero_of_two(write_file):
    path = write_file("transactions_all_after_cutoff.csv", ALL_AFTER_CUTOFF_CSV)
    tables = load_tables(
        connect(), {"transactions": TableSource("transactions", path=path)}, today=TODAY
    )

    with pytest.raises(
        InputValidationError,
        match=r"0 of 2 transactions are before cutoff 2024-07-01; "
        r"nothing to build features from",
    ):
        build_features(tables, as_of=AS_OF)


@pytest.mark.parametrize(
    "content",
    [b"customer_id,timestamp,event_type\n", b""],
    ids=["header_only", "zero_bytes"],
)
def test_empty_engagement_file_warns_and_is_treated_as_absent(
    write_file, caplog, content
):
    # the documented policy: an empty optional table does not stop the run; a
    # warning names the file and the features are those of a run without it
    transactions = write_file("transactions.csv", TRANSACTIONS_CSV)
    engagement = write_file("engagement_empty.csv", content)
    without_engagement = build_features(
        load_tables(
            connect(),
            {"transactions": TableSource("transactions", path=transactions)},
            today=TODAY,
        ),
        as_of=AS_OF,
    ).frame

    with caplog.at_level(logging.WARNING, logger="referral_propensity"):
        tables = load_tables(
            connect(),
            {
                "transactions": TableSource("transactions", path=transactions),
                "engagement": TableSource("engagement", path=engagement),
            },
            today=TODAY,
        )
    frame = build_features(tables, as_of=AS_OF).frame

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("engagement_empty.csv" in message for message in warnings)
    assert tables.engagement is None
    # purchases as usual: C90 06-01 -> recency 30, C91 05-02 -> recency 60
    np.testing.assert_allclose(frame["recency_days"], [30, 60], rtol=0, atol=1e-9)
    assert "days_since_engagement" not in frame
    pd.testing.assert_frame_equal(frame, without_engagement, check_exact=True)


def test_header_only_customers_file_warns_and_adds_no_attributes(write_file, caplog):
    transactions = write_file("transactions.csv", TRANSACTIONS_CSV)
    customers = write_file("customers_empty.csv", b"customer_id\n")
    without_customers = build_features(
        load_tables(
            connect(),
            {"transactions": TableSource("transactions", path=transactions)},
            today=TODAY,
        ),
        as_of=AS_OF,
    ).frame

    with caplog.at_level(logging.WARNING, logger="referral_propensity"):
        tables = load_tables(
            connect(),
            {
                "transactions": TableSource("transactions", path=transactions),
                "customers": TableSource("customers", path=customers),
            },
            today=TODAY,
        )
    frame = build_features(tables, as_of=AS_OF).frame

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("customers_empty.csv" in message for message in warnings)
    pd.testing.assert_frame_equal(frame, without_customers, check_exact=True)
