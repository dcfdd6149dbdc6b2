"""Small tables that describe a run: calibration, score spread, segments, budget.

They are logged with the run (``tables/*.csv``) so the report and the MLflow
UI can show them without the customer rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

#: most points kept in the budget curve
_BUDGET_POINTS = 200


def calibration_table(
    y: np.ndarray, propensity: np.ndarray, *, n_bins: int = 10
) -> pd.DataFrame:
    """Mean propensity against the observed rate in bins of equal size.

    Returns
    -------
    pandas.DataFrame
        bin (1 = lowest propensities), mean_propensity, observed_rate,
        n_customers.
    """
    y = np.asarray(y, dtype="float64")
    propensity = np.asarray(propensity, dtype="float64")
    order = np.argsort(propensity, kind="stable")
    bins = np.array_split(order, min(n_bins, max(len(order), 1)))
    return pd.DataFrame(
        [
            {
                "bin": i + 1,
                "mean_propensity": float(propensity[rows].mean()),
                "observed_rate": float(y[rows].mean()),
                "n_customers": len(rows),
            }
            for i, rows in enumerate(bins)
            if len(rows)
        ]
    )


def score_distribution(propensity: np.ndarray, *, n_bins: int = 20) -> pd.DataFrame:
    """Histogram of propensities: bin_left, bin_right, n_customers."""
    values = np.asarray(propensity, dtype="float64")
    upper = float(values.max()) if len(values) else 1.0
    counts, edges = np.histogram(values, bins=n_bins, range=(0.0, max(upper, 1e-9)))
    return pd.DataFrame(
        {"bin_left": edges[:-1], "bin_right": edges[1:], "n_customers": counts}
    )


def segment_metrics(test_frame: pd.DataFrame) -> pd.DataFrame:
    """Size, positive rate, ROC AUC and mean propensity of each segment.

    ``test_frame`` holds segment_id, segment_name, label and propensity (the
    held-out rows of a training). ROC AUC is NaN in a segment with one class.
    """
    rows = []
    for (segment_id, name), part in test_frame.groupby(["segment_id", "segment_name"]):
        labels = part["label"].to_numpy()
        auc = (
            float(roc_auc_score(labels, part["propensity"]))
            if len(np.unique(labels)) == 2
            else float("nan")
        )
        rows.append(
            {
                "segment_id": int(segment_id),
                "segment_name": name,
                "n_customers": len(part),
                "positive_rate": float(labels.mean()),
                "roc_auc": auc,
                "mean_propensity": float(part["propensity"].mean()),
            }
        )
    return pd.DataFrame(rows)


def segment_metric_values(table: pd.DataFrame) -> dict[str, float]:
    """``segment_<id>_<metric>`` metrics of a :func:`segment_metrics` table."""
    values = {}
    for row in table.itertuples(index=False):
        for metric in ("n_customers", "positive_rate", "roc_auc", "mean_propensity"):
            values[f"segment_{row.segment_id}_{metric}"] = float(getattr(row, metric))
    return values


def budget_curve(scores: pd.DataFrame) -> pd.DataFrame:
    """Expected responses and cost as contacts are added in rank order.

    Only customers that could be contacted count (not opted out, not in their
    cooldown, with an offer of positive expected value).

    Returns
    -------
    pandas.DataFrame
        n_contacts, cumulative_cost, expected_responses; at most 200 points,
        evenly spaced, always ending with the last contact.
    """
    blocked = {"opted_out", "cooldown", "no_eligible_offer", "not_positive_value"}
    open_rows = scores[~scores["reason"].isin(blocked)].sort_values("rank")
    curve = pd.DataFrame(
        {
            "n_contacts": np.arange(1, len(open_rows) + 1),
            "cumulative_cost": open_rows["cost"].cumsum().to_numpy(),
            "expected_responses": open_rows["propensity"].cumsum().to_numpy(),
        }
    )
    if len(curve) > _BUDGET_POINTS:
        keep = np.unique(
            np.linspace(0, len(curve) - 1, _BUDGET_POINTS).round().astype(int)
        )
        curve = curve.iloc[keep]
    return curve.reset_index(drop=True)
