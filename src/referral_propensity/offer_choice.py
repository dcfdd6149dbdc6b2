"""The offer catalog and each customer's best offer by expected value."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from referral_propensity.errors import InputValidationError

logger = logging.getLogger(__name__)

#: columns of the frame returned by :func:`choose_best_offers`
CHOSEN_COLUMNS = (
    "customer_id",
    "segment_id",
    "segment_name",
    "offer",
    "propensity",
    "cost",
    "expected_value",
)


@dataclass(frozen=True)
class Offer:
    """One offer of the catalog.

    Parameters
    ----------
    offer_type : str
        The offer's name, as in the offers table's ``offer_type``.
    cost : float
        Cost of one contact with this offer, >= 0.
    value : float or None, default=None
        What a response is worth, >= 0. None: the customer's predicted value
        (see ``predicted_value`` of :func:`choose_best_offers`).
    segments : tuple of str or None, default=None
        Segment names or segment ids (as text) that may get the offer. None:
        every segment; an empty tuple retires the offer.
    """

    offer_type: str
    cost: float
    value: float | None = None
    segments: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.offer_type, str) or not self.offer_type:
            raise InputValidationError(
                f"offer_type must be a non-empty text, got {self.offer_type!r}"
            )
        if not is_non_negative(self.cost):
            raise InputValidationError(
                f"offer '{self.offer_type}' has cost {self.cost!r}; give a number >= 0"
            )
        if self.value is not None and not is_non_negative(self.value):
            raise InputValidationError(
                f"offer '{self.offer_type}' has value {self.value!r}; give a number "
                f">= 0, or none for the customer's predicted value"
            )
        object.__setattr__(self, "cost", float(self.cost))
        if self.value is not None:
            object.__setattr__(self, "value", float(self.value))
        if self.segments is not None:
            if isinstance(self.segments, str):
                raise InputValidationError(
                    f"offer '{self.offer_type}' has segments {self.segments!r}; "
                    f"give a list of segment names or ids"
                )
            object.__setattr__(
                self, "segments", tuple(str(segment) for segment in self.segments)
            )

    @property
    def is_retired(self) -> bool:
        """True when no segment may get the offer (``segments`` is empty)."""
        return self.segments is not None and len(self.segments) == 0

    def is_eligible(
        self, segment_ids: Iterable[Any], segment_names: Iterable[Any]
    ) -> np.ndarray:
        """Which customers may get the offer, by their segment id or name.

        Returns
        -------
        numpy.ndarray of bool
            One entry per customer: their segment name, or their segment id
            written as text, is in ``segments`` (always true when
            ``segments`` is None).
        """
        names = pd.Series(segment_names).reset_index(drop=True)
        if self.segments is None:
            return np.ones(len(names), dtype=bool)
        allowed = set(self.segments)
        # few distinct segments: compare each id once, as text
        ids = pd.Series(segment_ids).reset_index(drop=True)
        allowed_ids = [
            i for i in pd.unique(ids.dropna()) if segment_id_text(i) in allowed
        ]
        return (names.isin(allowed) | ids.isin(allowed_ids)).to_numpy(dtype=bool)


def offers_from_config(catalog: Iterable[Any]) -> tuple[Offer, ...]:
    """Turn the config's catalog (``scoring.catalog``) into :class:`Offer` objects.

    Parameters
    ----------
    catalog : iterable
        Objects with ``offer_type``, ``cost``, ``value`` and ``segments``
        attributes, such as :class:`referral_propensity.config.CatalogOffer`;
        :class:`Offer` objects pass through unchanged.

    Returns
    -------
    tuple of Offer
        In catalog order.
    """
    offers = []
    for item in catalog:
        if isinstance(item, Offer):
            offers.append(item)
            continue
        segments = None if item.segments is None else tuple(item.segments)
        offers.append(
            Offer(
                offer_type=item.offer_type,
                cost=item.cost,
                value=item.value,
                segments=segments,
            )
        )
    return tuple(offers)


def choose_best_offers(
    customers: pd.DataFrame,
    propensities: pd.DataFrame,
    catalog: Sequence[Offer],
    *,
    predicted_value: Sequence[float] | np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Give each customer the eligible offer with the highest expected value.

    Parameters
    ----------
    customers : pandas.DataFrame
        customer_id, segment_id, segment_name; one row per customer.
    propensities : pandas.DataFrame
        One column per offer_type of the catalog (retired offers may be left
        out), the same rows in the same order as ``customers``: the
        calibrated probability, in [0, 1], that the customer responds to that
        offer. A missing value means the offer is not available to that
        customer.
    catalog : sequence of Offer
        The offers, in catalog order (see :func:`offers_from_config`).
    predicted_value : array-like of float, optional
        What a response of each customer is worth when an offer has no
        ``value`` of its own (the scoring code passes the past spend_mean).
        Needed when a catalog offer that is not retired has ``value`` None.

    Returns
    -------
    pandas.DataFrame
        :data:`CHOSEN_COLUMNS`, one row per customer in input order:
        customer_id (text), segment_id, segment_name, offer (the chosen
        offer_type), propensity and cost of that offer, and expected_value =
        propensity x value - cost. Customers with no eligible offer get offer
        None and missing propensity, cost and expected_value.

    Raises
    ------
    InputValidationError
        When a column is missing, the frames differ in length, the catalog is
        empty or repeats an offer type, a propensity is outside [0, 1], or an
        offer needs ``predicted_value`` and none is given.

    Notes
    -----
    An offer is eligible for a customer when its ``segments`` is None, or
    contains the customer's segment_name or their segment_id as text; a
    retired offer (``segments`` empty) is never chosen. Ties in expected value
    go to the cheaper offer, then to the offer listed first in the catalog.
    The best offer is chosen even when its expected value is negative;
    :func:`select_customers` leaves such customers out.
    """
    catalog = tuple(catalog)
    active = [offer for offer in catalog if not offer.is_retired]
    _check_choice_inputs(customers, propensities, catalog, active, predicted_value)

    n = len(customers)
    best = _empty_choice(n, no_offer=len(active))
    segment_ids = customers["segment_id"]
    segment_names = customers["segment_name"]
    for position, offer in enumerate(active):
        propensity = propensities[offer.offer_type].to_numpy(dtype="float64")
        if offer.value is None:
            value = np.asarray(predicted_value, dtype="float64")
        else:
            value = np.full(n, offer.value)
        expected = propensity * value - offer.cost
        eligible = offer.is_eligible(segment_ids, segment_names) & ~np.isnan(expected)

        # catalog order is the last tie-break: a later offer wins only when
        # it is strictly better, or as good and strictly cheaper
        better = eligible & (
            (expected > best["expected_value"])
            | ((expected == best["expected_value"]) & (offer.cost < best["cost"]))
            | np.isnan(best["expected_value"])
        )
        best["position"][better] = position
        best["propensity"][better] = propensity[better]
        best["cost"][better] = offer.cost
        best["expected_value"][better] = expected[better]

    names = np.array([offer.offer_type for offer in active] + [None], dtype=object)
    chosen = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype(str).to_numpy(),
            "segment_id": segment_ids.to_numpy(),
            "segment_name": segment_names.to_numpy(),
            "offer": pd.Series(names[best["position"]], dtype="str"),
            "propensity": best["propensity"],
            "cost": best["cost"],
            "expected_value": best["expected_value"],
        }
    )
    n_without = int((best["position"] == len(active)).sum())
    if n_without:
        logger.info("%d of %d customers have no eligible offer", n_without, n)
    return chosen


