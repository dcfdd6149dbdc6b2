"""The command-line app: options, logging, exit codes and error handling.

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


def table_option(name: str):
    help_text = (
        f"{name} file (CSV or Parquet); overrides data.{name}.path of the config."
    )
    return Annotated[
        Path | None, typer.Option(f"--{name}", help=help_text, show_default=False)
    ]


TransactionsOption = table_option("transactions")
CustomersOption = table_option("customers")
EngagementOption = table_option("engagement")
OffersOption = table_option("offers")
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


def setup_command(verbose: bool) -> None:
    """Configure logging and progress for one command.

    Text logs on a terminal (rich, with progress bars), plain text lines
    otherwise (progress as log lines), or JSON lines with --log-format json;
    all on stderr. --quiet keeps warnings and errors only, and no progress.
    """
    global _stopped_by
    _stopped_by = None
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    import lightgbm

    # LightGBM's own messages become log records, so --log-format json holds
    lightgbm.register_logger(logging.getLogger("referral_propensity.lightgbm"))
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


def parse_date(value: str | None, option: str = "--as-of") -> dt.date | None:
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date like 2024-07-01", param_hint=option
        ) from None
    if not 1900 <= day.year <= 2200:
        # dates this far out overflow the date arithmetic of windows and horizons
        raise typer.BadParameter(
            f"{value} is outside the years 1900 to 2200", param_hint=option
        )
    return day


def load_job_config(
    config_path: Path, output_dir: Path | None, tables: dict[str, Path | None]
):
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
        configured = load_config(config_path).data.source
        if configured in ("synthetic", "cdnow", "bundled"):
            logger.warning(
                "%s replace the tables of data.source %r: only the tables given "
                "on the command line are read",
                ", ".join(f"--{name}" for name in given),
                configured,
            )
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


def open_job(config_path, output_dir, transactions, customers, engagement, offers):
    """Read the config, point MLflow at its store, check the output folder, load."""
    from referral_propensity import pipeline
    from referral_propensity.io.write import check_writable

    tables = dict(
        transactions=transactions,
        customers=customers,
        engagement=engagement,
        offers=offers,
    )
    cfg = load_job_config(config_path, output_dir, tables)
    check_writable(cfg.output_dir)
    return cfg, pipeline.load_job_tables(cfg)


def table_paths(transactions, customers, engagement, offers) -> dict[str, Path | None]:
    return dict(
        transactions=transactions,
        customers=customers,
        engagement=engagement,
        offers=offers,
    )


def print_dry_run(
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

    cfg = load_job_config(config_path, output_dir, table_paths)
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


def fail(exc: BaseException, *, resume: str | None = None) -> None:
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


def guard(action, *, resume: str | None = None):
    try:
        return action()
    except typer.Exit:
        raise
    except Exception as exc:  # the top level logs every failure once
        fail(exc, resume=resume)


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


def describe_metrics(m: dict) -> str:
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


def echo_selection(scoring) -> None:
    scores = scoring.scores
    selected = scores[scores["selected"]]
    typer.echo(
        f"Scored {len(scores)} inactive customers, selected {len(selected)} "
        f"(cost {selected['cost'].sum():.2f}, expected value "
        f"{selected['expected_value'].sum():.2f}) -> {scoring.paths[0].parent}"
    )
