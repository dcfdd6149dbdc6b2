"""Tests of gains, lift, ranking metrics and the recency and RFM baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from referral_propensity.evaluate import (
    available_baselines,
    evaluate_with_baselines,
    gains_table,
    ranking_metrics,
    recency_score,
    rfm_score,
)

# Ten rows in ranked order (shuffled below before they reach gains_table):
#   position 0      score 0.9 y 1
#   positions 1-3   score 0.7 y 1, 0, 0   (a tie across the bin 1/2 boundary)
#   positions 4-7   score 0.4 y 1, 1, 0, 0 (a tie across the bin 3/4 boundary)
#   positions 8-9   score 0.1 y 0, and 0.0 y 1
_RANKED_SCORE = np.array([0.9, 0.7, 0.7, 0.7, 0.4, 0.4, 0.4, 0.4, 0.1, 0.0])
_RANKED_Y = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0, 1])


def _shuffled(seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(_RANKED_Y))
    return _RANKED_Y[order], _RANKED_SCORE[order]


def test_gains_table_splits_tied_groups_at_a_boundary_in_proportion():
    y, score = _shuffled(seed=3)

    table = gains_table(y, score, n_bins=5)

    # five bins of two rows. Under random tie-breaking each row of the 0.7
    # group holds 1/3 of a positive and each row of the 0.4 group 2/4 = 1/2:
    #   bin 1 = row 0.9 (1) + one 0.7 row (1/3)         = 4/3
    #   bin 2 = two 0.7 rows                            = 2/3
    #   bin 3 = two 0.4 rows                            = 1
    #   bin 4 = two 0.4 rows                            = 1
    #   bin 5 = 0.1 (0) + 0.0 (1)                        = 1
    # 5 positives in 10 rows: overall rate 1/2, so lift = rate / (1/2)
    expected_positive = np.array([4 / 3, 2 / 3, 1.0, 1.0, 1.0])
    expected_rate = expected_positive / 2
    np.testing.assert_array_equal(table["decile"], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(table["n_customers"], [2, 2, 2, 2, 2], rtol=1e-12)
    np.testing.assert_allclose(table["n_positive"], expected_positive, rtol=1e-12)
    np.testing.assert_allclose(table["response_rate"], expected_rate, rtol=1e-12)
    np.testing.assert_allclose(
        table["gain"], np.cumsum(expected_positive) / 5, rtol=1e-12
    )
    np.testing.assert_allclose(table["lift"], expected_rate / 0.5, rtol=1e-12)
    assert list(table.columns) == [
        "decile",
        "n_customers",
        "n_positive",
        "response_rate",
        "gain",
        "lift",
    ]


def test_gains_table_does_not_depend_on_the_input_order_of_tied_rows():
    # the same rows in two different orders give the same table
    y_a, score_a = _shuffled(seed=1)
    y_b, score_b = _shuffled(seed=2)

    table_a = gains_table(y_a, score_a, n_bins=5)
    table_b = gains_table(y_b, score_b, n_bins=5)

    pd.testing.assert_frame_equal(table_a, table_b, check_exact=False, rtol=1e-12)


def test_gains_table_with_distinct_scores_counts_positives_per_decile():
    # 20 distinct scores, deciles of two rows; sorted best first the labels are
    # 1 1 | 1 0 | 0 1 | 0 0 | 0 0 | 1 0 | 0 0 | 0 0 | 0 0 | 0 0  (5 positives)
    ranked_y = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    score = np.linspace(1.0, 0.05, 20)
    order = np.random.default_rng(11).permutation(20)

    table = gains_table(ranked_y[order], score[order])

    expected = np.array([2, 1, 1, 0, 0, 1, 0, 0, 0, 0], dtype="float64")
    np.testing.assert_allclose(table["n_positive"], expected, rtol=0, atol=1e-12)
    # top decile: rate 2/2 = 1 over the overall rate 5/20 -> lift 4, gain 2/5
    np.testing.assert_allclose(table["lift"].iloc[0], 4.0, rtol=1e-12)
    np.testing.assert_allclose(table["gain"].iloc[0], 0.4, rtol=1e-12)
    np.testing.assert_allclose(table["gain"].iloc[-1], 1.0, rtol=1e-12)


def test_gains_table_default_deciles_split_ties_at_decile_boundaries():
    # 20 rows, deciles of two. Best first (scores, then labels):
    #   10 | 9 9 9 | 8 7 6 5 4 3 | 2 2 2 2 | 1 .5 .4 .3 .2 .1
    #    1 | 1 1 0 | 0 1 0 0 0 0 | 1 0 0 0 | 0  0  0  0  0  0
    # the 9s (rows 1-3) hold 2 positives, 2/3 a row; they straddle deciles 1
    # and 2. The 2s (rows 10-13) hold 1, 1/4 a row, across deciles 6 and 7.
    #   decile 1 = 1 + 2/3 = 5/3, decile 2 = 2 * 2/3 = 4/3, decile 3 = 0 + 1,
    #   deciles 6 and 7 = 2 * 1/4 = 1/2 each, the rest 0 (total 5)
    ranked_score = np.array(
        [10, 9, 9, 9, 8, 7, 6, 5, 4, 3, 2, 2, 2, 2, 1, 0.5, 0.4, 0.3, 0.2, 0.1]
    )
    ranked_y = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    order = np.random.default_rng(17).permutation(20)

    table = gains_table(ranked_y[order], ranked_score[order])

    expected = np.array([5 / 3, 4 / 3, 1, 0, 0, 0.5, 0.5, 0, 0, 0])
    np.testing.assert_allclose(table["n_positive"], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(table["n_customers"], np.full(10, 2.0), rtol=1e-12)
    # overall rate 5 / 20 = 1/4: top-decile lift (5/6) / (1/4) = 10/3 and
    # gain (5/3) / 5 = 1/3
    np.testing.assert_allclose(table["lift"].iloc[0], 10 / 3, rtol=1e-12)
    np.testing.assert_allclose(table["gain"].iloc[0], 1 / 3, rtol=1e-12)


def _brute_force_gains(y, score, *, n_bins, n_permutations, seed):
    """Mean positives per bin over random tie-breaking orders.

    Each order sorts by score, best first, with ties broken by a fresh random
    key, then counts the positives of each equal-sized bin.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    keys = rng.random((n_permutations, n))
    # lexicographic: score descending first, the random key within ties
    orders = np.array([np.lexsort((k, -score)) for k in keys])
    ranked = y[orders]
    per_bin = ranked.reshape(n_permutations, n_bins, n // n_bins).sum(axis=2)
    return per_bin.mean(axis=0)


def test_gains_table_matches_an_average_over_random_tie_breaks():
    # a coarse score (five levels) on 30 rows, so most decile boundaries fall
    # inside a tied group
    rng = np.random.default_rng(2024)
    score = rng.integers(0, 5, size=30).astype("float64")
    y = (rng.random(30) < 0.2 + 0.15 * score).astype("float64")

    table = gains_table(y, score, n_bins=10)
    reference = _brute_force_gains(y, score, n_bins=10, n_permutations=20_000, seed=5)

    # each bin holds at most 3 positives, so the Monte Carlo standard error of
    # a bin's mean is below 1.5 / sqrt(20000) ~ 0.011; 0.05 is about 5 of them
    np.testing.assert_allclose(table["n_positive"], reference, rtol=0, atol=0.05)
    np.testing.assert_allclose(table["n_positive"].sum(), y.sum(), rtol=1e-12)


def test_gains_table_with_all_scores_tied_spreads_positives_evenly():
    # one tied group: every decile expects the overall rate, lift 1 everywhere
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0, 1, 0], dtype="float64")
    score = np.full(10, 0.5)

    table = gains_table(y, score)

    np.testing.assert_allclose(table["n_positive"], np.full(10, 0.3), rtol=1e-12)
    np.testing.assert_allclose(table["lift"], np.ones(10), rtol=1e-12)
    np.testing.assert_allclose(table["gain"], np.arange(1, 11) / 10, rtol=1e-12)


