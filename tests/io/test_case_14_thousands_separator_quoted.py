"""Case 14: quoted amounts with thousands separators; amounts that are not numbers."""

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

QUOTED_CSV = (
    "customer_id,timestamp,amount\n"
    'C120,2024-02-01,"1,250.00"\n'
    'C120,2024-03-15,"980.40"\n'
    'C121,2024-06-01,"2,000"\n'
)

# line 3 holds N/A, line 4 a letter O typed for a zero
BAD_AMOUNT_CSV = (
    "customer_id,timestamp,amount\n"
    "C122,2024-05-01,15.00\n"
    "C122,2024-06-10,N/A\n"
    "C123,2024-06-11,12.3O\n"
)


def test_quoted_amounts_with_thousands_separator_load_as_floats(write_file):
    path = write_file("transactions_quoted.csv", QUOTED_CSV)
    source = TableSource("transactions", path=path, thousands=",")

    rows = (
        load_table(connect(), source, today=TODAY)
        .to_pandas()
        .sort_values(["customer_id", "timestamp"])
    )

    assert rows["amount"].dtype == np.float64
    np.testing.assert_allclose(rows["amount"], [1250.00, 980.40, 2000.00], rtol=1e-12)


def test_quoted_amount_features_match_hand_computed_table(write_file):
    path = write_file("transactions_quoted.csv", QUOTED_CSV)
    source = TableSource("transactions", path=path, thousands=",")
    tables = load_tables(connect(), {"transactions": source}, today=TODAY)

    frame = build_features(tables, as_of=AS_OF).frame

    # C120: 1250.00 + 980.40 = 2230.40 over 2 orders,
    #       recency 03-15 -> 07-01 = 16 + 30 + 31 + 30 + 1 = 108
    # C121: 2000.00, recency 06-01 -> 30
    assert frame["customer_id"].tolist() == ["C120", "C121"]
    assert frame["n_orders"].tolist() == [2, 1]
    np.testing.assert_allclose(frame["spend_total"], [2230.40, 2000.00], rtol=1e-12)
    np.testing.assert_allclose(frame["recency_days"], [108, 30], rtol=0, atol=1e-9)


def test_unparsable_amounts_error_naming_column_lines_and_values(write_file):
    # the project raises rather than dropping rows (no "drop invalid rows" mode)
    path = write_file("transactions_bad_amount.csv", BAD_AMOUNT_CSV)
    source = TableSource("transactions", path=path, thousands=",")

    with pytest.raises(InputValidationError) as info:
        load_table(connect(), source, today=TODAY)

    message = str(info.value)
    assert "amount" in message
    assert "2 value(s)" in message
    assert "line 3 ('N/A')" in message
    assert "line 4 ('12.3O')" in message
