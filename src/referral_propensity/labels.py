"""Labels: what happened in the window after as_of."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from referral_propensity.errors import InputValidationError
from referral_propensity.io.tables import Tables, from_day, to_day


def build_reactivation_labels(
    tables: Tables, *, as_of: dt.date, horizon_days: int
) -> pd.Series:
    """Flag customers who purchase in ``[as_of, as_of + horizon_days)``.

    Parameters
    ----------
    tables : Tables
    as_of : date
        Midnight UTC; the window starts here (inclusive).
    horizon_days : int
        Window length; the window ends before ``as_of + horizon_days``.

    Returns
    -------
    pandas.Series
        Index customer_id (customers with a purchase in the window), value 1.
        Customers absent from it have label 0.

    Raises
    ------
    InputValidationError
        When the window runs past the last transaction day, so that labels
        would be cut short.

    Notes
    -----
    A purchase is a row with amount > 0; refunds never make a label.
    """
    start, end = check_label_window(tables, as_of=as_of, horizon_days=horizon_days)
    rows = tables.con.execute(
        f"SELECT DISTINCT customer_id FROM {tables.transactions.relation.alias} "
        f"WHERE amount > 0 AND event_day >= {start} AND event_day < {end}"
    ).fetchall()
    return pd.Series(
        1, index=pd.Index([r[0] for r in rows], name="customer_id"), name="label"
    )


def check_label_window(
    tables: Tables, *, as_of: dt.date, horizon_days: int
) -> tuple[int, int]:
    """The label window ``[as_of, as_of + horizon)`` as day numbers.

    Raises
    ------
    InputValidationError
        When the window runs past the day after the last transaction, so that
        labels would be cut short.
    """
    start = to_day(as_of)
    end = start + horizon_days
    alias = tables.transactions.relation.alias
    last_day = tables.con.execute(f"SELECT max(event_day) FROM {alias}").fetchall()
    last_day = last_day[0][0]
    if end > last_day + 1:
        raise InputValidationError(
            f"the label window [{as_of}, {from_day(end)}) runs past the last "
            f"transaction ({from_day(last_day)}); pick an as_of on or before "
            f"{from_day(last_day + 1 - horizon_days)} or shorten label.horizon_days"
        )
    return start, end


def attach_labels(features: pd.DataFrame, positives: pd.Series) -> pd.DataFrame:
    """Add a 0/1 ``label`` column to a feature table from a set of positives."""
    labelled = features.copy()
    labelled["label"] = labelled["customer_id"].isin(positives.index).astype("int64")
    return labelled
