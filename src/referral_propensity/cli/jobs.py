"""The batch jobs: run, train and score."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Annotated

import typer

from referral_propensity.cli.app import (
    DEFAULT_CONFIG,
    EXIT_CODES_HELP,
    AsOfOption,
    ConfigOption,
    CustomersOption,
    DryRunOption,
    EngagementOption,
    ModelOption,
    OffersOption,
    OutputOption,
    TransactionsOption,
    VerboseOption,
    app,
    describe_metrics,
    echo_selection,
    guard,
    open_job,
    parse_date,
    print_dry_run,
    setup_command,
    table_paths,
)
from referral_propensity.errors import (
    InputValidationError,
)

logger = logging.getLogger("referral_propensity")


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
    setup_command(verbose)
    day = parse_date(as_of)

    def job():
        from referral_propensity import pipeline

        if dry_run:
            return print_dry_run(
                "run",
                config,
                output_dir,
                table_paths(transactions, customers, engagement, offers),
                day=day,
                with_truth=with_truth,
            )
        cfg, tables = open_job(
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
            scoring = guard(
                lambda: pipeline.run_scoring(cfg, tables, as_of=day), resume=resume
            )
            m = training.result.metrics
            typer.echo(
                f"Trained model version {training.logged.version} "
                f"({'champion' if training.logged.promoted else 'challenger'}): "
                f"{describe_metrics(m)}"
            )
            echo_selection(scoring)
            if with_truth:
                t = pipeline.measure_truth(cfg, tables, training, scoring)
                typer.echo(
                    f"Against the truth: ROC AUC {t['roc_auc_on_truth_rows']:.3f} vs oracle "
                    f"{t['oracle_roc_auc']:.3f}, segment ARI {t['segment_ari']:.2f}, best "
                    f"offer for {t['best_offer_share']:.0%} of the selected, "
                    f"{t['selection_gain_vs_random']:.1f}x the true expected responses of "
                    "a random selection"
                )
        _report_after_run(cfg, scoring.run_id)

    guard(job)


def _report_after_run(cfg, run_id: str) -> None:
    """The HTML report of the job's scoring run, beside the scores."""
    from referral_propensity.report.job import write_run_report

    try:
        report = write_run_report(
            experiment_name=cfg.resolved_experiment_name,
            output_dir=Path(cfg.output_dir),
            run_id=run_id,
        )
    except Exception as exc:  # the scores are written; a report problem is not fatal
        logger.warning(
            "The scores are written, but the report could not be (%s); make it "
            "with `referral-propensity report --run-id %s`",
            exc,
            run_id,
        )
        return
    typer.echo(f"Report: {report.path}")


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
    setup_command(verbose)
    day = parse_date(as_of)

    def job():
        from referral_propensity import pipeline

        if dry_run:
            return print_dry_run(
                "train",
                config,
                output_dir,
                table_paths(transactions, customers, engagement, offers),
                day=day,
            )
        cfg, tables = open_job(
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

    guard(job)


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
    setup_command(verbose)
    day = parse_date(as_of)

    def job():
        from referral_propensity import pipeline

        if dry_run:
            return print_dry_run(
                "score",
                config,
                output_dir,
                table_paths(transactions, customers, engagement, offers),
                day=day,
                model_uri=model_uri,
            )
        cfg, tables = open_job(
            config, output_dir, transactions, customers, engagement, offers
        )
        outcome = pipeline.run_scoring(cfg, tables, as_of=day, model_uri=model_uri)
        echo_selection(outcome)

    guard(job)
