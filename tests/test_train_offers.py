"""Tests of the offer-response model on a small synthetic shop."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from referral_propensity.config import load_config
from referral_propensity.datasets.synthetic import OFFER_TYPES, generate_shop
from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables
from referral_propensity.pipeline import load_job_tables
from referral_propensity.train import TrainingSettings
from referral_propensity.train_offers import (
    count_unknown_customers,
    latest_complete_offer_day,
    train_offer_model,
)

HORIZON_DAYS = 60
UNKNOWN = ("ZZ000001", "ZZ000002", "ZZ000003")


@pytest.fixture(scope="module")
def shop():
    return generate_shop(n_customers=10_000, seed=5)


@pytest.fixture(scope="module")
def trained(shop):
    """The model trained on the shop's offers plus three rows of unknown customers."""
    first = shop.offers.iloc[0]
    strangers = pd.DataFrame(
        {
            "customer_id": list(UNKNOWN),
            "sent_at": [first["sent_at"]] * 3,
            "offer_type": ["discount"] * 3,
            "group": ["treatment"] * 3,
            "responded_at": pd.Series([pd.NaT] * 3, dtype=shop.offers["sent_at"].dtype),
        }
    )
    offers = pd.concat([shop.offers, strangers], ignore_index=True)
    frames = {
        "transactions": shop.transactions,
        "customers": shop.customers,
        "engagement": shop.engagement,
        "offers": offers,
    }
    tables = load_tables(
        connect(),
        {name: TableSource(name, frame=frame) for name, frame in frames.items()},
        today=dt.date(2026, 1, 1),
    )
    test_day = latest_complete_offer_day(tables, horizon_days=HORIZON_DAYS)
    settings = TrainingSettings(
        test_as_of=test_day,
        horizon_days=HORIZON_DAYS,
        segments={"k_min": 2, "k_max": 4},
        lightgbm={"num_boost_round": 300, "min_child_samples": 50},
        early_stopping_metric="binary_logloss",
    )
    return test_day, train_offer_model(tables, settings), tables


def test_the_latest_complete_campaign_is_held_out(shop, trained):
    test_day, result, _ = trained
    sent_days = sorted(set(shop.offers["sent_at"].dt.date))
    end = dt.date(2025, 12, 31)
    complete = [
        d
        for d in sent_days
        if d + dt.timedelta(days=HORIZON_DAYS) <= end + dt.timedelta(days=1)
    ]

    assert test_day == complete[-1]
    assert set(result.test_frame["as_of"]) == {test_day}


def test_only_treatment_rows_train_and_control_rows_measure_the_uplift(shop, trained):
    test_day, result, _ = trained
    offers = shop.offers.assign(day=shop.offers["sent_at"].dt.date)
    fitting = offers[
        (offers["day"] + dt.timedelta(days=HORIZON_DAYS) <= test_day)
        & (offers["group"] == "treatment")
    ]
    # a customer needs a purchase before the offer's day to have features
    first_purchase = shop.transactions.groupby("customer_id")["timestamp"].min().dt.date
    has_history = fitting["customer_id"].map(first_purchase) < fitting["day"]
    held = offers[offers["day"] == test_day]
    held = held[held["customer_id"].map(first_purchase) < held["day"]]

    m = result.metrics
    assert m["n_train_rows"] + m["n_validation_rows"] == has_history.sum()
    assert m["n_customers"] == (held["group"] == "treatment").sum()
    assert m["n_control_rows"] == (held["group"] == "control").sum()
    treated = held[held["group"] == "treatment"]
    control = held[held["group"] == "control"]
    assert m["treatment_response_rate"] == pytest.approx(
        treated["responded_at"].notna().mean()
    )
    assert m["control_response_rate"] == pytest.approx(
        control["responded_at"].notna().mean()
    )
    assert m["incremental_response_rate"] > 0
    assert (result.test_frame["group"] == "treatment").all()


def test_offer_rows_of_unknown_customers_are_counted_and_named(trained):
    _, result, tables = trained

    n_unknown, shown = count_unknown_customers(tables)

    assert n_unknown == len(UNKNOWN)
    assert shown == list(UNKNOWN)
    assert result.metrics["offers_n_unknown_customer_rows"] == len(UNKNOWN)


def test_the_model_learns_which_offer_fits(shop, trained):
    _, result, _ = trained
    test = result.test_frame
    types = list(OFFER_TYPES)
    predicted = np.column_stack(
        [
            result.model.predict_frame(test.assign(offer_type=t))["propensity"]
            for t in types
        ]
    )
    truth = shop.offer_truth.assign(as_of=shop.offer_truth["sent_at"].dt.date)
    true_p = test[["customer_id", "as_of"]].merge(
        truth, on=["customer_id", "as_of"], how="left", validate="one_to_one"
    )[[f"p_respond_{t}" for t in types]]

    agree = np.mean(predicted.argmax(axis=1) == true_p.to_numpy().argmax(axis=1))

    # four offer types: a model blind to the fit would agree about 1 time in 4
    assert agree > 0.45


def test_an_offer_type_missing_from_the_catalog_is_an_error_naming_it(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "data:\n"
        "  source: synthetic\n"
        "  synthetic: {n_customers: 300, seed: 1}\n"
        "scoring:\n"
        "  catalog:\n"
        "    - {offer_type: discount, cost: 1.0}\n"
        "    - {offer_type: early_access, cost: 1.0}\n"
    )

    with pytest.raises(InputValidationError) as caught:
        load_job_tables(load_config(config), today=dt.date(2026, 1, 1))

    message = str(caught.value)
    assert "'freebie'" in message and "'personal_message'" in message
    assert "not in scoring.catalog" in message
    assert "'discount'" not in message.split("which lists")[0]
