"""The main job's steps for a customer-level table: features, training, holdout.

A customer-level table has no dates to split on, so the champion and the new
model are compared on a fixed holdout: the customers whose id hashes into the
last fifth. The holdout depends on the id alone, so no model trained this way,
now or in an earlier run, has seen those customers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

import numpy as np
import pandas as pd

from referral_propensity.config import Config
from referral_propensity.customer_level.features import build_customer_features
from referral_propensity.customer_level.train import train_customer_level
from referral_propensity.errors import InputValidationError
from referral_propensity.evaluate import ranking_metrics
from referral_propensity.features.build import FeatureTable
from referral_propensity.io.tables import Tables
from referral_propensity.train import TrainingResult

logger = logging.getLogger(__name__)

#: one customer in this many is held out to compare the new model with the champion
HOLDOUT_EVERY = 5


def is_holdout(customer_ids: pd.Series) -> np.ndarray:
    """True for the customers of the fixed holdout (a hash of the id)."""
    return np.array(
        [
            int(hashlib.sha256(str(c).encode()).hexdigest()[:8], 16) % HOLDOUT_EVERY
            == 0
            for c in customer_ids
        ],
        dtype=bool,
    )


def customer_table_features(
    config: Config, tables: Tables, as_of: dt.date | None = None
) -> FeatureTable:
    """The customers table as model inputs, every customer a scoring candidate.

    The label column (when the table has it) is left out. Every row counts as
    inactive: the table carries no purchase dates to tell.
    """
    # Limitation: a customer-level table has no purchase dates, so nobody is
    # left out as active; filter the table (data.customers.where) instead.
    label = config.label.column
    present = label is not None and label in tables.customers.relation.columns
    table = build_customer_features(
        tables, label_column=None, as_of=as_of, exclude=[label] if present else []
    )
    frame = table.frame.assign(is_inactive=True)
    return FeatureTable(
        frame=frame,
        as_of=table.as_of,
        n_rows_after_cutoff=0,
        order_definition="customer_level",
        categorical=list(table.categorical),
    )


def train_customer_table(
    config: Config, tables: Tables, segments: dict
) -> tuple[TrainingResult, pd.DataFrame]:
    """Cross-validate on every row, fit on all but the holdout, score the holdout.

    Returns
    -------
    result : TrainingResult
        Metrics are the fold means (with ``_std``) over every row (the fold
        models are thrown away), plus ``holdout_*`` metrics of the final
        model, which never saw the holdout.
    holdout : pandas.DataFrame
        The holdout rows (features and label) for the champion comparison.
    """
    table = build_customer_features(tables, label_column=config.label.column)
    frame = table.frame
    held = is_holdout(frame["customer_id"])
    holdout = frame[held].reset_index(drop=True)
    if holdout["label"].nunique() < 2:
        _raise_single_class(holdout)

    training = config.training
    result = train_customer_level(
        table,
        cv_folds=training.cv_folds,
        calibration=training.calibration,
        early_stopping_rounds=training.early_stopping_rounds,
        lightgbm=dict(training.lightgbm),
        segments=segments,
        seed=config.seed,
        final_fit_rows=~held,
    )
    propensity = result.model.predict_frame(holdout)["propensity"].to_numpy()
    holdout_metrics = ranking_metrics(
        holdout["label"].to_numpy(), propensity, is_probability=True
    )
    result.metrics.update({f"holdout_{k}": v for k, v in holdout_metrics.items()})
    result.metrics["n_holdout_customers"] = float(len(holdout))
    result.params["derived.holdout_rule"] = (
        f"customers whose sha256(customer_id) mod {HOLDOUT_EVERY} is 0"
    )
    logger.info(
        "Held out %d of %d customers to compare with the champion: ROC AUC %.3f there "
        "(cross-validated %.3f +- %.3f)",
        len(holdout),
        len(frame),
        holdout_metrics["roc_auc"],
        result.metrics["roc_auc"],
        result.metrics.get("roc_auc_std", float("nan")),
    )
    return result, holdout


def _raise_single_class(holdout: pd.DataFrame) -> None:
    raise InputValidationError(
        f"customers table: the {len(holdout)} holdout customers all have label "
        f"{holdout['label'].iloc[0] if len(holdout) else '(none)'}; the table needs "
        "more rows of both labels"
    )
