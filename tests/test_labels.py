"""Tests of reactivation labels: only the window [as_of, as_of + horizon) counts."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables
from referral_propensity.labels import attach_labels, build_reactivation_labels

AS_OF = dt.date(2024, 7, 1)
HORIZON_DAYS = 30  # window [2024-07-01, 2024-07-31)
TODAY = dt.date(2024, 12, 31)

# one planted purchase per customer around the window's edges
BOUNDARY_CSV = (
    "customer_id,order_id,timestamp,amount\n"
    # 1 s before as_of: a feature-side event, never a label
    "B1,O1,2024-06-30T23:59:59Z,50.00\n"
    # exactly at as_of: the first instant of the window
    "B2,O2,2024-07-01T00:00:00Z,50.00\n"
    # as_of + horizon - 1 s: the last instant of the window
    "B3,O3,2024-07-30T23:59:59Z,50.00\n"
    # exactly as_of + horizon: the first instant after the window
    "B4,O4,2024-07-31T00:00:00Z,50.00\n"
    # a purchase before as_of and only a refund inside the window
    "B5,O5,2024-06-01T10:00:00Z,80.00\n"
    "B5,R5,2024-07-10T10:00:00Z,-80.00\n"
    # only a zero-amount row inside the window
    "B6,O6,2024-07-12T10:00:00Z,0.00\n"
    # a refund and a purchase inside the window: the purchase counts
    "B7,R7,2024-07-05T10:00:00Z,-10.00\n"
    "B7,O7,2024-07-20T10:00:00Z,10.00\n"
    # after the window only, but it keeps the data running past the window
    "B8,O8,2024-08-15T10:00:00Z,25.00\n"
)


def _tables(write_file, csv_text: str):
    path = write_file("transactions.csv", csv_text)
    return load_tables(
        connect(),
        {"transactions": TableSource("transactions", path=path)},
        today=TODAY,
    )


def test_label_counts_purchases_from_as_of_up_to_but_not_at_the_window_end(
    write_file,
):
    tables = _tables(write_file, BOUNDARY_CSV)

    positives = build_reactivation_labels(
        tables, as_of=AS_OF, horizon_days=HORIZON_DAYS
    )

    # B1 is 1 s early, B4 exactly at the end (excluded), B5 has only a refund
    # in the window, B6 only amount 0, B8 buys after the window; B2 (at as_of),
    # B3 (1 s before the end) and B7 (a purchase beside a refund) are positive
    assert sorted(positives.index) == ["B2", "B3", "B7"]
    assert positives.index.name == "customer_id"
    assert positives.name == "label"
    assert set(positives.tolist()) == {1}


def test_label_window_is_measured_in_utc(write_file):
    # 2024-07-01T01:30+02:00 is 2024-06-30T23:30Z: before as_of in UTC although
    # its local date is in the window; 2024-07-31T01:00+02:00 is
    # 2024-07-30T23:00Z: inside the window although its local date is not
    csv_text = (
        "customer_id,order_id,timestamp,amount\n"
        "U1,O1,2024-07-01T01:30:00+02:00,20.00\n"
        "U2,O2,2024-07-31T01:00:00+02:00,20.00\n"
        "U3,O3,2024-08-10T10:00:00+02:00,20.00\n"
    )
    tables = _tables(write_file, csv_text)

    positives = build_reactivation_labels(
        tables, as_of=AS_OF, horizon_days=HORIZON_DAYS
    )

    assert sorted(positives.index) == ["U2"]


def test_label_window_past_the_last_transaction_raises(write_file):
    # the last transaction is on 2024-07-29; the window needs data through
    # 2024-07-30, so it is cut short. The latest usable as_of is
    # 2024-07-29 + 1 - 30 days = 2024-06-30.
    csv_text = (
        "customer_id,order_id,timestamp,amount\n"
        "E1,O1,2024-06-01T10:00:00Z,20.00\n"
        "E1,O2,2024-07-29T10:00:00Z,20.00\n"
    )
    tables = _tables(write_file, csv_text)

    with pytest.raises(
        InputValidationError,
        match=r"runs past the last transaction \(2024-07-29\).*2024-06-30",
    ):
        build_reactivation_labels(tables, as_of=AS_OF, horizon_days=HORIZON_DAYS)


def test_label_window_ending_on_the_day_after_the_data_is_allowed(write_file):
    # last transaction on 2024-07-30, the window's last day: nothing is cut
    csv_text = (
        "customer_id,order_id,timestamp,amount\n"
        "E1,O1,2024-06-01T10:00:00Z,20.00\n"
        "E2,O2,2024-07-30T10:00:00Z,20.00\n"
    )
    tables = _tables(write_file, csv_text)

    positives = build_reactivation_labels(
        tables, as_of=AS_OF, horizon_days=HORIZON_DAYS
    )

    assert sorted(positives.index) == ["E2"]


def test_label_with_no_purchase_in_the_window_is_empty(write_file):
    csv_text = (
        "customer_id,order_id,timestamp,amount\n"
        "N1,O1,2024-06-01T10:00:00Z,20.00\n"
        "N1,R1,2024-07-15T10:00:00Z,-20.00\n"
        "N2,O2,2024-08-01T10:00:00Z,20.00\n"
    )
    tables = _tables(write_file, csv_text)

    positives = build_reactivation_labels(
        tables, as_of=AS_OF, horizon_days=HORIZON_DAYS
    )

    assert len(positives) == 0


def test_attach_labels_marks_positives_one_and_everyone_else_zero():
    features = pd.DataFrame(
        {"customer_id": ["A", "B", "C", "D"], "n_orders": [1, 2, 3, 4]},
        index=[10, 11, 12, 13],
    )
    # "Z" is positive but has no feature row: it must not add a row
    positives = pd.Series(
        1, index=pd.Index(["C", "A", "Z"], name="customer_id"), name="label"
    )
    before = features.copy()

    labelled = attach_labels(features, positives)

    assert labelled["label"].tolist() == [1, 0, 1, 0]
    assert labelled["label"].dtype == "int64"
    assert labelled.index.tolist() == [10, 11, 12, 13]
    assert labelled["n_orders"].tolist() == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(features, before)


def test_attach_labels_with_no_positives_gives_all_zero():
    features = pd.DataFrame({"customer_id": ["A", "B", "C"]})
    positives = pd.Series(
        [], index=pd.Index([], name="customer_id", dtype=object), name="label"
    )

    labelled = attach_labels(features, positives)

    assert labelled["label"].tolist() == [0, 0, 0]


def test_labels_end_to_end_from_loaded_table_to_feature_rows(write_file):
    # the positives of the boundary file attached to a feature table of B1..B8
    tables = _tables(write_file, BOUNDARY_CSV)
    features = pd.DataFrame({"customer_id": [f"B{i}" for i in range(1, 9)]})

    labelled = attach_labels(
        features,
        build_reactivation_labels(tables, as_of=AS_OF, horizon_days=HORIZON_DAYS),
    )

    # B2, B3, B7 bought inside the window (see the boundary test)
    assert labelled["label"].tolist() == [0, 1, 1, 0, 0, 0, 1, 0]
