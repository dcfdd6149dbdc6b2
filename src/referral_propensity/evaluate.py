"""Metrics of a ranking: ROC AUC, PR AUC, Brier score, gains and lift.

Tied scores are handled as a random order would on average: a decile
boundary that falls inside a group of tied scores takes that group's
positives in proportion, so a coarse score (such as an RFM quintile sum)
is neither flattered nor penalised by an arbitrary tie-break.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def gains_table(y: np.ndarray, score: np.ndarray, *, n_bins: int = 10) -> pd.DataFrame:
    """Positives captured by each slice of the ranking, best first.

    Parameters
    ----------
    y : array of 0/1
    score : array of float
        Higher means contact first.
    n_bins : int, default=10
        Slices of equal size (deciles by default).

    Returns
    -------
    pandas.DataFrame
        decile (1 = top), n_customers, n_positive (expected under random
        tie-breaking, so it may be fractional), response_rate, cumulative
        share of positives captured (``gain``) and ``lift`` (the slice's
        response rate over the overall rate).
    """
    y = np.asarray(y, dtype="float64")
    score = np.asarray(score, dtype="float64")
    n = len(y)
    order = np.argsort(-score, kind="stable")
    sorted_scores = score[order]
    sorted_y = y[order]
    # groups of tied scores: start index and positives of each group
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], n]
    group_pos = np.add.reduceat(sorted_y, starts)
    cum_pos_at_end = np.cumsum(group_pos)

    def captured(k: float) -> float:
        # expected positives among the top k rows
        if k <= 0:
            return 0.0
        g = np.searchsorted(ends, k, side="left")
        before = cum_pos_at_end[g - 1] if g > 0 else 0.0
        size = ends[g] - starts[g]
        return float(before + group_pos[g] * (k - starts[g]) / size)

    bounds = np.linspace(0, n, n_bins + 1)
    cum = np.array([captured(b) for b in bounds])
    n_per_bin = np.diff(bounds)
    positives = np.diff(cum)
    overall = y.mean() if n else np.nan
    rate = positives / n_per_bin
    return pd.DataFrame(
        {
            "decile": np.arange(1, n_bins + 1),
            "n_customers": n_per_bin,
            "n_positive": positives,
            "response_rate": rate,
            "gain": cum[1:] / y.sum() if y.sum() else np.nan,
            "lift": rate / overall if overall else np.nan,
        }
    )


def ranking_metrics(
    y: np.ndarray, score: np.ndarray, *, is_probability: bool
) -> dict[str, float]:
    """ROC AUC, PR AUC, top-decile lift and, for probabilities, the Brier score.

    Returns
    -------
    dict of str to float
        ``roc_auc``, ``pr_auc`` (average precision), ``lift_top_decile``,
        ``gain_top_decile`` and, when ``is_probability``, ``brier``.
    """
    y = np.asarray(y)
    gains = gains_table(y, score)
    metrics = {
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "lift_top_decile": float(gains["lift"].iloc[0]),
        "gain_top_decile": float(gains["gain"].iloc[0]),
    }
    if is_probability:
        metrics["brier"] = float(brier_score_loss(y, score))
    return metrics


def recency_score(features: pd.DataFrame) -> np.ndarray:
    """Baseline: the more recent the last purchase, the higher the score.

    Customers who never purchased rank last.
    """
    recency = features["recency_days"].astype("float64")
    return -recency.fillna(recency.max() + 1).to_numpy()


def rfm_score(features: pd.DataFrame) -> np.ndarray:
    """Baseline: the classic RFM score, the sum of R, F and M quintiles (3-15).

    R ranks recency_days (more recent is better), F n_orders and M
    spend_total. Quintiles come from percentile ranks with ties averaged, so
    equal values always share a quintile.
    """

    def quintile(values: pd.Series) -> np.ndarray:
        pct = values.rank(method="average", pct=True)
        return np.clip(np.ceil(pct * 5), 1, 5).to_numpy()

    recency = features["recency_days"].astype("float64")
    r = quintile(-recency.fillna(recency.max() + 1))
    f = quintile(features["n_orders"].astype("float64"))
    m = quintile(features["spend_total"].astype("float64").fillna(0))
    return r + f + m


BASELINES = {"recency": recency_score, "rfm": rfm_score}

#: columns each baseline reads; a baseline whose columns are missing is skipped
BASELINE_COLUMNS = {
    "recency": ("recency_days",),
    "rfm": ("recency_days", "n_orders", "spend_total"),
}


def available_baselines(features: pd.DataFrame) -> list[str]:
    """Names of the baselines in :data:`BASELINES` whose columns are present."""
    return [
        name
        for name in BASELINES
        if all(column in features for column in BASELINE_COLUMNS.get(name, ()))
    ]


def evaluate_with_baselines(
    features: pd.DataFrame, y: np.ndarray, propensity: np.ndarray
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Metrics of the model and of each baseline on the same customers.

    Returns
    -------
    metrics : dict of str to float
        The model's metrics, then ``baseline_<name>_<metric>`` for each
        baseline in :data:`BASELINES` whose columns are present (see
        :data:`BASELINE_COLUMNS`), plus the positive rate and row count.
    gains : dict of str to pandas.DataFrame
        ``model`` and each baseline computed -> its gains table.

    Notes
    -----
    A customer-level table may lack the columns of a baseline (no
    ``n_orders``, for example); that baseline is left out rather than failing.
    """
    metrics = ranking_metrics(y, propensity, is_probability=True)
    gains = {"model": gains_table(y, propensity)}
    for name in available_baselines(features):
        score = BASELINES[name](features)
        for key, value in ranking_metrics(y, score, is_probability=False).items():
            metrics[f"baseline_{name}_{key}"] = value
        gains[name] = gains_table(y, score)
    metrics["positive_rate"] = float(np.mean(y))
    metrics["n_customers"] = float(len(y))
    return metrics, gains
