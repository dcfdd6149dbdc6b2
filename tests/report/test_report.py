"""The HTML report: its sections and tables, no outside resources, the command,
and the page as headless Chromium renders it.

The runs are logged by hand into a temporary SQLite store, with small tables
of the shapes the training and scoring runs log; one slow test runs the real
job and reports on it.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from referral_propensity import tracking
from referral_propensity.cli import (
    EXIT_BAD_INPUT,
    EXIT_NO_MODEL,
    EXIT_WRITE_FAILED,
    app,
)
from referral_propensity.report import build_report_html, write_run_report
from referral_propensity.report.build import SCORING_ARTIFACTS, TRAINING_ARTIFACTS
from referral_propensity.tracking.artifacts import RunRecord

EXPERIMENT = "report-test"
CHROMIUM = Path("/usr/bin/chromium")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# --- the tables a training run logs -----------------------------------------

SEGMENT_NAMES = [
    "one-time buyers, no longer engaging",
    "repeat buyers, still opening e-mails",
    # text from a run must reach the page escaped, never as markup
    'big spenders <b>"VIP"</b> & co',
]
SEGMENT_PROFILE = pd.DataFrame(
    {
        "segment_id": [0, 1, 2],
        "segment_name": SEGMENT_NAMES,
        "n_customers": [1200, 600, 200],
        "share": [0.6, 0.3, 0.1],
        "median_recency_days": [300.0, 150.0, 120.0],
        "median_n_orders": [1.0, 3.0, 9.0],
        "median_spend_total": [40.0, 130.0, 1250.5],
        "response_rate": [0.02, 0.08, 0.15],
    }
)
SEGMENT_METRICS = pd.DataFrame(
    {
        "segment_id": [0, 1, 2],
        "segment_name": SEGMENT_NAMES,
        "n_customers": [240, 120, 40],
        "positive_rate": [0.025, 0.075, 0.0],
        # one class only in segment 2: ROC AUC is undefined there
        "roc_auc": [0.71, 0.66, np.nan],
        "mean_propensity": [0.021, 0.07, 0.12],
    }
)


def _gains_rows(score: str, responders: list[int]) -> pd.DataFrame:
    # 100 responders among 1,000 test rows; lift = decile's share / 0.1
    positives = np.array(responders, dtype=float)
    return pd.DataFrame(
        {
            "decile": np.arange(1, 11),
            "n_customers": 100.0,
            "n_positive": positives,
            "response_rate": positives / 100,
            "gain": positives.cumsum() / 100,
            "lift": positives / 100 / 0.1,
            "score": score,
        }
    )


GAINS = pd.concat(
    [
        _gains_rows("model", [30, 20, 12, 10, 8, 6, 5, 4, 3, 2]),
        _gains_rows("recency", [20, 15, 12, 11, 10, 9, 8, 6, 5, 4]),
        _gains_rows("rfm", [22, 16, 12, 10, 10, 9, 7, 6, 4, 4]),
    ],
    ignore_index=True,
)
CALIBRATION = pd.DataFrame(
    {
        "bin": [1, 2, 3, 4, 5],
        "mean_propensity": [0.01, 0.03, 0.05, 0.08, 0.15],
        "observed_rate": [0.0, 0.02, 0.06, 0.07, 0.17],
        "n_customers": [200, 200, 200, 200, 200],
    }
)
FEATURE_IMPORTANCE = pd.DataFrame(
    {
        "feature": ["recency_days", "n_orders", "spend_total", "tenure_days"],
        "gain": [50.0, 30.0, 12.5, 4.0],
        "splits": [40, 22, 15, 6],
    }
)
SCORE_DISTRIBUTION = pd.DataFrame(
    {
        "bin_left": [0.0, 0.04, 0.08, 0.12, 0.16],
        "bin_right": [0.04, 0.08, 0.12, 0.16, 0.2],
        "n_customers": [400, 300, 200, 75, 25],
    }
)
SNAPSHOTS = pd.DataFrame(
    {
        "as_of": ["2024-10-01", "2024-11-15", "2025-01-01"],
        "role": ["train", "validation", "test"],
        "n_customers": [2100, 2200, 2300],
        "n_inactive": [900, 950, 1000],
        "positive_rate_inactive": [0.09, 0.1, 0.1],
    }
)
TRAINING_METRICS = {
    "roc_auc": 0.78,
    "pr_auc": 0.31,
    "brier": 0.081,
    "lift_top_decile": 3.0,
    "baseline_recency_roc_auc": 0.7,
    "baseline_recency_pr_auc": 0.22,
    "baseline_recency_lift_top_decile": 2.0,
    "baseline_rfm_roc_auc": 0.72,
    "baseline_rfm_pr_auc": 0.24,
    "baseline_rfm_lift_top_decile": 2.2,
    "n_customers": 1000.0,
    "positive_rate": 0.1,
}

# --- the tables a scoring run logs ------------------------------------------

SEGMENT_COUNTS = pd.DataFrame(
    {
        "segment_id": [0, 1, 2],
        "segment_name": SEGMENT_NAMES,
        "n_customers": [150, 70, 25],
    }
)
OFFERS_CHOSEN = pd.DataFrame(
    {
        "offer": ["discount", "discount", "early_access", "early_access", None],
        "reason": [
            "selected",
            "over_budget",
            "selected",
            "opted_out",
            "no_eligible_offer",
        ],
        "n_customers": [40, 100, 30, 10, 65],
        "cost": [20.0, 50.0, 6.0, 2.0, 0.0],
        "expected_value": [80.0, 120.0, 70.0, 15.0, 0.0],
    }
)
BUDGET_CURVE = pd.DataFrame(
    {
        "n_contacts": [20, 40, 70, 100, 140, 170],
        "cumulative_cost": [6.0, 12.0, 21.0, 30.0, 48.0, 76.0],
        "expected_responses": [5.0, 9.0, 13.0, 16.0, 18.5, 20.0],
    }
)
SCORING_METRICS = {
    "rows_in": 600.0,
    "rows_scored": 245.0,
    "n_selected": 70.0,
    "total_cost_selected": 26.0,
    "expected_responses_selected": 13.0,
    "expected_value_selected": 150.0,
}
CONFIG_TEXT = "experiment_name: report-test\nlabel:\n  kind: reactivation\n"


def _log_run(
    client: MlflowClient,
    experiment_id: str,
    *,
    name: str,
    stage: str,
    start: int,
    params: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    status: str = "FINISHED",
) -> str:
    run = client.create_run(
        experiment_id, start_time=start, tags={"stage": stage}, run_name=name
    )
    run_id = run.info.run_id
    for key, value in (params or {}).items():
        client.log_param(run_id, key, value)
    for key, value in (metrics or {}).items():
        client.log_metric(run_id, key, value)
    for path, table in (tables or {}).items():
        client.log_text(run_id, table.to_csv(index=False), path)
    if stage in ("train", "score"):
        client.log_text(run_id, CONFIG_TEXT, "config.yaml")
    client.set_terminated(run_id, status=status, end_time=start + 500)
    return run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite store with training, scoring and other runs, logged by hand.

    Start times order them: the finished scoring run ``score`` is the latest
    training or scoring run; the job's parent run and a failed training run
    start later but do not count.
    """
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(
        EXPERIMENT, artifact_location=(folder / "artifacts").as_uri()
    )
    full_tables = {
        "tables/segment_profile.csv": SEGMENT_PROFILE,
        "tables/segment_metrics.csv": SEGMENT_METRICS,
        "tables/gains.csv": GAINS,
        "tables/calibration.csv": CALIBRATION,
        "tables/feature_importance.csv": FEATURE_IMPORTANCE,
        "tables/score_distribution.csv": SCORE_DISTRIBUTION,
        "tables/snapshots.csv": SNAPSHOTS,
    }
    runs = {}
    runs["train"] = _log_run(
        client,
        experiment_id,
        name="train report-test as_of=2025-01-01",
        stage="train",
        start=1_000_000,
        params={"derived.test_as_of": "2025-01-01"},
        metrics=TRAINING_METRICS,
        tables=full_tables,
    )
    # a run logged before calibration, score distribution and segment metrics
    old_tables = {
        path: table
        for path, table in full_tables.items()
        if path
        not in (
            "tables/calibration.csv",
            "tables/score_distribution.csv",
            "tables/segment_metrics.csv",
        )
    }
    runs["train_old"] = _log_run(
        client,
        experiment_id,
        name="train report-test (older version)",
        stage="train",
        start=2_000_000,
        metrics=TRAINING_METRICS,
        tables=old_tables,
    )
    runs["score_orphan"] = _log_run(
        client,
        experiment_id,
        name="score with a model of an unknown run",
        stage="score",
        start=2_500_000,
        params={"scoring.model_run_id": "0123456789abcdef0123456789abcdef"},
        metrics=SCORING_METRICS,
        tables={"tables/segment_counts.csv": SEGMENT_COUNTS},
    )
    runs["score"] = _log_run(
        client,
        experiment_id,
        name="score report-test as_of=2025-03-01 model=v1",
        stage="score",
        start=3_000_000,
        params={
            "scoring.model_run_id": runs["train"],
            "scoring.model_uri": "models:/rp-report@champion",
            "scoring.model_version": "1",
            "scoring.as_of_used": "2025-03-01",
        },
        metrics=SCORING_METRICS,
        tables={
            "tables/segment_counts.csv": SEGMENT_COUNTS,
            "tables/offers_chosen.csv": OFFERS_CHOSEN,
            "tables/budget_curve.csv": BUDGET_CURVE,
            "tables/score_distribution.csv": SCORE_DISTRIBUTION,
        },
    )
    runs["job"] = _log_run(
        client, experiment_id, name="run report-test", stage="job", start=4_000_000
    )
    runs["train_failed"] = _log_run(
        client,
        experiment_id,
        name="train that failed",
        stage="train",
        start=5_000_000,
        status="FAILED",
    )
    return uri, runs, folder


