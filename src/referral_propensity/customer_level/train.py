"""Train on a customer-level table and evaluate by stratified k-fold cross-validation.

A customer-level table has no dates to split on, so the held-out data are
folds: each of ``cv_folds`` stratified folds is scored by a model fitted on
the other folds, and the metrics are the fold means with their spread. The
model that is kept is refitted the same way on every row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from referral_propensity.customer_level.features import CustomerFeatureTable
from referral_propensity.errors import InputValidationError
from referral_propensity.evaluate import evaluate_with_baselines, gains_table
from referral_propensity.model import PropensityModel
from referral_propensity.segments import DEFAULT_FEATURES, Segmenter
from referral_propensity.train import TrainingResult, fit_calibrator

logger = logging.getLogger(__name__)

#: LightGBM settings for customer-level tables unless the config overrides them.
#: ``min_child_samples`` is set per fit from the rows (see customer_lightgbm_params).
DEFAULT_CUSTOMER_LIGHTGBM = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 7,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "min_data_per_group": 20,
    "cat_smooth": 10.0,
    # log loss moves more smoothly than ROC AUC on a small validation split
    "metric": "binary_logloss",
    "num_boost_round": 3000,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}

#: per-fold metrics that are counts, summed or reported once rather than averaged
_NOT_AVERAGED = {"n_customers"}


def customer_lightgbm_params(
    n_fit_rows: int, overrides: Mapping[str, Any] | None = None, *, seed: int = 0
) -> dict[str, Any]:
    """LightGBM settings for one fit on a customer-level table.

    Parameters
    ----------
    n_fit_rows : int
        Rows the booster is fitted on.
    overrides : mapping, optional
        ``training.lightgbm`` from the config; wins over the defaults.
    seed : int, default=0

    Returns
    -------
    dict
        :data:`DEFAULT_CUSTOMER_LIGHTGBM`, with ``min_child_samples`` of one
        in a hundred fitting rows (at least 10, at most 200), then the
        overrides and the seed.

    Notes
    -----
    The transaction defaults (200 rows per leaf) suit hundreds of thousands of
    snapshot rows; on a table of 2,000 customers they would allow only a few
    leaves in all.
    """
    min_child = int(np.clip(n_fit_rows // 100, 10, 200))
    return {
        **DEFAULT_CUSTOMER_LIGHTGBM,
        "min_child_samples": min_child,
        **dict(overrides or {}),
        "seed": seed,
    }


def train_customer_level(
    features: CustomerFeatureTable | pd.DataFrame,
    *,
    cv_folds: int = 5,
    calibration: str = "sigmoid",
    early_stopping_rounds: int = 50,
    lightgbm: Mapping[str, Any] | None = None,
    segments: Mapping[str, Any] | None = None,
    validation_share: float = 0.2,
    seed: int = 0,
    final_fit_rows: np.ndarray | None = None,
) -> TrainingResult:
    """Segment the customers, fit the model and evaluate it by stratified k-fold.

    Parameters
    ----------
    features : CustomerFeatureTable or pandas.DataFrame
        From :func:`~referral_propensity.customer_level.build_customer_features`,
        or a frame with customer_id, the features and ``label`` (0/1).
    cv_folds : int, default=5
        Stratified folds (shuffled, seeded).
    calibration : {"sigmoid", "isotonic"}, default="sigmoid"
    early_stopping_rounds : int, default=50
        Rounds without a better validation log loss before boosting stops.
    lightgbm : mapping, optional
        Overrides of :data:`DEFAULT_CUSTOMER_LIGHTGBM`.
    segments : mapping, optional
        Keyword arguments of :class:`~referral_propensity.segments.Segmenter`
        (method, k_min, k_max, criterion, features, attributes, order_by,
        max_fit_rows). When ``attributes`` is not given, every feature column
        outside ``features`` (and outside the default behaviour features) is
        an attribute.
    validation_share : float, default=0.2
        Share of each fit's rows (stratified) held out for early stopping
        and calibration.
    seed : int, default=0
        Seeds the folds, the inner splits, LightGBM and the clustering.
    final_fit_rows : array of bool, optional
        Rows the final model and the segments are fitted on (all when None),
        so that the others can judge it; cross-validation uses every row.

    Returns
    -------
    TrainingResult
        ``metrics``: the fold means of the ranking metrics (``roc_auc``,
        ``pr_auc``, ``brier``, ``lift_top_decile``, ``gain_top_decile``,
        ``positive_rate`` and ``baseline_<name>_*`` where computable), each
        with ``<name>_std`` (sample standard deviation over folds), and
        ``n_folds``, ``n_customers``, ``n_features``, ``n_segments``,
        ``best_iteration`` (of the final model) and
        ``best_iteration_mean`` (over folds). ``gains`` and ``test_frame``
        hold the out-of-fold predictions of every customer (each scored by
        the fold model that did not see it); ``snapshots`` holds one row per
        fold. The model is refitted on all rows; segments are fitted on all
        rows.

    Raises
    ------
    InputValidationError
        When there is no label, the label holds one class, or a class has
        fewer than ``2 * cv_folds`` rows.
    """
    started = time.perf_counter()
    table = _as_table(features)
    frame = table.frame
    y = _check_classes(frame, cv_folds)
    feature_columns = table.feature_columns
    categories = {
        c: sorted(frame[c].dropna().astype(str).unique())
        for c in feature_columns
        if not pd.api.types.is_numeric_dtype(frame[c])
    }
    settings = {
        "calibration": calibration,
        "early_stopping_rounds": early_stopping_rounds,
        "lightgbm": dict(lightgbm or {}),
        "validation_share": validation_share,
        "seed": seed,
    }

    folds = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    fold_metrics, fold_rows = [], []
    oof = np.full(len(frame), np.nan)
    for fold, (fit_rows, test_rows) in enumerate(folds.split(frame, y), start=1):
        fitted = _fit_model(
            frame.iloc[fit_rows], y[fit_rows], feature_columns, categories, settings
        )
        test = frame.iloc[test_rows]
        propensity = fitted.calibrate(fitted.raw_score(test))
        oof[test_rows] = propensity
        metrics, _ = evaluate_with_baselines(test, y[test_rows], propensity)
        metrics["best_iteration"] = float(_best_iteration(fitted.booster))
        fold_metrics.append(metrics)
        fold_rows.append(_fold_row(fold, fit_rows, test_rows, y, metrics, settings))
        logger.debug("Fold %d: ROC AUC %.3f", fold, metrics["roc_auc"])

    final = (
        np.ones(len(frame), dtype=bool) if final_fit_rows is None else final_fit_rows
    )
    final_frame = frame[final].reset_index(drop=True)
    model = _fit_model(final_frame, y[final], feature_columns, categories, settings)
    segmenter = fit_customer_segmenter(
        final_frame, y[final], feature_columns, segments, seed
    )
    model.segmenter = segmenter
    model.settings = _model_settings(table, cv_folds, segmenter)

    metrics = summarize_folds(fold_metrics)
    metrics["best_iteration_mean"] = metrics.pop("best_iteration")
    metrics.pop("best_iteration_std", None)
    metrics.update(
        {
            "n_folds": float(cv_folds),
            "n_customers": float(len(frame)),
            "n_features": float(len(feature_columns)),
            "n_segments": float(segmenter.k_),
            "best_iteration": float(_best_iteration(model.booster)),
        }
    )
    test_frame = _out_of_fold_frame(frame, oof, segmenter)
    logger.info(
        "Cross-validated %d customers in %d folds: ROC AUC %.3f ± %.3f, top-decile "
        "lift %.2f; final model refitted on %d rows in %.1f s",
        len(frame),
        cv_folds,
        metrics["roc_auc"],
        metrics["roc_auc_std"],
        metrics["lift_top_decile"],
        int(final.sum()),
        time.perf_counter() - started,
    )
    return TrainingResult(
        model=model,
        metrics=metrics,
        gains=_pooled_gains(frame, y, oof),
        test_frame=test_frame,
        segment_profile=segmenter.profile_,
        feature_importance=_importance(model),
        snapshots=pd.DataFrame(fold_rows),
        params=_derived_params(table, cv_folds, segmenter),
    )


def summarize_folds(fold_metrics: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over folds, with ``<name>_std`` beside it.

    Parameters
    ----------
    fold_metrics : list of dict of str to float
        One dict per fold, with the same keys.

    Returns
    -------
    dict of str to float
        ``<name>``: the mean over folds, ``<name>_std``: the sample standard
        deviation (``ddof=1``; 0 for a single fold). ``n_customers`` is summed
        instead (the folds partition the customers) and has no spread.
    """
    keys = list(dict.fromkeys(k for metrics in fold_metrics for k in metrics))
    summary: dict[str, float] = {}
    for key in keys:
        values = np.array([m[key] for m in fold_metrics if key in m], dtype="float64")
        if key in _NOT_AVERAGED:
            summary[key] = float(values.sum())
            continue
        summary[key] = float(np.mean(values))
        summary[f"{key}_std"] = (
            float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        )
    return summary


