"""Dates the pipeline picks when the config leaves them open."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from referral_propensity import pipeline
from referral_propensity.config import Config
from referral_propensity.engine import connect
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables


def test_default_scoring_date_ignores_rows_dated_after_today():
    # one mistyped row in 2099 must not move the scoring date to 2099-01-02
    frame = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "timestamp": pd.to_datetime(
                ["2024-03-01", "2024-03-05", "2099-01-01"], utc=True
            ),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    tables = load_tables(
        connect(), {"transactions": TableSource("transactions", frame=frame)}
    )
    config = Config.model_validate({"data": {"source": "cdnow"}})

    assert pipeline.scoring_as_of(config, tables) == dt.date(2024, 3, 6)
    # the test snapshot is the scoring date minus the 90-day horizon
    assert pipeline.test_as_of(config, tables) == dt.date(2024, 3, 6) - dt.timedelta(
        days=90
    )
    assert pipeline.scoring_as_of(config, tables, dt.date(2024, 1, 1)) == dt.date(
        2024, 1, 1
    )
