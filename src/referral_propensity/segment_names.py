"""Readable segment names: behaviour first, then the attributes that stand out.

A name such as "long-lapsed high spenders, mostly Web channel, high income"
has two parts. The behaviour part compares a segment's medians of recency,
orders, spend and engagement with the quantiles of all customers. The
attribute part names at most two attributes (demographic or psychographic
columns) on which the segment differs clearly from everyone else.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: columns the behaviour part of a name reads
BEHAVIOUR_COLUMNS = (
    "recency_days",
    "n_orders",
    "spend_total",
    "n_email_open_90d",
    "days_since_engagement",
)

#: attribute phrases kept in one name, strongest first
MAX_ATTRIBUTE_PHRASES = 2
#: a category (or flag) stands out when this common in the segment ...
_MOSTLY_SHARE = 0.5
#: ... and this many times as common as among all customers
_MOSTLY_RATIO = 1.5
#: a flag is "rarely" set when its segment share is at most this part of the
#: overall share, which is itself at least _RARELY_MIN_SHARE
_RARELY_RATIO = 0.5
_RARELY_MIN_SHARE = 0.25
#: strengths above this rank alike (a share near 0 would give a huge ratio)
_MAX_STRENGTH = 10.0
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
#: a window suffix such as ``_90d``, left out of names
_WINDOW = re.compile(r"_\d+d(?=_|$)")


def describe_segments(
    table: pd.DataFrame,
    X: pd.DataFrame,
    segment_ids: np.ndarray,
    *,
    attributes: list[str] | None = None,
    features: list[str] | None = None,
    recently_lapsed_days: int | None = None,
) -> list[str]:
    """Unique names of the segments of a profile table.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per segment (segment_id 0..k-1, in order) with the
        ``median_<feature>`` columns of the profile.
    X : pandas.DataFrame
        The customers the segments were found on.
    segment_ids : numpy.ndarray
        Segment of each row of X.
    attributes : list of str, optional
        Columns of X that may be named when a segment stands out on them.
    features : list of str, optional
        Other clustering columns; when the behaviour part of a name is empty
        (no recency, orders or spend columns), the one a segment stands out on
        most leads the name.
    recently_lapsed_days : int, optional
        See :func:`describe_behaviour`.

    Returns
    -------
    list of str
        One name per row of ``table``; a repeated name gets " (2)", " (3)".

    Notes
    -----
    With nothing that stands out a segment is called "typical customers".
    """
    names = []
    for _, row in table.iterrows():
        members = segment_ids == int(row["segment_id"])
        parts = [describe_behaviour(row, X, recently_lapsed_days)]
        if not parts[0] and features:
            parts += attribute_phrases(X, members, features)[:1]
        phrases = attribute_phrases(X, members, attributes or [])
        parts += phrases[:MAX_ATTRIBUTE_PHRASES]
        name = ", ".join(part for part in parts if part)
        names.append(name or "typical customers")
    return unique_names(names)


def describe_behaviour(
    row: pd.Series, X: pd.DataFrame, recently_lapsed_days: int | None
) -> str:
    """A marketer's name for a segment: its medians against the quantiles of all.

    Lapse: the segment's median recency in the top third of all inactive
    customers is "long-lapsed", in the bottom third (and within
    ``recently_lapsed_days``, when set) "recently lapsed". Value:
    a median of one order is "one-time buyers"; many orders "frequent buyers";
    else spend in the top or bottom third gives "high" or "low spenders".
    Engagement: a median of at least one e-mail open in 90 days adds "still
    opening e-mails"; a long silence adds "no longer engaging".

    Returns
    -------
    str
        Empty when the profile has none of :data:`BEHAVIOUR_COLUMNS`; without
        orders and spend, only the lapse and engagement words.
    """

    def quantile(column: str, q: float) -> float:
        return float(X[column].astype("float64").quantile(q))

    parts = []
    if "median_recency_days" in row and pd.notna(row["median_recency_days"]):
        recency = row["median_recency_days"]
        if recency >= quantile("recency_days", 0.67):
            parts.append("long-lapsed")
        elif recency <= quantile("recency_days", 0.33) and (
            recently_lapsed_days is None or recency <= recently_lapsed_days
        ):
            parts.append("recently lapsed")

    if "median_n_orders" in row or "median_spend_total" in row:
        parts.append(_value_noun(row, quantile))
    name = " ".join(part for part in parts if part)

    opens = row.get("median_n_email_open_90d", np.nan)
    since = row.get("median_days_since_engagement", np.nan)
    if pd.notna(opens) and opens > 0:
        name += ", still opening e-mails"
    elif (
        pd.notna(since)
        and "days_since_engagement" in X
        and since >= quantile("days_since_engagement", 0.67)
    ):
        name += ", no longer engaging"
    return name.lstrip(", ")


def _value_noun(row: pd.Series, quantile) -> str:
    orders = row.get("median_n_orders", np.nan)
    spend = row.get("median_spend_total", np.nan)
    high_spend = pd.notna(spend) and spend >= quantile("spend_total", 0.67)
    low_spend = pd.notna(spend) and spend <= quantile("spend_total", 0.33)
    if pd.notna(orders) and orders <= 1:
        return "big-ticket one-time buyers" if high_spend else "one-time buyers"
    if pd.notna(orders) and orders >= max(quantile("n_orders", 0.8), 3):
        return "frequent high spenders" if high_spend else "frequent buyers"
    if high_spend:
        return "high spenders"
    if low_spend:
        return "low spenders"
    # without order counts, "repeat" would be a guess
    return "repeat buyers" if "median_n_orders" in row else ""


def attribute_phrases(
    X: pd.DataFrame, members: np.ndarray, attributes: list[str]
) -> list[str]:
    """Phrases for the attributes a segment stands out on, strongest first.

    Parameters
    ----------
    X : pandas.DataFrame
        All customers.
    members : numpy.ndarray of bool
        Rows of X in the segment.
    attributes : list of str
        Columns of X to consider.

    Returns
    -------
    list of str
        For example ``["mostly Web channel", "high income"]``.

    Notes
    -----
    A category stands out when at least half the segment has it and it is at
    least 1.5 times as common as among all customers ("mostly Web channel").
    A 0/1 column follows the same rule ("mostly newbie"), or is "rarely" set
    when its share is at most half the overall share (itself at least 0.25).
    A numeric column stands out when the segment's median is above the overall
    median and at or above the upper quartile ("high income"), or below the
    median and at or below the lower quartile ("low income"). Strength is the
    share ratio for categories and flags, and the median's distance from the
    overall median in interquartile ranges (plus one) for numbers; missing
    values count as not having the category.
    """
    scored: list[tuple[float, str]] = []
    if not members.any():
        return []
    for column in attributes:
        values = X[column]
        if _is_categorical(values):
            found = _category_phrase(values, members, column)
        elif _is_flag(values):
            found = _flag_phrase(values.astype("float64"), members, column)
        else:
            found = _number_phrase(values.astype("float64"), members, column)
        if found is not None:
            scored.append(found)
    # strongest first; equal (capped) strengths keep the order of attributes
    scored.sort(key=lambda item: -min(item[0], _MAX_STRENGTH))
    return [phrase for _, phrase in scored]


def _category_phrase(values, members, column):
    text = values.astype("string")
    overall = text.value_counts(dropna=True) / len(text)
    inside = text[members].value_counts(dropna=True) / int(members.sum())
    best = None
    for category, share in inside.items():
        ratio = share / overall[category]
        if share >= _MOSTLY_SHARE and ratio >= _MOSTLY_RATIO:
            if best is None or ratio > best[0]:
                best = (ratio, f"mostly {category} {_words(column)}")
    return best


def _flag_phrase(values, members, column):
    overall = float(values.fillna(0).mean())
    share = float(values[members].fillna(0).mean())
    words = _words(re.sub(r"^(is|has)_", "", column))
    if overall > 0 and share >= _MOSTLY_SHARE and share >= _MOSTLY_RATIO * overall:
        return share / overall, f"mostly {words}"
    if overall >= _RARELY_MIN_SHARE and share <= _RARELY_RATIO * overall:
        return overall / max(share, 1e-9), f"rarely {words}"
    return None


def _number_phrase(values, members, column):
    present = values.dropna()
    inside = values[members].dropna()
    if present.empty or inside.empty:
        return None
    q25, q50, q75 = present.quantile([0.25, 0.5, 0.75])
    median = float(inside.median())
    spread = max(q75 - q25, abs(q50) * 1e-9, 1e-12)
    strength = 1.0 + abs(median - q50) / spread
    if median > q50 and median >= q75:
        return strength, _number_words(column, high=True, median=median)
    if median < q50 and median <= q25:
        return strength, _number_words(column, high=False, median=median)
    return None


def _number_words(column: str, *, high: bool, median: float) -> str:
    column = _WINDOW.sub("", column)
    if column == "age":
        return "older" if high else "younger"
    if column.startswith("recency_"):
        return "long since last purchase" if high else "bought recently"
    if column.startswith("n_"):
        thing = _words(column[2:])
        if high:
            return f"many {thing}"
        return f"no {thing}" if median == 0 else f"few {thing}"
    if column == "spend" or column.startswith("spend_"):
        thing = _words(column[6:])
        return f"{'high' if high else 'low'} {thing + ' ' if thing else ''}spend"
    for unit in ("_days", "_months", "_years"):
        if column.endswith(unit):
            thing = _words(column[: -len(unit)])
            return f"{'long' if high else 'short'} {thing}"
    return f"{'high' if high else 'low'} {_words(column)}"


def _words(column: str) -> str:
    spaced = _CAMEL.sub(" ", _WINDOW.sub("", column)).replace("_", " ")
    return " ".join(spaced.split()).lower()


def _is_categorical(values: pd.Series) -> bool:
    return not (
        pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    )


def _is_flag(values: pd.Series) -> bool:
    present = values.dropna()
    if pd.api.types.is_bool_dtype(values):
        return True
    return len(present) > 0 and bool(present.isin([0, 1]).all())


def unique_names(names: list[str]) -> list[str]:
    """The names with repeats numbered: "x", "x (2)", "x (3)"."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique
