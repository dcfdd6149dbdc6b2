"""Purchases whose order_id is empty still count by their own day."""

from __future__ import annotations

import datetime as dt

import numpy as np

from referral_propensity.engine import connect
from referral_propensity.features import build_features
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables

AS_OF = dt.date(2024, 7, 1)
TODAY = dt.date(2024, 9, 30)


def test_purchases_with_empty_order_id_keep_their_own_days(write_file):
    # C1 buys on 01-01 and 01-05 with the order_id left empty; C2 has an id
    path = write_file(
        "orders.csv",
        "customer_id,timestamp,amount,order_id\n"
        "C1,2024-01-01,10.00,\n"
        "C1,2024-01-05,20.00,\n"
        "C2,2024-01-05,20.00,O1\n",
    )
    tables = load_tables(
        connect(), {"transactions": TableSource("transactions", path=path)}, today=TODAY
    )

    frame = build_features(tables, as_of=AS_OF).frame.set_index("customer_id")

    # C1's last purchase is 01-05: 26 + 29 + 31 + 30 + 31 + 30 + 1 = 178 days
    # before as_of (182 from 01-01); it bought on 2 distinct days, 30.00 in all
    np.testing.assert_allclose(frame.loc["C1", "recency_days"], 178, rtol=0, atol=1e-9)
    np.testing.assert_allclose(frame.loc["C1", "tenure_days"], 182, rtol=0, atol=1e-9)
    assert frame.loc["C1", "n_purchase_days"] == 2
    np.testing.assert_allclose(frame.loc["C1", "spend_total"], 30.0, rtol=1e-12)
    np.testing.assert_allclose(frame.loc["C2", "recency_days"], 178, rtol=0, atol=1e-9)