def _as_table(features) -> CustomerFeatureTable:
    if isinstance(features, CustomerFeatureTable):
        return features
    if not isinstance(features, pd.DataFrame) or "customer_id" not in features:
        raise InputValidationError(
            "train_customer_level needs a CustomerFeatureTable or a frame with "
            "customer_id, the features and label"
        )
    categorical = [
        c
        for c in features.columns
        if c not in ("customer_id", "label")
        and not pd.api.types.is_numeric_dtype(features[c])
    ]
    return CustomerFeatureTable(
        frame=features.reset_index(drop=True), as_of=None, categorical=categorical
    )


def _check_classes(frame: pd.DataFrame, cv_folds: int) -> np.ndarray:
    if "label" not in frame:
        raise InputValidationError(
            "the customer-level features have no label column; build them with "
            "label_column set (label.column in the config)"
        )
    y = frame["label"].to_numpy(dtype="int64")
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2 * cv_folds:
        raise InputValidationError(
            f"the label has {counts[1]} positive and {counts[0]} negative row(s); "
            f"{cv_folds}-fold cross-validation with an inner validation split needs "
            f"at least {2 * cv_folds} of each: lower training.cv_folds or add "
            f"customers"
        )
    return y


def _fit_model(rows, y, feature_columns, categories, settings) -> PropensityModel:
    """Booster (early-stopped on an inner stratified split) and calibrator."""
    model = PropensityModel(
        segmenter=None,
        booster=None,
        calibrator=None,
        feature_columns=list(feature_columns),
        categories=categories,
    )
    fit_idx, valid_idx = train_test_split(
        np.arange(len(rows)),
        test_size=settings["validation_share"],
        stratify=y,
        random_state=settings["seed"],
    )
    params = customer_lightgbm_params(
        len(fit_idx), settings["lightgbm"], seed=settings["seed"]
    )
    rounds = int(params.pop("num_boost_round"))
    fit_set = lgb.Dataset(
        model.design_matrix(rows.iloc[fit_idx]), label=y[fit_idx], free_raw_data=False
    )
    valid_set = lgb.Dataset(
        model.design_matrix(rows.iloc[valid_idx]), label=y[valid_idx], reference=fit_set
    )
    try:
        model.booster = lgb.train(
            params,
            fit_set,
            num_boost_round=rounds,
            valid_sets=[valid_set],
            valid_names=["validation"],
            callbacks=[
                lgb.early_stopping(settings["early_stopping_rounds"], verbose=False)
            ],
        )
    except lgb.basic.LightGBMError as exc:
        raise InputValidationError(
            f"LightGBM refused the settings in training.lightgbm: {exc}"
        ) from exc
    raw = model.raw_score(rows.iloc[valid_idx])
    model.calibrator = fit_calibrator(raw, y[valid_idx], settings["calibration"])
    return model


