"""Labels: what happened in the window after as_of."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from referral_propensity.errors import InputValidationError
from referral_propensity.io.tables import Tables, from_day, to_day

logger = logging.getLogger(__name__)


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


#: columns of :func:`build_offer_response_rows`
OFFER_ROW_COLUMNS = (
    "offer_row",
    "customer_id",
    "as_of",
    "offer_type",
    "group",
    "label",
)


def build_offer_response_rows(tables: Tables, *, horizon_days: int) -> pd.DataFrame:
    """One labelled row per offer: did the customer respond within the horizon?

    Parameters
    ----------
    tables : Tables
        Must hold an offers table with ``responded_at``.
    horizon_days : int
        A response counts when it falls in ``[sent_at, sent_at + horizon_days)``.

    Returns
    -------
    pandas.DataFrame
        :data:`OFFER_ROW_COLUMNS`: ``offer_row`` (position of the row in the
        offers table as loaded, sorted by sent_at and customer_id), customer_id,
        ``as_of`` (the day the offer was sent: its features see only events
        strictly before that day), offer_type, ``group`` ("treatment" or
        "control"; "treatment" when the table has no group column) and the 0/1
        ``label``. Offers whose window runs past the end of the data are left
        out (their label is not known yet), with a log line.

    Raises
    ------
    InputValidationError
        When the table has no ``responded_at`` column, or a response comes
        before its offer was sent.
    """
    offers = tables.offers
    columns = offers.relation.columns
    if "responded_at" not in columns:
        raise InputValidationError(
            "offers table: label.kind 'offer_response' needs a responded_at column "
            f"(found: {', '.join(columns)}); map it with data.offers.columns"
        )
    group = (
        "CASE WHEN lower(\"group\") = 'control' THEN 'control' ELSE 'treatment' END"
        if "group" in columns
        else "'treatment'"
    )
    rows = tables.con.execute(
        f"""
        SELECT row_number() OVER (ORDER BY sent_at, customer_id, offer_type) - 1
                   AS offer_row,
               customer_id, event_day AS sent_day, offer_type, {group} AS "group",
               sent_at, responded_at
        FROM {offers.relation.alias}
        ORDER BY offer_row
        """
    ).df()
    _check_response_order(rows)

    _, last_day = tables.day_range()
    offers_last = tables.con.execute(
        f"SELECT max(event_day) FROM {offers.relation.alias}"
    ).fetchall()[0][0]
    end_of_data = max(last_day, int(offers_last)) + 1
    complete = rows["sent_day"] + horizon_days <= end_of_data
    if not complete.all():
        logger.info(
            "%d of %d offers were sent fewer than %d days before the end of the "
            "data (%s); their responses are not all known yet, so they are left out",
            int((~complete).sum()),
            len(rows),
            horizon_days,
            from_day(end_of_data),
        )
    rows = rows[complete].reset_index(drop=True)

    horizon = pd.Timedelta(days=horizon_days)
    responded = rows["responded_at"]
    rows["label"] = (
        responded.notna() & (responded < rows["sent_at"] + horizon)
    ).astype("int64")
    rows["as_of"] = [from_day(d) for d in rows["sent_day"]]
    rows["customer_id"] = rows["customer_id"].astype(str)
    return rows[list(OFFER_ROW_COLUMNS)]


def _check_response_order(rows: pd.DataFrame) -> None:
    early = rows[
        rows["responded_at"].notna() & (rows["responded_at"] < rows["sent_at"])
    ]
    if len(early):
        shown = "; ".join(
            f"customer {r.customer_id} sent_at {r.sent_at} responded_at {r.responded_at}"
            for r in early.head(5).itertuples()
        )
        raise InputValidationError(
            f"offers table: {len(early)} row(s) have responded_at before sent_at "
            f"(first: {shown}); fix those dates or leave responded_at empty"
        )
