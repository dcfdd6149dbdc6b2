"""Case 06: refunds lower spend but are never purchases; zero is no purchase.

The case's second part (segmentation and training must exclude C50 and C52
with a warning) belongs to the segmentation tests and is not checked here.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from referral_propensity.engine import connect
from referral_propensity.features import build_features
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables

AS_OF = dt.date(2024, 7, 1)
TODAY = dt.date(2024, 9, 30)

# R-prefixed orders are refunds
TRANSACTIONS_CSV = (
    "customer_id,order_id,timestamp,amount\n"
    "C50,O3001,2024-02-02T10:00:00,100.00\n"
    "C50,R3001,2024-02-09T12:00:00,-100.00\n"
    "C51,O3002,2024-03-10T10:00:00,60.00\n"
    "C51,R3002,2024-03-15T10:00:00,-20.00\n"
    "C51,O3003,2024-05-05T10:00:00,40.00\n"
    "C52,O3004,2024-04-04T10:00:00,0.00\n"
)


def _frame(write_file, windows_days=(30, 90, 180, 365)):
    path = write_file("transactions.csv", TRANSACTIONS_CSV)
    con = connect()
    tables = load_tables(
        con, {"transactions": TableSource("transactions", path=path)}, today=TODAY
    )
    return build_features(tables, as_of=AS_OF, windows_days=windows_days).frame


def test_refunds_and_zero_amounts_are_not_purchases(write_file):
    frame = _frame(write_file)

    # C50 bought once (R3001 is a refund), C51 twice (R3002 is a refund),
    # C52's only row has amount 0, so no purchase; every customer with a row
    # before as_of stays in the table
    assert frame["customer_id"].tolist() == ["C50", "C51", "C52"]
    assert frame["n_orders"].tolist() == [1, 2, 0]
    assert frame["n_purchase_days"].tolist() == [1, 2, 0]
    assert frame["n_refunds"].tolist() == [1, 1, 0]


def test_refund_date_does_not_move_recency(write_file):
    frame = _frame(write_file)

    # C50: last purchase 02-02 (not the refund on 02-09):
    #      02-02 -> 07-01 = 27 + 31 + 30 + 31 + 30 + 1 = 150
    # C51: last purchase 05-05 -> 26 + 30 + 1 = 57; first 03-10 -> 113 tenure
    # C52: no purchase -> recency and tenure undefined
    np.testing.assert_allclose(
        frame["recency_days"], [150, 57, np.nan], rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        frame["tenure_days"], [150, 113, np.nan], rtol=0, atol=1e-9
    )


def test_gross_refund_and_net_spend_match_hand_values(write_file):
    frame = _frame(write_file)

    # gross: C50 100, C51 60 + 40 = 100, C52 0
    # refund_total: 100, 20, 0; net spend_total: 0, 80, 0
    # spend_mean = net / n_orders: 0 / 1 = 0, 80 / 2 = 40, undefined for C52
    # refund_share = refund / gross: 1.0, 0.2, undefined (gross 0)
    np.testing.assert_allclose(
        frame["gross_spend_total"], [100.0, 100.0, 0.0], rtol=1e-12
    )
    np.testing.assert_allclose(frame["refund_total"], [100.0, 20.0, 0.0], rtol=1e-12)
    np.testing.assert_allclose(
        frame["spend_total"], [0.0, 80.0, 0.0], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        frame["spend_mean"], [0.0, 40.0, np.nan], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        frame["refund_share"], [1.0, 0.2, np.nan], rtol=1e-12, atol=1e-12
    )


def test_fully_refunded_and_no_purchase_customers_can_be_told_apart(write_file):
    frame = _frame(write_file).set_index("customer_id")

    # "fully refunded": bought, and refunds equal gross spend (C50 only);
    # "no purchase": n_orders 0 (C52 only)
    fully_refunded = (frame["n_orders"] > 0) & np.isclose(
        frame["refund_total"], frame["gross_spend_total"], rtol=1e-12
    )
    no_purchase = frame["n_orders"] == 0
    assert fully_refunded[fully_refunded].index.tolist() == ["C50"]
    assert no_purchase[no_purchase].index.tolist() == ["C52"]


def test_windowed_spend_is_net_and_windowed_orders_skip_refunds(write_file):
    frame = _frame(write_file, windows_days=(30, 90, 180))

    # window starts: 30d 2024-06-01, 90d 2024-04-02, 180d 2024-01-03
    # C50 (02-02 buy, 02-09 refund): only the 180d window holds them: 1 order,
    #     spend 100 - 100 = 0
    # C51 (03-10 buy, 03-15 refund, 05-05 buy): 90d holds 05-05 only
    #     -> 1 order, 40; 180d holds all -> 2 orders, 80
    # C52 (04-04, amount 0): in the 90d window but never an order
    assert frame["n_orders_30d"].tolist() == [0, 0, 0]
    assert frame["n_orders_90d"].tolist() == [0, 1, 0]
    assert frame["n_orders_180d"].tolist() == [1, 2, 0]
    np.testing.assert_allclose(frame["spend_30d"], [0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(frame["spend_90d"], [0.0, 40.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(frame["spend_180d"], [0.0, 80.0, 0.0], atol=1e-12)
