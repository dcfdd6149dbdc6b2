"""The ``referral-propensity`` command: one sub-command per stage, plus ``run``.

Exit codes: 0 success; 1 unexpected error; 2 wrong command-line usage; 3 bad
input data or config; 4 model not found; 5 an output could not be written;
143 stopped by SIGTERM (128 + the signal number).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import os
import signal
import socket
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from referral_propensity import progress
from referral_propensity.errors import (
    InputValidationError,
    ModelNotFoundError,
    OutputWriteError,
)

EXIT_BAD_INPUT = 3
EXIT_NO_MODEL = 4
EXIT_WRITE_FAILED = 5
EXIT_USAGE = 2
EXIT_SIGTERM = 128 + signal.SIGTERM

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 1 unexpected error, 2 wrong command-line usage, "
    "3 bad input data or config, 4 model not found, 5 an output could not be "
    "written, 143 stopped by SIGTERM."
)

logger = logging.getLogger("referral_propensity")

app = typer.Typer(
    name="referral-propensity",
    help=(
        "Rank inactive customers for a referral offer: features, segments, "
        "a calibrated LightGBM propensity model, batch scores, tracked in MLflow."
    ),
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="YAML config file (keys: configs/README.md)."),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Date YYYY-MM-DD (midnight UTC); features use only events strictly before it.",
        show_default=False,
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output-dir",
        "-o",
        help="Folder for outputs. Default: output_dir of the config (outputs).",
    ),
]


def _table_option(name: str):
    help_text = (
        f"{name} file (CSV or Parquet); overrides data.{name}.path of the config."
    )
    return Annotated[
        Path | None, typer.Option(f"--{name}", help=help_text, show_default=False)
    ]


TransactionsOption = _table_option("transactions")
CustomersOption = _table_option("customers")
EngagementOption = _table_option("engagement")
OffersOption = _table_option("offers")
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log DEBUG details too.")
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model-uri",
        help="Model to score with, e.g. models:/referral-propensity/3 or runs:/<id>/model. "
        "Default: models:/<model_name>@champion.",
        show_default=False,
    ),
]

DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Check the config, the tables and the dates (for score also the "
        "model) and print what would happen: dates, tables and row counts, "
        "model, output files. Trains nothing, logs no MLflow run, writes no file.",
    ),
]

DEFAULT_CONFIG = Path("configs/default.yaml")


# the signal that stopped this command, if one did
_stopped_by: int | None = None


def _stop_on_sigterm(signum, frame) -> None:
    # unwind like Ctrl+C: temporary files are removed and MLflow runs end FAILED
    global _stopped_by
    _stopped_by = signum
    logger.error("stopped by signal %d; outputs of this run were not replaced", signum)
    raise SystemExit(128 + signum)


class LogFormat(enum.StrEnum):
    """How log lines on stderr look."""

    text = "text"
    json = "json"


# attributes every log record has; anything else came in through ``extra``
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        created = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry = {
            "ts": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# --quiet and --log-format, given before the command; set by main() on every call
_output = {"quiet": False, "log_format": LogFormat.text}


def _setup(verbose: bool) -> None:
    """Configure logging and progress for one command.

    Text logs on a terminal (rich, with progress bars), plain text lines
    otherwise (progress as log lines), or JSON lines with --log-format json;
    all on stderr. --quiet keeps warnings and errors only, and no progress.
    """
    global _stopped_by
    _stopped_by = None
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    quiet, log_format = _output["quiet"], _output["log_format"]
    if quiet and verbose:
        raise typer.BadParameter(
            "--verbose asks for more log lines and --quiet for fewer; give one"
        )
    interactive = sys.stderr.isatty() and log_format == LogFormat.text
    level = logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = None
    if log_format == LogFormat.json:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    elif interactive:
        from rich.console import Console
        from rich.logging import RichHandler

        console = Console(stderr=True)
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s", datefmt="%H:%M:%S"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("referral_propensity").setLevel(
        logging.WARNING if quiet else level
    )
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
    warnings.filterwarnings("ignore", message=r".*type hints to the `predict` method")
    warnings.filterwarnings("ignore", category=FutureWarning)
    if quiet:
        progress.configure("off")
    else:
        progress.configure("bar" if interactive else "log", console=console)


def _parse_date(value: str | None, option: str = "--as-of") -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date like 2024-07-01", param_hint=option
        ) from None


def _load(config_path: Path, output_dir: Path | None, tables: dict[str, Path | None]):
    from referral_propensity.config import load_config

    overrides: dict[str, object] = {}
    given = {name: path for name, path in tables.items() if path is not None}
    if given and "transactions" not in given:
        data = load_config(config_path).data
        source = data.source
        if data.customer_level and set(given) == {"customers"}:
            source = "files"  # a customer-level table replaced by the user's file
        if source != "files":
            options = ", ".join(f"--{name}" for name in given)
            raise InputValidationError(
                f"{options} replace tables of data.source 'files', but "
                f"{config_path} reads data.source {source!r}; pass --transactions "
                f"as well, or set the paths in a config with data.source: files"
            )
    if given:
        overrides["data.source"] = "files"
        for name, path in given.items():
            overrides[f"data.{name}.path"] = str(path)
    if output_dir is not None:
        overrides["output_dir"] = str(output_dir)
    config = load_config(config_path, overrides=overrides)
    from referral_propensity import tracking

    uri = tracking.configure(config.tracking_uri)
    logger.debug(
        "Tracking store %s, experiment %s", uri, config.resolved_experiment_name
    )
    return config


def _open(config_path, output_dir, transactions, customers, engagement, offers):
    """Read the config, point MLflow at its store, check the output folder, load."""
    from referral_propensity import pipeline
    from referral_propensity.io.write import check_writable

    tables = dict(
        transactions=transactions,
        customers=customers,
        engagement=engagement,
        offers=offers,
    )
    cfg = _load(config_path, output_dir, tables)
    check_writable(cfg.output_dir)
    return cfg, pipeline.load_job_tables(cfg)


def _paths(transactions, customers, engagement, offers) -> dict[str, Path | None]:
    return dict(
        transactions=transactions,
        customers=customers,
        engagement=engagement,
        offers=offers,
    )


def _dry_run(
    command: str,
    config_path: Path,
    output_dir: Path | None,
    table_paths: dict[str, Path | None],
    *,
    day: dt.date | None,
    model_uri: str | None = None,
    with_truth: bool = False,
) -> None:
    """Check what ``command`` would check first, print its plan, change nothing."""
    from referral_propensity import dry_run, pipeline

    cfg = _load(config_path, output_dir, table_paths)
    dry_run.check_output_folder(Path(cfg.output_dir))
    tables = pipeline.load_job_tables(cfg)
    if with_truth:
        pipeline.check_truth_available(cfg)

    lines = dry_run.plan_inputs(cfg, tables)
    if command in ("run", "train"):
        shift = dt.timedelta(days=cfg.label.horizon_days)
        test_day = day - shift if command == "run" and day else day
        try:
            lines += dry_run.plan_training(cfg, tables, as_of=test_day)
        except InputValidationError as exc:
            if command != "run" or day is None:
                raise
            raise InputValidationError(
                f"{exc} (run --as-of {day} scores as of that day and tests the model "
                f"on the snapshot {test_day}, as_of minus label.horizon_days)"
            ) from exc
    if command in ("run", "score"):
        lines += dry_run.plan_scoring(
            cfg,
            tables,
            as_of=day,
            model_uri=model_uri,
            after_training=command == "run",
        )

    typer.echo(
        f"Dry run of {command} with {config_path}: nothing was trained, logged "
        "or written"
    )
    for label, text in lines:
        typer.echo(f"  {label}: {text}")


def _fail(exc: BaseException, *, resume: str | None = None) -> None:
    if _stopped_by is not None:
        # the signal's exit surfaced as another error: DuckDB, for one, turns
        # it into "Query interrupted"
        raise SystemExit(128 + _stopped_by) from exc
    if isinstance(exc, InputValidationError):
        code, kind = EXIT_BAD_INPUT, "bad input"
    elif isinstance(exc, ModelNotFoundError):
        code, kind = EXIT_NO_MODEL, "model not found"
    elif isinstance(exc, OutputWriteError):
        code, kind = EXIT_WRITE_FAILED, "write failed"
    else:
        code, kind = 1, "unexpected error"
        logger.debug("Traceback", exc_info=exc)
    hint = f"; when fixed, resume with: {resume}" if resume else ""
    if code == 1:
        hint += " (run again with --verbose to see where it failed)"
    logger.error("%s: %s%s", kind, exc, hint)
    raise typer.Exit(code)


def _guard(action, *, resume: str | None = None):
    try:
        return action()
    except typer.Exit:
        raise
    except Exception as exc:  # the top level logs every failure once
        _fail(exc, resume=resume)


def _show_version(value: bool) -> None:
    if value:
        from referral_propensity import __version__

        typer.echo(f"referral-propensity {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="Log only warnings and errors, show no progress; the result "
            "line is still printed. Give it before the command.",
        ),
    ] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            help="Log lines on stderr: text, or json (one object per line with "
            "ts, level, logger, message and any extra fields; no colours). "
            "Give it before the command.",
            case_sensitive=False,
        ),
    ] = LogFormat.text,
) -> None:
    """Rank inactive customers for a referral offer, tracked in MLflow."""
    _output.update(quiet=quiet, log_format=log_format)


def _describe_metrics(m: dict) -> str:
    spread = (
        f" +- {m['roc_auc_std']:.3f} over {m['n_folds']:.0f} folds"
        if "roc_auc_std" in m
        else ""
    )
    baselines = [
        f"{label} {m[key]:.3f}"
        for label, key in (
            ("recency", "baseline_recency_roc_auc"),
            ("RFM", "baseline_rfm_roc_auc"),
        )
        if key in m
    ]
    against = f" ({', '.join(baselines)})" if baselines else ""
    return (
        f"ROC AUC {m['roc_auc']:.3f}{spread}{against}, "
        f"top-decile lift {m['lift_top_decile']:.2f}"
    )


def _echo_selection(scoring) -> None:
    scores = scoring.scores
    selected = scores[scores["selected"]]
    typer.echo(
        f"Scored {len(scores)} inactive customers, selected {len(selected)} "
        f"(cost {selected['cost'].sum():.2f}, expected value "
        f"{selected['expected_value'].sum():.2f}) -> {scoring.paths[0].parent}"
    )


@app.command(epilog=EXIT_CODES_HELP)
def run(
    config: ConfigOption = DEFAULT_CONFIG,
    as_of: AsOfOption = None,
    output_dir: OutputOption = None,
    transactions: TransactionsOption = None,
    customers: CustomersOption = None,
    engagement: EngagementOption = None,
    offers: OffersOption = None,
    with_truth: Annotated[
        bool,
        typer.Option(
            "--with-truth",
            help="On the synthetic shop: also measure the run against the shop's "
            "hidden truth and log oracle_roc_auc, segment_ari, best_offer_share, "
            "selection_gain_vs_random.",
        ),
    ] = False,
    dry_run: DryRunOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Train, register and score: the whole job.

    With --as-of, scoring happens as of that date and the test snapshot is
    as_of minus label.horizon_days; without it both come from the config.
    """
    _setup(verbose)
    day = _parse_date(as_of)

    def job():
        from referral_propensity import pipeline

        if dry_run:
            return _dry_run(
                "run",
                config,
                output_dir,
                _paths(transactions, customers, engagement, offers),
                day=day,
                with_truth=with_truth,
            )
        cfg, tables = _open(
            config, output_dir, transactions, customers, engagement, offers
        )
        if with_truth:
            pipeline.check_truth_available(cfg)
        with pipeline.job_run(cfg, tables, command="run", as_of=day):
            test_day = day - dt.timedelta(days=cfg.label.horizon_days) if day else None
            try:
                training = pipeline.run_training(cfg, tables, as_of=test_day)
            except InputValidationError as exc:
                if day is None:
                    raise
                raise InputValidationError(
                    f"{exc} (run --as-of {day} scores as of that day and tests the model "
                    f"on the snapshot {test_day}, as_of minus label.horizon_days)"
                ) from exc
            resume = f"referral-propensity score --config {config}"
            scoring = _guard(
                lambda: pipeline.run_scoring(cfg, tables, as_of=day), resume=resume
            )
            m = training.result.metrics
            typer.echo(
                f"Trained model version {training.logged.version} "
                f"({'champion' if training.logged.promoted else 'challenger'}): "
                f"{_describe_metrics(m)}"
            )
            _echo_selection(scoring)
            if with_truth:
                t = pipeline.measure_truth(cfg, tables, training, scoring)
                typer.echo(
                    f"Against the truth: ROC AUC {t['roc_auc_on_truth_rows']:.3f} vs oracle "
                    f"{t['oracle_roc_auc']:.3f}, segment ARI {t['segment_ari']:.2f}, best "
                    f"offer for {t['best_offer_share']:.0%} of the selected, "
                    f"{t['selection_gain_vs_random']:.1f}x the true expected responses of "
                    "a random selection"
                )

    _guard(job)


