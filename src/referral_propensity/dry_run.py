"""What a job would do, checked against its inputs without doing it.

Each function checks what the job would check first (dates inside the data,
label windows, the model to load, the output folder) and returns the plan as
(label, text) lines. Nothing is trained, no MLflow run is started and no
file or folder is created.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from referral_propensity import pipeline, tracking
from referral_propensity.config import Config
from referral_propensity.customer_level import build_customer_features
from referral_propensity.errors import (
    InputValidationError,
    ModelNotFoundError,
    OutputWriteError,
)
from referral_propensity.features.build import check_as_of
from referral_propensity.io.tables import Tables, from_day
from referral_propensity.labels import build_offer_response_rows, check_label_window
from referral_propensity.score import choose_offers
from referral_propensity.selection import offers_from_config
from referral_propensity.train import usable_snapshot_dates

#: files the scoring step writes into the output folder
SCORE_FILES = ("scores.parquet", "scores.csv")

Plan = list[tuple[str, str]]


def plan_inputs(config: Config, tables: Tables) -> Plan:
    """The loaded tables with their row counts, and the tracking store."""
    shown = []
    for name, table in tables.present().items():
        shown.append(f"{name} {table.n_rows:,} rows")
    lines = [("tables", ", ".join(shown))]
    if not tables.customer_level:
        first, last = tables.day_range()
        lines.append(
            ("transactions from", f"{from_day(first)} to {from_day(last)}"),
        )
    lines.append(
        (
            "tracking store",
            f"{tracking.resolve_tracking_uri(config.tracking_uri)} "
            f"(experiment {config.resolved_experiment_name})",
        )
    )
    return lines


def plan_training(
    config: Config, tables: Tables, *, as_of: dt.date | None = None
) -> Plan:
    """The dates and rows training would use, checked as training checks them.

    Parameters
    ----------
    as_of : datetime.date, optional
        The test snapshot (``train --as-of``); default as for training.

    Raises
    ------
    InputValidationError
        When the test as_of is outside the data, a label window runs past
        it, too few snapshots or campaign days have data.
    """
    label = config.label
    if tables.customer_level:
        # the same label checks as training (a missing column, values not 0/1)
        build_customer_features(tables, label_column=label.column)
        features = pipeline.marked_features(config, tables, None).frame
        lines = [
            (
                "training",
                f"{len(features):,} customers, label column {label.column}, "
                f"{config.training.cv_folds} stratified folds, then a fit on all "
                f"but a fixed fifth (the holdout)",
            )
        ]
    else:
        test_day = pipeline.test_as_of(config, tables, as_of)
        check_as_of(tables, test_day)
        if label.kind == "offer_response":
            lines = _plan_offer_training(tables, test_day, label.horizon_days)
        else:
            lines = _plan_snapshots(config, tables, test_day)
        for extra in config.training.extra_test_as_of:
            check_as_of(tables, extra)
            check_label_window(tables, as_of=extra, horizon_days=label.horizon_days)
        if config.training.extra_test_as_of:
            extra_days = ", ".join(str(d) for d in config.training.extra_test_as_of)
            lines.append(("also tested at", extra_days))

    margin = config.training.promotion_margin
    lines.append(
        (
            "registers",
            f"a new version of {config.model_name}; champion if there is none or "
            f"its ROC AUC beats the champion's by more than {margin:g}",
        )
    )
    return lines


def plan_scoring(
    config: Config,
    tables: Tables,
    *,
    as_of: dt.date | None = None,
    model_uri: str | None = None,
    output_dir: Path | None = None,
    after_training: bool = False,
) -> Plan:
    """The scoring date, the model and the files scoring would write.

    Parameters
    ----------
    as_of : datetime.date, optional
        The scoring date; default as for scoring.
    model_uri : str, optional
        The model to score with; default ``models:/<model_name>@champion``.
    output_dir : Path, optional
        Default: ``output_dir`` of the config.
    after_training : bool, default=False
        True for ``run``: the champion is the one after training, so it is
        not looked up now.

    Raises
    ------
    InputValidationError
        When the scoring date is outside the data, or the model needs inputs
        these tables do not give or offers it never saw.
    ModelNotFoundError
        When the model does not exist (not checked with ``after_training``).
    OutputWriteError
        When the output folder could not be created or written.
    """
    day = pipeline.scoring_as_of(config, tables, as_of)
    if not tables.customer_level:
        check_as_of(tables, day)
    uri = model_uri or f"models:/{config.model_name}@{tracking.CHAMPION}"
    folder = Path(output_dir or config.output_dir)
    check_output_folder(folder)

    shown_day = str(day) if day is not None else "none (the table has no dates)"
    lines = [("scoring as_of", shown_day)]
    if after_training:
        lines.append(("model", f"{uri} as it is after training"))
    else:
        loaded = _load_model(uri, config.tracking_uri)
        lines.append(
            (
                "model",
                f"{uri} (version {loaded.version or '?'}, run {loaded.run_id or '?'})",
            )
        )
        features = pipeline.marked_features(
            config, tables, day, model_settings=loaded.model.settings
        ).frame
        pipeline.check_model_inputs(loaded, features)
        inactive = features[features["is_inactive"]]
        # checks the catalog against the model's offer types, scores no one
        choose_offers(
            loaded.model,
            inactive.head(0),
            catalog=offers_from_config(config.scoring.catalog),
        )
        lines.append(
            (
                "customers",
                f"{len(inactive):,} inactive of {len(features):,} would be scored",
            )
        )
    lines.append(("writes", ", ".join(str(folder / name) for name in SCORE_FILES)))
    return lines


def check_output_folder(folder: Path) -> None:
    """Fail when outputs could not be written to a folder, creating nothing.

    Raises
    ------
    OutputWriteError
        When the folder's nearest existing ancestor is not a writable folder,
        or a target name is taken by something that is not a file.
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputWriteError(
            f"cannot write to output folder {folder}: {existing} is not a writable "
            f"folder; pick another --output-dir"
        )
    for name in SCORE_FILES:
        target = folder / name
        if target.exists() and not target.is_file():
            raise OutputWriteError(
                f"{target} exists and is not a file; remove it or pick another "
                f"--output-dir"
            )


