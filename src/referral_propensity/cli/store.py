"""The tracking store: the UI, promote and rollback, reports."""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from referral_propensity.cli.app import (
    DEFAULT_CONFIG,
    EXIT_CODES_HELP,
    EXIT_NO_MODEL,
    ConfigOption,
    VerboseOption,
    app,
    guard,
    load_job_config,
    setup_command,
)
from referral_propensity.errors import (
    InputValidationError,
)

logger = logging.getLogger("referral_propensity")


@app.command(epilog=EXIT_CODES_HELP)
def ui(
    config: ConfigOption = DEFAULT_CONFIG,
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1.", min=1, max=65535)
    ] = 5000,
) -> None:
    """Start the MLflow UI for the project's tracking store on 127.0.0.1."""
    setup_command(False)

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

    guard(job)


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
    setup_command(verbose)

    def job():
        from referral_propensity import tracking

        cfg = load_job_config(config, None, {})
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

    guard(job)


@app.command(epilog=EXIT_CODES_HELP)
def rollback(
    reason: ReasonOption,
    config: ConfigOption = DEFAULT_CONFIG,
    model_name: ModelNameOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Give the champion alias back to the version the champion replaced."""
    setup_command(verbose)

    def job():
        from referral_propensity import tracking

        cfg = load_job_config(config, None, {})
        change = tracking.rollback_champion(
            model_name or cfg.model_name,
            reason=reason,
            experiment_name=cfg.resolved_experiment_name,
        )
        typer.echo(
            f"{change.model_name} version {change.version} is champion again "
            f"(rolled back from {change.previous_champion}), run {change.run_id}"
        )

    guard(job)


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
    setup_command(verbose)

    def job():
        from referral_propensity import tracking
        from referral_propensity.report import write_run_report

        cfg = load_job_config(config, None, {})
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

    guard(job)
