"""The main job, stage by stage: load, features, train, register, score.

Functions here turn the checked config into plain arguments for each stage
and hand results from one stage to the next; they hold no state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from referral_propensity import tracking
from referral_propensity.config import Config
from referral_propensity.customer_level.job import (
    train_customer_table,
)
from referral_propensity.errors import InputValidationError
from referral_propensity.inputs import (  # noqa: F401 (the stages' entry points)
    check_catalog,
    fit_segments,
    load_job_tables,
    marked_features,
    scoring_as_of,
    synthetic_shop,
    table_sources,
    test_as_of,
    training_settings,
)
from referral_propensity.io.tables import Tables
from referral_propensity.io.write import check_writable, write_scores
from referral_propensity.plots import (
    plot_calibration,
    plot_feature_importance,
    plot_gains,
    plot_segment_profile,
)
from referral_propensity.run_records import job_params, job_tags
from referral_propensity.score import OFFER_COLUMN, score_customers
from referral_propensity.selection import offers_from_config, selection_summary
from referral_propensity.summaries import (
    budget_curve,
    calibration_table,
    score_distribution,
    segment_metric_values,
    segment_metrics,
)
from referral_propensity.train import (
    TrainingResult,
    train_propensity_model,
)
from referral_propensity.train_offers import (
    train_offer_model,
)

logger = logging.getLogger(__name__)


@dataclass
class TrainingOutcome:
    """A finished training: its result and where it was logged."""

    result: TrainingResult
    logged: tracking.LoggedModel


def run_training(
    config: Config, tables: Tables, *, as_of: dt.date | None = None
) -> TrainingOutcome:
    """Train, evaluate, log to MLflow, register and decide on the champion."""
    started = time.perf_counter()
    test_day = test_as_of(config, tables, as_of)
    settings = training_settings(config, test_day)
    if tables.customer_level:
        result, holdout = train_customer_table(config, tables, settings.segments)
        test_features = holdout.drop(columns=["label"])
        test_labels = holdout["label"].to_numpy()
    else:
        if config.label.kind == "offer_response":
            result = train_offer_model(tables, settings)
        else:
            result = train_propensity_model(tables, settings)
        test_features = result.test_frame.drop(
            columns=["label", "propensity", "segment_id", "segment_name"]
        )
        test_labels = result.test_frame["label"].to_numpy()

    params = {**job_params(config, tables), **result.params}
    metrics = {**result.metrics, **result.extra_metrics}
    for name, table in tables.present().items():
        metrics[f"{name}_n_duplicate_rows_dropped"] = float(
            table.n_duplicate_rows_dropped
        )
    # the main table's count: transactions, or a customer-level table
    main = tables.customers if tables.customer_level else tables.transactions
    metrics["n_duplicate_rows_dropped"] = float(main.n_duplicate_rows_dropped)

    test = result.test_frame
    figures = {
        "gains": plot_gains(result.gains),
        "calibration": plot_calibration(
            test["label"].to_numpy(), test["propensity"].to_numpy()
        ),
        "feature_importance": plot_feature_importance(result.feature_importance),
        "segment_profile": plot_segment_profile(result.segment_profile),
    }
    gains = pd.concat(
        [t.assign(score=name) for name, t in result.gains.items()], ignore_index=True
    )
    by_segment = segment_metrics(test)
    metrics.update(segment_metric_values(by_segment))
    _log_segments_run(config, tables, result, by_segment, test_day)
    logged = tracking.log_training_run(
        experiment_name=config.resolved_experiment_name,
        run_name=f"train {config.resolved_experiment_name} as_of={test_day or 'no-dates'} "
        f"data={tables.short_hash()}",
        model_name=config.model_name,
        model=result.model,
        params=params,
        metrics=metrics,
        tags=job_tags(config, tables, "train"),
        figures=figures,
        tables={
            "gains": gains,
            "segment_profile": result.segment_profile,
            "feature_importance": result.feature_importance,
            "snapshots": result.snapshots,
            "segment_metrics": by_segment,
            "calibration": calibration_table(
                test["label"].to_numpy(), test["propensity"].to_numpy()
            ),
            "score_distribution": score_distribution(test["propensity"].to_numpy()),
        },
        texts={"config.yaml": _config_yaml(config)},
        test_features=test_features,
        test_labels=test_labels,
        promotion_margin=config.training.promotion_margin,
    )
    logger.info(
        "Training run %s finished in %.1f s: model version %s%s",
        logged.run_id,
        time.perf_counter() - started,
        logged.version,
        " (champion)" if logged.promoted else " (challenger)",
    )
    return TrainingOutcome(result=result, logged=logged)


def _log_segments_run(config, tables, result, by_segment, test_day) -> str:
    """The segmentation step as its own run, with the segment table."""
    segmenter = result.model.segmenter
    metrics = {"n_segments": float(segmenter.k_)}
    metrics.update(
        {f"criterion_k{k}": float(v) for k, v in (segmenter.scores_ or {}).items()}
    )
    return tracking.log_step_run(
        experiment_name=config.resolved_experiment_name,
        run_name=f"segments {config.resolved_experiment_name} as_of={test_day or 'no-dates'} "
        f"data={tables.short_hash()}",
        params={
            **job_params(config, tables),
            "segments.columns_used": ",".join(segmenter.columns_),
        },
        metrics=metrics,
        tags=job_tags(config, tables, "segments"),
        figures={"segment_profile": plot_segment_profile(result.segment_profile)},
        tables={
            "segment_profile": result.segment_profile,
            "segment_metrics": by_segment,
        },
    )


def _config_yaml(config: Config) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def check_model_inputs(loaded: tracking.LoadedModel, frame: pd.DataFrame) -> None:
    """Refuse scoring data that lack features the model was trained with."""
    # offer_type is not a table column: scoring sets it for each catalog offer
    missing = [
        c for c in loaded.model.feature_columns if c not in frame and c != OFFER_COLUMN
    ]
    if missing:
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise InputValidationError(
            f"the model {loaded.uri} uses {len(missing)} feature(s) that these tables "
            f"do not give ({shown}); give the tables it was trained with "
            f"(--customers, --engagement) or score with a model trained without them"
        )


@dataclass
class ScoringOutcome:
    """A finished scoring: the scores, the files and the run."""

    scores: pd.DataFrame
    paths: list[Path]
    run_id: str
    model_version: str | None
    features: pd.DataFrame


def run_scoring(
    config: Config,
    tables: Tables,
    *,
    as_of: dt.date | None = None,
    model_uri: str | None = None,
    output_dir: Path | None = None,
) -> ScoringOutcome:
    """Score inactive customers with the champion (or a given model) and write the files."""
    started = time.perf_counter()
    uri = model_uri or f"models:/{config.model_name}@{tracking.CHAMPION}"
    loaded = tracking.load_model(uri)
    day = scoring_as_of(config, tables, as_of)
    folder = Path(output_dir or config.output_dir)
    check_writable(folder)
    features = marked_features(
        config, tables, day, model_settings=loaded.model.settings
    )
    check_model_inputs(loaded, features.frame)

    budget = config.scoring.budget
    scores = score_customers(
        loaded.model,
        features.frame,
        catalog=offers_from_config(config.scoring.catalog),
        total_cost=budget.total_cost,
        max_contacts=budget.max_contacts,
        cooldown_days=config.scoring.cooldown_days,
        reasons=config.scoring.reasons,
    )
    propensity = scores["propensity"]
    # Limitation: no drift measure against the training data is logged yet.
    metrics = {
        "rows_in": float(len(features.frame)),
        "rows_scored": float(len(scores)),
        "n_rows_after_cutoff": float(features.n_rows_after_cutoff),
        "propensity_mean": float(propensity.mean()) if len(scores) else float("nan"),
        **selection_summary(scores),
        **{
            f"propensity_p{int(q * 100):02d}": float(propensity.quantile(q))
            for q in (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
            if len(scores)
        },
    }
    segment_counts = (
        scores.groupby(["segment_id", "segment_name"])
        .size()
        .rename("n_customers")
        .reset_index()
    )
    for segment_id, part in scores.groupby("segment_id"):
        metrics[f"segment_{segment_id}_n_customers"] = float(len(part))
        metrics[f"segment_{segment_id}_mean_propensity"] = float(
            part["propensity"].mean()
        )
        metrics[f"segment_{segment_id}_n_selected"] = float(part["selected"].sum())
    offers_chosen = (
        scores.groupby(["offer", "reason"], dropna=False)
        .agg(
            n_customers=("customer_id", "size"),
            cost=("cost", "sum"),
            expected_value=("expected_value", "sum"),
        )
        .reset_index()
    )
    run_id = tracking.log_step_run(
        experiment_name=config.resolved_experiment_name,
        run_name=f"score {config.resolved_experiment_name} as_of={day or 'no-dates'} model=v{loaded.version or '?'}",
        params={
            **job_params(config, tables),
            "scoring.as_of_used": str(day),
            "scoring.model_uri": uri,
            "scoring.model_version": str(loaded.version),
            "scoring.model_run_id": str(loaded.run_id),
            "scoring.output_dir": str(folder),
        },
        metrics=metrics,
        # the run comes first, so new scores files always have a run behind them
        tags={**job_tags(config, tables, "score"), "scores_written": "false"},
        tables={
            "segment_counts": segment_counts,
            "offers_chosen": offers_chosen,
            "budget_curve": budget_curve(scores),
            "score_distribution": score_distribution(scores["propensity"].to_numpy()),
        },
        texts={"config.yaml": _config_yaml(config)},
    )
    paths = write_scores(scores, folder)
    tracking.set_run_tag(run_id, "scores_written", "true")
    logger.info(
        "Scored %d of %d customers as of %s with %s (version %s) in %.1f s; wrote %s; run %s",
        len(scores),
        len(features.frame),
        day or "(the table has no dates)",
        uri,
        loaded.version,
        time.perf_counter() - started,
        ", ".join(str(p) for p in paths),
        run_id,
    )
    return ScoringOutcome(
        scores=scores,
        paths=paths,
        run_id=run_id,
        model_version=loaded.version,
        features=features.frame,
    )


@contextlib.contextmanager
def job_run(config: Config, tables: Tables, *, command: str, as_of: dt.date | None):
    """The parent run of one job: its steps' runs (segments, train, score) are children."""
    name = config.resolved_experiment_name
    if as_of is None:
        as_of = (test_as_of if command == "train" else scoring_as_of)(config, tables)
    day = as_of or "no-dates"
    with tracking.parent_run(
        experiment_name=name,
        run_name=f"{command} {name} as_of={day} data={tables.short_hash()}",
        tags={**job_tags(config, tables, "job"), "command": command},
        params=job_params(config, tables),
    ) as run_id:
        yield run_id


