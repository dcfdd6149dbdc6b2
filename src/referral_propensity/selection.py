"""Offer choice and campaign selection under a budget.

Two steps, both on plain data frames and without a model:

1. :func:`choose_best_offers` gives each customer the catalog offer with the
   highest expected value among those their segment may get.
2. :func:`select_customers` ranks the customers and walks down the ranking,
   selecting while the campaign's budget and contact limit allow.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from referral_propensity.errors import InputValidationError
from referral_propensity.offer_choice import (  # noqa: F401 (part of this module's interface)
    CHOSEN_COLUMNS,
    Offer,
    choose_best_offers,
    is_non_negative,
    offers_from_config,
    row_positions,
    segment_id_text,
)

logger = logging.getLogger(__name__)

#: why a customer was or was not selected, in the order they are checked
REASONS = (
    "selected",
    "opted_out",
    "cooldown",
    "no_eligible_offer",
    "not_positive_value",
    "over_budget",
    "over_contacts",
)

# sums of decimal costs (0.1 + 0.2) miss the budget by a rounding error;
# a cost fits when the total stays within this fraction of the budget
_BUDGET_RTOL = 1e-9


def select_customers(
    chosen: pd.DataFrame,
    *,
    total_cost: float | None = None,
    max_contacts: int | None = None,
    cooldown_days: int = 0,
    days_since_offer: Sequence[float] | np.ndarray | pd.Series | None = None,
    opted_out: Sequence[bool] | np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Rank customers and select them for the campaign within its limits.

    Parameters
    ----------
    chosen : pandas.DataFrame
        The output of :func:`choose_best_offers`: at least customer_id,
        offer, propensity, cost and expected_value.
    total_cost : float, optional
        Budget of the campaign: the most the selected offers may cost
        together, >= 0. None: no budget limit.
    max_contacts : int, optional
        The most customers that may be selected, >= 0. None: no limit.
    cooldown_days : int, default=0
        Customers whose last offer was sent fewer than this many days ago are
        left out; 0 leaves nobody out.
    days_since_offer : array-like of float, optional
        Days since each customer's last offer, in the rows' order; missing
        (NaN) for a customer never offered. None: nobody was offered.
    opted_out : array-like of bool, optional
        True for a customer who may not be contacted, in the rows' order;
        missing counts as false. None: everyone may be contacted.

    Returns
    -------
    pandas.DataFrame
        The columns of ``chosen`` plus ``rank`` (int64, 1 = best), ``selected``
        (bool) and ``reason`` (one of :data:`REASONS`), sorted by rank, with
        a fresh index.

    Raises
    ------
    InputValidationError
        When a column is missing, a limit is negative, or ``days_since_offer``
        or ``opted_out`` has another length than ``chosen``.

    Notes
    -----
    Every customer gets a rank: by expected_value, highest first, then by
    propensity, highest first, then by customer_id (as text, ascending);
    customers without an expected value come last.

    The selection walks down the ranking once, from rank 1, and gives each
    customer the first reason that applies:

    1. ``opted_out``: ``opted_out`` is true;
    2. ``cooldown``: ``days_since_offer < cooldown_days`` (never offered is
       fine);
    3. ``no_eligible_offer``: the customer has no offer;
    4. ``not_positive_value``: ``expected_value <= 0``;
    5. ``over_contacts``: ``max_contacts`` customers are selected already;
    6. ``over_budget``: the offer's cost is more than what is left of
       ``total_cost`` after the customers selected so far; the walk goes
       on, so a cheaper offer further down may still fit;
    7. otherwise ``selected``, and the offer's cost is taken from the budget.

    A cost fits when the running total stays within ``total_cost`` plus a
    relative tolerance of 1e-9, so rounding in sums of costs such as 0.1
    does not refuse an offer that fits exactly.

    Limitation: the walk is greedy. The offer of each customer is chosen
    before the budget is known, and a high-ranked expensive offer may use
    budget that several cheaper offers further down would have used for a
    larger total expected value.
    """
    _check_selection_inputs(chosen, total_cost, max_contacts, cooldown_days)
    n = len(chosen)
    days = _aligned(days_since_offer, n, "days_since_offer", default=np.nan)
    out = _aligned(opted_out, n, "opted_out", default=False)
    frame = chosen.reset_index(drop=True).assign(
        _days_since_offer=_as_days(days),
        _opted_out=_as_flags(out),
    )

    ranked = frame.assign(customer_id=frame["customer_id"].astype(str)).sort_values(
        ["expected_value", "propensity", "customer_id"],
        ascending=[False, False, True],
        na_position="last",
        kind="stable",
        ignore_index=True,
    )
    ranked["rank"] = np.arange(1, n + 1, dtype="int64")

    reason = _screen(ranked, cooldown_days)
    candidates = np.flatnonzero(reason == "")
    reason[candidates] = _walk(
        ranked["cost"].to_numpy(dtype="float64")[candidates],
        total_cost=total_cost,
        max_contacts=max_contacts,
    )
    ranked["selected"] = reason == "selected"
    ranked["reason"] = pd.Series(reason, dtype="str")

    _log_selection(ranked, candidates, total_cost=total_cost)
    return ranked.drop(columns=["_days_since_offer", "_opted_out"])