@pytest.fixture
def tracking_store(store, monkeypatch):
    """Point MLflow (and the command line) at the store for one test."""
    uri, runs, folder = store
    previous = mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracking.configure(uri)
    yield uri, runs, folder
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def reports(store):
    """HTML of the training and the scoring report, built once."""
    uri, runs, _ = store
    previous = mlflow.get_tracking_uri()
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI, which configure prefers
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        tracking.configure(uri)
        try:
            train = tracking.read_run(runs["train"], artifact_paths=TRAINING_ARTIFACTS)
            score = tracking.read_run(runs["score"], artifact_paths=SCORING_ARTIFACTS)
        finally:
            mlflow.set_tracking_uri(previous)
    return {
        "train": build_report_html(train),
        "score": build_report_html(score, training=train),
    }


class _Page(HTMLParser):
    """The parts of a page the tests look at: tags, sections, tables, notes."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.section_ids: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.notes: dict[str, list[tuple[str, str]]] = {}
        self.style = ""
        self._section = ""
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._note: tuple[str, list[str]] | None = None
        self._in_style = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "section":
            self._section = attributes.get("id") or ""
            self.section_ids.append(self._section)
        elif tag == "table":
            self._table = attributes.get("id") or f"table-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "p" and attributes.get("class") in ("note", "missing"):
            self._note = (attributes["class"], [])
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "p" and self._note is not None:
            kind, parts = self._note
            self.notes.setdefault(self._section, []).append((kind, "".join(parts)))
            self._note = None
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._note is not None:
            self._note[1].append(data)
        if self._in_style:
            self.style += data

    def missing(self, section: str) -> list[str]:
        return [text for kind, text in self.notes.get(section, []) if kind == "missing"]

    def body_rows(self, table_id: str) -> list[list[str]]:
        return self.tables[table_id][1:]


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def _assert_rows_equal_segments(page: _Page, logged: pd.DataFrame) -> None:
    rows = page.body_rows("segment-table")
    header = page.tables["segment-table"][0]
    assert header[:3] == ["segment_id", "segment_name", "n_customers"]
    assert [(int(r[0]), r[1], _count(r[2])) for r in rows] == list(
        zip(
            logged["segment_id"],
            logged["segment_name"],
            logged["n_customers"],
            strict=True,
        )
    )


# --- the training report -----------------------------------------------------


def test_training_report_has_every_training_section_and_nothing_missing(reports):
    page = _Page(reports["train"])

    assert page.section_ids == [
        "summary",
        "segments",
        "gains",
        "calibration",
        "feature-importance",
        "score-distribution",
        "snapshots",
        "offers",
        "config",
    ]
    assert all(not page.missing(s) for s in page.section_ids)
    # six charts: segment sizes and profiles, gains, calibration, importance, scores
    assert sum(tag == "img" for tag, _ in page.tags) == 6


def test_training_report_omits_offers_and_budget_with_a_note(reports):
    page = _Page(reports["train"])

    assert "budget" not in page.section_ids
    notes = page.notes["offers"]
    assert [kind for kind, _ in notes] == ["note"]
    assert "A training run chooses no offers" in notes[0][1]
    assert "offers-table" not in page.tables


def test_segment_table_rows_equal_the_logged_segment_profile(reports):
    page = _Page(reports["train"])

    _assert_rows_equal_segments(page, SEGMENT_PROFILE)
    # shares and past response rates in percent: 0.6 -> 60.0%, 0.15 -> 15.0%
    assert [r[3] for r in page.body_rows("segment-table")] == [
        "60.0%",
        "30.0%",
        "10.0%",
    ]
    assert [r[4] for r in page.body_rows("segment-table")] == ["2.0%", "8.0%", "15.0%"]


def test_model_metrics_table_sets_the_model_beside_both_baselines(reports):
    page = _Page(reports["train"])

    rows = {r[0]: r[1:] for r in page.body_rows("model-metrics")}
    assert page.tables["model-metrics"][0] == [
        "metric",
        "model",
        "recency alone",
        "RFM score",
    ]
    assert rows["ROC AUC"] == ["0.780", "0.700", "0.720"]
    assert rows["top-decile lift"] == ["3.00", "2.00", "2.20"]
    # the baselines are ranks, not probabilities: no Brier score for them
    assert rows["Brier score"] == ["0.0810", "n/a", "n/a"]


def test_segment_metrics_show_an_undefined_roc_auc_as_not_available(reports):
    rows = _Page(reports["train"]).body_rows("segment-metrics")

    assert [r[4] for r in rows] == ["0.710", "0.660", "n/a"]


def test_text_from_the_run_is_escaped(reports):
    for html in reports.values():
        assert "<b>" not in html
        assert "big spenders &lt;b&gt;&quot;VIP&quot;&lt;/b&gt; &amp; co" in html


# --- the scoring report ------------------------------------------------------


def test_scoring_report_shows_its_tables_and_the_training_runs_charts(reports, store):
    _, runs, _ = store
    page = _Page(reports["score"])

    assert page.section_ids == [
        "summary",
        "segments",
        "offers",
        "budget",
        "score-distribution",
        "gains",
        "calibration",
        "feature-importance",
        "config",
    ]
    assert all(not page.missing(s) for s in page.section_ids)
    _assert_rows_equal_segments(page, SEGMENT_COUNTS)
    for section in ("gains", "calibration", "feature-importance"):
        (note,) = [text for kind, text in page.notes[section] if kind == "note"]
        assert runs["train"] in note
    # segment sizes and profiles, offers, budget, scores, gains, calibration,
    # importance
    assert sum(tag == "img" for tag, _ in page.tags) == 8


def test_offers_table_rows_equal_the_logged_offers_chosen(reports):
    rows = _Page(reports["score"]).body_rows("offers-table")

    assert [(r[0], r[1], _count(r[2])) for r in rows] == [
        ("discount", "selected", 40),
        ("discount", "over_budget", 100),
        ("early_access", "selected", 30),
        ("early_access", "opted_out", 10),
        ("(no offer)", "no_eligible_offer", 65),
    ]
    assert [r[3] for r in rows] == ["20.00", "50.00", "6.00", "2.00", "0.00"]


def test_budget_section_states_the_whole_curve_and_the_selection(reports):
    html = reports["score"]

    # the last point of the curve: 170 contacts, cost 76, 20 expected responses
    assert (
        "Contacting all 170 selectable customers in rank order would cost 76.00 "
        "for 20.0 expected responses; the campaign selects 70 of them." in html
    )


# --- what the page may and may not contain ------------------------------------


@pytest.mark.parametrize("kind", ["train", "score"])
def test_report_loads_nothing_from_outside_and_embeds_every_image(reports, kind):
    html = reports[kind]
    page = _Page(html)

    assert "http://" not in html and "https://" not in html
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "iframe")]
    assert "url(" not in page.style and "@import" not in page.style
    for tag, attributes in page.tags:
        for name in ("src", "href", "srcset", "action", "data"):
            value = attributes.get(name)
            if value is None:
                continue
            if name == "href":
                assert value.startswith("#"), (tag, value)
            else:
                assert tag == "img" and name == "src", (tag, name)
    images = [attributes["src"] for tag, attributes in page.tags if tag == "img"]
    assert images
    for src in images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src.removeprefix(prefix)).startswith(PNG_SIGNATURE)


# --- missing and malformed artifacts -------------------------------------------


def test_missing_artifacts_give_sections_that_say_what_is_missing(tracking_store):
    _, runs, _ = tracking_store
    run = tracking.read_run(runs["train_old"], artifact_paths=TRAINING_ARTIFACTS)

    page = _Page(build_report_html(run))

    assert set(run.missing) == {
        "tables/calibration.csv",
        "tables/score_distribution.csv",
        "tables/segment_metrics.csv",
    }
    for section, path in (
        ("calibration", "tables/calibration.csv"),
        ("score-distribution", "tables/score_distribution.csv"),
        ("segments", "tables/segment_metrics.csv"),
    ):
        (text,) = page.missing(section)
        assert f"Missing: {path} of train run {runs['train_old']}" in text
        assert "not logged with this run" in text
    # what the run has is still shown
    _assert_rows_equal_segments(page, SEGMENT_PROFILE)
    assert not page.missing("gains")


def test_scoring_report_without_its_training_run_says_why(tracking_store, tmp_path):
    _, runs, _ = tracking_store
    unknown = "0123456789abcdef0123456789abcdef"

    outcome = write_run_report(
        experiment_name=EXPERIMENT,
        output_dir=tmp_path,
        run_id=runs["score_orphan"],
    )

    assert outcome.training_run_id is None
    assert outcome.missing == [
        "tables/budget_curve.csv",
        "tables/offers_chosen.csv",
        "tables/score_distribution.csv",
    ]
    page = _Page(outcome.path.read_text(encoding="utf-8"))
    for section in ("gains", "calibration", "feature-importance"):
        (text,) = page.missing(section)
        assert "its training run, which could not be read" in text
        assert f"no MLflow run {unknown!r}" in text
    assert "tables/offers_chosen.csv" in page.missing("offers")[0]
    assert "tables/budget_curve.csv" in page.missing("budget")[0]
    _assert_rows_equal_segments(page, SEGMENT_COUNTS)


def _record(stage: str, tables: dict[str, pd.DataFrame]) -> RunRecord:
    return RunRecord(
        run_id="f" * 32,
        run_name="by hand",
        experiment_id="1",
        experiment_name=EXPERIMENT,
        status="FINISHED",
        started_at=None,
        params={},
        metrics={},
        tags={"stage": stage},
        tables=tables,
    )


def test_a_table_without_the_needed_columns_is_named_not_raised():
    no_lift = GAINS.drop(columns=["lift"])
    run = _record("train", {"tables/gains.csv": no_lift})

    page = _Page(build_report_html(run))

    (text,) = page.missing("gains")
    assert "has no column(s) lift" in text
    assert "found: decile, n_customers" in text
    (text,) = page.missing("summary")
    assert "logged no roc_auc metric" in text


def test_a_table_logged_with_no_rows_is_reported_as_such():
    run = _record("score", {"tables/budget_curve.csv": BUDGET_CURVE.iloc[:0]})

    page = _Page(build_report_html(run))

    (text,) = page.missing("budget")
    assert text.endswith("was logged with no rows.")


# --- reading runs back ---------------------------------------------------------


def test_latest_run_is_the_newest_finished_training_or_scoring_run(tracking_store):
    _, runs, _ = tracking_store

    # the job's parent and the failed training started later, but do not count
    assert tracking.find_latest_run(EXPERIMENT) == runs["score"]
    assert tracking.find_latest_run(EXPERIMENT, stages=["train"]) == runs["train_old"]


def test_latest_run_of_an_unknown_experiment_is_not_found(tracking_store):
    with pytest.raises(tracking.RunNotFoundError, match="no MLflow experiment 'nope'"):
        tracking.find_latest_run("nope")


def test_read_run_gives_params_metrics_tags_and_the_logged_tables(tracking_store):
    _, runs, _ = tracking_store

    run = tracking.read_run(
        runs["score"], artifact_paths=["tables/offers_chosen.csv", "config.yaml"]
    )

    assert run.stage == "score"
    assert run.params["scoring.model_run_id"] == runs["train"]
    assert run.metrics["n_selected"] == pytest.approx(70.0, rel=1e-12)
    assert run.texts["config.yaml"] == CONFIG_TEXT
    pd.testing.assert_frame_equal(run.tables["tables/offers_chosen.csv"], OFFERS_CHOSEN)
    assert run.missing == {}


# --- the command ---------------------------------------------------------------


def _config(folder: Path, experiment: str = EXPERIMENT) -> Path:
    path = folder / "report.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            experiment_name: {experiment}
            output_dir: {folder / "out"}
            data: {{source: cdnow}}
            """
        ),
        encoding="utf-8",
    )
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_report_command_writes_the_latest_run_and_logs_it_as_report_html(
    tracking_store, tmp_path
):
    uri, runs, _ = tracking_store

    result = invoke("report", "--config", str(_config(tmp_path)))

    assert result.exit_code == 0, result.output
    written = tmp_path / "out" / f"report_{runs['score']}.html"
    assert f"-> {written}" in result.output
    logged = MlflowClient(tracking_uri=uri).download_artifacts(
        runs["score"], "report.html", str(tmp_path / "download")
    )
    assert Path(logged).read_bytes() == written.read_bytes()
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_report_command_writes_a_given_run_to_a_given_file(tracking_store, tmp_path):
    _, runs, _ = tracking_store
    target = tmp_path / "elsewhere" / "train.html"

    result = invoke(
        "report",
        "--config",
        str(_config(tmp_path)),
        "--run-id",
        runs["train_old"],
        "--output",
        str(target),
    )

    assert result.exit_code == 0, result.output
    assert "3 artifact(s) missing" in result.output
    assert _Page(target.read_text(encoding="utf-8")).missing("calibration")


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["--run-id", "0" * 32], EXIT_NO_MODEL, "run not found: no MLflow run"),
        (["--run-id", "job"], EXIT_BAD_INPUT, "has stage 'job'"),
    ],
)
def test_report_command_refuses_unknown_runs_and_runs_of_other_stages(
    tracking_store, tmp_path, arguments, code, message
):
    _, runs, _ = tracking_store
    arguments = [runs.get(a, a) for a in arguments]

    result = invoke("report", "--config", str(_config(tmp_path)), *arguments)

    assert result.exit_code == code
    assert message in result.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_report_command_without_runs_in_the_experiment_exits_4(
    tracking_store, tmp_path
):
    result = invoke("report", "--config", str(_config(tmp_path, "empty-experiment")))

    assert result.exit_code == EXIT_NO_MODEL
    assert "no MLflow experiment 'empty-experiment'" in result.output


