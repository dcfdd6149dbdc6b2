"""Train the propensity model on rolling snapshots and test it out of time.

Training rows come from several as_of snapshots before the test snapshot,
each with features strictly before its as_of and a label from
``[as_of, as_of + horizon)``; every label window ends by the test as_of. The
latest of them validates (early stopping) and calibrates; the earlier ones
train. The test snapshot is never seen in fitting.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from referral_propensity import progress
from referral_propensity.errors import InputValidationError
from referral_propensity.evaluate import evaluate_with_baselines
from referral_propensity.features import build_features
from referral_propensity.features.build import check_as_of
from referral_propensity.inactivity import mark_inactive
from referral_propensity.io.tables import Tables, to_day
from referral_propensity.labels import (
    attach_labels,
    build_reactivation_labels,
    check_label_window,
)
from referral_propensity.model import PropensityModel
from referral_propensity.segments import Segmenter

logger = logging.getLogger(__name__)

#: LightGBM settings used unless the config overrides them
DEFAULT_LIGHTGBM = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 7,
    "min_child_samples": 200,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "num_boost_round": 2000,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}

#: columns of a snapshot that are never model inputs
NOT_FEATURES = {"customer_id", "label", "is_inactive", "lapse_stage", "as_of"}


@dataclass(frozen=True)
class TrainingSettings:
    """Plain settings of one training (filled from the config by the CLI)."""

    test_as_of: dt.date
    horizon_days: int = 90
    n_snapshots: int = 6
    snapshot_step_days: int = 30
    windows_days: tuple[int, ...] = (30, 90, 180, 365)
    no_purchase_days: int = 90
    no_engagement_days: int | None = None
    lapse_stage_edges_days: tuple[int, ...] = (180, 365)
    population: str = "all"
    calibration: str = "sigmoid"
    early_stopping_rounds: int = 50
    early_stopping_metric: str = "auc"
    lightgbm: dict[str, Any] = field(default_factory=dict)
    segments: dict[str, Any] = field(default_factory=dict)
    extra_test_as_of: tuple[dt.date, ...] = ()
    seed: int = 0


@dataclass
class TrainingResult:
    """What one training produced, for logging and reporting."""

    model: PropensityModel
    metrics: dict[str, float]
    gains: dict[str, pd.DataFrame]
    test_frame: pd.DataFrame
    segment_profile: pd.DataFrame
    feature_importance: pd.DataFrame
    snapshots: pd.DataFrame
    params: dict[str, str]
    extra_metrics: dict[str, float] = field(default_factory=dict)


def snapshot_dates(
    test_as_of: dt.date, *, horizon_days: int, n_snapshots: int, step_days: int
) -> list[dt.date]:
    """Training snapshot dates, oldest first; the last one validates.

    The latest is ``test_as_of - horizon_days`` so its label window ends on
    the test as_of; the others step back by ``step_days``.
    """
    latest = test_as_of - dt.timedelta(days=horizon_days)
    return [
        latest - dt.timedelta(days=step_days * i) for i in reversed(range(n_snapshots))
    ]


def usable_snapshot_dates(
    tables: Tables,
    test_as_of: dt.date,
    *,
    horizon_days: int,
    n_snapshots: int,
    step_days: int,
) -> tuple[list[dt.date], list[dt.date]]:
    """All training snapshot dates, and those after the first transaction.

    Raises
    ------
    InputValidationError
        When fewer than two snapshots have data.
    """
    dates = snapshot_dates(
        test_as_of,
        horizon_days=horizon_days,
        n_snapshots=n_snapshots,
        step_days=step_days,
    )
    first_day, _ = tables.day_range()
    usable = [d for d in dates if to_day(d) > first_day]
    if len(usable) < 2:
        raise InputValidationError(
            f"only {len(usable)} training snapshot(s) before test as_of "
            f"{test_as_of} have data; lower training.n_snapshots or "
            f"snapshot_step_days, or pick a later as_of"
        )
    return dates, usable


def build_snapshot(
    tables: Tables, as_of: dt.date, settings: TrainingSettings, *, event_types
) -> pd.DataFrame:
    """Features, inactivity and label of every customer at one as_of."""
    features = build_features(
        tables, as_of=as_of, windows_days=settings.windows_days, event_types=event_types
    )
    marked = mark_inactive(
        features.frame,
        no_purchase_days=settings.no_purchase_days,
        no_engagement_days=settings.no_engagement_days,
        lapse_stage_edges_days=settings.lapse_stage_edges_days,
    )
    positives = build_reactivation_labels(
        tables, as_of=as_of, horizon_days=settings.horizon_days
    )
    return attach_labels(marked, positives).assign(as_of=as_of)


def train_propensity_model(
    tables: Tables, settings: TrainingSettings
) -> TrainingResult:
    """Build snapshots, fit segments, booster and calibrator, and test.

    Parameters
    ----------
    tables : Tables
    settings : TrainingSettings

    Returns
    -------
    TrainingResult
        Metrics are those of the test snapshot, restricted to inactive
        customers, with the baselines under ``baseline_``.

    Raises
    ------
    InputValidationError
        When a snapshot has no customers, a label window runs past the data,
        or the training rows hold a single class.
    """
    started = time.perf_counter()
    check_as_of(tables, settings.test_as_of)
    check_label_window(
        tables, as_of=settings.test_as_of, horizon_days=settings.horizon_days
    )
    dates, usable = usable_snapshot_dates(
        tables,
        settings.test_as_of,
        horizon_days=settings.horizon_days,
        n_snapshots=settings.n_snapshots,
        step_days=settings.snapshot_step_days,
    )
    if len(usable) < len(dates):
        logger.warning(
            "%d of %d training snapshots fall before the first transaction and are skipped",
            len(dates) - len(usable),
            len(dates),
        )

    event_types = tables.event_types()
    snapshots = [
        build_snapshot(tables, as_of, settings, event_types=event_types)
        for as_of in progress.iterate(usable, "Building training snapshots")
    ]
    test = build_snapshot(
        tables, settings.test_as_of, settings, event_types=event_types
    )

    population = [_population(s, settings.population) for s in snapshots]
    train_rows = pd.concat(population[:-1], ignore_index=True)
    valid_rows = population[-1]
    for name, rows in (("training", train_rows), ("validation", valid_rows)):
        if rows["label"].nunique() < 2:
            raise InputValidationError(
                f"the {name} rows hold only label {rows['label'].iloc[0]} "
                f"({len(rows)} rows); widen label.horizon_days or add snapshots"
            )

    inactive_valid = valid_rows[valid_rows["is_inactive"]]
    segmenter = Segmenter(
        **settings.segments,
        random_state=settings.seed,
        recently_lapsed_days=2 * settings.no_purchase_days,
    ).fit(inactive_valid, inactive_valid["label"])

    feature_columns = [c for c in train_rows.columns if c not in NOT_FEATURES]
    categories = {
        c: sorted(
            pd.concat([train_rows[c], valid_rows[c]]).dropna().astype(str).unique()
        )
        for c in feature_columns
        if not pd.api.types.is_numeric_dtype(train_rows[c].dtype)
    }
    model = PropensityModel(
        segmenter=segmenter,
        booster=None,
        calibrator=None,
        feature_columns=feature_columns,
        categories=categories,
        settings=model_settings(settings, event_types),
    )
    model.booster = fit_booster(model, train_rows, valid_rows, settings)
    model.calibrator = fit_calibrator(
        model.raw_score(valid_rows), valid_rows["label"], settings.calibration
    )

    test_inactive = test[test["is_inactive"]].reset_index(drop=True)
    scored = model.predict_frame(test_inactive)
    test_frame = test_inactive.assign(
        propensity=scored["propensity"].to_numpy(),
        segment_id=scored["segment_id"].to_numpy(),
        segment_name=scored["segment_name"].to_numpy(),
    )
    metrics, gains = evaluate_with_baselines(
        test_inactive,
        test_inactive["label"].to_numpy(),
        test_frame["propensity"].to_numpy(),
    )
    metrics["best_iteration"] = float(
        model.booster.best_iteration or model.booster.current_iteration()
    )
    metrics["n_segments"] = float(segmenter.k_)
    metrics["n_train_rows"] = float(len(train_rows))
    metrics["n_validation_rows"] = float(len(valid_rows))

    extra = {}
    for as_of in settings.extra_test_as_of:
        extra.update(_evaluate_extra(tables, model, as_of, settings, event_types))

    summary = pd.DataFrame(
        [
            {
                "as_of": s["as_of"].iloc[0],
                "role": role,
                "n_customers": len(s),
                "n_inactive": int(s["is_inactive"].sum()),
                "positive_rate_inactive": float(
                    s.loc[s["is_inactive"], "label"].mean()
                ),
            }
            for s, role in [
                *((s, "train") for s in snapshots[:-1]),
                (snapshots[-1], "validation"),
                (test, "test"),
            ]
        ]
    )
    importance = feature_importance(model)

    logger.info(
        "Trained on %d rows from %d snapshots, tested on %d inactive customers as of "
        "%s: ROC AUC %.3f (recency %.3f, RFM %.3f), top-decile lift %.2f in %.1f s",
        len(train_rows) + len(valid_rows),
        len(snapshots),
        len(test_inactive),
        settings.test_as_of,
        metrics["roc_auc"],
        metrics["baseline_recency_roc_auc"],
        metrics["baseline_rfm_roc_auc"],
        metrics["lift_top_decile"],
        time.perf_counter() - started,
    )
    return TrainingResult(
        model=model,
        metrics=metrics,
        gains=gains,
        test_frame=test_frame,
        segment_profile=segmenter.profile_,
        feature_importance=importance,
        snapshots=summary,
        params={
            "derived.snapshot_dates": ",".join(str(d) for d in usable),
            "derived.test_as_of": str(settings.test_as_of),
            "derived.event_types": ",".join(event_types),
            "derived.n_features": str(len(feature_columns)),
        },
        extra_metrics=extra,
    )


def feature_importance(model: PropensityModel) -> pd.DataFrame:
    """Gain and split counts of each model input, largest gain first."""
    return pd.DataFrame(
        {
            "feature": model.feature_columns,
            "gain": model.booster.feature_importance(importance_type="gain"),
            "splits": model.booster.feature_importance(importance_type="split"),
        }
    ).sort_values("gain", ascending=False, ignore_index=True)


def _population(snapshot: pd.DataFrame, population: str) -> pd.DataFrame:
    if population == "inactive":
        return snapshot[snapshot["is_inactive"]].reset_index(drop=True)
    return snapshot


def model_settings(settings: TrainingSettings, event_types: list[str]) -> dict:
    """The settings scoring must repeat to build the same features."""
    return {
        "windows_days": list(settings.windows_days),
        "event_types": list(event_types),
        "no_purchase_days": settings.no_purchase_days,
        "no_engagement_days": settings.no_engagement_days,
        "lapse_stage_edges_days": list(settings.lapse_stage_edges_days),
        "horizon_days": settings.horizon_days,
        "test_as_of": str(settings.test_as_of),
    }


def fit_booster(
    model: PropensityModel, train_rows, valid_rows, settings
) -> lgb.Booster:
    """Fit LightGBM on the training rows, early-stopping on the validation rows."""
    params = {**DEFAULT_LIGHTGBM, **settings.lightgbm, "seed": settings.seed}
    rounds = int(params.pop("num_boost_round"))
    train_set = lgb.Dataset(
        model.design_matrix(train_rows), label=train_rows["label"], free_raw_data=False
    )
    valid_set = lgb.Dataset(
        model.design_matrix(valid_rows), label=valid_rows["label"], reference=train_set
    )
    try:
        booster = _train(params, rounds, train_set, valid_set, settings)
    except lgb.basic.LightGBMError as exc:
        raise InputValidationError(
            f"LightGBM refused the settings in training.lightgbm: {exc}"
        ) from exc
    logger.debug("Early stopping kept %d of %d rounds", booster.best_iteration, rounds)
    return booster


def _train(params, rounds, train_set, valid_set, settings) -> lgb.Booster:
    return lgb.train(
        {**params, "metric": settings.early_stopping_metric},
        train_set,
        num_boost_round=rounds,
        valid_sets=[valid_set],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(settings.early_stopping_rounds, verbose=False)],
    )


def fit_calibrator(raw: np.ndarray, y: pd.Series, method: str):
    """Fit Platt scaling (sigmoid) or isotonic regression on raw scores."""
    # Limitation: the calibrator fits on the snapshot that also chose the number
    # of rounds, so calibration on the test snapshot may be slightly optimistic.
    if method == "sigmoid":
        return LogisticRegression(C=1e6).fit(np.asarray(raw).reshape(-1, 1), y)
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)


def _evaluate_extra(tables, model, as_of, settings, event_types) -> dict[str, float]:
    snapshot = build_snapshot(tables, as_of, settings, event_types=event_types)
    inactive = snapshot[snapshot["is_inactive"]].reset_index(drop=True)
    propensity = model.predict_frame(inactive)["propensity"].to_numpy()
    metrics, _ = evaluate_with_baselines(
        inactive, inactive["label"].to_numpy(), propensity
    )
    tag = as_of.strftime("%Y%m%d")
    return {f"at_{tag}_{key}": value for key, value in metrics.items()}
