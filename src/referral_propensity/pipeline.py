"""The main job, stage by stage: load, features, train, register, score.

Functions here turn the checked config into plain arguments for each stage
and hand results from one stage to the next; they hold no state.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from referral_propensity import __version__, tracking
from referral_propensity.config import TABLE_NAMES, Config, TableConfig, flatten_config
from referral_propensity.customer_level.job import (
    customer_table_features,
    train_customer_table,
)
from referral_propensity.customer_level.train import fit_customer_segmenter
from referral_propensity.datasets import cdnow_source
from referral_propensity.datasets.bundled import bundled_path
from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.features import FeatureTable, build_features
from referral_propensity.features.rfm import BOUNDARY_RULE, ORDER_RULES
from referral_propensity.inactivity import mark_inactive
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import Tables, from_day, load_tables, to_day
from referral_propensity.io.write import check_writable, write_scores
from referral_propensity.plots import (
    plot_calibration,
    plot_feature_importance,
    plot_gains,
    plot_segment_profile,
)
from referral_propensity.score import score_customers
from referral_propensity.segments import Segmenter
from referral_propensity.selection import offers_from_config, selection_summary
from referral_propensity.train import (
    TrainingResult,
    TrainingSettings,
    train_propensity_model,
)
from referral_propensity.train_offers import (
    latest_complete_offer_day,
    train_offer_model,
)

logger = logging.getLogger(__name__)


def table_sources(config: Config) -> dict[str, TableSource]:
    """Where each input table comes from, per the config."""
    data = config.data
    if data.source == "cdnow":
        return {"transactions": cdnow_source()}
    if data.source == "synthetic":
        shop = synthetic_shop(config)
        return {
            name: TableSource(name=name, frame=getattr(shop, name))
            for name in TABLE_NAMES
        }
    sources = {}
    for name in TABLE_NAMES:
        table: TableConfig | None = getattr(data, name)
        if table is not None and table.path is not None:
            path = (
                bundled_path(str(table.path))
                if data.source == "bundled"
                else Path(table.path)
            )
            sources[name] = TableSource(
                name=name,
                path=path,
                where=dict(table.where),
                columns=dict(table.columns),
                sep=table.sep,
                decimal=table.decimal,
                thousands=table.thousands,
                date_format=table.date_format,
                encoding=table.encoding,
            )
    return sources


def synthetic_shop(config: Config):
    """The generated shop of a synthetic config (made once per process)."""
    settings = config.data.synthetic
    return _generate_shop(
        settings.n_customers, settings.start, settings.end, settings.seed
    )


@functools.lru_cache(maxsize=2)
def _generate_shop(n_customers: int, start: dt.date, end: dt.date, seed: int):
    from referral_propensity.datasets.synthetic import generate_shop

    return generate_shop(n_customers=n_customers, start=start, end=end, seed=seed)


def load_job_tables(config: Config, *, today: dt.date | None = None) -> Tables:
    """Load and check every input table of the job."""
    started = time.perf_counter()
    tables = load_tables(connect(), table_sources(config), today=today)
    if tables.offers is not None:
        check_catalog(config, tables)
        if config.label.kind == "reactivation":
            logger.info(
                "The offers table (%d rows) gives offer history features; the label "
                "is reactivation (set label.kind to offer_response to learn from "
                "responses)",
                tables.offers.n_rows,
            )
    if tables.customer_level:
        logger.info(
            "Loaded a customer-level table of %d customers in %.1f s",
            tables.customers.n_rows,
            time.perf_counter() - started,
        )
        return tables
    first, last = tables.day_range()
    logger.info(
        "Loaded %d table(s) (%s) with transactions from %s to %s in %.1f s",
        len(tables.present()),
        ", ".join(tables.present()),
        from_day(first),
        from_day(last),
        time.perf_counter() - started,
    )
    return tables


def check_catalog(config: Config, tables: Tables) -> None:
    """Every offer type of the offers table must be in the catalog.

    Raises
    ------
    InputValidationError
        Naming the offer types missing from ``scoring.catalog``.
    """
    rows = tables.con.execute(
        f"SELECT offer_type, count(*) FROM {tables.offers.relation.alias} "
        "GROUP BY offer_type ORDER BY offer_type"
    ).fetchall()
    known = {offer.offer_type for offer in config.scoring.catalog}
    missing = [(name, n) for name, n in rows if name not in known]
    if missing:
        shown = ", ".join(f"{name!r} ({n} rows)" for name, n in missing)
        raise InputValidationError(
            f"offers table: offer type(s) {shown} are not in scoring.catalog "
            f"(which lists {', '.join(sorted(known))}); add them to the catalog with "
            "their cost and value (an entry with segments: [] keeps a retired offer "
            "out of new campaigns)"
        )


def scoring_as_of(
    config: Config, tables: Tables, as_of: dt.date | None = None
) -> dt.date:
    """The scoring date: given, configured, or the day after the last transaction.

    The default ignores rows dated after today, so one mistyped future date
    cannot move it.
    """
    if as_of is not None:
        return as_of
    if config.scoring.as_of is not None:
        return config.scoring.as_of
    if tables.customer_level:
        return customer_table_features(config, tables).as_of
    today = to_day(dt.datetime.now(dt.UTC).date())
    alias = tables.transactions.relation.alias
    last = tables.con.execute(
        f"SELECT max(event_day) FILTER (WHERE event_day <= {today}) FROM {alias}"
    ).fetchall()[0][0]
    return from_day((last if last is not None else tables.day_range()[1]) + 1)


def test_as_of(config: Config, tables: Tables, as_of: dt.date | None = None) -> dt.date:
    """The test snapshot: given, configured, or the scoring date minus the horizon.

    For offer-response labels the default is the latest day offers were sent
    whose responses are all known (the latest complete campaign).
    """
    if as_of is not None:
        return as_of
    if config.training.test_as_of is not None:
        return config.training.test_as_of
    if tables.customer_level:
        return scoring_as_of(config, tables)
    if config.label.kind == "offer_response":
        return latest_complete_offer_day(tables, horizon_days=config.label.horizon_days)
    return scoring_as_of(config, tables) - dt.timedelta(days=config.label.horizon_days)


def training_settings(config: Config, as_of: dt.date) -> TrainingSettings:
    """Plain training arguments from the config."""
    segments = config.segments
    return TrainingSettings(
        test_as_of=as_of,
        horizon_days=config.label.horizon_days,
        n_snapshots=config.training.n_snapshots,
        snapshot_step_days=config.training.snapshot_step_days,
        windows_days=tuple(config.features.windows_days),
        no_purchase_days=config.inactivity.no_purchase_days,
        no_engagement_days=config.inactivity.no_engagement_days,
        lapse_stage_edges_days=tuple(config.inactivity.lapse_stage_edges_days),
        population=config.training.population,
        calibration=config.training.calibration,
        early_stopping_rounds=config.training.early_stopping_rounds,
        early_stopping_metric=config.training.early_stopping_metric,
        lightgbm=dict(config.training.lightgbm),
        segments={
            "method": segments.method,
            "k_min": segments.k_min,
            "k_max": segments.k_max,
            "criterion": segments.criterion,
            "features": segments.features,
            "order_by": segments.order_by,
            "max_fit_rows": segments.max_fit_rows,
            "attributes": segments.attributes,
        },
        extra_test_as_of=tuple(config.training.extra_test_as_of),
        seed=config.seed,
    )


def marked_features(
    config: Config,
    tables: Tables,
    as_of: dt.date,
    *,
    model_settings: dict | None = None,
) -> FeatureTable:
    """Features at as_of with ``is_inactive`` and ``lapse_stage`` added.

    With ``model_settings`` (a trained model's), the windows, event types and
    inactivity rule are the model's, so scoring sees what training saw.
    """
    if tables.customer_level:
        return customer_table_features(config, tables, as_of)
    settings = model_settings or {}
    windows = settings.get("windows_days", config.features.windows_days)
    features = build_features(
        tables,
        as_of=as_of,
        windows_days=windows,
        event_types=settings.get("event_types"),
    )
    features.frame = mark_inactive(
        features.frame,
        no_purchase_days=settings.get(
            "no_purchase_days", config.inactivity.no_purchase_days
        ),
        no_engagement_days=settings.get(
            "no_engagement_days", config.inactivity.no_engagement_days
        ),
        lapse_stage_edges_days=settings.get(
            "lapse_stage_edges_days", config.inactivity.lapse_stage_edges_days
        ),
    )
    return features


def fit_segments(config: Config, tables: Tables, inactive: pd.DataFrame):
    """Segments of the inactive customers, with the settings training uses."""
    settings = training_settings(config, dt.date(1970, 1, 1)).segments
    if tables.customer_level:
        columns = [
            c for c in inactive.columns if c not in ("customer_id", "is_inactive")
        ]
        return fit_customer_segmenter(inactive, None, columns, settings, config.seed)
    return Segmenter(
        **settings,
        random_state=config.seed,
        recently_lapsed_days=2 * config.inactivity.no_purchase_days,
    ).fit(inactive)


def code_version() -> str:
    """The git commit of the working folder, or the package version."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return commit or __version__
    except (OSError, subprocess.SubprocessError):
        return __version__


def _tags(config: Config, tables: Tables, stage: str) -> dict[str, str]:
    return {
        "stage": stage,
        "dataset": config.data.source,
        "label_kind": config.label.kind,
        "engine": "duckdb",
        "code_version": code_version(),
        "package_version": __version__,
    }


def _params(config: Config, tables: Tables) -> dict[str, str]:
    params = flatten_config(config)
    if not tables.customer_level:
        order = tables.transactions.order_definition or "order_id"
        params["derived.order_definition"] = order
        params["derived.frequency_rule"] = ORDER_RULES[order]
        params["derived.boundary_rule"] = BOUNDARY_RULE
    for name, table in tables.present().items():
        for column, fmt in table.date_formats.items():
            params[f"derived.date_format.{name}.{column}"] = fmt
    params.update(
        {f"data_fingerprint.{k}": str(v) for k, v in tables.fingerprints().items()}
    )
    return params


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

    params = {**_params(config, tables), **result.params}
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
    logged = tracking.log_training_run(
        experiment_name=config.resolved_experiment_name,
        run_name=f"train {config.resolved_experiment_name} as_of={test_day} data={tables.short_hash()}",
        model_name=config.model_name,
        model=result.model,
        params=params,
        metrics=metrics,
        tags=_tags(config, tables, "train"),
        figures=figures,
        tables={
            "gains": gains,
            "segment_profile": result.segment_profile,
            "feature_importance": result.feature_importance,
            "snapshots": result.snapshots,
        },
        texts={
            "config.yaml": yaml.safe_dump(
                config.model_dump(mode="json"), sort_keys=False
            )
        },
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


def _check_model_inputs(loaded: tracking.LoadedModel, frame: pd.DataFrame) -> None:
    # offer_type is not a table column: scoring sets it for each catalog offer
    missing = [
        c for c in loaded.model.feature_columns if c not in frame and c != "offer_type"
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
    _check_model_inputs(loaded, features.frame)

    budget = config.scoring.budget
    scores = score_customers(
        loaded.model,
        features.frame,
        catalog=offers_from_config(config.scoring.catalog),
        total_cost=budget.total_cost,
        max_contacts=budget.max_contacts,
        cooldown_days=config.scoring.cooldown_days,
    )
    paths = write_scores(scores, folder)

    propensity = scores["propensity"]
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
    offers_chosen = (
        scores.groupby(["offer", "reason"], dropna=False)
        .agg(
            n_customers=("customer_id", "size"),
            cost=("cost", "sum"),
            expected_value=("expected_value", "sum"),
        )
        .reset_index()
    )
    run_id = tracking.log_scoring_run(
        experiment_name=config.resolved_experiment_name,
        run_name=f"score {config.resolved_experiment_name} as_of={day} model=v{loaded.version or '?'}",
        params={
            **_params(config, tables),
            "scoring.as_of_used": str(day),
            "scoring.model_uri": uri,
            "scoring.model_version": str(loaded.version),
            "scoring.model_run_id": str(loaded.run_id),
            "scoring.output_dir": str(folder),
        },
        metrics=metrics,
        tags=_tags(config, tables, "score"),
        texts={
            "tables/segment_counts.csv": segment_counts.to_csv(index=False),
            "tables/offers_chosen.csv": offers_chosen.to_csv(index=False),
            "config.yaml": yaml.safe_dump(
                config.model_dump(mode="json"), sort_keys=False
            ),
        },
    )
    logger.info(
        "Scored %d of %d customers as of %s with %s (version %s) in %.1f s; wrote %s; run %s",
        len(scores),
        len(features.frame),
        day,
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