def test_report_command_that_cannot_write_exits_5(tracking_store, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")

    result = invoke(
        "report",
        "--config",
        str(_config(tmp_path)),
        "--output",
        str(blocker / "report.html"),
    )

    assert result.exit_code == EXIT_WRITE_FAILED
    assert "pass another --output" in result.output


def test_write_run_report_replaces_the_report_logged_before(tracking_store, tmp_path):
    uri, runs, _ = tracking_store
    client = MlflowClient(tracking_uri=uri)

    for _ in range(2):
        outcome = write_run_report(
            experiment_name=EXPERIMENT,
            output_dir=tmp_path,
            run_id=runs["train"],
        )

    assert outcome.training_run_id is None
    assert outcome.missing == []
    names = [info.path for info in client.list_artifacts(runs["train"])]
    assert names.count("report.html") == 1


# --- in a browser ----------------------------------------------------------------

# Added to a copy of the report, first in <head>: it counts errors from the
# start, and once the page has loaded (every image decoded or failed) writes
# what the tests check into the DOM that --dump-dom prints.
PROBE = """<script>
(() => {
  const errors = [];
  window.addEventListener("error", (event) => {
    errors.push(event.message || "failed to load " + (event.target || {}).tagName);
  }, true);
  window.addEventListener("unhandledrejection", (event) => {
    errors.push(String(event.reason));
  });
  const original = console.error;
  console.error = (...args) => { errors.push(args.join(" ")); original(...args); };
  window.addEventListener("load", () => {
    const probe = document.createElement("pre");
    probe.id = "browser-probe";
    probe.textContent = JSON.stringify({
      images: Array.from(document.images, (image) => ({
        complete: image.complete,
        width: image.naturalWidth,
        height: image.naturalHeight,
      })),
      resources: performance.getEntriesByType("resource").map((entry) => entry.name),
      segmentRows: document.querySelectorAll("#segment-table tbody tr").length,
      errors: errors,
    });
    document.body.appendChild(probe);
  });
})();
</script>"""


def _chromium_command(profile: Path, screenshot: Path, page: Path) -> list[str]:
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # no name resolves: a resource from outside the file could not load
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        f"--screenshot={screenshot}",
        "--window-size=1280,4000",
        "--dump-dom",
        page.as_uri(),
    ]


