"""Bad input gets an error naming the table, column, lines and the fix."""

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


def _load(path, **settings):
    return load_table(
        connect(), TableSource("transactions", path=path, **settings), today=TODAY
    )


def _features(source: TableSource) -> pd.DataFrame:
    tables = load_tables(connect(), {"transactions": source}, today=TODAY)
    return build_features(tables, as_of=AS_OF, windows_days=(30,)).frame


def test_missing_required_column_error_names_table_column_and_found_columns(
    write_file,
):
    path = write_file("orders.csv", "customer_id,ts,amount\nC1,2024-01-01,10\n")

    with pytest.raises(InputValidationError) as info:
        _load(path)

    message = str(info.value)
    assert "transactions" in message
    assert "orders.csv" in message
    assert "missing required column(s) timestamp" in message
    assert "found: 'customer_id', 'ts', 'amount'" in message


def test_unparsable_date_error_names_column_line_and_value(write_file):
    # month 13 fits no format; it sits on line 3 (the header is line 1)
    path = write_file(
        "orders.csv",
        "customer_id,timestamp,amount\n"
        "C1,2024-01-01,10\n"
        "C1,2024-13-45,20\n"
        "C2,2024-02-01,30\n",
    )

    with pytest.raises(
        InputValidationError, match=r"transactions\.timestamp.*line 3 \('2024-13-45'\)"
    ):
        _load(path)


def test_date_not_fitting_configured_format_error_names_column_line_and_value(
    write_file,
):
    path = write_file(
        "orders.csv",
        "customer_id,timestamp,amount\nC1,01/02/2024,10\nC1,31/02/2024,20\n",
    )

    with pytest.raises(
        InputValidationError, match=r"transactions\.timestamp.*line 3 \('31/02/2024'\)"
    ):
        _load(path, date_format="%d/%m/%Y")


def test_zero_byte_file_error_says_it_is_empty(write_file):
    path = write_file("orders.csv", b"")

    with pytest.raises(
        InputValidationError, match=r"`orders\.csv` is empty \(no header row\)"
    ):
        _load(path)


def test_header_only_file_error_says_it_has_no_data_rows(write_file):
    path = write_file("orders.csv", "customer_id,order_id,timestamp,amount\n")

    with pytest.raises(InputValidationError, match=r"`orders\.csv` has 0 data rows"):
        _load(path)


def test_data_frame_without_rows_errors_like_a_header_only_file():
    frame = pd.DataFrame({"customer_id": [], "timestamp": [], "amount": []})

    with pytest.raises(InputValidationError, match=r"has 0 data rows"):
        load_table(connect(), TableSource("transactions", frame=frame), today=TODAY)


def test_empty_customer_id_error_names_column_and_lines(write_file):
    # line 3 has no id, line 4 only blanks: both count as empty
    path = write_file(
        "orders.csv",
        "customer_id,timestamp,amount\n"
        "C1,2024-01-01,10\n"
        ",2024-01-02,20\n"
        "   ,2024-01-03,5\n",
    )

    with pytest.raises(InputValidationError) as info:
        _load(path)

    message = str(info.value)
    assert "transactions.customer_id is empty on 2 row(s)" in message
    assert "line 3" in message
    assert "line 4" in message


def test_non_numeric_amount_error_names_column_line_and_value(write_file):
    path = write_file(
        "orders.csv",
        "customer_id,timestamp,amount\nC1,2024-01-01,10\nC1,2024-01-02,ten\n",
    )

    with pytest.raises(
        InputValidationError,
        match=r"transactions\.amount has 1 value\(s\) that are not a valid number: "
        r"line 3 \('ten'\)",
    ):
        _load(path)


# the same purchases for the Parquet and CSV checks: customer 1 buys on
# 01-01 (10.00) and 03-01 (20.00), customer 2 one second before as_of (5.00)
EQUIVALENT_CSV = (
    "customer_id,timestamp,amount\n"
    "1,2024-01-01T10:00:00,10.00\n"
    "1,2024-03-01T00:00:00,20.00\n"
    "2,2024-06-30T23:59:59,5.00\n"
)