def _plan_snapshots(config: Config, tables: Tables, test_day: dt.date) -> Plan:
    training = config.training
    horizon = config.label.horizon_days
    check_label_window(tables, as_of=test_day, horizon_days=horizon)
    dates, usable = usable_snapshot_dates(
        tables,
        test_day,
        horizon_days=horizon,
        n_snapshots=training.n_snapshots,
        step_days=training.snapshot_step_days,
    )
    skipped = len(dates) - len(usable)
    end = test_day + dt.timedelta(days=horizon)
    return [
        ("label", f"reactivation within {horizon} days"),
        ("test snapshot", f"{test_day} (label window [{test_day}, {end}))"),
        (
            "training snapshots",
            ", ".join(str(d) for d in usable[:-1])
            + (f" ({skipped} before the data skipped)" if skipped else ""),
        ),
        ("validation snapshot", str(usable[-1])),
    ]


def _plan_offer_training(tables: Tables, test_day: dt.date, horizon: int) -> Plan:
    if tables.offers is None:
        raise InputValidationError(
            "label.kind 'offer_response' learns from past offers, but no offers "
            "table was given; set data.offers.path or pass --offers"
        )
    rows = build_offer_response_rows(tables, horizon_days=horizon)
    window = dt.timedelta(days=horizon)
    held_out = rows[rows["as_of"] >= test_day]
    fitting = rows[
        (rows["as_of"] + window <= test_day) & (rows["group"] == "treatment")
    ]
    if held_out.empty:
        latest = max(rows["as_of"]) if len(rows) else None
        raise InputValidationError(
            f"offers table: no offer with a known response was sent on or after the "
            f"test as_of {test_day} (the latest is {latest}); pick an earlier "
            "training.test_as_of"
        )
    days = sorted(set(fitting["as_of"]))
    if len(days) < 2:
        raise InputValidationError(
            f"offers table: {len(days)} campaign day(s) answered by {test_day}; at "
            "least two are needed (one to train, the latest to validate); pick a "
            "later training.test_as_of or shorten label.horizon_days"
        )
    return [
        ("label", f"response within {horizon} days of an offer"),
        (f"held-out campaigns (sent on or after {test_day})", _count_by_day(held_out)),
        ("training campaigns", _count_by_day(fitting[fitting["as_of"] < days[-1]])),
        ("validation campaign", _count_by_day(fitting[fitting["as_of"] == days[-1]])),
    ]


def _count_by_day(rows: pd.DataFrame) -> str:
    """Offers per day sent, split into treatment and control when both occur."""
    parts = []
    for day, on_day in rows.groupby("as_of"):
        groups = on_day["group"].value_counts()
        if len(groups) > 1:
            split = ", ".join(
                f"{n:,} {group}" for group, n in groups.sort_index().items()
            )
            parts.append(f"{day} ({len(on_day):,} offers: {split})")
        else:
            parts.append(f"{day} ({len(on_day):,} offers)")
    return ", ".join(parts)


def _load_model(uri: str, tracking_uri: str | None) -> tracking.LoadedModel:
    store = tracking.resolve_tracking_uri(tracking_uri)
    if store.startswith("sqlite:///") and uri.startswith(("models:/", "runs:/")):
        path = Path(store.removeprefix("sqlite:///"))
        # asking an absent SQLite store would create it
        if not path.exists():
            raise ModelNotFoundError(
                f"no model at {uri}: the tracking store {store} does not exist yet; "
                f"train one with `referral-propensity train` or pass --model-uri"
            )
    return tracking.load_model(uri)