@pytest.mark.parametrize("kind", ["train", "score"])
def test_report_renders_in_headless_chromium(reports, tmp_path, kind):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install --no-install-recommends chromium) to run this test"
        )
    html = reports[kind]
    page = tmp_path / "report.html"
    page.write_text(html.replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
    screenshot = tmp_path / "report.png"

    done = subprocess.run(
        _chromium_command(tmp_path / "profile", screenshot, page),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(r'<pre id="browser-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, "the probe did not run: " + done.stdout[-1000:]
    probe = json.loads(_unescape(found.group(1)))
    n_images = sum(tag == "img" for tag, _ in _Page(html).tags)
    assert len(probe["images"]) == n_images > 0
    assert all(
        i["complete"] and i["width"] > 0 and i["height"] > 0 for i in probe["images"]
    )
    assert probe["errors"] == []
    assert not [r for r in probe["resources"] if not r.startswith(("data:", "file:"))]
    assert probe["segmentRows"] == len(SEGMENT_NAMES)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []

    image = screenshot.read_bytes()
    assert image.startswith(PNG_SIGNATURE)
    # the PNG header: width and height, 4 bytes each, after the chunk type IHDR
    width, height = int.from_bytes(image[16:20]), int.from_bytes(image[20:24])
    assert (width, height) == (1280, 4000)


def _unescape(text: str) -> str:
    from html import unescape

    return unescape(text)


# --- the real job ------------------------------------------------------------------

SMALL_CONFIG = """
    experiment_name: report-small
    model_name: rp-report-small
    seed: 3
    output_dir: {output}
    data:
      source: synthetic
      synthetic: {{n_customers: 2000, start: 2023-01-01, end: 2025-06-30, seed: 11}}
    segments: {{k_min: 2, k_max: 3}}
    label: {{kind: offer_response, horizon_days: 60}}
    training:
      n_snapshots: 2
      snapshot_step_days: 45
      lightgbm: {{num_boost_round: 60, min_child_samples: 50}}
    scoring:
      catalog:
        - {{offer_type: discount, cost: 0.5, value: 30.0}}
        - {{offer_type: freebie, cost: 0.4, value: 30.0}}
        - {{offer_type: early_access, cost: 0.2, value: 30.0}}
        - {{offer_type: personal_message, cost: 0.2, value: 30.0}}
      budget: {{total_cost: 40.0}}
"""


@pytest.mark.slow
def test_reports_of_a_real_job_lack_no_artifact(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    previous = mlflow.get_tracking_uri()
    config = tmp_path / "report-small.yaml"
    config.write_text(
        textwrap.dedent(SMALL_CONFIG.format(output=tmp_path / "out")), encoding="utf-8"
    )
    try:
        ran = invoke("run", "--config", str(config))
        assert ran.exit_code == 0, ran.output
        scored = invoke("report", "--config", str(config))
        score_id = tracking.find_latest_run("report-small", stages=["score"])
        train_id = tracking.find_latest_run("report-small", stages=["train"])
        trained = invoke("report", "--config", str(config), "--run-id", train_id)
    finally:
        mlflow.set_tracking_uri(previous)

    assert scored.exit_code == 0, scored.output
    assert trained.exit_code == 0, trained.output
    assert not re.search(
        r"[1-9]\d* artifact\(s\) missing", scored.output + trained.output
    )
    for run_id, kind in ((score_id, "score"), (train_id, "train")):
        page = _Page((tmp_path / "out" / f"report_{run_id}.html").read_text("utf-8"))
        assert all(not page.missing(s) for s in page.section_ids), kind
        assert page.body_rows("segment-table")


def test_report_of_a_failed_run_says_so_first(tracking_store):
    _, runs, _ = tracking_store
    failed = tracking.read_run(runs["train_failed"], artifact_paths=TRAINING_ARTIFACTS)
    finished = tracking.read_run(runs["train"], artifact_paths=TRAINING_ARTIFACTS)

    failed_html = build_report_html(failed)
    finished_html = build_report_html(finished)

    assert "This run is FAILED" in failed_html
    assert failed_html.index("This run is FAILED") < failed_html.index("Segments")
    assert "This run is" not in finished_html
