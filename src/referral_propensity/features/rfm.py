"""Purchase features (recency, orders, spend, refunds) as of a date.

Each definition is written once as a Narwhals expression, so the same code runs
on DuckDB (the default engine), pandas, polars or PySpark. Days are whole UTC
days counted as integers (``event_day``, days since 1970-01-01), so that
"strictly before as_of" is ``event_day < as_of_day`` on every engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import narwhals as nw

#: the frequency definition the features use, recorded in every run's params
ORDER_RULES = {
    "order_id": "n_orders counts distinct order_id among rows with amount > 0",
    "customer_day": (
        "n_orders counts customer-days with amount > 0 (no order_id: one order "
        "per customer and UTC day)"
    ),
}

_MONEY_DECIMALS = 6

#: the boundary rule recorded in every run's params
BOUNDARY_RULE = (
    "features: timestamp < as_of; labels: as_of <= timestamp < as_of + horizon"
)


def build_rfm_features(
    transactions: nw.LazyFrame,
    *,
    as_of_day: int,
    windows_days: Sequence[int] = (30, 90, 180, 365),
) -> nw.LazyFrame:
    """Build one row of purchase features per customer, as of a day.

    Parameters
    ----------
    transactions : narwhals.LazyFrame
        Columns customer_id, event_day (int, days since 1970-01-01 in UTC),
        amount (negative for refunds) and, optionally, order_id. Without
        order_id, each customer-day with a purchase is one order.
    as_of_day : int
        The as_of date as days since 1970-01-01; only rows with
        ``event_day < as_of_day`` are read.
    windows_days : sequence of int, default=(30, 90, 180, 365)
        Lengths of the windows ``[as_of - w days, as_of)``.

    Returns
    -------
    narwhals.LazyFrame
        customer_id; recency_days, tenure_days (days from the last and first
        purchase day to as_of); n_orders; n_purchase_days; spend_total (net of
        refunds); spend_mean (spend_total / n_orders); gross_spend_total;
        refund_total; n_refunds; refund_share (refund_total /
        gross_spend_total); mean_gap_days (mean days between purchase days);
        recency_to_gap (recency_days / mean_gap_days); and n_orders_{w}d,
        spend_{w}d for each window.

    Notes
    -----
    A purchase is a row with amount > 0. A refund (amount < 0) lowers spend
    and counts in n_refunds but is never a purchase, so it moves neither
    recency nor n_orders. A row with amount 0 is neither. Every customer with
    any row before as_of is in the result; one without purchases has
    n_orders 0 and null recency_days, tenure_days and spend_mean.
    """
    before = transactions.filter(nw.col("event_day") < as_of_day)
    purchases = before.filter(nw.col("amount") > 0)
    has_order_ids = "order_id" in transactions.collect_schema().names()

    if has_order_ids:
        orders = purchases.group_by("customer_id", "order_id").agg(
            nw.col("event_day").min().alias("order_day")
        )
        purchase_days = nw.col("order_day").n_unique()
    else:
        # no order ids: one order per customer and day, so days and orders agree
        orders = (
            purchases.group_by("customer_id", "event_day")
            .agg(nw.len().alias("_rows"))
            .select("customer_id", nw.col("event_day").alias("order_day"))
        )
        purchase_days = nw.len()
    orders = orders.with_columns(
        (nw.col("order_day") >= as_of_day - w).cast(nw.Int64).alias(f"_in_{w}d")
        for w in windows_days
    )
    per_customer_orders = orders.group_by("customer_id").agg(
        nw.len().alias("n_orders"),
        purchase_days.alias("n_purchase_days"),
        nw.col("order_day").min().alias("_first_day"),
        nw.col("order_day").max().alias("_last_day"),
        *(nw.col(f"_in_{w}d").sum().alias(f"n_orders_{w}d") for w in windows_days),
    )

    amount = nw.col("amount")
    per_customer_rows = (
        before.with_columns(
            nw.when(amount > 0).then(amount).otherwise(0.0).alias("_gross"),
            nw.when(amount < 0).then(-amount).otherwise(0.0).alias("_refund"),
            (amount < 0).cast(nw.Int64).alias("_is_refund"),
            *(
                nw.when(nw.col("event_day") >= as_of_day - w)
                .then(amount)
                .otherwise(0.0)
                .alias(f"_spend_{w}d")
                for w in windows_days
            ),
        )
        .group_by("customer_id")
        .agg(
            amount.sum().alias("spend_total"),
            nw.col("_gross").sum().alias("gross_spend_total"),
            nw.col("_refund").sum().alias("refund_total"),
            nw.col("_is_refund").sum().alias("n_refunds"),
            *(nw.col(f"_spend_{w}d").sum().alias(f"spend_{w}d") for w in windows_days),
        )
    )

    counts = ["n_orders", "n_purchase_days", *(f"n_orders_{w}d" for w in windows_days)]
    # a parallel sum of doubles depends on the order rows arrive in; rounding
    # to a millionth makes every run give the same money figures
    money = [
        "spend_total",
        "gross_spend_total",
        "refund_total",
        *(f"spend_{w}d" for w in windows_days),
    ]
    joined = per_customer_rows.join(
        per_customer_orders, on="customer_id", how="left"
    ).with_columns(
        *(nw.col(c).fill_null(0) for c in counts),
        *(nw.col(c).round(_MONEY_DECIMALS) for c in money),
    )

    n_orders = nw.col("n_orders")
    n_days = nw.col("n_purchase_days")
    gross = nw.col("gross_spend_total")
    features = joined.with_columns(
        (as_of_day - nw.col("_last_day")).alias("recency_days"),
        (as_of_day - nw.col("_first_day")).alias("tenure_days"),
        nw.when(n_orders > 0)
        .then(nw.col("spend_total") / n_orders)
        .otherwise(None)
        .alias("spend_mean"),
        nw.when(gross > 0)
        .then(nw.col("refund_total") / gross)
        .otherwise(None)
        .alias("refund_share"),
        nw.when(n_days > 1)
        .then((nw.col("_last_day") - nw.col("_first_day")) / (n_days - 1))
        .otherwise(None)
        .alias("mean_gap_days"),
    ).with_columns(
        nw.when(nw.col("mean_gap_days") > 0)
        .then(nw.col("recency_days") / nw.col("mean_gap_days"))
        .otherwise(None)
        .alias("recency_to_gap"),
    )

    return features.select(
        "customer_id",
        "recency_days",
        "tenure_days",
        "n_orders",
        "n_purchase_days",
        "spend_total",
        "spend_mean",
        "gross_spend_total",
        "refund_total",
        "n_refunds",
        "refund_share",
        "mean_gap_days",
        "recency_to_gap",
        *(name for w in windows_days for name in (f"n_orders_{w}d", f"spend_{w}d")),
    )