def test_ranking_metrics_agree_with_sklearn_and_a_pair_count():
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1, 0])
    score = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.05, 0.4, 0.3])

    metrics = ranking_metrics(y, score, is_probability=True)

    # ROC AUC by counting (positive, negative) pairs, ties worth 1/2:
    # positives 0.35, 0.8, 0.9, 0.4; negatives 0.1, 0.4, 0.4, 0.2, 0.05, 0.3
    #   0.35 beats 0.1, 0.2, 0.05, 0.3                  -> 4
    #   0.8 and 0.9 beat all six                        -> 6 + 6
    #   0.4 beats 0.1, 0.2, 0.05, 0.3, ties two 0.4s    -> 4 + 2 * 0.5 = 5
    # (4 + 6 + 6 + 5) / (4 * 6) = 21 / 24
    np.testing.assert_allclose(metrics["roc_auc"], 21 / 24, rtol=1e-12)
    np.testing.assert_allclose(metrics["roc_auc"], roc_auc_score(y, score), rtol=1e-12)
    np.testing.assert_allclose(
        metrics["pr_auc"], average_precision_score(y, score), rtol=1e-12
    )
    np.testing.assert_allclose(metrics["brier"], brier_score_loss(y, score), rtol=1e-12)
    # Brier by hand: mean of (score - y)^2
    np.testing.assert_allclose(metrics["brier"], np.mean((score - y) ** 2), rtol=1e-12)
    # top decile (one row): 0.9 is a positive -> rate 1 over 4/10 = 2.5,
    # capturing 1 of 4 positives
    np.testing.assert_allclose(metrics["lift_top_decile"], 2.5, rtol=1e-12)
    np.testing.assert_allclose(metrics["gain_top_decile"], 0.25, rtol=1e-12)


