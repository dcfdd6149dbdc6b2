"""The job's inputs and settings: where tables come from, dates, features.

Functions here turn the checked config into plain arguments for each stage;
they hold no state.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from pathlib import Path

import pandas as pd

from referral_propensity.config import TABLE_NAMES, Config, TableConfig
from referral_propensity.customer_level.features import customer_table_as_of
from referral_propensity.customer_level.job import (
    customer_table_features,
)
from referral_propensity.customer_level.train import fit_customer_segmenter
from referral_propensity.datasets import cdnow_source
from referral_propensity.datasets.bundled import bundled_path
from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.features import FeatureTable, build_features
from referral_propensity.inactivity import mark_inactive
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import Tables, from_day, load_tables, to_day
from referral_propensity.segments import Segmenter
from referral_propensity.train import (
    TrainingSettings,
)
from referral_propensity.train_offers import (
    latest_complete_offer_day,
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
        return customer_table_as_of(tables)
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
        segments=config.segments.model_dump(),
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
