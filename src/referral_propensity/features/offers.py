"""Offer history features: what each customer was offered before as_of and how they answered.

Only treatment rows count as offers received (a control row is an offer that
was held back, so the customer never saw it). A response counts only when it
happened before as_of, even if its offer was sent earlier.
"""

from __future__ import annotations

import pandas as pd

from referral_propensity.io.tables import Tables

#: columns added by :func:`build_offer_history_features`, besides customer_id
OFFER_HISTORY_COLUMNS = (
    "n_offers",
    "n_offer_responses",
    "offer_response_rate",
    "days_since_offer",
)


def treatment_filter(tables: Tables) -> str:
    """SQL condition keeping the rows of offers that were really sent."""
    if tables.offers is None or "group" not in tables.offers.relation.columns:
        return "TRUE"
    return "coalesce(lower(\"group\"), 'treatment') <> 'control'"


def build_offer_history_features(tables: Tables, *, as_of_day: int) -> pd.DataFrame:
    """Offers received and answered by each customer strictly before as_of.

    Parameters
    ----------
    tables : Tables
        Must hold an offers table.
    as_of_day : int
        The cutoff as a day number (see :func:`referral_propensity.io.tables.to_day`).

    Returns
    -------
    pandas.DataFrame
        customer_id, ``n_offers`` (treatment offers sent before as_of),
        ``n_offer_responses`` (responses before as_of), ``offer_response_rate``
        (their ratio) and ``days_since_offer`` (whole days from the last offer's
        day to as_of); one row per customer with an offer before as_of.
    """
    offers = tables.offers
    has_response = "responded_at" in offers.relation.columns
    responded = (
        f"count(*) FILTER (WHERE responded_at IS NOT NULL AND "
        f"CAST(responded_at AS DATE) < DATE '1970-01-01' + {as_of_day})"
        if has_response
        else "0"
    )
    frame = tables.con.execute(
        f"""
        SELECT customer_id,
               count(*) AS n_offers,
               {responded} AS n_offer_responses,
               {as_of_day} - max(event_day) AS days_since_offer
        FROM {offers.relation.alias}
        WHERE event_day < {as_of_day} AND {treatment_filter(tables)}
        GROUP BY customer_id
        """
    ).df()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["n_offers"] = frame["n_offers"].astype("int64")
    frame["n_offer_responses"] = frame["n_offer_responses"].astype("int64")
    frame["offer_response_rate"] = frame["n_offer_responses"] / frame["n_offers"]
    frame["days_since_offer"] = frame["days_since_offer"].astype("float64")
    return frame[["customer_id", *OFFER_HISTORY_COLUMNS]]


def add_offer_history(
    features: pd.DataFrame, tables: Tables, *, as_of_day: int
) -> pd.DataFrame:
    """Join the offer history onto a feature table (0 offers when none)."""
    history = build_offer_history_features(tables, as_of_day=as_of_day)
    joined = features.merge(
        history, on="customer_id", how="left", validate="one_to_one"
    )
    for column in ("n_offers", "n_offer_responses"):
        joined[column] = joined[column].fillna(0).astype("int64")
    return joined