def test_ranking_metrics_leave_out_brier_for_a_non_probability_score():
    y = np.array([0, 1, 0, 1, 1, 0])
    score = np.array([3.0, 12.0, 7.0, 9.0, 15.0, 4.0])

    metrics = ranking_metrics(y, score, is_probability=False)

    assert set(metrics) == {"roc_auc", "pr_auc", "lift_top_decile", "gain_top_decile"}
    # the positives hold the three highest scores: a perfect ranking
    np.testing.assert_allclose(metrics["roc_auc"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(metrics["pr_auc"], 1.0, rtol=1e-12)


def test_recency_score_ranks_recent_first_and_never_purchased_last():
    features = pd.DataFrame({"recency_days": [10.0, 200.0, np.nan, 50.0]})

    score = recency_score(features)

    # minus recency; the missing one gets max + 1 = 201, so -201 is the lowest
    np.testing.assert_allclose(score, [-10.0, -200.0, -201.0, -50.0], rtol=1e-12)


def _rfm_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "recency_days": [5, 5, 20, 40, 40, 40, 90, 200, np.nan, 365],
            "n_orders": [1, 1, 1, 2, 2, 3, 4, 6, 0, 10],
            "spend_total": [0.0, 20, 20, 80, 120, 300, 400, 900, np.nan, 2000],
        }
    )


def test_rfm_score_sums_quintiles_with_ties_averaged():
    features = _rfm_frame()

    score = rfm_score(features)

    # quintile = ceil(5 * average rank / 10), clipped to 1..5.
    # R on -recency, the missing recency filled with 365 + 1 = 366 (worst):
    #   ranks 9.5 9.5 8 6 6 6 4 3 1 2  -> R 5 5 4 3 3 3 2 2 1 1
    # F on n_orders: 0 -> 1; the three 1s share ranks 2-4 -> 3; the two 2s
    #   share 5-6 -> 5.5; then 7, 8, 9, 10
    #   ranks 3 3 3 5.5 5.5 7 8 9 1 10 -> F 2 2 2 3 3 4 4 5 1 5
    # M on spend_total, missing -> 0: the two 0s share 1-2 -> 1.5, the two 20s
    #   share 3-4 -> 3.5, then 5..10 in order
    #   ranks 1.5 3.5 3.5 5 6 7 8 9 1.5 10 -> M 1 2 2 3 3 4 4 5 1 5
    r = np.array([5, 5, 4, 3, 3, 3, 2, 2, 1, 1])
    f = np.array([2, 2, 2, 3, 3, 4, 4, 5, 1, 5])
    m = np.array([1, 2, 2, 3, 3, 4, 4, 5, 1, 5])
    np.testing.assert_allclose(score, r + f + m, rtol=0, atol=1e-12)


def test_rfm_score_stays_in_range_and_moves_with_recency_alone():
    # every part is a quintile 1..5, so the sum lies in 3..15
    features = _rfm_frame()

    score = rfm_score(features)

    assert np.all((score >= 3) & (score <= 15))
    # rows 1 and 2 differ only in recency (5 vs 20): R 5 vs 4, same F and M
    np.testing.assert_allclose(score[1] - score[2], 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_bins", [4, 5, 10])
def test_gains_table_gain_ends_at_one_and_bins_cover_every_row(n_bins):
    rng = np.random.default_rng(n_bins)
    y = (rng.random(40) < 0.3).astype("float64")
    y[0] = 1.0
    score = np.round(rng.random(40), 1)  # one decimal: many ties

    table = gains_table(y, score, n_bins=n_bins)

    np.testing.assert_allclose(table["n_customers"].sum(), 40, rtol=1e-12)
    np.testing.assert_allclose(table["gain"].iloc[-1], 1.0, rtol=1e-12)
    assert np.all(np.diff(table["gain"].to_numpy()) >= -1e-12)


def test_baselines_without_their_columns_are_skipped_not_fatal():
    y = np.array([0, 1, 0, 1, 1, 0])
    propensity = np.array([0.1, 0.8, 0.3, 0.6, 0.9, 0.2])
    with_recency = pd.DataFrame({"recency_days": [50.0, 5, 40, 10, 1, 60]})
    without = pd.DataFrame({"income": [1.0, 2, 3, 4, 5, 6]})

    metrics, gains = evaluate_with_baselines(with_recency, y, propensity)
    bare_metrics, bare_gains = evaluate_with_baselines(without, y, propensity)

    # recency needs only recency_days; RFM also n_orders and spend_total
    assert available_baselines(with_recency) == ["recency"]
    assert "baseline_recency_roc_auc" in metrics
    assert not any(key.startswith("baseline_rfm") for key in metrics)
    assert set(gains) == {"model", "recency"}
    # the positives hold the three lowest recencies: a perfect ranking
    np.testing.assert_allclose(metrics["baseline_recency_roc_auc"], 1.0, rtol=1e-12)
    assert not any(key.startswith("baseline_") for key in bare_metrics)
    assert set(bare_gains) == {"model"}
    np.testing.assert_allclose(
        bare_metrics["roc_auc"], roc_auc_score(y, propensity), rtol=1e-12
    )
