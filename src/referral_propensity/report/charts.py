"""Figures of the report, drawn from the tables a run logged, as PNG data URIs.

The figures that a training run logs as images are drawn again here from its
tables (gains, feature importance, segment sizes) with the same functions, so
the report needs no image artifact.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from referral_propensity import plots  # noqa: E402

#: colours of the selection reasons, in the order they are stacked
_REASON_COLOURS = {
    "selected": "#2a9d8f",
    "over_budget": "#e9c46a",
    "over_contacts": "#f4a261",
    "cooldown": "#8ab17d",
    "opted_out": "#e76f51",
    "not_positive_value": "#9c89b8",
    "no_eligible_offer": "#b0b0b0",
}


def figure_to_data_uri(figure, *, dpi: int = 100) -> str:
    """Render a figure as a ``data:image/png;base64,...`` URI and close it."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def plot_gains_table(gains: pd.DataFrame):
    """Cumulative gains and lift of each score of a gains table.

    ``gains`` holds one row per decile and score: decile, gain, lift, score
    (``model`` and the baselines, such as ``recency`` and ``rfm``).
    """
    by_score = {
        str(name): part.sort_values("decile")
        for name, part in gains.groupby("score", sort=False)
    }
    return plots.plot_gains(by_score)


def plot_feature_importance(importance: pd.DataFrame, *, top: int = 20):
    """Total gain of the ``top`` features (columns feature, gain)."""
    ranked = importance.sort_values("gain", ascending=False, kind="stable")
    return plots.plot_feature_importance(ranked, top=top)


def plot_segment_sizes(segments: pd.DataFrame, *, title: str = "Segments"):
    """Customers per segment (segment_id, segment_name, n_customers)."""
    figure = plots.plot_segment_profile(segments)
    figure.axes[0].set_title(title)
    return figure


def plot_segment_profile(profile: pd.DataFrame):
    """Each segment's profile: its value of every numeric column, as a heat map.

    ``profile`` holds segment_id, segment_name and numeric columns (medians
    such as ``median_recency_days``, rates such as ``response_rate``). Cells
    are coloured from the lowest to the highest segment within each column
    and labelled with the value itself.
    """
    skip = {"segment_id", "n_customers", "share"}
    columns = [
        c
        for c in profile.columns
        if c not in skip and pd.api.types.is_numeric_dtype(profile[c])
    ]
    values = profile[columns].to_numpy(dtype="float64")
    low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = np.where(high > low, (values - low) / span, 0.5)

    n_rows, n_columns = values.shape
    figure, axis = plt.subplots(
        figsize=(max(6.0, 1.1 * n_columns + 3.5), 0.6 * n_rows + 2.2)
    )
    axis.imshow(scaled, cmap="Blues", vmin=-0.15, vmax=1.15, aspect="auto")
    for row in range(n_rows):
        for column in range(n_columns):
            value = values[row, column]
            text = "" if np.isnan(value) else _short_number(value, columns[column])
            colour = "white" if scaled[row, column] > 0.6 else "black"
            axis.text(column, row, text, ha="center", va="center", fontsize=8, c=colour)
    axis.set_xticks(range(n_columns))
    axis.set_xticklabels(
        [c.removeprefix("median_") for c in columns],
        rotation=35,
        ha="right",
        fontsize=8,
    )
    axis.set_yticks(range(n_rows))
    axis.set_yticklabels(
        [f"{i}: {_clip(str(n), 45)}" for i, n in _segment_labels(profile)], fontsize=8
    )
    axis.set_title("Segment profiles (medians; colour: lowest to highest per column)")
    figure.tight_layout()
    return figure


def plot_calibration_table(calibration: pd.DataFrame, *, title: str = "Calibration"):
    """Observed rate against mean propensity per bin (a calibration table).

    ``calibration`` holds mean_propensity, observed_rate and n_customers, one
    row per bin.
    """
    figure, axis = plt.subplots(figsize=(5.6, 4.8))
    predicted = calibration["mean_propensity"].to_numpy(dtype="float64")
    observed = calibration["observed_rate"].to_numpy(dtype="float64")
    top = max(float(np.nanmax(predicted)), float(np.nanmax(observed)), 0.05) * 1.05
    axis.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect")
    axis.plot(predicted, observed, marker="o", label="model")
    axis.set(
        xlim=(0, top),
        ylim=(0, top),
        xlabel="mean propensity",
        ylabel="observed rate",
        title=title,
    )
    axis.legend()
    figure.tight_layout()
    return figure


