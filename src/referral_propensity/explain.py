"""Why a customer got their score: per-feature contributions to the raw score.

The contributions are LightGBM's own (``pred_contrib``, the tree SHAP values
of the booster): for each customer they add up, with the bias, to the raw
score (log-odds before calibration). Calibration is monotone, so a feature
that raises the raw score raises the propensity too, though not by a fixed
amount.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from referral_propensity.errors import InputValidationError
from referral_propensity.model import PropensityModel
from referral_propensity.score import OFFER_COLUMN, choose_offers
from referral_propensity.selection import Offer

#: columns of :attr:`Explanation.contributions`
CONTRIBUTION_COLUMNS = ("feature", "value", "contribution")


@dataclass(frozen=True)
class Explanation:
    """One customer's score, taken apart feature by feature.

    Attributes
    ----------
    customer_id : str
    segment_id : int
    segment_name : str
    offer : str or None
        The offer explained: for an offer-aware model the ``offer_type`` the
        propensity is for; otherwise the offer scoring would choose (None
        when no catalog was given or no offer is eligible).
    propensity : float
        Calibrated probability of a response (to ``offer``).
    raw_score : float
        The booster's raw score (log-odds before calibration).
    bias : float
        The part of the raw score that no feature explains (the same for
        every customer).
    contributions : pandas.DataFrame
        Every model input: feature, value (the customer's value, as given),
        contribution (to the raw score); largest contribution first. The
        contributions plus ``bias`` add up to ``raw_score``.
    top : int
        How many features :attr:`pushed_up` and :attr:`pushed_down` hold at
        most.
    """

    customer_id: str
    segment_id: int
    segment_name: str
    offer: str | None
    propensity: float
    raw_score: float
    bias: float
    contributions: pd.DataFrame
    top: int = 5

    @property
    def pushed_up(self) -> pd.DataFrame:
        """The features that raised the raw score most, largest first."""
        rows = self.contributions[self.contributions["contribution"] > 0]
        return rows.head(self.top).reset_index(drop=True)

    @property
    def pushed_down(self) -> pd.DataFrame:
        """The features that lowered the raw score most, most negative first."""
        rows = self.contributions[self.contributions["contribution"] < 0]
        return rows.iloc[::-1].head(self.top).reset_index(drop=True)


def explain_customer(
    model: PropensityModel,
    features: pd.DataFrame,
    customer_id: str,
    *,
    offer: str | None = None,
    catalog: Iterable[Any] | None = None,
    top: int = 5,
) -> Explanation:
    """Explain one customer's propensity by the features behind it.

    Parameters
    ----------
    model : PropensityModel
    features : pandas.DataFrame
        A feature table as scoring uses it: customer_id, ``is_inactive`` and
        the model's inputs (``offer_type`` excepted), one row per customer.
    customer_id : str
        The customer to explain; compared as text.
    offer : str, optional
        For an offer-aware model (``offer_type`` among its inputs): the offer
        type to explain, one the model saw in training. Default: the offer
        :func:`referral_propensity.score.score_customers` would choose with
        ``catalog``.
    catalog : iterable of Offer or CatalogOffer, optional
        The offers (``scoring.catalog``) that decide the default offer. None:
        for an offer-aware model, the offer type the model finds most likely
        to be answered; for any other model, no offer.
    top : int, default=5
        The most features :attr:`Explanation.pushed_up` and
        :attr:`Explanation.pushed_down` list; at least 1.

    Returns
    -------
    Explanation

    Raises
    ------
    InputValidationError
        When the customer has no row in ``features``, is active (active
        customers are not scored), appears more than once, a model input is
        missing from ``features``, ``offer`` is an offer type the model never
        saw, or ``top`` is below 1.

    Notes
    -----
    The default offer is chosen among all inactive customers of
    ``features``, as in scoring, because an offer without a value of its
    own is worth the customer's predicted spend, whose fallback is a median
    over them. A customer whose segment may get no catalog offer is
    explained with the offer type the model finds most likely to be
    answered.
    """
    if top < 1:
        raise InputValidationError(f"top is {top}; ask for at least 1 feature")
    _check_inputs(model, features)
    customer_id = str(customer_id)
    row = _customer_row(features, customer_id)

    offer_aware = OFFER_COLUMN in model.feature_columns
    if offer is not None and offer_aware:
        _check_offer(model, offer)
    else:
        offer = _default_offer(model, features, customer_id, catalog, offer)
    explained = row.assign(**{OFFER_COLUMN: offer}) if offer_aware else row

    predicted = model.predict_frame(explained).iloc[0]
    contributions = model.contributions(explained).iloc[0]
    inputs = explained.reindex(columns=model.feature_columns).iloc[0]
    table = (
        pd.DataFrame(
            {
                "feature": model.feature_columns,
                "value": inputs.to_numpy(dtype=object),
                "contribution": contributions[model.feature_columns].to_numpy(
                    dtype="float64"
                ),
            }
        )
        .sort_values("contribution", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return Explanation(
        customer_id=customer_id,
        segment_id=int(predicted["segment_id"]),
        segment_name=str(predicted["segment_name"]),
        offer=offer,
        propensity=float(predicted["propensity"]),
        raw_score=float(predicted["raw_score"]),
        bias=float(contributions["bias"]),
        contributions=table,
        top=top,
    )


def top_reasons(
    model: PropensityModel, features: pd.DataFrame, n: int = 3
) -> pd.DataFrame:
    """The features that raised each customer's raw score most, as text.

    Parameters
    ----------
    model : PropensityModel
    features : pandas.DataFrame
        The model's inputs (for an offer-aware model with ``offer_type`` set
        to the offer to explain), one row per customer.
    n : int, default=3
        Reasons per customer; at least 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``reason_1`` to ``reason_<n>``, the index of ``features``.
        Each cell reads ``feature=value (+contribution)``, for example
        ``recency_days=412 (+0.31)``: the customer's value and its
        contribution to the raw score (log-odds), largest first. Only
        positive contributions are reasons; the cells after the last one are
        missing.

    Notes
    -----
    Ties in contribution go to the feature listed first among the model's
    inputs. Values are shown with at most two decimals; a missing value
    reads ``missing``.
    """
    if n < 1:
        raise InputValidationError(f"n is {n}; ask for at least 1 reason")
    columns = [f"reason_{i}" for i in range(1, n + 1)]
    if features.empty:
        return pd.DataFrame(
            {column: pd.Series(dtype="str") for column in columns},
            index=features.index,
        )

    names = model.feature_columns
    contributions = model.contributions(features)[names].to_numpy(dtype="float64")
    values = features.reindex(columns=names).to_numpy(dtype=object)

    # a stable sort of the negated contributions keeps input order among ties
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :n]
    texts = np.full((len(features), n), None, dtype=object)
    for i, row_order in enumerate(order):
        for k, j in enumerate(row_order):
            contribution = contributions[i, j]
            if not contribution > 0:
                break
            texts[i, k] = (
                f"{names[j]}={format_value(values[i, j])} ({contribution:+.2f})"
            )
    return pd.DataFrame(
        {
            column: pd.Series(texts[:, k], dtype="str")
            for k, column in enumerate(columns)
        }
    ).set_axis(features.index)


def format_value(value: Any) -> str:
    """A feature value as short text: ``412``, ``0.33``, ``north``, ``missing``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "missing"
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "missing"
        return np.format_float_positional(round(float(value), 2), trim="-")
    return str(value)