def _check_choice_inputs(
    customers: pd.DataFrame,
    propensities: pd.DataFrame,
    catalog: tuple[Offer, ...],
    active: list[Offer],
    predicted_value: Any,
) -> None:
    if not catalog:
        raise InputValidationError(
            "the offer catalog is empty; list at least one offer"
        )
    names = [offer.offer_type for offer in catalog]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputValidationError(
            f"the offer catalog repeats offer type(s) {', '.join(repeated)}; "
            f"list each offer once"
        )
    missing = [
        column
        for column in ("customer_id", "segment_id", "segment_name")
        if column not in customers.columns
    ]
    if missing:
        raise InputValidationError(
            f"customers has no column(s) {', '.join(missing)} (found: "
            f"{', '.join(map(str, customers.columns))})"
        )
    if len(propensities) != len(customers):
        raise InputValidationError(
            f"propensities has {len(propensities)} rows but customers has "
            f"{len(customers)}; give one row per customer, in the same order"
        )
    absent = [o.offer_type for o in active if o.offer_type not in propensities]
    if absent:
        raise InputValidationError(
            f"propensities has no column for offer type(s) {', '.join(absent)} "
            f"(found: {', '.join(map(str, propensities.columns))}); give one "
            f"column per catalog offer"
        )
    for offer in active:
        values = propensities[offer.offer_type].to_numpy(dtype="float64")
        outside = np.flatnonzero((values < 0) | (values > 1))
        if len(outside):
            raise InputValidationError(
                f"{len(outside)} propensities of offer '{offer.offer_type}' are "
                f"outside [0, 1] (rows {row_positions(outside)}); give probabilities"
            )
    needs_value = [o.offer_type for o in active if o.value is None]
    if needs_value and predicted_value is None:
        raise InputValidationError(
            f"offer(s) {', '.join(needs_value)} have no value, so each customer's "
            f"predicted_value is needed; pass it, or give the offers a value"
        )
    if needs_value and len(predicted_value) != len(customers):
        raise InputValidationError(
            f"predicted_value has {len(predicted_value)} entries but customers "
            f"has {len(customers)} rows; give one per customer"
        )


def _empty_choice(n: int, *, no_offer: int) -> dict[str, np.ndarray]:
    """No offer chosen yet: position ``no_offer`` (past the offers), no numbers."""
    return {
        "position": np.full(n, no_offer, dtype="int64"),
        "propensity": np.full(n, np.nan),
        "cost": np.full(n, np.nan),
        "expected_value": np.full(n, np.nan),
    }


def segment_id_text(segment_id: Any) -> str:
    """A segment id as text; whole numbers without a decimal point ("2", not "2.0")."""
    if isinstance(segment_id, float | np.floating) and float(segment_id).is_integer():
        return str(int(segment_id))
    return str(segment_id)


def is_non_negative(number: Any) -> bool:
    return (
        isinstance(number, int | float | np.integer | np.floating)
        and not isinstance(number, bool)
        and math.isfinite(number)
        and number >= 0
    )


def row_positions(rows: np.ndarray, limit: int = 3) -> str:
    """Row positions for a message, counted from 1."""
    shown = ", ".join(str(int(row) + 1) for row in rows[:limit])
    return shown + (", ..." if len(rows) > limit else "")
