"""Row filters (``where``), customer-level inputs and attribute renames in the loader."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import pytest

from referral_propensity.engine import connect
from referral_propensity.errors import EmptyTableError, InputValidationError
from referral_propensity.io.load import TableSource, load_table
from referral_propensity.io.tables import load_tables

TODAY = dt.date(2024, 9, 30)
WHERE_LOGGER = "referral_propensity.io.where"

# six customers of an e-mail test; two got each e-mail, two none. C2's row
# appears twice (an exact duplicate), so 7 data rows in all
EMAIL_TEST = (
    "id,segment,visits,is_member,channel\n"
    "C1,Womens E-Mail,1,true,Web\n"
    "C2,Mens E-Mail,0,false,Phone\n"
    "C2,Mens E-Mail,0,false,Phone\n"
    "C3,Womens E-Mail , 2,yes,Web\n"
    "C4,No E-Mail,0,no,Web\n"
    "C5,Mens E-Mail,1,1,Phone\n"
    "C6,No E-Mail,,0,Phone\n"
)


@pytest.fixture
def email_test(write_file):
    return write_file("email_test.csv", EMAIL_TEST)


def _customers(path, **options) -> TableSource:
    return TableSource("customers", path=path, columns={"customer_id": "id"}, **options)


def _ids(loaded) -> list[str]:
    return sorted(loaded.to_pandas()["customer_id"])


def test_where_keeps_only_matching_rows_and_logs_how_many(email_test, caplog):
    with caplog.at_level(logging.INFO, logger=WHERE_LOGGER):
        loaded = load_table(
            connect(),
            _customers(email_test, where={"segment": "Womens E-Mail"}),
            today=TODAY,
        )

    # C3's value has a trailing space, which is trimmed before comparing
    assert _ids(loaded) == ["C1", "C3"]
    assert loaded.n_rows_read == 7
    assert loaded.n_rows_filtered_out == 5
    assert loaded.n_duplicate_rows_dropped == 0
    messages = [r.getMessage() for r in caplog.records if r.name == WHERE_LOGGER]
    assert messages == ["Kept 2 of 7 customers row(s) where segment = 'Womens E-Mail'"]


def test_duplicates_are_counted_among_the_rows_kept(email_test):
    loaded = load_table(
        connect(), _customers(email_test, where={"segment": "Mens E-Mail"}), today=TODAY
    )

    # three Mens rows, one an exact copy of another
    assert _ids(loaded) == ["C2", "C5"]
    assert loaded.n_rows_filtered_out == 4
    assert loaded.n_duplicate_rows_dropped == 1


def test_where_compares_numbers_as_numbers_and_flags_in_any_spelling(email_test):
    con = connect()

    by_number = load_table(
        con, _customers(email_test, where={"visits": 2}), today=TODAY
    )
    by_float = load_table(
        con, _customers(email_test, where={"visits": 1.0}), today=TODAY
    )
    members = load_table(
        con, _customers(email_test, where={"is_member": True}), today=TODAY
    )

    # ' 2' is the number 2; C6's empty visits matches no number
    assert _ids(by_number) == ["C3"]
    assert _ids(by_float) == ["C1", "C5"]
    # true, yes and 1 are all true
    assert _ids(members) == ["C1", "C3", "C5"]


def test_several_where_entries_must_all_hold(email_test):
    loaded = load_table(
        connect(),
        _customers(email_test, where={"channel": "Phone", "segment": "Mens E-Mail"}),
        today=TODAY,
    )

    assert _ids(loaded) == ["C2", "C5"]


def test_where_on_an_unknown_column_names_table_and_column_and_lists_columns(
    email_test,
):
    with pytest.raises(
        InputValidationError,
        match=r"data\.customers\.where names column\(s\) 'group' that customers file "
        r"`email_test\.csv` does not have \(found: 'id', 'segment', 'visits', "
        r"'is_member', 'channel'\)",
    ):
        load_table(connect(), _customers(email_test, where={"group": "A"}), today=TODAY)


def test_where_that_keeps_no_row_lists_the_values_found(email_test):
    with pytest.raises(
        InputValidationError,
        match=r"keeps none of the 7 rows .* \(segment holds 'Mens E-Mail', "
        r"'No E-Mail', 'Womens E-Mail'\); fix the value",
    ):
        load_table(
            connect(),
            _customers(email_test, where={"segment": "Womens Email"}),
            today=TODAY,
        )


def test_where_works_on_a_data_frame_source():
    frame = pd.DataFrame(
        {"customer_id": ["A", "B", "C"], "group": ["x", "y", "x"], "n": [1, 2, 3]}
    )

    loaded = load_table(
        connect(),
        TableSource("customers", frame=frame, where={"group": "x"}),
        today=TODAY,
    )

    assert _ids(loaded) == ["A", "C"]


def test_where_on_transactions_uses_a_column_the_contract_does_not_keep(write_file):
    path = write_file(
        "tx.csv",
        "customer_id,timestamp,amount,store\n"
        "A,2024-01-01,5,north\nA,2024-01-02,6,south\nB,2024-01-03,7,north\n",
    )

    loaded = load_table(
        connect(),
        TableSource("transactions", path=path, where={"store": "north"}),
        today=TODAY,
    )

    frame = loaded.to_pandas()
    assert sorted(frame["amount"]) == [5.0, 7.0]
    # the filter column is read for the filter only
    assert "store" not in frame


def test_bad_values_outside_the_filter_are_still_reported_with_file_lines(
    write_file,
):
    # line 3 holds an amount that is no number, on a row the filter leaves out:
    # every row is checked, so the message gives the file's own line
    path = write_file(
        "tx.csv",
        "customer_id,timestamp,amount,store\n"
        "A,2024-01-01,5,north\nA,2024-01-02,five,south\n",
    )

    with pytest.raises(InputValidationError, match=r"line 3 \('five'\)"):
        load_table(
            connect(),
            TableSource("transactions", path=path, where={"store": "north"}),
            today=TODAY,
        )


# ------------------------------------------------------- customer-level input


def test_customers_alone_load_as_a_customer_level_input(email_test):
    tables = load_tables(connect(), {"customers": _customers(email_test)})

    assert tables.customer_level
    assert tables.transactions is None
    assert list(tables.present()) == ["customers"]
    assert len(tables.customers_frame()) == 6


def test_customer_level_tables_have_fingerprints_but_no_date_range(email_test):
    tables = load_tables(
        connect(),
        {"customers": _customers(email_test, where={"segment": "Womens E-Mail"})},
    )

    prints = tables.fingerprints()

    assert prints["customers.rows"] == 2
    assert prints["customers.customers"] == 2
    assert prints["customers.rows_filtered_out"] == 5
    assert not any(key.endswith("_date") for key in prints)
    assert len(tables.short_hash()) == 8
    with pytest.raises(
        InputValidationError,
        match="needs a transactions table, but the input is a customer-level",
    ):
        tables.day_range()


def test_an_empty_customers_table_without_transactions_is_an_error(write_file):
    path = write_file("customers.csv", "customer_id,income\n")

    with pytest.raises(EmptyTableError, match="0 data rows"):
        load_tables(connect(), {"customers": TableSource("customers", path=path)})


def test_neither_transactions_nor_customers_is_an_error():
    with pytest.raises(InputValidationError, match="no transactions table given"):
        load_tables(connect(), {})


def test_customers_attributes_outside_the_contract_can_be_renamed(email_test):
    source = TableSource(
        "customers",
        path=email_test,
        columns={"customer_id": "id", "n_visits": "visits", "campaign": "segment"},
    )

    loaded = load_table(connect(), source, today=TODAY)

    assert "n_visits" in loaded.columns and "visits" not in loaded.columns
    assert "campaign" in loaded.columns and "segment" not in loaded.columns
    # the renamed column is typed as any attribute: all numbers -> a number
    frame = loaded.to_pandas().sort_values("customer_id")
    assert frame["n_visits"].tolist()[:2] == [1.0, 0.0]


def test_renaming_an_attribute_that_is_not_there_names_the_key(email_test):
    source = TableSource(
        "customers",
        path=email_test,
        columns={"customer_id": "id", "n_orders_2y": "orders"},
    )

    with pytest.raises(
        InputValidationError,
        match=r"no column 'orders' mapped to 'n_orders_2y' \(found: 'id', .*\); fix "
        r"data\.customers\.columns\.n_orders_2y",
    ):
        load_table(connect(), source, today=TODAY)
