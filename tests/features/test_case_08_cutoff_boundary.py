"""Case 08: a row exactly at as_of is a label row, never a feature row."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from referral_propensity.engine import connect
from referral_propensity.features import build_features
from referral_propensity.features.rfm import BOUNDARY_RULE
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables

AS_OF = dt.date(2024, 7, 1)
TODAY = dt.date(2024, 9, 30)
HORIZON_DAYS = 30

TRANSACTIONS_CSV = (
    "customer_id,timestamp,amount\n"
    "C70,2024-06-30T23:59:59,10.00\n"
    "C70,2024-07-01T00:00:00,25.00\n"
    "C71,2024-03-01T12:00:00,15.00\n"
    "C71,2024-07-01T00:00:00,30.00\n"
)

ENGAGEMENT_CSV = (
    "customer_id,timestamp,event_type\n"
    "C70,2024-06-15T08:00:00,email_open\n"
    "C70,2024-07-01T00:00:00,email_open\n"
    "C71,2024-07-01T00:00:00,email_click\n"
)


def _tables(write_file):
    transactions = write_file("transactions.csv", TRANSACTIONS_CSV)
    engagement = write_file("engagement_events.csv", ENGAGEMENT_CSV)
    return load_tables(
        connect(),
        {
            "transactions": TableSource("transactions", path=transactions),
            "engagement": TableSource("engagement", path=engagement),
        },
        today=TODAY,
    )


def test_purchase_features_exclude_rows_at_as_of(write_file):
    features = build_features(_tables(write_file), as_of=AS_OF)
    frame = features.frame

    # C70: 06-30T23:59:59 (10.00) counts, 07-01T00:00 does not -> 1 order,
    #      recency 1 (an inclusive boundary would give 2 orders, recency 0)
    # C71: 03-01 (15.00) counts -> recency 30 + 30 + 31 + 30 + 1 = 122
    # two rows sit exactly at as_of and are left out
    assert frame["customer_id"].tolist() == ["C70", "C71"]
    assert frame["n_orders"].tolist() == [1, 1]
    np.testing.assert_allclose(frame["spend_total"], [10.0, 15.0], rtol=1e-12)
    np.testing.assert_allclose(frame["recency_days"], [1, 122], rtol=0, atol=1e-9)
    assert features.n_rows_after_cutoff == 2


def test_engagement_features_exclude_events_at_as_of(write_file):
    frame = build_features(_tables(write_file), as_of=AS_OF).frame

    # email opens before as_of: C70 06-15 only (within every window from 30d),
    # C71 none; clicks: C71's only click is at as_of, so 0 for both
    # days_since_engagement: C70 06-15 -> 16; C71 has no event before as_of
    for w in (30, 90, 180, 365):
        assert frame[f"n_email_open_{w}d"].tolist() == [1, 0]
        assert frame[f"n_email_click_{w}d"].tolist() == [0, 0]
    np.testing.assert_allclose(
        frame["days_since_engagement"], [16, np.nan], rtol=0, atol=1e-9
    )


def test_feature_rows_and_label_rows_do_not_intersect(write_file):
    tables = _tables(write_file)
    rows = tables.transactions.to_pandas()
    as_of_ts = pd.Timestamp(AS_OF, tz="UTC")
    horizon_end = as_of_ts + pd.Timedelta(days=HORIZON_DAYS)

    feature_rows = rows[rows["timestamp"] < as_of_ts]
    label_rows = rows[
        (rows["timestamp"] >= as_of_ts) & (rows["timestamp"] < horizon_end)
    ]
    feature_keys = set(
        zip(feature_rows["customer_id"], feature_rows["timestamp"], strict=True)
    )
    label_keys = set(
        zip(label_rows["customer_id"], label_rows["timestamp"], strict=True)
    )

    # 2 feature rows (C70 06-30, C71 03-01), 2 label rows (both at as_of)
    assert len(feature_keys) == 2
    assert len(label_keys) == 2
    assert feature_keys.isdisjoint(label_keys)

    # the feature table agrees with the feature rows: as many orders as rows
    frame = build_features(tables, as_of=AS_OF).frame
    assert int(frame["n_orders"].sum()) == len(feature_rows)

    # label "purchased in [as_of, as_of + 30d)": 1 for both (25.00 and 30.00)
    purchased = label_rows.loc[label_rows["amount"] > 0, "customer_id"]
    label = frame["customer_id"].isin(set(purchased)).astype(int)
    assert label.tolist() == [1, 1]


def test_boundary_rule_states_exclusive_features_and_inclusive_labels():
    assert "timestamp < as_of" in BOUNDARY_RULE
    assert "as_of <= timestamp < as_of + horizon" in BOUNDARY_RULE
