"""Engagement features (e-mail opens, clicks, visits) as of a date."""

from __future__ import annotations

import re
from collections.abc import Sequence

import narwhals as nw


def feature_name(event_type: str) -> str:
    """A column-safe name for an event type: ``"E-mail Open"`` -> ``email_open``."""
    name = re.sub(r"[^0-9a-z]+", "_", event_type.strip().lower()).strip("_")
    return re.sub(r"^e_mail", "email", name) or "event"


def build_engagement_features(
    engagement: nw.LazyFrame,
    *,
    as_of_day: int,
    event_types: Sequence[str],
    windows_days: Sequence[int] = (30, 90, 180, 365),
) -> nw.LazyFrame:
    """Count engagement events by type and window, as of a day.

    Parameters
    ----------
    engagement : narwhals.LazyFrame
        Columns customer_id, event_type and event_day (days since 1970-01-01,
        UTC).
    as_of_day : int
        Only events with ``event_day < as_of_day`` are read.
    event_types : sequence of str
        The event types to count; others are ignored. Fixing the list at
        training time keeps the columns the same at scoring time.
    windows_days : sequence of int, default=(30, 90, 180, 365)

    Returns
    -------
    narwhals.LazyFrame
        customer_id, days_since_engagement (days from the last event day of
        any type to as_of), and ``n_{type}_{w}d`` for each type and window,
        with ``type`` made column-safe by :func:`feature_name`.
    """
    before = engagement.filter(nw.col("event_day") < as_of_day)
    # types that differ only in spelling ("Click", "click!") share one column
    by_name: dict[str, list[str]] = {}
    for event_type in event_types:
        by_name.setdefault(feature_name(event_type), []).append(event_type)
    indicators = [
        (nw.col("event_type").is_in(types) & (nw.col("event_day") >= as_of_day - w))
        .cast(nw.Int64)
        .alias(f"n_{name}_{w}d")
        for name, types in by_name.items()
        for w in windows_days
    ]
    names = [f"n_{name}_{w}d" for name in by_name for w in windows_days]
    return (
        before.with_columns(*indicators)
        .group_by("customer_id")
        .agg(
            nw.col("event_day").max().alias("_last_event_day"),
            *(nw.col(name).sum() for name in names),
        )
        .with_columns(
            (as_of_day - nw.col("_last_event_day")).alias("days_since_engagement")
        )
        .select("customer_id", "days_since_engagement", *names)
    )
