"""Who is inactive: no purchase (and optionally no engagement) for a while."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from referral_propensity.errors import InputValidationError

NEVER_PURCHASED = "never purchased"
ACTIVE = "active"


def lapse_stage_names(no_purchase_days: int, edges_days: Sequence[int]) -> list[str]:
    """Names of the lapse stages, shortest lapse first.

    For ``no_purchase_days=90`` and edges ``(180, 365)``: ``lapsed 91-180 days``,
    ``lapsed 181-365 days``, ``lapsed over 365 days``.
    """
    bounds = [no_purchase_days, *_edges_after(no_purchase_days, edges_days)]
    names = [
        f"lapsed {lo + 1}-{hi} days" for lo, hi in zip(bounds, bounds[1:], strict=False)
    ]
    return [*names, f"lapsed over {bounds[-1]} days"]


def mark_inactive(
    features: pd.DataFrame,
    *,
    no_purchase_days: int = 90,
    no_engagement_days: int | None = None,
    lapse_stage_edges_days: Sequence[int] = (180, 365),
) -> pd.DataFrame:
    """Add ``is_inactive`` and ``lapse_stage`` to a feature table.

    Parameters
    ----------
    features : pandas.DataFrame
        Needs recency_days; with ``no_engagement_days`` also
        days_since_engagement.
    no_purchase_days : int, default=90
        Inactive means no purchase in the last this many days before as_of
        (recency_days > no_purchase_days, or no purchase at all).
    no_engagement_days : int, optional
        When given, inactive also needs no engagement event in the last this
        many days (days_since_engagement > it, or none at all).
    lapse_stage_edges_days : sequence of int, default=(180, 365)
        Upper bounds (days since the last purchase) of the lapse stages.

    Returns
    -------
    pandas.DataFrame
        A copy with ``is_inactive`` (bool) and ``lapse_stage`` (category:
        ``active``, the stages of :func:`lapse_stage_names`, and ``never
        purchased``).
    """
    recency = features["recency_days"]
    no_purchase = recency.isna() | (recency > no_purchase_days)
    is_inactive = no_purchase
    if no_engagement_days is not None:
        if "days_since_engagement" not in features:
            raise InputValidationError(
                "inactivity.no_engagement_days is set but there is no engagement "
                "table; remove the setting or give data.engagement"
            )
        since = features["days_since_engagement"]
        is_inactive = is_inactive & (since.isna() | (since > no_engagement_days))

    names = lapse_stage_names(no_purchase_days, lapse_stage_edges_days)
    edges = [no_purchase_days, *_edges_after(no_purchase_days, lapse_stage_edges_days)]
    stage_index = np.searchsorted(
        np.asarray(edges), recency.fillna(0).to_numpy(), side="left"
    )
    labels = np.array([ACTIVE, *names], dtype=object)[stage_index]
    labels = np.where(recency.isna().to_numpy(), NEVER_PURCHASED, labels)
    stages = pd.Categorical(labels, categories=[ACTIVE, *names, NEVER_PURCHASED])

    marked = features.copy()
    marked["is_inactive"] = is_inactive.to_numpy(dtype=bool)
    marked["lapse_stage"] = stages
    return marked


def _edges_after(no_purchase_days: int, edges_days: Sequence[int]) -> list[int]:
    # distinct edges past the inactivity threshold, in order
    return sorted({int(e) for e in edges_days if e > no_purchase_days})
