"""Plots of a training run: gains, calibration, feature importance, segments."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402


def plot_gains(gains: dict[str, pd.DataFrame]):
    """Cumulative gains of the model and the baselines against random."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    share = np.r_[0, np.arange(1, 11) / 10]
    for name, table in gains.items():
        left.plot(share * 100, np.r_[0, table["gain"]] * 100, marker="o", label=name)
        right.plot(table["decile"], table["lift"], marker="o", label=name)
    left.plot([0, 100], [0, 100], color="grey", linestyle="--", label="random")
    left.set(
        xlabel="customers contacted (%)",
        ylabel="responders reached (%)",
        title="Cumulative gains",
    )
    right.axhline(1.0, color="grey", linestyle="--")
    right.set(
        xlabel="decile (1 = highest score)", ylabel="lift", title="Lift by decile"
    )
    left.legend()
    right.legend()
    figure.tight_layout()
    return figure


def plot_calibration(y: np.ndarray, propensity: np.ndarray, *, n_bins: int = 10):
    """Observed response rate against predicted propensity, by quantile bin."""
    observed, predicted = calibration_curve(
        y, propensity, n_bins=n_bins, strategy="quantile"
    )
    figure, axis = plt.subplots(figsize=(5.2, 4.6))
    top = max(float(np.max(predicted)), float(np.max(observed)), 0.05) * 1.05
    axis.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect")
    axis.plot(predicted, observed, marker="o", label="model")
    axis.set(
        xlabel="mean propensity",
        ylabel="observed response rate",
        title="Calibration (test snapshot)",
    )
    axis.legend()
    figure.tight_layout()
    return figure


def plot_feature_importance(importance: pd.DataFrame, *, top: int = 20):
    """Total gain of the most important features."""
    shown = importance.head(top).iloc[::-1]
    figure, axis = plt.subplots(figsize=(6.5, 0.3 * len(shown) + 1.2))
    axis.barh(shown["feature"], shown["gain"])
    axis.set(xlabel="total gain", title="Feature importance")
    figure.tight_layout()
    return figure


def plain_label(text: str) -> str:
    """Text drawn as written: a "$" would otherwise start maths markup."""
    return str(text).replace("$", r"\$")


def plot_segment_profile(profile: pd.DataFrame):
    """Segment sizes and past response rates."""
    figure, axis = plt.subplots(figsize=(8, 0.55 * len(profile) + 1.5))
    labels = [
        plain_label(f"{i}: {name}")
        for i, name in zip(profile["segment_id"], profile["segment_name"], strict=True)
    ]
    axis.barh(labels[::-1], profile["n_customers"].to_numpy()[::-1], color="#4c72b0")
    axis.set(xlabel="inactive customers", title="Segments")
    if "response_rate" in profile:
        for y, (n, rate) in enumerate(
            zip(
                profile["n_customers"][::-1],
                profile["response_rate"][::-1],
                strict=True,
            )
        ):
            axis.text(n, y, f"  {rate:.1%} responded", va="center", fontsize=8)
        axis.set_xlim(0, profile["n_customers"].max() * 1.6)
    figure.tight_layout()
    return figure
