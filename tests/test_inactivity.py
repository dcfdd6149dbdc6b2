"""Tests of who counts as inactive and which lapse stage they are in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from referral_propensity.inactivity import lapse_stage_names, mark_inactive


def _features(recency_days, **extra) -> pd.DataFrame:
    ids = [f"C{i}" for i in range(len(recency_days))]
    return pd.DataFrame({"customer_id": ids, "recency_days": recency_days, **extra})


def test_lapse_stage_names_follow_the_documented_example():
    # the docstring's own example: 90 days, edges 180 and 365
    assert lapse_stage_names(90, (180, 365)) == [
        "lapsed 91-180 days",
        "lapsed 181-365 days",
        "lapsed over 365 days",
    ]


def test_lapse_stage_names_sort_edges_and_drop_those_not_past_the_threshold():
    # 60 and 90 are not past no_purchase_days=90, so only 365 and 180 remain,
    # sorted: stages 91-180, 181-365 and over 365
    assert lapse_stage_names(90, (365, 60, 180, 90)) == [
        "lapsed 91-180 days",
        "lapsed 181-365 days",
        "lapsed over 365 days",
    ]


def test_lapse_stage_names_with_a_repeated_edge_have_no_empty_stage():
    # an edge given twice is one bound: the stages are the same as with it once
    # (a stage "lapsed 181-180 days" would be empty and unreadable)
    assert lapse_stage_names(90, (180, 180, 365)) == [
        "lapsed 91-180 days",
        "lapsed 181-365 days",
        "lapsed over 365 days",
    ]


def test_lapse_stage_names_without_edges_give_one_open_stage():
    assert lapse_stage_names(30, ()) == ["lapsed over 30 days"]


def test_recency_equal_to_threshold_is_still_active():
    # inactive means recency_days > no_purchase_days: 89 and 90 are active,
    # 91 is the first inactive day; NaN (never purchased) is inactive
    features = _features([89.0, 90.0, 91.0, np.nan])

    marked = mark_inactive(features, no_purchase_days=90)

    assert marked["is_inactive"].tolist() == [False, False, True, True]
    assert marked["is_inactive"].dtype == bool


def test_lapse_stages_put_each_boundary_day_in_the_lower_stage():
    # edges (180, 365) after 90 days: 90 active, 91 and 180 in "91-180",
    # 181 and 365 in "181-365", 366 and 1000 "over 365", NaN never purchased
    features = _features([90.0, 91.0, 180.0, 181.0, 365.0, 366.0, 1000.0, np.nan])

    marked = mark_inactive(
        features, no_purchase_days=90, lapse_stage_edges_days=(180, 365)
    )

    assert marked["lapse_stage"].astype(str).tolist() == [
        "active",
        "lapsed 91-180 days",
        "lapsed 91-180 days",
        "lapsed 181-365 days",
        "lapsed 181-365 days",
        "lapsed over 365 days",
        "lapsed over 365 days",
        "never purchased",
    ]


def test_lapse_stage_categories_are_ordered_from_active_to_never_purchased():
    marked = mark_inactive(_features([10.0]), no_purchase_days=90)

    assert list(marked["lapse_stage"].cat.categories) == [
        "active",
        "lapsed 91-180 days",
        "lapsed 181-365 days",
        "lapsed over 365 days",
        "never purchased",
    ]


def test_every_inactive_customer_has_a_lapsed_or_never_purchased_stage():
    # without an engagement rule, inactive <=> stage other than "active"
    rng = np.random.default_rng(7)
    recency = rng.integers(0, 800, size=10).astype("float64")
    recency[[2, 5]] = np.nan
    marked = mark_inactive(_features(recency), no_purchase_days=120)

    is_active_stage = marked["lapse_stage"].astype(str) == "active"
    assert (marked["is_inactive"] == ~is_active_stage).all()


def test_engagement_rule_keeps_recently_engaged_customers_active():
    # all four have no purchase in 90 days; with no_engagement_days=30 only
    # those with no engagement in 30 days (31, or none at all) stay inactive
    features = _features(
        [200.0, 200.0, 200.0, np.nan],
        days_since_engagement=[30.0, 31.0, np.nan, 5.0],
    )

    marked = mark_inactive(features, no_purchase_days=90, no_engagement_days=30)

    assert marked["is_inactive"].tolist() == [False, True, True, False]
    # the lapse stage still describes purchases only
    assert marked["lapse_stage"].astype(str).tolist() == [
        "lapsed 181-365 days",
        "lapsed 181-365 days",
        "lapsed 181-365 days",
        "never purchased",
    ]


def test_engagement_rule_without_engagement_column_raises():
    with pytest.raises(ValueError, match="no_engagement_days is set"):
        mark_inactive(_features([200.0]), no_engagement_days=30)


def test_mark_inactive_returns_a_copy_and_keeps_the_index():
    # a non-default index must not misalign the new columns
    features = _features([10.0, 400.0, np.nan]).set_axis([30, 10, 20])
    before = features.copy()

    marked = mark_inactive(features, no_purchase_days=90)

    pd.testing.assert_frame_equal(features, before)
    assert marked.index.tolist() == [30, 10, 20]
    assert marked["is_inactive"].tolist() == [False, True, True]
    assert marked["lapse_stage"].astype(str).tolist() == [
        "active",
        "lapsed over 365 days",
        "never purchased",
    ]
