"""Assemble the HTML report of a training or scoring run from what it logged.

A training run's report shows the model against its baselines, the segments,
gains and lift, calibration, feature importance, the score distribution and
the snapshots. A scoring run's report shows its segment counts, the offers
chosen, the budget curve and its score distribution, then the charts of the
training run of its model. A table that a run did not log gives a section
that says so.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from referral_propensity.report import charts
from referral_propensity.report.template import (
    Section,
    format_value,
    render_details,
    render_figure,
    render_missing,
    render_note,
    render_page,
    render_paragraph,
    render_table,
)

if TYPE_CHECKING:
    from referral_propensity.tracking.artifacts import RunRecord

logger = logging.getLogger(__name__)

SEGMENT_PROFILE = "tables/segment_profile.csv"
SEGMENT_METRICS = "tables/segment_metrics.csv"
GAINS = "tables/gains.csv"
CALIBRATION = "tables/calibration.csv"
FEATURE_IMPORTANCE = "tables/feature_importance.csv"
SCORE_DISTRIBUTION = "tables/score_distribution.csv"
SNAPSHOTS = "tables/snapshots.csv"
SEGMENT_COUNTS = "tables/segment_counts.csv"
OFFERS_CHOSEN = "tables/offers_chosen.csv"
BUDGET_CURVE = "tables/budget_curve.csv"
CONFIG = "config.yaml"

#: artifacts the report reads from a training run
TRAINING_ARTIFACTS = (
    SEGMENT_PROFILE,
    SEGMENT_METRICS,
    GAINS,
    CALIBRATION,
    FEATURE_IMPORTANCE,
    SCORE_DISTRIBUTION,
    SNAPSHOTS,
    CONFIG,
)
#: artifacts the report reads from a scoring run
SCORING_ARTIFACTS = (
    SEGMENT_COUNTS,
    OFFERS_CHOSEN,
    BUDGET_CURVE,
    SCORE_DISTRIBUTION,
    CONFIG,
)

_REQUIRED_COLUMNS = {
    SEGMENT_PROFILE: ("segment_id", "segment_name", "n_customers"),
    SEGMENT_METRICS: ("segment_id", "segment_name", "n_customers"),
    GAINS: ("decile", "gain", "lift", "score"),
    CALIBRATION: ("mean_propensity", "observed_rate", "n_customers"),
    FEATURE_IMPORTANCE: ("feature", "gain"),
    SCORE_DISTRIBUTION: ("bin_left", "bin_right", "n_customers"),
    SNAPSHOTS: (),
    SEGMENT_COUNTS: ("segment_id", "segment_name", "n_customers"),
    OFFERS_CHOSEN: ("offer", "reason", "n_customers", "cost", "expected_value"),
    BUDGET_CURVE: ("n_contacts", "cumulative_cost", "expected_responses"),
}

_MODEL_METRICS = (
    ("ROC AUC", "roc_auc", "{:.3f}"),
    ("PR AUC", "pr_auc", "{:.3f}"),
    ("Brier score", "brier", "{:.4f}"),
    ("top-decile lift", "lift_top_decile", "{:.2f}"),
)
_SCORES = (
    ("model", ""),
    ("recency alone", "baseline_recency_"),
    ("RFM score", "baseline_rfm_"),
)


def build_report_html(
    run: RunRecord,
    *,
    training: RunRecord | None = None,
    training_problem: str = "",
    generated_at: dt.datetime | None = None,
) -> str:
    """The self-contained HTML report of one run.

    Parameters
    ----------
    run : RunRecord
        A training run (tag ``stage`` = ``train``) read with
        :data:`TRAINING_ARTIFACTS`, or a scoring run (``score``) read with
        :data:`SCORING_ARTIFACTS`.
    training : RunRecord or None, default=None
        For a scoring run: the training run of its model, read with
        :data:`TRAINING_ARTIFACTS`. Ignored for a training run.
    training_problem : str, default=""
        For a scoring run without ``training``: why it could not be read,
        shown where its charts would be.
    generated_at : datetime.datetime or None, default=None
        Shown in the footer; default: now (UTC).

    Returns
    -------
    str
        One HTML document: inline style, figures as PNG data URIs, no script
        and no link to anything outside the file.

    Notes
    -----
    A missing or malformed table never fails the report: its section says
    which artifact of which run is missing and why. Only aggregates are
    shown (counts, rates, medians); no customer row is in any artifact read.
    """
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    if run.stage == "score":
        sections = _scoring_sections(run, training, training_problem)
        kind = "scoring"
    else:
        sections = _training_sections(run)
        kind = "training"
    if run.status != "FINISHED":
        # a run that did not finish may lack a model, scores or some tables
        sections.insert(
            0,
            Section(
                "status",
                f"This run is {run.status}",
                render_note(
                    f"The run ended {run.status}, not FINISHED: it may have "
                    "registered no model or written no scores, and the figures "
                    "below may be incomplete."
                ),
            ),
        )
    title = f"Referral propensity report: {kind} run {run.run_name or run.run_id}"
    footer = (
        f"Generated {generated_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC from the "
        f"MLflow run {run.run_id}; the same file is logged with it as report.html."
    )
    return render_page(
        title=title, facts=_facts(run, training), sections=sections, footer=footer
    )


def _facts(run: RunRecord, training: RunRecord | None) -> list[tuple[str, str]]:
    facts = [
        ("run", f"{run.run_name} ({run.run_id})"),
        ("experiment", run.experiment_name),
        ("stage", run.stage or "(no stage tag)"),
        ("status", run.status),
    ]
    if run.started_at is not None:
        facts.append(("started", f"{run.started_at:%Y-%m-%d %H:%M} UTC"))
    params = run.params
    if run.stage == "score":
        facts += [
            ("scoring as_of", params.get("scoring.as_of_used", "n/a")),
            ("model", params.get("scoring.model_uri", "n/a")),
            ("model version", params.get("scoring.model_version", "n/a")),
            ("training run", params.get("scoring.model_run_id", "n/a")),
        ]
        if training is not None:
            facts.append(("training run name", training.run_name))
    else:
        test_as_of = params.get("derived.test_as_of") or params.get(
            "training.test_as_of"
        )
        if test_as_of:
            facts.append(("test as_of", test_as_of))
        if run.tags.get("champion_decision"):
            facts.append(("champion decision", run.tags["champion_decision"]))
    for key in ("dataset", "label_kind", "code_version"):
        if run.tags.get(key):
            facts.append((key.replace("_", " "), run.tags[key]))
    return facts


def _training_sections(run: RunRecord) -> list[Section]:
    return [
        Section("summary", "Model against the baselines", _model_summary(run)),
        Section("segments", "Segments", _training_segments(run)),
        Section("gains", "Gains and lift", _gains(run)),
        Section("calibration", "Calibration", _calibration(run)),
        Section("feature-importance", "Feature importance", _importance(run)),
        Section(
            "score-distribution",
            "Score distribution",
            _distribution(run, "propensity of the held-out test rows"),
        ),
        Section("snapshots", "Snapshots", _snapshots(run)),
        Section(
            "offers",
            "Offers chosen and budget curve",
            render_note(
                "A training run chooses no offers and spends no budget, so this "
                "report has no offers table and no budget curve. They are in the "
                "report of a scoring run: referral-propensity report --run-id "
                "<scoring run id>."
            ),
        ),
        Section("config", "Config", _config(run)),
    ]


def _scoring_sections(
    run: RunRecord, training: RunRecord | None, training_problem: str
) -> list[Section]:
    if training is None:
        why = training_problem or "it is not named by the scoring run"
        model_body = render_missing(
            f"The charts of the model come from its training run, which could not "
            f"be read: {why}."
        )
        summary = _scoring_summary(run) + model_body
        gains = calibration = importance = profile_note = model_body
    else:
        source = render_note(
            f"From the training run of the model: {training.run_name} "
            f"({training.run_id})."
        )
        summary = (
            _scoring_summary(run) + "<h3>The model</h3>" + _model_summary(training)
        )
        gains = source + _gains(training)
        calibration = source + _calibration(training)
        importance = source + _importance(training)
        profile_note = ""
    return [
        Section("summary", "Summary", summary),
        Section("segments", "Segments", _scoring_segments(run, training, profile_note)),
        Section("offers", "Offers chosen", _offers(run)),
        Section("budget", "Budget curve", _budget(run)),
        Section(
            "score-distribution",
            "Score distribution",
            _distribution(run, "propensity of the scored customers, best offer each"),
        ),
        Section("gains", "Gains and lift", gains),
        Section("calibration", "Calibration", calibration),
        Section("feature-importance", "Feature importance", importance),
        Section("config", "Config", _config(run)),
    ]


def _table(run: RunRecord, path: str) -> tuple[pd.DataFrame | None, str]:
    """The table, or None and the HTML of a note saying what is missing."""
    what = f"{path} of {run.stage or 'this'} run {run.run_id}"
    frame = run.tables.get(path)
    if frame is None:
        reason = run.missing.get(path, "not read")
        return None, render_missing(
            f"Missing: {what} ({reason}). Runs logged by an earlier version do "
            f"not have it; {_rerun_hint(run)} to get this section."
        )
    lacking = [c for c in _REQUIRED_COLUMNS.get(path, ()) if c not in frame.columns]
    if lacking:
        return None, render_missing(
            f"Missing: {what} has no column(s) {', '.join(lacking)} (found: "
            f"{', '.join(map(str, frame.columns))}), so it cannot be shown."
        )
    if frame.empty:
        return None, render_missing(f"Missing: {what} was logged with no rows.")
    return frame, ""


def _rerun_hint(run: RunRecord) -> str:
    if run.stage == "score":
        return "score again (referral-propensity score)"
    return "train again (referral-propensity train)"


def _chart(draw: Callable[[], object], *, alt: str, caption: str | None = None) -> str:
    """A drawn figure as HTML, or a note when the data cannot be drawn."""
    try:
        uri = charts.figure_to_data_uri(draw())
    except Exception as exc:  # odd values in a table must not stop the report
        logger.warning("Could not draw the %s chart: %s", alt, exc)
        return render_missing(f"The {alt} chart could not be drawn: {exc}.")
    return render_figure(uri, alt=alt, caption=caption)


def _model_summary(run: RunRecord) -> str:
    metrics = run.metrics
    if "roc_auc" not in metrics:
        return render_missing(
            f"Missing: run {run.run_id} logged no roc_auc metric, so there is no "
            f"comparison with the baselines."
        )
    rows = []
    for label, key, fmt in _MODEL_METRICS:
        row = {"metric": label}
        for score, prefix in _SCORES:
            value = metrics.get(prefix + key)
            row[score] = "n/a" if value is None else fmt.format(value)
        rows.append(row)
    body = render_table(
        pd.DataFrame(rows),
        table_id="model-metrics",
        caption="On the held-out test rows (inactive customers)",
    )
    if "roc_auc_std" in metrics:
        body += render_note(
            f"ROC AUC is the mean over {metrics.get('n_folds', float('nan')):.0f} "
            f"cross-validation folds, +- {metrics['roc_auc_std']:.3f}."
        )
    extras = [
        (label, metrics[key])
        for label, key in (
            ("test rows", "n_customers"),
            ("positive rate", "positive_rate"),
            ("segments", "n_segments"),
        )
        if key in metrics
    ]
    if extras:
        body += render_paragraph(
            "; ".join(f"{label}: {format_value(v, label)}" for label, v in extras)
        )
    return body


def _scoring_summary(run: RunRecord) -> str:
    metrics = run.metrics
    shown = [
        ("customers scored", "rows_scored"),
        ("selected", "n_selected"),
        ("total cost of the selected", "total_cost_selected"),
        ("expected responses of the selected", "expected_responses_selected"),
        ("expected value of the selected", "expected_value_selected"),
        ("mean propensity", "propensity_mean"),
    ]
    rows = [
        {"figure": label, "value": format_value(metrics[key])}
        for label, key in shown
        if key in metrics
    ]
    if not rows:
        return render_missing(f"Missing: run {run.run_id} logged no scoring metrics.")
    return render_table(pd.DataFrame(rows), table_id="scoring-summary")


def _training_segments(run: RunRecord) -> str:
    profile, problem = _table(run, SEGMENT_PROFILE)
    if profile is None:
        return problem
    shown = [
        c
        for c in ("segment_id", "segment_name", "n_customers", "share", "response_rate")
        if c in profile.columns
    ]
    body = render_table(
        profile[shown],
        table_id="segment-table",
        caption="Inactive customers the segments were fitted on",
        headers={"response_rate": "past response rate"},
    )
    body += _chart(
        lambda: charts.plot_segment_sizes(profile), alt="segment sizes"
    ) + _chart(lambda: charts.plot_segment_profile(profile), alt="segment profiles")
    metrics, problem = _table(run, SEGMENT_METRICS)
    body += "<h3>Held-out test rows by segment</h3>"
    if metrics is None:
        return body + problem
    columns = [
        c
        for c in (
            "segment_id",
            "segment_name",
            "n_customers",
            "positive_rate",
            "roc_auc",
            "mean_propensity",
        )
        if c in metrics.columns
    ]
    return body + render_table(
        metrics[columns],
        table_id="segment-metrics",
        formats={"roc_auc": _fixed(3), "mean_propensity": _percent},
    )


def _scoring_segments(
    run: RunRecord, training: RunRecord | None, profile_note: str
) -> str:
    counts, problem = _table(run, SEGMENT_COUNTS)
    if counts is None:
        body = problem
    else:
        counts = counts[["segment_id", "segment_name", "n_customers"]].copy()
        total = counts["n_customers"].sum()
        counts["share"] = counts["n_customers"] / total if total else float("nan")
        body = render_table(
            counts,
            table_id="segment-table",
            caption="Scored customers per segment",
        ) + _chart(
            lambda: charts.plot_segment_sizes(counts, title="Scored customers"),
            alt="segment sizes",
        )
    if training is None:
        return body + profile_note
    profile, problem = _table(training, SEGMENT_PROFILE)
    if profile is None:
        return body + problem
    return body + _chart(
        lambda: charts.plot_segment_profile(profile),
        alt="segment profiles",
        caption=f"Profiles as fitted in the training run {training.run_id}",
    )


def _gains(run: RunRecord) -> str:
    gains, problem = _table(run, GAINS)
    if gains is None:
        return problem
    scores = ", ".join(str(s) for s in gains["score"].unique())
    return _chart(
        lambda: charts.plot_gains_table(gains),
        alt="gains and lift",
        caption=f"Held-out test rows; scores: {scores}; dashed: a random order",
    )


def _calibration(run: RunRecord) -> str:
    table, problem = _table(run, CALIBRATION)
    if table is None:
        return problem
    n = int(table["n_customers"].sum())
    return _chart(
        lambda: charts.plot_calibration_table(table, title="Calibration (test rows)"),
        alt="calibration curve",
        caption=f"{len(table)} bins of about equal size, {n:,} test rows",
    )


def _importance(run: RunRecord) -> str:
    table, problem = _table(run, FEATURE_IMPORTANCE)
    if table is None:
        return problem
    top = min(20, len(table))
    return _chart(
        lambda: charts.plot_feature_importance(table, top=top),
        alt="feature importance",
        caption=f"The {top} features of {len(table)} with the largest total gain",
    )


def _distribution(run: RunRecord, what: str) -> str:
    table, problem = _table(run, SCORE_DISTRIBUTION)
    if table is None:
        return problem
    n = int(table["n_customers"].sum())
    return _chart(
        lambda: charts.plot_score_distribution(table),
        alt="score distribution",
        caption=f"{what.capitalize()}: {n:,} customers",
    )


def _snapshots(run: RunRecord) -> str:
    table, problem = _table(run, SNAPSHOTS)
    if table is None:
        return problem
    return render_table(table, table_id="snapshots")


def _offers(run: RunRecord) -> str:
    offers, problem = _table(run, OFFERS_CHOSEN)
    if offers is None:
        return problem
    shown = offers[["offer", "reason", "n_customers", "cost", "expected_value"]]
    return render_table(
        shown.assign(offer=shown["offer"].fillna("(no offer)")),
        table_id="offers-table",
        caption="Scored customers by their best offer and selection reason",
        formats={"cost": _fixed(2), "expected_value": _fixed(2)},
    ) + _chart(lambda: charts.plot_offers_chosen(offers), alt="offers chosen")


def _budget(run: RunRecord) -> str:
    curve, problem = _table(run, BUDGET_CURVE)
    if curve is None:
        return problem
    n_selected = run.metrics.get("n_selected")
    last = curve.sort_values("n_contacts").iloc[-1]
    text = (
        f"Contacting all {int(last['n_contacts']):,} selectable customers in rank "
        f"order would cost {last['cumulative_cost']:,.2f} for "
        f"{last['expected_responses']:,.1f} expected responses"
    )
    if n_selected is not None:
        text += f"; the campaign selects {int(n_selected):,} of them"
    return render_paragraph(text + ".") + _chart(
        lambda: charts.plot_budget_curve(
            curve, n_selected=int(n_selected) if n_selected else None
        ),
        alt="budget curve",
        caption="Selectable customers: not opted out, not cooling down, with an "
        "offer of positive expected value",
    )


def _config(run: RunRecord) -> str:
    text = run.texts.get(CONFIG)
    if text is None:
        reason = run.missing.get(CONFIG, "not read")
        return render_missing(f"Missing: {CONFIG} of run {run.run_id} ({reason}).")
    return render_details("config.yaml as resolved for this run", text)


def _fixed(digits: int) -> Callable[[object], str]:
    def show(value: object) -> str:
        text = format_value(value)
        return text if text == "n/a" else f"{float(value):,.{digits}f}"

    return show


def _percent(value: object) -> str:
    text = format_value(value)
    return text if text == "n/a" else f"{float(value):.2%}"