def test_parquet_input_gives_the_same_features_as_the_equivalent_csv(
    write_file, tmp_path
):
    parquet_path = tmp_path / "orders.parquet"
    pd.DataFrame(
        {
            "customer_id": np.array([1, 1, 2], dtype=np.int64),
            "timestamp": pd.to_datetime(
                ["2024-01-01 10:00:00", "2024-03-01 00:00:00", "2024-06-30 23:59:59"]
            ),
            "amount": [10.00, 20.00, 5.00],
        }
    ).to_parquet(parquet_path)
    csv_path = write_file("orders.csv", EQUIVALENT_CSV)

    from_parquet = _features(TableSource("transactions", path=parquet_path))
    from_csv = _features(TableSource("transactions", path=csv_path))

    pd.testing.assert_frame_equal(from_parquet, from_csv, check_exact=True)
    # integer ids become the text ids '1' and '2'; recency 03-01 -> 07-01 =
    # 30 + 30 + 31 + 30 + 1 = 122 and 1; spend 30.00 and 5.00
    assert from_parquet["customer_id"].tolist() == ["1", "2"]
    np.testing.assert_allclose(
        from_parquet["recency_days"], [122, 1], rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(from_parquet["spend_total"], [30.0, 5.0], rtol=1e-12)


def test_parquet_timestamps_with_a_time_zone_are_converted_to_utc(write_file, tmp_path):
    # Berlin local times (UTC+1 in winter, UTC+2 in summer); in UTC they are
    # the rows of EQUIVALENT_CSV: 01-01 11:00+01 -> 10:00Z,
    # 03-01 01:00+01 -> 00:00Z, 07-01 01:59:59+02 -> 06-30 23:59:59Z
    parquet_path = tmp_path / "orders_berlin.parquet"
    pd.DataFrame(
        {
            "customer_id": np.array([1, 1, 2], dtype=np.int64),
            "timestamp": pd.to_datetime(
                ["2024-01-01 11:00:00", "2024-03-01 01:00:00", "2024-07-01 01:59:59"]
            ).tz_localize("Europe/Berlin"),
            "amount": [10.00, 20.00, 5.00],
        }
    ).to_parquet(parquet_path)
    csv_path = write_file("orders.csv", EQUIVALENT_CSV)

    from_parquet = _features(TableSource("transactions", path=parquet_path))
    from_csv = _features(TableSource("transactions", path=csv_path))

    pd.testing.assert_frame_equal(from_parquet, from_csv, check_exact=True)


def test_column_mapping_reads_the_source_names(write_file):
    path = write_file(
        "orders.csv",
        "cust,ts,value\nC1,2024-06-01,10.00\nC1,2024-06-20,5.00\n",
    )
    source = TableSource(
        "transactions",
        path=path,
        columns={"customer_id": "cust", "timestamp": "ts", "amount": "value"},
    )

    frame = _features(source)

    # two purchase days: recency 06-20 -> 07-01 = 11, spend 15.00
    assert frame["customer_id"].tolist() == ["C1"]
    assert frame["n_orders"].tolist() == [2]
    np.testing.assert_allclose(frame["recency_days"], [11], rtol=0, atol=1e-9)
    np.testing.assert_allclose(frame["spend_total"], [15.0], rtol=1e-12)


def test_mapping_to_a_missing_column_error_names_it(write_file):
    path = write_file("orders.csv", "cust,ts,value\nC1,2024-06-01,10.00\n")
    source = TableSource(
        "transactions",
        path=path,
        columns={"customer_id": "client", "timestamp": "ts", "amount": "value"},
    )

    with pytest.raises(InputValidationError) as info:
        load_table(connect(), source, today=TODAY)

    message = str(info.value)
    assert "'client'" in message
    assert "customer_id" in message
    assert "found: 'cust', 'ts', 'value'" in message


def test_as_of_before_every_transaction_errors_with_counts(write_file):
    path = write_file(
        "orders.csv",
        "customer_id,timestamp,amount\n"
        "C1,2024-03-01,10\n"
        "C2,2024-04-01,20\n"
        "C3,2024-05-01,30\n",
    )
    tables = load_tables(
        connect(), {"transactions": TableSource("transactions", path=path)}, today=TODAY
    )

    with pytest.raises(
        InputValidationError,
        match=r"0 of 3 transactions are before cutoff 2024-01-01",
    ):
        build_features(tables, as_of=dt.date(2024, 1, 1))


def test_build_features_without_as_of_errors_saying_it_is_required(write_file):
    path = write_file("orders.csv", "customer_id,timestamp,amount\nC1,2024-03-01,10\n")
    tables = load_tables(
        connect(), {"transactions": TableSource("transactions", path=path)}, today=TODAY
    )

    with pytest.raises(InputValidationError, match=r"as_of is required"):
        build_features(tables, as_of=None)
