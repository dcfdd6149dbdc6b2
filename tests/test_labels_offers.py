"""Tests of offer-response rows and offer history features on hand-built tables."""

from __future__ import annotations

import datetime as dt

import pytest

from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.features.offers import build_offer_history_features
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables, to_day
from referral_propensity.labels import build_offer_response_rows

TODAY = dt.date(2024, 12, 31)
HORIZON_DAYS = 30

# the data run to 2024-09-30, so an offer's window must end by 2024-10-01
TRANSACTIONS_CSV = (
    "customer_id,order_id,timestamp,amount\n"
    "A,O1,2024-01-05T10:00:00Z,20.00\n"
    "B,O2,2024-01-06T10:00:00Z,30.00\n"
    "C,O3,2024-01-07T10:00:00Z,40.00\n"
    "D,O4,2024-09-30T10:00:00Z,10.00\n"
)

OFFERS_CSV = (
    "customer_id,sent_at,offer_type,group,responded_at\n"
    # A answers on the last instant of its window: label 1
    "A,2024-03-01T09:00:00Z,discount,treatment,2024-03-31T08:59:59Z\n"
    # B answers one second after its window: label 0
    "B,2024-03-01T09:00:00Z,freebie,treatment,2024-03-31T09:00:00Z\n"
    # C is a control row that still referred somebody: label 1, group control
    "C,2024-03-01T09:00:00Z,discount,control,2024-03-10T09:00:00Z\n"
    # A again later, no answer
    "A,2024-06-01T09:00:00Z,early_access,treatment,\n"
    # sent 2024-09-15: the window runs to 2024-10-15, past the data -> left out
    "B,2024-09-15T09:00:00Z,discount,treatment,\n"
)


def _tables(write_file, offers_csv: str = OFFERS_CSV):
    sources = {
        "transactions": TableSource(
            "transactions", path=write_file("transactions.csv", TRANSACTIONS_CSV)
        ),
        "offers": TableSource("offers", path=write_file("offers.csv", offers_csv)),
    }
    return load_tables(connect(), sources, today=TODAY)


def test_offer_rows_label_a_response_inside_the_horizon_only(write_file):
    rows = build_offer_response_rows(_tables(write_file), horizon_days=HORIZON_DAYS)

    got = {
        (r.customer_id, str(r.as_of), r.offer_type): (r.group, r.label)
        for r in rows.itertuples()
    }
    assert got == {
        ("A", "2024-03-01", "discount"): ("treatment", 1),
        ("B", "2024-03-01", "freebie"): ("treatment", 0),
        ("C", "2024-03-01", "discount"): ("control", 1),
        ("A", "2024-06-01", "early_access"): ("treatment", 0),
    }


def test_a_response_before_its_offer_is_an_error_naming_the_customer(write_file):
    bad = (
        OFFERS_CSV + "D,2024-05-01T09:00:00Z,discount,treatment,2024-04-30T09:00:00Z\n"
    )

    with pytest.raises(InputValidationError, match="customer D .*responded_at"):
        build_offer_response_rows(_tables(write_file, bad), horizon_days=HORIZON_DAYS)


def test_offer_history_counts_only_sent_offers_and_answers_before_as_of(write_file):
    tables = _tables(write_file)

    # as of 2024-03-20: A's answer (03-31) is in the future, B's too
    early = build_offer_history_features(
        tables, as_of_day=to_day(dt.date(2024, 3, 20))
    ).set_index("customer_id")
    # as of 2024-07-01: A had two offers, one answered; C's control row never counts
    late = build_offer_history_features(
        tables, as_of_day=to_day(dt.date(2024, 7, 1))
    ).set_index("customer_id")

    assert sorted(early.index) == ["A", "B"]
    assert early.loc["A", "n_offers"] == 1
    assert early.loc["A", "n_offer_responses"] == 0
    assert early.loc["A", "days_since_offer"] == 19  # 03-01 -> 03-20
    assert sorted(late.index) == ["A", "B"]
    assert late.loc["A", "n_offers"] == 2
    assert late.loc["A", "n_offer_responses"] == 1
    assert late.loc["A", "offer_response_rate"] == 0.5
    assert late.loc["A", "days_since_offer"] == 30  # 06-01 -> 07-01
    assert late.loc["B", "n_offer_responses"] == 1  # 03-31 09:00, before 07-01


def test_an_offer_sent_on_as_of_is_not_history_yet(write_file):
    tables = _tables(write_file)

    history = build_offer_history_features(
        tables, as_of_day=to_day(dt.date(2024, 6, 1))
    ).set_index("customer_id")

    assert history.loc["A", "n_offers"] == 1  # the 06-01 offer is not before 06-01