def _best_iteration(booster: lgb.Booster) -> int:
    return booster.best_iteration or booster.current_iteration()


def fit_customer_segmenter(frame, y, feature_columns, segments, seed) -> Segmenter:
    """Segments of a customer-level table.

    Every column outside the behaviour features is an attribute unless
    ``segments`` names the attributes.
    """
    options = dict(segments or {})
    if options.get("attributes") is None:
        behaviour = set(options.get("features") or DEFAULT_FEATURES)
        options["attributes"] = [c for c in feature_columns if c not in behaviour]
    return Segmenter(**options, random_state=seed, population="customers").fit(
        frame, None if y is None else pd.Series(y)
    )


def _fold_row(fold, fit_rows, test_rows, y, metrics, settings) -> dict:
    # train_test_split rounds the held-out share up
    n_valid = int(np.ceil(len(fit_rows) * settings["validation_share"]))
    return {
        "fold": fold,
        "n_fit_rows": len(fit_rows) - n_valid,
        "n_validation_rows": n_valid,
        "n_test_rows": len(test_rows),
        "positive_rate_test": float(y[test_rows].mean()),
        "roc_auc": metrics["roc_auc"],
        "best_iteration": int(metrics["best_iteration"]),
    }


def _out_of_fold_frame(frame, oof, segmenter) -> pd.DataFrame:
    segment_ids = segmenter.predict(frame)
    return frame.assign(
        propensity=oof,
        segment_id=segment_ids.astype("int64"),
        segment_name=segmenter.name(segment_ids),
    )


def _pooled_gains(frame, y, oof) -> dict[str, pd.DataFrame]:
    _, gains = evaluate_with_baselines(frame, y, oof)
    gains["model"] = gains_table(y, oof)
    return gains


def _importance(model: PropensityModel) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "feature": model.feature_columns,
            "gain": model.booster.feature_importance(importance_type="gain"),
            "splits": model.booster.feature_importance(importance_type="split"),
        }
    ).sort_values("gain", ascending=False, ignore_index=True)


def _model_settings(table: CustomerFeatureTable, cv_folds, segmenter) -> dict:
    return {
        "input": "customer_level",
        "label_column": table.label_column,
        "as_of": str(table.as_of) if table.as_of else None,
        "cv_folds": cv_folds,
        "segment_attributes": list(segmenter.attributes or []),
    }


def _derived_params(table: CustomerFeatureTable, cv_folds, segmenter) -> dict:
    return {
        "derived.input": "customer_level",
        "derived.as_of": str(table.as_of) if table.as_of else "",
        "derived.cv_folds": str(cv_folds),
        "derived.n_features": str(len(table.feature_columns)),
        "derived.dropped_columns": ",".join(
            f"{column}:{why}" for column, why in table.dropped.items()
        ),
        "derived.segment_columns": ",".join(
            [*segmenter.columns_, *getattr(segmenter, "categories_", {})]
        ),
    }
