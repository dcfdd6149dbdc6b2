"""Looking at data and models: features, segments, explain."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from referral_propensity.cli.app import (
    DEFAULT_CONFIG,
    EXIT_CODES_HELP,
    AsOfOption,
    ConfigOption,
    CustomersOption,
    EngagementOption,
    ModelOption,
    OffersOption,
    OutputOption,
    TransactionsOption,
    VerboseOption,
    app,
    guard,
    load_job_config,
    open_job,
    parse_date,
    setup_command,
    table_paths,
)

logger = logging.getLogger("referral_propensity")


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
    setup_command(verbose)
    day = parse_date(as_of)

    def job():
        from referral_propensity import pipeline
        from referral_propensity.io.write import write_frame

        cfg, tables = open_job(
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

    guard(job)


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
    setup_command(verbose)
    day = parse_date(as_of)

    def job():
        from rich.console import Console
        from rich.table import Table

        from referral_propensity import pipeline
        from referral_propensity.io.write import write_frame

        cfg, tables = open_job(
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

    guard(job)


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
    setup_command(verbose)
    day = parse_date(as_of)

    def job():
        from referral_propensity import pipeline, tracking
        from referral_propensity.explain import explain_customer

        cfg = load_job_config(
            config, None, table_paths(transactions, customers, engagement, offers)
        )
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
        row = frame[frame["customer_id"].astype(str) == str(customer_id)]
        if "marketing_opt_in" in row and (row["marketing_opt_in"] == 0).any():
            typer.echo(
                "Not contactable: this customer opted out of marketing, so no "
                "campaign selects them"
            )

    guard(job)


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
