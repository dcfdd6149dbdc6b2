"""Customer attributes: personal columns never become features."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
import pytest

from referral_propensity.features.attributes import prepare_attributes


def test_personal_columns_are_dropped_and_named_in_a_warning(caplog):
    n = 200
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            # e-mails on only 40% of rows: too few to look like an identifier by count
            "email": [f"p{i}@example.org" if i % 5 < 2 else None for i in range(n)],
            "first_name": [f"name{i % 30}" for i in range(n)],
            "phone": np.arange(n) + 5_550_000_000,
            "contact": [f"x{i}@example.org" for i in range(n)],
            "region": ["north", "south"] * (n // 2),
            "age": np.arange(n) % 60 + 18,
        }
    )
    with caplog.at_level(logging.WARNING, logger="referral_propensity"):
        frame, categorical = prepare_attributes(customers, as_of=dt.date(2024, 7, 1))

    assert list(frame.columns) == ["customer_id", "region", "age"]
    assert categorical == ["region"]
    message = " ".join(r.getMessage() for r in caplog.records)
    for column in ("email", "first_name", "phone", "contact"):
        assert column in message
    assert "example.org" not in message


def test_signup_date_becomes_days_before_as_of():
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "signup_date": pd.to_datetime(
                ["2024-06-01T23:00:00Z", "2023-07-01T00:00:00Z"]
            ),
        }
    )
    frame, _ = prepare_attributes(customers, as_of=dt.date(2024, 7, 1))
    # 2024-06-01 -> 2024-07-01 is 30 days; 2023-07-01 -> 2024-07-01 is 366 (leap year)
    np.testing.assert_allclose(frame["signup_tenure_days"], [30.0, 366.0])


def test_values_that_look_personal_are_dropped_whatever_the_column_name():
    n = 400
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "x1": [f"+44 7700 8{i // 2:05d}" for i in range(n)],  # phone numbers
            "notes": [
                f"call me at p{i // 5}@example.org" for i in range(n)
            ],  # e-mail inside text
            "ville": [
                f"Zürichstraße {i // 10}" for i in range(n)
            ],  # 40 street addresses
            "partner": [f"Person {i // 3}" for i in range(n)],  # 134 distinct names
            "segment": ["gold", "silver", "bronze", "none"] * (n // 4),
        }
    )
    frame, categorical = prepare_attributes(customers, as_of=dt.date(2024, 7, 1))
    assert list(frame.columns) == ["customer_id", "segment"]
    assert categorical == ["segment"]


@pytest.mark.parametrize(
    "column",
    [
        "E-Mail",
        "emailaddr",
        "nickname",
        "username",
        "customername",
        "zip",
        "Zip Code",
        "birthdate",
        "date_of_birth",
        "Tel",
    ],
)
def test_personal_column_names_in_other_spellings_are_dropped(column):
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            column: ["ann", "bob", "cy"],
            "tier": ["x", "y", "x"],
        }
    )

    frame, _ = prepare_attributes(customers, as_of=dt.date(2024, 1, 1), warn=False)

    assert column not in frame
    assert "tier" in frame


def test_ordinary_names_are_kept():
    customers = pd.DataFrame(
        {"customer_id": ["A", "B"], "hotel_stays": [1, 2], "region": ["n", "s"]}
    )

    frame, _ = prepare_attributes(customers, as_of=dt.date(2024, 1, 1), warn=False)

    assert {"hotel_stays", "region"} <= set(frame.columns)


def test_one_e_mail_address_in_the_last_of_many_rows_drops_the_column():
    notes = ["ok", "vip"] * 1500
    notes[-1] = "write to x@y.example"
    customers = pd.DataFrame(
        {"customer_id": [f"C{i}" for i in range(3000)], "comment": notes}
    )

    frame, _ = prepare_attributes(customers, as_of=dt.date(2024, 1, 1), warn=False)

    assert "comment" not in frame
