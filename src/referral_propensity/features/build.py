"""Assemble the feature table: purchases, engagement and customer attributes."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import narwhals as nw
import numpy as np
import pandas as pd

from referral_propensity.errors import InputValidationError
from referral_propensity.features.attributes import prepare_attributes
from referral_propensity.features.engagement import build_engagement_features
from referral_propensity.features.offers import add_offer_history
from referral_propensity.features.rfm import build_rfm_features
from referral_propensity.io.tables import Tables, from_day, to_day

logger = logging.getLogger(__name__)

_STALE_AFTER_DAYS = 31


@dataclass
class FeatureTable:
    """Features of every customer as of one date.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per customer with a transaction row before as_of, sorted by
        customer_id; column customer_id, then the features.
    as_of : date
    n_rows_after_cutoff : int
        Transactions on or after as_of, left out.
    order_definition : str
        ``order_id`` or ``customer_day`` (see ``features.rfm.ORDER_RULES``).
    event_types : list of str
        Engagement event types counted.
    categorical : list of str
        Text attribute columns, treated as categories by the model.
    """

    frame: pd.DataFrame
    as_of: dt.date
    n_rows_after_cutoff: int
    order_definition: str
    event_types: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)

    @property
    def feature_columns(self) -> list[str]:
        """Every column but customer_id."""
        return [c for c in self.frame.columns if c != "customer_id"]


def check_as_of(tables: Tables, as_of: dt.date | None) -> int:
    """Check that as_of is given and inside the data; return it as a day number.

    Raises
    ------
    InputValidationError
        When as_of is missing or no transaction is before it. An as_of long
        after the last transaction only gets a warning.
    """
    if as_of is None:
        raise InputValidationError(
            "as_of is required (features see only events strictly before it); "
            "set training.test_as_of / scoring.as_of or pass --as-of YYYY-MM-DD"
        )
    as_of_day = to_day(as_of)
    alias = tables.transactions.relation.alias
    n_rows, n_before, last_day = tables.con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE event_day < {as_of_day}), "
        f"max(event_day) FROM {alias}"
    ).fetchall()[0]
    if n_before == 0:
        raise InputValidationError(
            f"0 of {n_rows} transactions are before cutoff {as_of}; nothing to build "
            f"features from (pick an as_of after the first transaction)"
        )
    if as_of_day > last_day + _STALE_AFTER_DAYS:
        logger.warning(
            "as_of %s is %d days after the last transaction (%s): the data may be "
            "stale, and every customer looks lapsed",
            as_of,
            as_of_day - last_day,
            from_day(last_day),
        )
    return as_of_day


def build_features(
    tables: Tables,
    *,
    as_of: dt.date,
    windows_days: Sequence[int] = (30, 90, 180, 365),
    event_types: Sequence[str] | None = None,
) -> FeatureTable:
    """Build every feature of every customer as of a date.

    Parameters
    ----------
    tables : Tables
        Loaded input tables; engagement and customers are optional.
    as_of : date
        Midnight UTC; only events strictly before it are read.
    windows_days : sequence of int, default=(30, 90, 180, 365)
    event_types : sequence of str, optional
        Engagement types to count; all types in the table when None.

    Returns
    -------
    FeatureTable

    Raises
    ------
    InputValidationError
        See :func:`check_as_of`.

    Notes
    -----
    Customers without a transaction row before as_of are left out, even when
    the customers table lists them. Engagement counts of a customer with no
    events are 0 and days_since_engagement is null. With an offers table, the
    offer history (:mod:`referral_propensity.features.offers`) is added.
    """
    started = time.perf_counter()
    as_of_day = check_as_of(tables, as_of)
    con = tables.con
    transactions = tables.transactions
    n_after = con.execute(
        f"SELECT count(*) FROM {transactions.relation.alias} WHERE event_day >= {as_of_day}"
    ).fetchall()[0][0]

    features = build_rfm_features(
        nw.from_native(transactions.relation),
        as_of_day=as_of_day,
        windows_days=windows_days,
    )

    types = list(event_types) if event_types is not None else tables.event_types()
    if tables.engagement is not None:
        engagement = build_engagement_features(
            nw.from_native(tables.engagement.relation),
            as_of_day=as_of_day,
            event_types=types,
            windows_days=windows_days,
        )
        features = features.join(engagement, on="customer_id", how="left")

    frame = features.to_native().df()
    frame = frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
    frame = _normalise_dtypes(frame)
    if tables.offers is not None:
        frame = add_offer_history(frame, tables, as_of_day=as_of_day)

    categorical: list[str] = []
    if tables.customers is not None:
        # the dropped-column warning once per table, not once per snapshot
        first_time = "customers" not in tables.warned
        tables.warned.add("customers")
        attributes, categorical = prepare_attributes(
            tables.customers_frame(), as_of=as_of, warn=first_time
        )
        _warn_unmatched(frame, attributes, warn=first_time)
        frame = frame.merge(
            attributes, on="customer_id", how="left", validate="one_to_one"
        )

    logger.info(
        "Built %d features for %d customers as of %s (%d transactions on or after "
        "as_of left out) in %.1f s",
        frame.shape[1] - 1,
        len(frame),
        as_of,
        n_after,
        time.perf_counter() - started,
    )
    return FeatureTable(
        frame=frame,
        as_of=as_of,
        n_rows_after_cutoff=int(n_after),
        order_definition=transactions.order_definition or "order_id",
        event_types=types,
        categorical=categorical,
    )


def _normalise_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    # counts are int64 (0 when absent); every other measure is float64 with NaN
    for column in frame.columns:
        if column == "customer_id":
            frame[column] = frame[column].astype(str)
        elif column.startswith("n_"):
            frame[column] = frame[column].fillna(0).astype(np.int64)
        else:
            frame[column] = frame[column].astype("float64")
    return frame


def _warn_unmatched(
    frame: pd.DataFrame, attributes: pd.DataFrame, *, warn: bool
) -> None:
    matched = frame["customer_id"].isin(attributes["customer_id"]).sum()
    if warn and matched < len(frame):
        logger.warning(
            "%d of %d customers with transactions have no row in the customers "
            "table; their attributes are missing (check that customer_id is "
            "written the same way in both tables)",
            len(frame) - matched,
            len(frame),
        )
