"""Inputs a careless export produces: NaN amounts, other encodings, repeated names."""

from __future__ import annotations

import datetime as dt
import logging

import narwhals as nw
import numpy as np
import pandas as pd
import pytest

from referral_propensity.config import load_config
from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.features.engagement import build_engagement_features
from referral_propensity.io.load import TableSource, load_table
from referral_propensity.io.tables import load_tables

TODAY = dt.date(2024, 9, 30)


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity"])
def test_nan_or_infinite_amount_in_csv_names_the_line(write_file, value):
    path = write_file(
        "t.csv",
        f"customer_id,timestamp,amount\nA,2024-01-01,1.5\nB,2024-01-02,{value}\n",
    )
    with pytest.raises(
        InputValidationError, match=rf"transactions.amount .*line 3 \('{value}'\)"
    ):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)


def test_nan_amount_in_parquet_names_the_row(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03"], utc=True
            ),
            "amount": [1.0, np.nan, 2.0],
        }
    ).to_parquet(path)
    # the NaN is the second data row: rows of a Parquet file count from 1
    with pytest.raises(InputValidationError, match=r"transactions.amount .*row 2\b"):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)


def test_latin1_file_loads_with_the_encoding_setting(write_file):
    path = write_file(
        "t.csv",
        "customer_id,timestamp,amount\nJos\xe9,2024-01-01,12.5\n".encode("latin-1"),
    )
    loaded = load_table(
        connect(),
        TableSource("transactions", path=path, encoding="latin-1"),
        today=TODAY,
    )
    assert loaded.to_pandas()["customer_id"].tolist() == ["José"]


def test_latin1_file_read_as_utf8_asks_for_the_encoding(write_file):
    path = write_file(
        "t.csv",
        "customer_id,timestamp,amount\nJos\xe9,2024-01-01,12.5\n".encode("latin-1"),
    )
    with pytest.raises(InputValidationError, match=r"set data.transactions.encoding"):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)


def test_repeated_header_name_is_refused(write_file):
    path = write_file(
        "t.csv", "customer_id,timestamp,amount,amount\nA,2024-01-01,1,2\n"
    )
    with pytest.raises(
        InputValidationError, match=r"repeats column name\(s\) 'amount'"
    ):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)


def test_numeric_timestamps_are_refused_with_a_fix(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame(
        {"customer_id": ["A"], "timestamp": [1_704_067_200], "amount": [1.0]}
    ).to_parquet(path)
    with pytest.raises(
        InputValidationError, match=r"transactions.timestamp holds numbers"
    ):
        load_table(connect(), TableSource("transactions", path=path), today=TODAY)


def test_invalid_date_format_setting_is_a_config_error(write_file):
    path = write_file("t.csv", "customer_id,timestamp,amount\nA,2024-01-01,1\n")
    with pytest.raises(
        InputValidationError, match=r"date_format '%Q' is not a valid format"
    ):
        load_table(
            connect(),
            TableSource("transactions", path=path, date_format="%Q"),
            today=TODAY,
        )


def test_a_folder_as_data_path_says_it_is_a_folder(tmp_path):
    with pytest.raises(InputValidationError, match=r"is a folder, not a file"):
        load_table(connect(), TableSource("transactions", path=tmp_path), today=TODAY)


def test_event_types_that_differ_in_spelling_share_one_column():
    # "Click" and "click!" both become n_click_*: customer A has one of each
    events = pd.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "event_type": ["Click", "click!", "open"],
            "event_day": [10, 11, 11],
        }
    )
    frame = (
        build_engagement_features(
            nw.from_native(events).lazy(),
            as_of_day=12,
            event_types=["Click", "click!", "open"],
            windows_days=(30,),
        )
        .collect()
        .to_pandas()
        .sort_values("customer_id")
    )
    assert list(frame.columns) == [
        "customer_id",
        "days_since_engagement",
        "n_click_30d",
        "n_open_30d",
    ]
    assert frame["n_click_30d"].tolist() == [2, 0]


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "data: {source: cdnow}\nfeatures: {windows_days: [30, 30]}\n",
            "repeats a window",
        ),
        (
            "data: {source: cdnow}\nfeatures: {windows_days: [0, 30]}\n",
            "must be positive",
        ),
        (
            "data: {source: files, transactions: {path: t.csv, columns: {customer_idd: x}}}\n",
            "maps unknown name\\(s\\) customer_idd",
        ),
    ],
)
def test_config_mistakes_name_the_key(tmp_path, yaml_text, message):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(InputValidationError, match=message):
        load_config(path)


def test_header_names_that_differ_only_in_case_are_refused(write_file):
    path = write_file("c.csv", "customer_id,region,Region\nA,north,North\n")
    with pytest.raises(
        InputValidationError, match=r"repeats column name\(s\) 'region'"
    ):
        load_table(connect(), TableSource("customers", path=path), today=TODAY)


def test_repeated_customers_are_named_in_the_error(write_file):
    path = write_file("c.csv", "customer_id,region\nA,north\nB,south\nA,south\n")
    with pytest.raises(
        InputValidationError, match=r"1 repeated customer_id value\(s\).*\(A\)"
    ):
        load_table(connect(), TableSource("customers", path=path), today=TODAY)


def test_e_mail_addresses_as_customer_ids_are_warned_about(write_file, caplog):
    path = write_file(
        "transactions.csv",
        "customer_id,timestamp,amount\nann@example.org,2024-01-01,10\nB2,2024-01-02,5\n",
    )

    with caplog.at_level(logging.WARNING):
        load_tables(connect(), {"transactions": TableSource("transactions", path=path)})

    assert "1 transactions row(s) have an e-mail address as customer_id" in caplog.text
    assert "ann@example.org" not in caplog.text