def _check_inputs(model: PropensityModel, features: pd.DataFrame) -> None:
    missing = [
        column
        for column in ("customer_id", "is_inactive", *model.feature_columns)
        if column not in features.columns and column != OFFER_COLUMN
    ]
    if missing:
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise InputValidationError(
            f"the feature table lacks {len(missing)} column(s) the model needs "
            f"({shown}); build the features with the tables the model was trained on"
        )


def _customer_row(features: pd.DataFrame, customer_id: str) -> pd.DataFrame:
    rows = features[features["customer_id"].astype(str) == customer_id]
    if rows.empty:
        raise InputValidationError(
            f"customer {customer_id!r} is not in the feature table of "
            f"{len(features)} customers: absent, with no transaction before as_of; "
            f"check the id, or pick a later --as-of"
        )
    if len(rows) > 1:
        raise InputValidationError(
            f"customer {customer_id!r} has {len(rows)} rows in the feature table; "
            f"give one row per customer"
        )
    if not bool(rows["is_inactive"].iloc[0]):
        raise InputValidationError(
            f"customer {customer_id!r} is active at as_of (bought recently), so "
            f"they are not scored and have no propensity to explain; pick an "
            f"inactive customer"
        )
    return rows.reset_index(drop=True)


def _check_offer(model: PropensityModel, offer: str) -> None:
    known = [str(category) for category in model.categories.get(OFFER_COLUMN, [])]
    if offer not in known:
        raise InputValidationError(
            f"offer {offer!r} is not an offer type the model saw in training "
            f"(known: {', '.join(known) or 'none'}); pick one of those"
        )


def _default_offer(
    model: PropensityModel,
    features: pd.DataFrame,
    customer_id: str,
    catalog: Iterable[Any] | None,
    offer: str | None,
) -> str | None:
    """The offer scoring would choose, or the given one for a model without offers."""
    offer_aware = OFFER_COLUMN in model.feature_columns
    if not offer_aware and (offer is not None or catalog is None):
        return offer
    if catalog is None:
        return _likeliest_offer(model, _customer_row(features, customer_id))

    inactive = features[features["is_inactive"].astype(bool)].reset_index(drop=True)
    chosen = choose_offers(model, inactive, catalog=catalog)
    mine = chosen[chosen["customer_id"] == customer_id]["offer"].iloc[0]
    if pd.isna(mine):
        if not offer_aware:
            return None
        return _likeliest_offer(model, _customer_row(features, customer_id))
    return str(mine)


def _likeliest_offer(model: PropensityModel, row: pd.DataFrame) -> str:
    """The offer type the model gives the highest propensity for one customer."""
    known = [str(category) for category in model.categories.get(OFFER_COLUMN, [])]
    if not known:
        raise InputValidationError(
            "the model takes offer_type as an input but saw no offer type in "
            "training; retrain it on an offers table"
        )
    # cost 0 and value 1: the expected value is the propensity itself
    offers = tuple(Offer(offer_type, cost=0.0, value=1.0) for offer_type in known)
    return str(choose_offers(model, row, catalog=offers)["offer"].iloc[0])
