"""Batch scoring: rank inactive customers for a referral offer."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from referral_propensity.model import PropensityModel

logger = logging.getLogger(__name__)

#: columns of the scores file, in order
SCORE_COLUMNS = (
    "customer_id",
    "segment_id",
    "segment_name",
    "propensity",
    "offer",
    "expected_value",
    "rank",
)

_EMPTY_DTYPES = {
    "customer_id": "object",
    "segment_id": "int64",
    "segment_name": "object",
    "propensity": "float64",
    "offer": "object",
    "expected_value": "float64",
    "rank": "int64",
}


def predicted_spend(features: pd.DataFrame) -> np.ndarray:
    """A simple estimate of what a returning customer spends: their spend_mean.

    Customers without a positive spend_mean get the median of those with one.

    Notes
    -----
    Limitation: spend_mean is the past net spend per order, not a fitted
    spend model, so it ignores trends and shrinks nobody toward the mean.
    """
    spend = features["spend_mean"].astype("float64")
    positive = spend[spend > 0]
    fallback = float(positive.median()) if len(positive) else 0.0
    return spend.where(spend > 0, fallback).to_numpy()


def score_customers(
    model: PropensityModel,
    features: pd.DataFrame,
    *,
    default_offer: tuple[str, float],
    offers_by_segment: Mapping[str, tuple[str, float]] | None = None,
) -> pd.DataFrame:
    """Score inactive customers and rank them by expected value.

    Parameters
    ----------
    model : PropensityModel
    features : pandas.DataFrame
        A feature table with ``is_inactive`` (see
        :func:`referral_propensity.inactivity.mark_inactive`); only inactive
        customers are scored.
    default_offer : tuple of (str, float)
        Offer name and cost per contact for segments without their own.
    offers_by_segment : mapping, optional
        Segment name or segment id (as text) -> (offer, cost).

    Returns
    -------
    pandas.DataFrame
        :data:`SCORE_COLUMNS`, sorted by rank. ``expected_value`` is
        propensity x :func:`predicted_spend` - cost; rank 1 is contacted
        first.

    Notes
    -----
    Ties in expected value are broken by propensity, then by customer_id,
    so the ranking is deterministic.
    """
    started = time.perf_counter()
    inactive = features[features["is_inactive"]].reset_index(drop=True)
    if inactive.empty:
        logger.warning(
            "No inactive customers among %d; nothing to score", len(features)
        )
        empty = pd.DataFrame(
            {column: pd.Series(dtype=_EMPTY_DTYPES[column]) for column in SCORE_COLUMNS}
        )
        return empty
    predictions = model.predict_frame(inactive)

    offers_by_segment = dict(offers_by_segment or {})
    chosen = [
        offers_by_segment.get(
            name, offers_by_segment.get(str(segment_id), default_offer)
        )
        for segment_id, name in zip(
            predictions["segment_id"], predictions["segment_name"], strict=True
        )
    ]
    offer = [name for name, _ in chosen]
    cost = np.array([c for _, c in chosen], dtype="float64")

    scores = predictions[
        ["customer_id", "segment_id", "segment_name", "propensity"]
    ].assign(
        offer=offer,
        expected_value=predictions["propensity"].to_numpy() * predicted_spend(inactive)
        - cost,
    )
    scores = scores.sort_values(
        ["expected_value", "propensity", "customer_id"],
        ascending=[False, False, True],
        kind="stable",
        ignore_index=True,
    )
    scores["rank"] = np.arange(1, len(scores) + 1, dtype="int64")
    logger.info(
        "Scored %d inactive of %d customers in %.1f s",
        len(scores),
        len(features),
        time.perf_counter() - started,
    )
    return scores[list(SCORE_COLUMNS)]