@app.command(epilog=EXIT_CODES_HELP)
def train(
    config: ConfigOption = DEFAULT_CONFIG,
    as_of: AsOfOption = None,
    output_dir: OutputOption = None,
    transactions: TransactionsOption = None,
    customers: CustomersOption = None,
    engagement: EngagementOption = None,
    offers: OffersOption = None,
    dry_run: DryRunOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Train and register a model; --as-of is the held-out test snapshot."""
    _setup(verbose)
    day = _parse_date(as_of)

    def job():
        from referral_propensity import pipeline

        if dry_run:
            return _dry_run(
                "train",
                config,
                output_dir,
                _paths(transactions, customers, engagement, offers),
                day=day,
            )
        cfg, tables = _open(
            config, output_dir, transactions, customers, engagement, offers
        )
        with pipeline.job_run(cfg, tables, command="train", as_of=day):
            outcome = pipeline.run_training(cfg, tables, as_of=day)
        m = outcome.result.metrics
        typer.echo(
            f"Model version {outcome.logged.version} "
            f"({'champion' if outcome.logged.promoted else 'challenger'}), run {outcome.logged.run_id}: "
            f"ROC AUC {m['roc_auc']:.3f}, PR AUC {m['pr_auc']:.3f}, Brier {m['brier']:.4f}, "
            f"top-decile lift {m['lift_top_decile']:.2f}"
        )

    _guard(job)


@app.command(epilog=EXIT_CODES_HELP)
def score(
    config: ConfigOption = DEFAULT_CONFIG,
    as_of: AsOfOption = None,
    output_dir: OutputOption = None,
    model_uri: ModelOption = None,
    transactions: TransactionsOption = None,
    customers: CustomersOption = None,
    engagement: EngagementOption = None,
    offers: OffersOption = None,
    dry_run: DryRunOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Score inactive customers with the champion and write scores.parquet and scores.csv."""
    _setup(verbose)
    day = _parse_date(as_of)

    def job():
        from referral_propensity import pipeline

        if dry_run:
            return _dry_run(
                "score",
                config,
                output_dir,
                _paths(transactions, customers, engagement, offers),
                day=day,
                model_uri=model_uri,
            )
        cfg, tables = _open(
            config, output_dir, transactions, customers, engagement, offers
        )
        outcome = pipeline.run_scoring(cfg, tables, as_of=day, model_uri=model_uri)
        _echo_selection(outcome)

    _guard(job)


@app.command(epilog=EXIT_CODES_HELP)
def features(
    config: ConfigOption = DEFAULT_CONFIG,
    as_of: AsOfOption = None,
    output_dir: OutputOption = None,
    transactions: TransactionsOption = None,
    customers: CustomersOption = None,
    engagement: EngagementOption = None,
    offers: OffersOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Write the feature table at as_of to <output-dir>/features_<as_of>.parquet."""
    _setup(verbose)
    day = _parse_date(as_of)

    def job():
        from referral_propensity import pipeline
        from referral_propensity.io.write import write_frame

        cfg, tables = _open(
            config, output_dir, transactions, customers, engagement, offers
        )
        when = pipeline.scoring_as_of(cfg, tables, day)
        table = pipeline.marked_features(cfg, tables, when)
        path = write_frame(
            table.frame, Path(cfg.output_dir) / f"features_{when}.parquet"
        )
        logger.info(
            "Wrote %d customers x %d columns (features, is_inactive, lapse_stage) to %s",
            len(table.frame),
            len(table.feature_columns),
            path,
        )
        typer.echo(str(path))

    _guard(job)


@app.command(epilog=EXIT_CODES_HELP)
def segments(
    config: ConfigOption = DEFAULT_CONFIG,
    as_of: AsOfOption = None,
    output_dir: OutputOption = None,
    transactions: TransactionsOption = None,
    customers: CustomersOption = None,
    engagement: EngagementOption = None,
    offers: OffersOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Fit segments on the inactive customers at as_of and print the segment table."""
    _setup(verbose)
    day = _parse_date(as_of)

    def job():
        from rich.console import Console
        from rich.table import Table

        from referral_propensity import pipeline
        from referral_propensity.io.write import write_frame

        cfg, tables = _open(
            config, output_dir, transactions, customers, engagement, offers
        )
        when = pipeline.scoring_as_of(cfg, tables, day)
        frame = pipeline.marked_features(cfg, tables, when).frame
        inactive = frame[frame["is_inactive"]].reset_index(drop=True)
        profile = pipeline.fit_segments(cfg, tables, inactive).profile_
        write_frame(profile, Path(cfg.output_dir) / f"segments_{when}.csv")

        who = "customers" if tables.customer_level else "inactive customers"
        table = Table(title=f"Segments of {len(inactive)} {who} as of {when} (medians)")
        for column in profile.columns:
            is_name = column == "segment_name"
            table.add_column(
                column.removeprefix("median_"),
                justify="left" if is_name else "right",
                no_wrap=is_name,
            )
        for row in profile.itertuples(index=False):
            table.add_row(
                *(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row)
            )
        Console(width=200).print(table)

    _guard(job)


@app.command(epilog=EXIT_CODES_HELP)
def explain(
    customer_id: Annotated[
        str,
        typer.Option(
            "--customer-id",
            help="The customer to explain: an inactive one, as in the scores file.",
            show_default=False,
        ),
    ],
    config: ConfigOption = DEFAULT_CONFIG,
    as_of: AsOfOption = None,
    model_uri: ModelOption = None,
    offer: Annotated[
        str | None,
        typer.Option(
            "--offer",
            help="Offer type to explain, for a model trained on offer responses. "
            "Default: the offer scoring would choose for the customer.",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int,
        typer.Option("--top", min=1, help="Features listed each way, up and down."),
    ] = 5,
    transactions: TransactionsOption = None,
    customers: CustomersOption = None,
    engagement: EngagementOption = None,
    offers: OffersOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Explain one customer's score: segment, propensity, offer, top features."""
    _setup(verbose)
    day = _parse_date(as_of)

    def job():
        from referral_propensity import pipeline, tracking
        from referral_propensity.explain import explain_customer

        cfg = _load(config, None, _paths(transactions, customers, engagement, offers))
        tables = pipeline.load_job_tables(cfg)
        when = pipeline.scoring_as_of(cfg, tables, day)
        uri = model_uri or f"models:/{cfg.model_name}@{tracking.CHAMPION}"
        loaded = tracking.load_model(uri)
        frame = pipeline.marked_features(
            cfg, tables, when, model_settings=loaded.model.settings
        ).frame
        explanation = explain_customer(
            loaded.model,
            frame,
            customer_id,
            offer=offer,
            catalog=cfg.scoring.catalog,
            top=top,
        )
        _echo_explanation(explanation, as_of=when, loaded=loaded)

    _guard(job)


def _echo_explanation(explanation, *, as_of: dt.date, loaded) -> None:
    from rich.console import Console
    from rich.table import Table

    from referral_propensity.explain import format_value

    e = explanation
    features_total = e.raw_score - e.bias
    typer.echo(
        f"Customer {e.customer_id} as of {as_of}, model {loaded.uri} "
        f"(version {loaded.version or '?'})"
    )
    typer.echo(f"Segment {e.segment_id}: {e.segment_name}")
    typer.echo(
        f"Offer {e.offer or 'none'}: propensity {e.propensity:.4f} (raw score "
        f"{e.raw_score:+.3f} = bias {e.bias:+.3f} + features {features_total:+.3f})"
    )
    table = Table(title="Top contributions to the raw score (log-odds)")
    table.add_column("direction")
    table.add_column("feature", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("contribution", justify="right")
    for direction, rows in (("up", e.pushed_up), ("down", e.pushed_down)):
        for row in rows.itertuples(index=False):
            table.add_row(
                direction,
                row.feature,
                format_value(row.value),
                f"{row.contribution:+.3f}",
            )
    Console(width=None if sys.stdout.isatty() else 120).print(table)


@app.command(epilog=EXIT_CODES_HELP)
def ui(
    config: ConfigOption = DEFAULT_CONFIG,
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1.", min=1, max=65535)
    ] = 5000,
) -> None:
    """Start the MLflow UI for the project's tracking store on 127.0.0.1."""
    _setup(False)

    def job():
        from referral_propensity import tracking
        from referral_propensity.config import load_config

        uri = tracking.resolve_tracking_uri(
            load_config(config).tracking_uri if config.exists() else None
        )
        if (
            uri.startswith("sqlite:///")
            and not Path(uri.removeprefix("sqlite:///")).exists()
        ):
            logger.warning(
                "No tracking store at %s yet (run `referral-propensity run` here "
                "first); the UI will show no runs",
                uri,
            )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise InputValidationError(
                    f"port {port} on 127.0.0.1 is in use; pass another --port"
                )
        typer.echo(f"MLflow UI for {uri} at http://127.0.0.1:{port} (Ctrl+C stops it)")
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "ui",
            "--backend-store-uri",
            uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        # the UI replaces this process, so a signal sent to it reaches the server
        sys.stdout.flush()
        os.execv(sys.executable, command)

    _guard(job)


ReasonOption = Annotated[
    str,
    typer.Option(
        "--reason",
        help="Why, in words an analyst will read later (required, non-empty); "
        "kept as a tag on the version and a param of the MLflow run.",
        show_default=False,
    ),
]
ModelNameOption = Annotated[
    str | None,
    typer.Option(
        "--model-name",
        help="Registered model. Default: model_name of the config (referral-propensity).",
        show_default=False,
    ),
]


@app.command(epilog=EXIT_CODES_HELP)
def promote(
    version: Annotated[
        str,
        typer.Argument(
            help="Registered version number to make champion, e.g. 3.",
            show_default=False,
        ),
    ],
    reason: ReasonOption,
    config: ConfigOption = DEFAULT_CONFIG,
    model_name: ModelNameOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Make a registered version the champion by hand; `rollback` undoes it."""
    _setup(verbose)

    def job():
        from referral_propensity import tracking

        cfg = _load(config, None, {})
        change = tracking.promote_version(
            model_name or cfg.model_name,
            version,
            reason=reason,
            experiment_name=cfg.resolved_experiment_name,
        )
        typer.echo(
            f"{change.model_name} version {change.version} is champion "
            f"(was {change.previous_champion or 'none'}), run {change.run_id}"
        )

    _guard(job)


@app.command(epilog=EXIT_CODES_HELP)
def rollback(
    reason: ReasonOption,
    config: ConfigOption = DEFAULT_CONFIG,
    model_name: ModelNameOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Give the champion alias back to the version the champion replaced."""
    _setup(verbose)

    def job():
        from referral_propensity import tracking

        cfg = _load(config, None, {})
        change = tracking.rollback_champion(
            model_name or cfg.model_name,
            reason=reason,
            experiment_name=cfg.resolved_experiment_name,
        )
        typer.echo(
            f"{change.model_name} version {change.version} is champion again "
            f"(rolled back from {change.previous_champion}), run {change.run_id}"
        )

    _guard(job)


@app.command(epilog=EXIT_CODES_HELP)
def report(
    config: ConfigOption = DEFAULT_CONFIG,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="MLflow run to report on, a training or a scoring run. Default: "
            "the latest finished one of the config's experiment.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="HTML file to write. Default: <output_dir>/report_<run_id>.html.",
            show_default=False,
        ),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Write one self-contained HTML report of a run and log it with the run.

    A training run's report shows segments, gains and lift against the
    baselines, calibration, feature importance and the score distribution; a
    scoring run's adds the offers chosen and the budget curve to the charts
    of its model's training run. The file is also logged as report.html.
    """
    _setup(verbose)

    def job():
        from referral_propensity import tracking
        from referral_propensity.report import write_run_report

        cfg = _load(config, None, {})
        try:
            outcome = write_run_report(
                experiment_name=cfg.resolved_experiment_name,
                output_dir=Path(cfg.output_dir),
                run_id=run_id,
                output=output,
            )
        except tracking.RunNotFoundError as exc:
            logger.error("run not found: %s", exc)
            raise typer.Exit(EXIT_NO_MODEL) from exc
        lacking = (
            f", {len(outcome.missing)} artifact(s) missing" if outcome.missing else ""
        )
        typer.echo(
            f"Report of {'scoring' if outcome.stage == 'score' else 'training'} run "
            f"{outcome.run_id}{lacking} -> {outcome.path} (logged as "
            f"{outcome.artifact_path})"
        )

    _guard(job)


if __name__ == "__main__":
    app()
