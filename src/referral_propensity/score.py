"""Batch scoring: an offer for each inactive customer, a campaign within budget."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from referral_propensity.errors import InputValidationError
from referral_propensity.model import PropensityModel
from referral_propensity.selection import (
    CHOSEN_COLUMNS,
    Offer,
    choose_best_offers,
    offers_from_config,
    select_customers,
)

logger = logging.getLogger(__name__)

#: columns of the scores file, in order
SCORE_COLUMNS = (*CHOSEN_COLUMNS, "selected", "reason", "rank")
#: the top reasons added after rank with ``reasons=True`` (``scoring.reasons``)
REASON_COLUMNS = ("reason_1", "reason_2", "reason_3")

# "str" is pandas' text dtype (object before pandas 3), as in a non-empty table
_EMPTY_DTYPES = {
    "customer_id": "str",
    "segment_id": "int64",
    "segment_name": "str",
    "offer": "str",
    "propensity": "float64",
    "cost": "float64",
    "expected_value": "float64",
    "selected": "bool",
    "reason": "str",
    "rank": "int64",
    **dict.fromkeys(REASON_COLUMNS, "str"),
}

#: the model input that makes a model offer-aware
OFFER_COLUMN = "offer_type"


def predicted_spend(features: pd.DataFrame) -> np.ndarray:
    """A simple estimate of what a returning customer spends: their spend_mean.

    Customers without a positive spend_mean get the median of those with one.

    Notes
    -----
    Limitation: spend_mean is the past net spend per order, not a fitted
    spend model, so it ignores trends and shrinks nobody toward the mean.
    """
    spend = features["spend_mean"].astype("float64")
    positive = spend[spend > 0]
    fallback = float(positive.median()) if len(positive) else 0.0
    return spend.where(spend > 0, fallback).to_numpy()


def score_customers(
    model: PropensityModel,
    features: pd.DataFrame,
    *,
    catalog: Iterable[Any],
    total_cost: float | None = None,
    max_contacts: int | None = None,
    cooldown_days: int = 0,
    reasons: bool = False,
) -> pd.DataFrame:
    """Score inactive customers, choose their offer and select a campaign.

    Parameters
    ----------
    model : PropensityModel
        When its ``feature_columns`` include ``offer_type`` (a categorical
        input of a model trained on offer responses), the propensity of each
        offer is predicted with ``offer_type`` set to that offer; otherwise
        every offer gets the same propensity.
    features : pandas.DataFrame
        A feature table with customer_id, ``is_inactive`` (see
        :func:`referral_propensity.inactivity.mark_inactive`) and the model's
        inputs; only inactive customers are scored. ``spend_mean`` is needed
        when an offer has no value of its own. Optional:
        ``marketing_opt_in`` (false: the customer is not contacted; missing
        column: everyone may be) and ``days_since_offer`` (days since the
        customer's last offer before as_of; missing for never offered).
    catalog : iterable of Offer or CatalogOffer
        The offers (``scoring.catalog``), see
        :func:`referral_propensity.selection.offers_from_config`.
    total_cost : float, optional
        Budget of the campaign (sum of the selected offers' costs); None: no
        limit.
    max_contacts : int, optional
        The most customers selected; None: no limit.
    cooldown_days : int, default=0
        No offer to a customer offered fewer than this many days ago; 0: no
        cooldown.
    reasons : bool, default=False
        Also give each customer the three features that raised their score
        most (``scoring.reasons``), see
        :func:`referral_propensity.explain.top_reasons`.

    Returns
    -------
    pandas.DataFrame
        :data:`SCORE_COLUMNS`, sorted by rank: customer_id, segment_id,
        segment_name, offer (the chosen offer_type, None when the segment
        may get none), propensity (of that offer), cost, expected_value
        (propensity x value - cost, where value is the offer's value or
        :func:`predicted_spend`), selected (bool), reason (see
        :data:`referral_propensity.selection.REASONS`) and rank (1 = best).
        With ``reasons``, then :data:`REASON_COLUMNS`: reason_1 to reason_3,
        texts such as ``recency_days=412 (+0.31)``, missing when fewer
        features raised the score; for an offer-aware model they explain the
        chosen offer's propensity.

    Raises
    ------
    InputValidationError
        When an offer-aware model never saw a catalog offer type in training
        (retired offers excepted), or an input is unusable (see
        :func:`referral_propensity.selection.choose_best_offers`).

    Notes
    -----
    The offer choice, ranking, tie-breaks and selection rule are those of
    :func:`referral_propensity.selection.choose_best_offers` and
    :func:`referral_propensity.selection.select_customers`. A missing
    ``marketing_opt_in`` value counts as not opted out. The median behind
    :func:`predicted_spend` is taken over the inactive customers only.
    """
    offers = offers_from_config(catalog)
    columns = [*SCORE_COLUMNS, *(REASON_COLUMNS if reasons else ())]

    started = time.perf_counter()
    inactive = features[features["is_inactive"]].reset_index(drop=True)
    chosen = choose_offers(model, inactive, catalog=offers)
    if inactive.empty:
        logger.warning(
            "No inactive customers among %d; nothing to score", len(features)
        )
        return pd.DataFrame(
            {column: pd.Series(dtype=_EMPTY_DTYPES[column]) for column in columns}
        )

    if reasons:
        chosen = _with_reasons(model, inactive, chosen)
    scores = select_customers(
        chosen,
        total_cost=total_cost,
        max_contacts=max_contacts,
        cooldown_days=cooldown_days,
        days_since_offer=_column_or_none(inactive, "days_since_offer"),
        opted_out=_opted_out(inactive),
    )
    logger.info(
        "Scored %d inactive of %d customers with %d offer(s) in %.1f s",
        len(scores),
        len(features),
        sum(not offer.is_retired for offer in offers),
        time.perf_counter() - started,
    )
    return scores[columns]


def choose_offers(
    model: PropensityModel, features: pd.DataFrame, *, catalog: Iterable[Any]
) -> pd.DataFrame:
    """Each customer's segment and best offer, as scoring chooses them.

    Parameters
    ----------
    model : PropensityModel
        Offer-aware or not, as for :func:`score_customers`.
    features : pandas.DataFrame
        customer_id and the model's inputs; every row is scored (filter the
        inactive customers first). The median behind :func:`predicted_spend`
        is taken over these rows.
    catalog : iterable of Offer or CatalogOffer
        The offers (``scoring.catalog``).

    Returns
    -------
    pandas.DataFrame
        :data:`referral_propensity.selection.CHOSEN_COLUMNS`, one row per
        input row in input order (see
        :func:`referral_propensity.selection.choose_best_offers`).

    Raises
    ------
    InputValidationError
        As :func:`score_customers`.
    """
    offers = offers_from_config(catalog)
    offer_aware = OFFER_COLUMN in model.feature_columns
    if offer_aware:
        _check_known_offer_types(model, offers)
    _warn_unknown_segments(model, offers)
    if features.empty:
        return pd.DataFrame(
            {
                column: pd.Series(dtype=_EMPTY_DTYPES[column])
                for column in CHOSEN_COLUMNS
            }
        )

    customers, propensities = _propensities(model, features, offers, offer_aware)
    return choose_best_offers(
        customers,
        propensities,
        offers,
        predicted_value=_predicted_value(features, offers),
    )


def _with_reasons(
    model: PropensityModel, inactive: pd.DataFrame, chosen: pd.DataFrame
) -> pd.DataFrame:
    """The chosen offers with the top three reasons of each customer's score."""
    # explain imports this module for the offer choice, so it is imported here
    from referral_propensity.explain import top_reasons

    explained = inactive
    if OFFER_COLUMN in model.feature_columns:
        explained = inactive.assign(**{OFFER_COLUMN: chosen["offer"].to_numpy()})
    reasons = top_reasons(model, explained, n=len(REASON_COLUMNS))
    return chosen.assign(
        **{column: reasons[column].to_numpy() for column in REASON_COLUMNS}
    )


def _propensities(
    model: PropensityModel,
    inactive: pd.DataFrame,
    offers: tuple[Offer, ...],
    offer_aware: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segments of the customers, and one propensity column per active offer."""
    active = [offer for offer in offers if not offer.is_retired]
    if not offer_aware or not active:
        predictions = model.predict_frame(inactive)
        propensities = pd.DataFrame(
            {offer.offer_type: predictions["propensity"] for offer in active},
            index=predictions.index,
        )
        return predictions, propensities

    # the segment comes from the segmenter alone: found once, with the first
    # offer; the other offers need only the booster and the calibrator
    first, *others = active
    predictions = model.predict_frame(
        inactive.assign(**{OFFER_COLUMN: first.offer_type})
    )
    columns = {first.offer_type: predictions["propensity"].to_numpy()}
    for offer in others:
        raw = model.raw_score(inactive.assign(**{OFFER_COLUMN: offer.offer_type}))
        columns[offer.offer_type] = model.calibrate(raw)
    return predictions, pd.DataFrame(columns, index=predictions.index)


def _check_known_offer_types(model: PropensityModel, offers: tuple[Offer, ...]) -> None:
    known = [str(category) for category in model.categories.get(OFFER_COLUMN, [])]
    unknown = [
        offer.offer_type
        for offer in offers
        if not offer.is_retired and offer.offer_type not in known
    ]
    if unknown:
        raise InputValidationError(
            f"scoring.catalog has offer type(s) {', '.join(repr(u) for u in unknown)} "
            f"that the model never saw in training (known: "
            f"{', '.join(known) or 'none'}); use a known offer type, retrain with "
            f"offers of the new type, or retire the offer with segments: []"
        )


def _warn_unknown_segments(model: PropensityModel, offers: tuple[Offer, ...]) -> None:
    names = getattr(model.segmenter, "names_", None)
    if not names:
        return
    known = {str(segment_id) for segment_id in names} | {
        str(name) for name in names.values()
    }
    for offer in offers:
        unknown = sorted(set(offer.segments or ()) - known)
        if unknown:
            logger.warning(
                "Offer '%s' lists %d segment(s) the model does not have: %s "
                "(segments: %s); no customer gets the offer through them",
                offer.offer_type,
                len(unknown),
                ", ".join(unknown),
                ", ".join(f"{i} {name}" for i, name in sorted(names.items())),
            )


def _predicted_value(
    inactive: pd.DataFrame, offers: tuple[Offer, ...]
) -> np.ndarray | None:
    needs_value = [o.offer_type for o in offers if not o.is_retired and o.value is None]
    if not needs_value:
        return None
    if "spend_mean" not in inactive.columns:
        raise InputValidationError(
            f"offer(s) {', '.join(needs_value)} have no value, so they are worth "
            f"the customer's predicted spend, but the features have no spend_mean "
            f"column; give the offers a value in scoring.catalog"
        )
    return predicted_spend(inactive)


def _opted_out(inactive: pd.DataFrame) -> np.ndarray | None:
    if "marketing_opt_in" not in inactive.columns:
        return None
    # only an explicit false opts out: 0.0 and False compare equal to False,
    # a missing value does not
    return inactive["marketing_opt_in"].eq(False).to_numpy(dtype=bool)


def _column_or_none(frame: pd.DataFrame, column: str) -> np.ndarray | None:
    if column not in frame.columns:
        return None
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