def selection_summary(selected: pd.DataFrame) -> dict[str, float]:
    """Counts per reason and totals of the selected customers.

    Parameters
    ----------
    selected : pandas.DataFrame
        The output of :func:`select_customers` (or the scores table): reason,
        selected, cost, propensity and expected_value.

    Returns
    -------
    dict of str to float
        ``n_customers``, then ``n_<reason>`` for each of :data:`REASONS`
        (``n_selected``, ``n_opted_out``, ...), then ``total_cost_selected``,
        ``expected_responses_selected`` (the sum of the selected customers'
        propensities) and ``expected_value_selected``. Floats, so they can be
        logged as metrics as they are.
    """
    counts = selected["reason"].value_counts()
    picked = selected[selected["selected"].astype(bool)]
    summary = {"n_customers": float(len(selected))}
    for reason in REASONS:
        summary[f"n_{reason}"] = float(counts.get(reason, 0))
    summary["total_cost_selected"] = float(picked["cost"].sum())
    summary["expected_responses_selected"] = float(picked["propensity"].sum())
    summary["expected_value_selected"] = float(picked["expected_value"].sum())
    return summary


def _screen(ranked: pd.DataFrame, cooldown_days: int) -> np.ndarray:
    """The reasons that do not depend on the walk; empty text for candidates."""
    expected = ranked["expected_value"].to_numpy(dtype="float64")
    no_offer = ranked["offer"].isna().to_numpy() | np.isnan(expected)
    # NaN < cooldown_days is false: never offered is fine
    cooling = ranked["_days_since_offer"].to_numpy() < cooldown_days
    reason = np.select(
        [
            ranked["_opted_out"].to_numpy(dtype=bool),
            cooling,
            no_offer,
            ~(expected > 0),
        ],
        ["opted_out", "cooldown", "no_eligible_offer", "not_positive_value"],
        default="",
    )
    return reason.astype(object)


def _walk(
    costs: np.ndarray, *, total_cost: float | None, max_contacts: int | None
) -> np.ndarray:
    """Reasons of the candidates, in rank order, from the budget and the limit."""
    reason = np.full(len(costs), "over_contacts", dtype=object)
    limit = len(costs) if max_contacts is None else min(max_contacts, len(costs))
    if total_cost is None:
        reason[:limit] = "selected"
        return reason

    allowed = total_cost + _BUDGET_RTOL * max(total_cost, 1.0)
    spent = 0.0
    n_selected = 0
    for i, cost in enumerate(costs.tolist()):
        if n_selected >= limit:
            break
        if spent + cost <= allowed:
            spent += cost
            n_selected += 1
            reason[i] = "selected"
        else:
            reason[i] = "over_budget"
    return reason


def _log_selection(
    ranked: pd.DataFrame, candidates: np.ndarray, *, total_cost: float | None
) -> None:
    summary = selection_summary(ranked)
    if summary["n_opted_out"]:
        logger.info(
            "Skipped %d opted-out customers of %d",
            summary["n_opted_out"],
            len(ranked),
        )
    if len(candidates) and total_cost is not None:
        cheapest = float(ranked["cost"].to_numpy(dtype="float64")[candidates].min())
        if total_cost < cheapest:
            logger.warning(
                "Budget total_cost %g is smaller than the cheapest offer chosen "
                "for the %d customers who could be contacted (cost %g); no "
                "customer is selected. Raise scoring.budget.total_cost to at "
                "least %g, or add a cheaper offer to the catalog",
                total_cost,
                len(candidates),
                cheapest,
                cheapest,
            )
    logger.info(
        "Selected %d of %d customers for a total cost of %.2f (%.2f expected "
        "responses); not selected: %s",
        summary["n_selected"],
        len(ranked),
        summary["total_cost_selected"],
        summary["expected_responses_selected"],
        ", ".join(f"{int(summary[f'n_{reason}'])} {reason}" for reason in REASONS[1:]),
    )


def _check_selection_inputs(
    chosen: pd.DataFrame,
    total_cost: float | None,
    max_contacts: int | None,
    cooldown_days: int,
) -> None:
    missing = [
        column
        for column in ("customer_id", "offer", "propensity", "cost", "expected_value")
        if column not in chosen.columns
    ]
    if missing:
        raise InputValidationError(
            f"chosen has no column(s) {', '.join(missing)} (found: "
            f"{', '.join(map(str, chosen.columns))}); pass the output of "
            f"choose_best_offers"
        )
    if total_cost is not None and not is_non_negative(total_cost):
        raise InputValidationError(
            f"total_cost is {total_cost!r}; give a budget >= 0, or none for no limit"
        )
    if max_contacts is not None and (
        isinstance(max_contacts, bool)
        or not isinstance(max_contacts, int | np.integer)
        or max_contacts < 0
    ):
        raise InputValidationError(
            f"max_contacts is {max_contacts!r}; give a whole number >= 0, or none "
            f"for no limit"
        )
    if not is_non_negative(cooldown_days):
        raise InputValidationError(
            f"cooldown_days is {cooldown_days!r}; give a number of days >= 0"
        )


def _aligned(values: Any, n: int, name: str, *, default: Any) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=object)
    array = np.asarray(values, dtype=object)
    if array.ndim != 1 or len(array) != n:
        raise InputValidationError(
            f"{name} has {array.size} entries but chosen has {n} rows; give one "
            f"per row, in the same order"
        )
    return array


def _as_days(values: np.ndarray) -> np.ndarray:
    days = pd.to_numeric(pd.Series(values), errors="coerce")
    bad = np.flatnonzero(days.isna().to_numpy() & pd.notna(values))
    if len(bad):
        raise InputValidationError(
            f"{len(bad)} days_since_offer values are not numbers (rows "
            f"{row_positions(bad)}); give days as numbers, missing for never offered"
        )
    return days.to_numpy(dtype="float64")


def _as_flags(values: np.ndarray) -> np.ndarray:
    try:
        flags = pd.Series(values, dtype=object).astype("boolean")
    except (TypeError, ValueError) as exc:
        raise InputValidationError(
            f"opted_out must hold true, false or missing values: {exc}"
        ) from exc
    return flags.fillna(False).to_numpy(dtype=bool)