def plot_score_distribution(
    distribution: pd.DataFrame, *, title: str = "Score distribution"
):
    """Customers per propensity bin (bin_left, bin_right, n_customers)."""
    left = distribution["bin_left"].to_numpy(dtype="float64")
    width = distribution["bin_right"].to_numpy(dtype="float64") - left
    figure, axis = plt.subplots(figsize=(7.5, 3.8))
    axis.bar(
        left,
        distribution["n_customers"].to_numpy(dtype="float64"),
        width=width,
        align="edge",
        color="#4c72b0",
        edgecolor="white",
    )
    axis.set(xlabel="propensity", ylabel="customers", title=title)
    figure.tight_layout()
    return figure


def plot_offers_chosen(offers: pd.DataFrame):
    """Customers per offer, stacked by the reason they were or were not selected.

    ``offers`` holds offer (empty for customers with no eligible offer),
    reason and n_customers.
    """
    table = offers.assign(offer=offers["offer"].fillna("(no offer)").astype(str))
    counts = table.pivot_table(
        index="offer", columns="reason", values="n_customers", aggfunc="sum"
    ).fillna(0)
    known = [r for r in _REASON_COLOURS if r in counts.columns]
    reasons = known + sorted(set(counts.columns) - set(known))
    counts = counts[reasons]

    figure, axis = plt.subplots(figsize=(8, 0.6 * len(counts) + 1.8))
    start = np.zeros(len(counts))
    for reason in reasons:
        widths = counts[reason].to_numpy(dtype="float64")
        axis.barh(
            counts.index,
            widths,
            left=start,
            label=reason,
            color=_REASON_COLOURS.get(reason),
        )
        start += widths
    axis.set(xlabel="customers", title="Offers chosen, by selection reason")
    axis.invert_yaxis()
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


def plot_budget_curve(curve: pd.DataFrame, *, n_selected: int | None = None):
    """Expected responses against contacts and against cost, in rank order.

    ``curve`` holds n_contacts, cumulative_cost and expected_responses (the
    sum of the contacted customers' propensities). The dashed lines are a
    random order of the same customers; ``n_selected`` marks the campaign.
    """
    ordered = curve.sort_values("n_contacts")
    contacts = np.r_[0.0, ordered["n_contacts"].to_numpy(dtype="float64")]
    responses = np.r_[0.0, ordered["expected_responses"].to_numpy(dtype="float64")]
    cost = np.r_[0.0, ordered["cumulative_cost"].to_numpy(dtype="float64")]

    figure, (by_contacts, by_cost) = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, spent, label in (
        (by_contacts, contacts, "customers contacted"),
        (by_cost, cost, "cumulative cost"),
    ):
        axis.plot(spent, responses, color="#4c72b0", label="in rank order")
        axis.plot(
            [0, spent[-1]],
            [0, responses[-1]],
            color="grey",
            linestyle="--",
            label="random order",
        )
        axis.set(xlabel=label, ylabel="expected responses")
    if n_selected:
        # the curve keeps only some points: the cost in between is interpolated
        spent = float(np.interp(n_selected, contacts, cost))
        by_contacts.axvline(
            n_selected, color="#2a9d8f", linestyle=":", label="selected"
        )
        by_cost.axvline(spent, color="#2a9d8f", linestyle=":", label="selected")
    by_contacts.set_title("Expected responses by contacts")
    by_cost.set_title("Expected responses by cost")
    by_contacts.legend(fontsize=8, loc="lower right")
    by_cost.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


def _segment_labels(profile: pd.DataFrame):
    names = [plots.plain_label(n) for n in profile["segment_name"]]
    return zip(profile["segment_id"], names, strict=True)


def _short_number(value: float, column: str) -> str:
    if "rate" in column or "share" in column:
        return f"{value:.1%}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if 0 < abs(value) < 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
