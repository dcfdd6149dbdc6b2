"""A small real propensity model (segmenter, booster, calibrator) for tests."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from referral_propensity.model import PropensityModel
from referral_propensity.segments import Segmenter

SMALL_LIGHTGBM = {
    "objective": "binary",
    "num_leaves": 4,
    "min_data_in_leaf": 10,
    "learning_rate": 0.1,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 0,
    "verbose": -1,
}


def fit_small_model(
    train: pd.DataFrame,
    *,
    segment_features: list[str],
    feature_columns: list[str],
    categories: dict[str, list] | None = None,
) -> PropensityModel:
    """Fit segments, 30 boosting rounds and a Platt calibrator on ``train``."""
    segmenter = Segmenter(features=segment_features, random_state=0).fit(train)
    model = PropensityModel(
        segmenter=segmenter,
        booster=None,
        calibrator=None,
        feature_columns=feature_columns,
        categories=categories or {},
    )
    model.booster = lgb.train(
        SMALL_LIGHTGBM,
        lgb.Dataset(model.design_matrix(train), label=train["label"]),
        num_boost_round=30,
    )
    raw = model.raw_score(train).reshape(-1, 1)
    model.calibrator = LogisticRegression(C=1e6).fit(raw, train["label"])
    return model


def seeded_customers(
    seed: int,
    n: int,
    *,
    prefix: str,
    intercept: float,
    recency_scale: float,
    order_weight: float,
) -> pd.DataFrame:
    """Seeded inactive customers whose label depends on recency and orders.

    The label is drawn with log-odds
    ``intercept - recency_days / recency_scale + order_weight * n_orders``.
    """
    rng = np.random.default_rng(seed)
    recency = rng.integers(91, 900, n).astype("float64")
    orders = rng.integers(1, 10, n)
    spend = np.exp(rng.normal(np.log(80), 0.6, n)) * orders
    logit = intercept - recency / recency_scale + order_weight * orders
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "customer_id": [f"{prefix}{i:03d}" for i in range(n)],
            "recency_days": recency,
            "n_orders": orders,
            "spend_total": spend.round(2),
            "spend_mean": (spend / orders).round(2),
            "is_inactive": True,
            "label": label,
        }
    )


def seeded_offer_responses(customers: pd.DataFrame, seed: int) -> pd.DataFrame:
    """One offer per customer at random: frequent buyers answer points, others discounts.

    The true response probability is 0.8 when the offer fits (points for
    n_orders >= 5, discount below) and 0.1 when it does not.
    """
    n = len(customers)
    rng = np.random.default_rng(seed + 1)
    offer_type = rng.choice(["discount", "points"], n)
    fits = (customers["n_orders"] >= 5) == (offer_type == "points")
    return customers.assign(
        offer_type=offer_type,
        label=(rng.random(n) < np.where(fits, 0.8, 0.1)).astype("int64"),
    )