def check_truth_available(config: Config) -> None:
    """Refuse --with-truth unless the data are the synthetic shop's offers."""
    if config.data.source != "synthetic" or config.label.kind != "offer_response":
        raise InputValidationError(
            "--with-truth needs data.source 'synthetic' and label.kind "
            f"'offer_response' (this config has {config.data.source!r} and "
            f"{config.label.kind!r}): only the generated shop has a known truth"
        )


def measure_truth(
    config: Config,
    tables: Tables,
    training: TrainingOutcome,
    scoring: ScoringOutcome,
) -> dict[str, float]:
    """Compare a run on the synthetic shop with the shop's hidden truth.

    Logs the figures (see :func:`referral_propensity.truth.measure_against_truth`)
    to the training run and the scoring run.

    Raises
    ------
    InputValidationError
        When the data are not the synthetic shop or the label is not
        offer_response (only then is there a truth to compare with).
    """
    from referral_propensity.score import predicted_spend
    from referral_propensity.selection import offers_from_config
    from referral_propensity.truth import measure_against_truth

    check_truth_available(config)
    features = scoring.features
    value = pd.Series(
        predicted_spend(features), index=features["customer_id"].astype(str)
    )
    budget = config.scoring.budget
    figures = measure_against_truth(
        synthetic_shop(config),
        test_frame=training.result.test_frame,
        scores=scoring.scores,
        catalog=offers_from_config(config.scoring.catalog),
        predicted_value=value,
        total_cost=budget.total_cost,
        max_contacts=budget.max_contacts,
        seed=config.seed,
    )
    tracking.log_run_metrics(training.logged.run_id, figures)
    tracking.log_run_metrics(scoring.run_id, figures)
    return figures
