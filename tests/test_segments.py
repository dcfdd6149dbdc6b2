"""Tests of the segmenter: planted clusters, ordering, names and bad spend."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from referral_propensity.segments import Segmenter

SEGMENTS_LOGGER = "referral_propensity.segments"


def _planted_customers(seed: int, n_per_cluster: int = 40):
    """Three well-separated groups of inactive customers, rows shuffled.

    Group 0: long-lapsed frequent big spenders (recency ~900 d, 12-14 orders,
    spend ~3000). Group 1: one-time buyers (recency ~150 d, exactly one order,
    spend ~30). Group 2: repeat buyers in between (recency ~320 d, 4-6
    orders, spend ~400). Returns the feature frame and the planted group of
    each row.
    """
    rng = np.random.default_rng(seed)
    specs = [
        {"recency": (900, 60), "orders": (12, 14), "spend": 3000},
        {"recency": (150, 15), "orders": (1, 1), "spend": 30},
        {"recency": (320, 30), "orders": (4, 6), "spend": 400},
    ]
    groups, truth = [], []
    for group, spec in enumerate(specs):
        recency = rng.normal(*spec["recency"], n_per_cluster).round()
        orders = rng.integers(spec["orders"][0], spec["orders"][1] + 1, n_per_cluster)
        spend = np.exp(rng.normal(np.log(spec["spend"]), 0.15, n_per_cluster))
        # a single order means the first purchase is the last one
        extra_tenure = np.where(orders > 1, rng.normal(400, 30, n_per_cluster), 0)
        groups.append(
            pd.DataFrame(
                {
                    "recency_days": recency,
                    "tenure_days": (recency + extra_tenure).round(),
                    "n_orders": orders.astype("int64"),
                    "spend_total": spend.round(2),
                    "spend_mean": (spend / orders).round(2),
                }
            )
        )
        truth += [group] * n_per_cluster
    planted = pd.concat(groups, ignore_index=True)
    order = rng.permutation(len(planted))
    planted = planted.iloc[order].reset_index(drop=True)
    planted.insert(0, "customer_id", [f"S{i:03d}" for i in range(len(planted))])
    return planted, np.asarray(truth)[order]


@pytest.fixture(scope="module")
def planted():
    return _planted_customers(seed=0)


@pytest.fixture(scope="module")
def fitted(planted):
    X, _ = planted
    return Segmenter(random_state=0).fit(X)


def test_kmeans_recovers_planted_clusters(planted, fitted):
    X, truth = planted

    labels = fitted.predict(X)

    assert fitted.k_ == 3
    assert adjusted_rand_score(truth, labels) >= 0.9


def test_gmm_with_bic_recovers_planted_clusters(planted):
    # the discrete n_orders column invites a mixture to model each count with
    # its own narrow component, so the mixture clusters the continuous columns
    X, truth = planted

    segmenter = Segmenter(
        method="gmm",
        criterion="bic",
        features=["recency_days", "spend_total"],
        random_state=0,
    ).fit(X)

    # BIC: lower is better, and every k from 3 to 7 was tried
    assert sorted(segmenter.scores_) == [3, 4, 5, 6, 7]
    assert segmenter.k_ == min(segmenter.scores_, key=segmenter.scores_.get)
    assert segmenter.k_ == 3
    assert adjusted_rand_score(truth, segmenter.predict(X)) >= 0.9


def test_segment_ids_follow_median_spend_total_ascending(planted, fitted):
    X, _ = planted

    labels = fitted.predict(X)

    # medians computed here from the raw column, not from the profile
    assert sorted(set(labels.tolist())) == list(range(fitted.k_))
    medians = [X.loc[labels == s, "spend_total"].median() for s in range(fitted.k_)]
    assert all(a < b for a, b in zip(medians, medians[1:], strict=False))
    np.testing.assert_allclose(
        fitted.profile_["median_spend_total"], medians, rtol=1e-12
    )


def test_order_by_another_column_orders_ids_by_its_median(planted):
    X, _ = planted

    segmenter = Segmenter(order_by="recency_days", random_state=0).fit(X)
    labels = segmenter.predict(X)

    medians = [X.loc[labels == s, "recency_days"].median() for s in range(segmenter.k_)]
    assert all(a < b for a, b in zip(medians, medians[1:], strict=False))


def test_same_seed_gives_same_labels_names_and_profile(planted):
    X, _ = planted

    first = Segmenter(random_state=3).fit(X)
    second = Segmenter(random_state=3).fit(X)

    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    assert first.names_ == second.names_
    pd.testing.assert_frame_equal(first.profile_, second.profile_)


def test_segment_names_are_unique_and_describe_the_planted_groups(planted, fitted):
    X, _ = planted
    labels = fitted.predict(X)

    names = fitted.name(np.arange(fitted.k_))

    assert len(set(names)) == fitted.k_
    # the segment whose members all bought exactly once
    single_order = [
        s for s in range(fitted.k_) if (X.loc[labels == s, "n_orders"] == 1).all()
    ]
    assert len(single_order) == 1
    assert "one-time buyers" in names[single_order[0]]
    others = [names[s] for s in range(fitted.k_) if s != single_order[0]]
    assert not any("one-time" in name for name in others)
    # the segment with the highest median recency
    recency = [X.loc[labels == s, "recency_days"].median() for s in range(fitted.k_)]
    assert "long-lapsed" in names[int(np.argmax(recency))]


def test_profile_counts_every_customer_once(planted, fitted):
    X, _ = planted

    profile = fitted.profile_

    assert profile["segment_id"].tolist() == list(range(fitted.k_))
    assert profile["n_customers"].sum() == len(X)
    np.testing.assert_allclose(profile["share"].sum(), 1.0, rtol=1e-12)
    assert profile["segment_name"].tolist() == [
        fitted.names_[s] for s in range(fitted.k_)
    ]


def test_profile_response_rate_is_the_mean_label_of_each_segment(planted):
    X, truth = planted
    # label 1 for the planted one-time buyers only
    y = pd.Series((truth == 1).astype("int64"))

    segmenter = Segmenter(random_state=0).fit(X, y)
    labels = segmenter.predict(X)

    expected = [y[labels == s].mean() for s in range(segmenter.k_)]
    np.testing.assert_allclose(
        segmenter.profile_["response_rate"], expected, rtol=1e-12
    )


def test_constant_and_all_missing_columns_are_dropped(planted):
    X, truth = planted
    with_constants = X.assign(refund_share=0.0, days_since_engagement=np.nan)

    segmenter = Segmenter(random_state=0).fit(with_constants)

    # refund_share is 0 for everyone; days_since_engagement is all missing,
    # so it is filled with one value; neither can separate customers
    assert "refund_share" not in segmenter.columns_
    assert "days_since_engagement" not in segmenter.columns_
    assert set(segmenter.columns_) == {
        "recency_days",
        "tenure_days",
        "n_orders",
        "spend_total",
        "spend_mean",
    }
    assert adjusted_rand_score(truth, segmenter.predict(with_constants)) >= 0.9


def test_every_feature_constant_raises(planted):
    X, _ = planted
    flat = X.assign(recency_days=100.0, spend_total=50.0)

    with pytest.raises(ValueError, match="every segment feature is constant"):
        Segmenter(features=["recency_days", "spend_total"]).fit(flat)


def test_unknown_feature_name_raises_naming_it(planted):
    X, _ = planted

    with pytest.raises(ValueError, match="not in the feature table: n_visits"):
        Segmenter(features=["recency_days", "n_visits"]).fit(X)


def test_too_few_rows_raises():
    # k_min=3 needs at least 2 * 3 = 6 rows; 5 are given
    X = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E"],
            "recency_days": [100.0, 200.0, 300.0, 400.0, 500.0],
            "spend_total": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )

    with pytest.raises(ValueError, match="5 inactive customers are too few"):
        Segmenter(k_min=3).fit(X)


# Case 06 (refunds and non-positive spend), the feature values from its table:
# C50 bought once for 100 and was refunded 100 (net 0, recency 150); C51 net
# 80 over two orders (recency 57, tenure 113); C52's only row has amount 0, so
# no purchase: n_orders 0, spend_mean and recency undefined.
_CASE_06 = pd.DataFrame(
    {
        "customer_id": ["C50", "C51", "C52"],
        "recency_days": [150.0, 57.0, np.nan],
        "tenure_days": [150.0, 113.0, np.nan],
        "n_orders": [1, 2, 0],
        "spend_total": [0.0, 80.0, 0.0],
        "spend_mean": [0.0, 40.0, np.nan],
    }
)


def _skewed_others(seed: int, n: int = 40) -> pd.DataFrame:
    """Customers with positive, right-skewed spend, so spend is log-transformed."""
    rng = np.random.default_rng(seed)
    orders = rng.integers(1, 8, n)
    spend = np.exp(rng.normal(np.log(100), 1.0, n)).round(2)
    recency = rng.integers(91, 900, n).astype("float64")
    return pd.DataFrame(
        {
            "customer_id": [f"P{i:02d}" for i in range(n)],
            "recency_days": recency,
            "tenure_days": recency + rng.integers(0, 600, n),
            "n_orders": orders,
            "spend_total": spend,
            "spend_mean": (spend / orders).round(2),
        }
    )


def _transformed(segmenter: Segmenter, X: pd.DataFrame) -> np.ndarray:
    # the matrix the clusters see: fill, log, scale (the fitted transform)
    return segmenter._scale(segmenter._log(segmenter._prepare(X)))


def test_case_06_non_positive_spend_is_clipped_with_a_warning_naming_them(caplog):
    X = pd.concat([_CASE_06, _skewed_others(seed=6)], ignore_index=True)

    with caplog.at_level(logging.WARNING, logger=SEGMENTS_LOGGER):
        segmenter = Segmenter(random_state=0).fit(X)

    # the skewed spend columns are log-transformed, so without the clip
    # C50's and C52's spend would go through log1p of values <= 0
    assert {"spend_total", "spend_mean"} <= set(segmenter.log_columns_)
    transformed = _transformed(segmenter, X)
    assert np.isfinite(transformed).all()
    assert np.isfinite(segmenter.model_.cluster_centers_).all()
    labels = segmenter.predict(X)
    assert set(labels.tolist()) <= set(range(segmenter.k_))

    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == SEGMENTS_LOGGER and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    # C50 (net 0) and C52 (no purchase) are named; C51 (net 80) is not
    assert warnings[0].startswith("2 inactive customer(s)")
    assert "C50" in warnings[0]
    assert "C52" in warnings[0]
    assert "C51" not in warnings[0]


def test_negative_net_spend_is_clipped_and_named(caplog):
    # N1 bought for 10 and was refunded 35 of an older order: net -25
    negative = pd.DataFrame(
        {
            "customer_id": ["N1"],
            "recency_days": [200.0],
            "tenure_days": [400.0],
            "n_orders": [1],
            "spend_total": [-25.0],
            "spend_mean": [-25.0],
        }
    )
    X = pd.concat([negative, _skewed_others(seed=8)], ignore_index=True)

    with caplog.at_level(logging.WARNING, logger=SEGMENTS_LOGGER):
        segmenter = Segmenter(random_state=0).fit(X)

    assert "spend_total" in segmenter.log_columns_
    assert np.isfinite(_transformed(segmenter, X)).all()
    assert any(
        "N1" in r.getMessage() and r.levelno == logging.WARNING
        for r in caplog.records
        if r.name == SEGMENTS_LOGGER
    )


def test_positive_spend_only_logs_no_warning(planted, caplog):
    X, _ = planted

    with caplog.at_level(logging.WARNING, logger=SEGMENTS_LOGGER):
        Segmenter(random_state=0).fit(X)

    assert not [
        r
        for r in caplog.records
        if r.name == SEGMENTS_LOGGER and r.levelno >= logging.WARNING
    ]
