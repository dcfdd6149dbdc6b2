"""End-to-end tests of the command line on a small synthetic shop."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from referral_propensity.cli import (
    EXIT_BAD_INPUT,
    EXIT_NO_MODEL,
    EXIT_WRITE_FAILED,
    app,
)
from referral_propensity.score import SCORE_COLUMNS
from small_shop import write_small_shop_config

pytestmark = pytest.mark.slow


def write_config(
    folder: Path,
    *,
    experiment="small",
    model="rp-small",
    extra="",
    label="offer_response",
) -> Path:
    return write_small_shop_config(
        folder, experiment=experiment, model=model, label=label, extra=extra
    )


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One `run` of the small shop, with its own MLflow store."""
    folder = tmp_path_factory.mktemp("run")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    config = write_config(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke(
            "run", "--config", str(config), "--output-dir", str(folder / "out")
        )
    return folder, store, config, result


def test_run_writes_ranked_scores_of_inactive_customers(finished_run):
    folder, _, _, result = finished_run
    assert result.exit_code == 0, result.output

    scores = pd.read_parquet(folder / "out" / "scores.parquet")
    from_csv = pd.read_csv(folder / "out" / "scores.csv", dtype={"customer_id": str})
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert len(scores) > 0
    # rank 1 is contacted first: ranks are 1..n in order of expected value
    np.testing.assert_array_equal(scores["rank"], np.arange(1, len(scores) + 1))
    assert scores["expected_value"].is_monotonic_decreasing
    assert ((scores["propensity"] >= 0) & (scores["propensity"] <= 1)).all()
    # personal_message is only for segment "0"
    assert (scores.loc[scores["offer"] == "personal_message", "segment_id"] == 0).all()
    # the selection keeps to the budget and takes only positive expected values
    selected = scores[scores["selected"]]
    assert 0 < len(selected) < len(scores)
    assert selected["cost"].sum() <= 60.0 + 1e-9
    assert (selected["expected_value"] > 0).all()
    # expected value is propensity x value - cost, for the chosen offer
    costs = {
        "discount": 0.5,
        "freebie": 0.4,
        "early_access": 0.2,
        "personal_message": 0.2,
    }
    np.testing.assert_allclose(
        scores["expected_value"],
        scores["propensity"] * 30.0 - scores["offer"].map(costs),
        rtol=1e-12,
    )
    pd.testing.assert_series_equal(from_csv["customer_id"], scores["customer_id"])


def test_run_leaves_training_and_scoring_runs_and_a_champion(finished_run):
    _, store, _, result = finished_run
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(store)
    client = MlflowClient(tracking_uri=store, registry_uri=store)

    runs = mlflow.search_runs(experiment_names=["small"])
    # one parent run of the job, its three steps as children
    assert sorted(runs["tags.stage"]) == ["job", "score", "segments", "train"]
    assert set(runs["status"]) == {"FINISHED"}
    parent = runs[runs["tags.stage"] == "job"].iloc[0]
    assert parent["tags.command"] == "run"
    # the scoring run is logged before the files are renamed into place
    assert (
        runs.loc[runs["tags.stage"] == "score", "tags.scores_written"].item() == "true"
    )
    children = runs[runs["tags.stage"] != "job"]
    assert (children["tags.mlflow.parentRunId"] == parent["run_id"]).all()
    assert parent["tags.mlflow.runName"].startswith("run small as_of=2025-07-01 data=")
    train = runs[runs["tags.stage"] == "train"].iloc[0]
    for metric in (
        "roc_auc",
        "pr_auc",
        "brier",
        "lift_top_decile",
        "baseline_recency_roc_auc",
        "baseline_rfm_roc_auc",
    ):
        assert np.isfinite(train[f"metrics.{metric}"])
    assert train["params.label.horizon_days"] == "60"
    assert train["params.derived.boundary_rule"].startswith(
        "features: timestamp < as_of"
    )
    assert int(train["params.data_fingerprint.transactions.rows"]) > 0

    champion = client.get_model_version_by_alias("rp-small", "champion")
    assert champion.run_id == train["run_id"]
    score = runs[runs["tags.stage"] == "score"].iloc[0]
    assert score["params.scoring.model_version"] == str(champion.version)
    assert score["metrics.rows_scored"] <= score["metrics.rows_in"]


def test_logged_pyfunc_returns_the_same_propensity_as_the_scores(
    finished_run, tmp_path
):
    folder, store, config, _ = finished_run
    mlflow.set_tracking_uri(store)
    pyfunc = mlflow.pyfunc.load_model("models:/rp-small@champion")

    # the feature table at the scoring date, written by the features command
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke(
            "features", "--config", str(config), "--output-dir", str(tmp_path)
        )
    assert result.exit_code == 0, result.output
    features = pd.read_parquet(next(tmp_path.glob("features_*.parquet")))
    inactive = features[features["is_inactive"]].drop(
        columns=["is_inactive", "lapse_stage"]
    )

    predicted = pyfunc.predict(inactive).set_index("customer_id")
    scores = pd.read_parquet(folder / "out" / "scores.parquet").set_index("customer_id")
    np.testing.assert_allclose(
        predicted.loc[scores.index, "propensity"],
        scores["propensity"],
        rtol=0,
        atol=1e-12,
    )


def test_second_identical_training_is_not_promoted(finished_run):
    _, store, config, _ = finished_run
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke("train", "--config", str(config))
    assert result.exit_code == 0, result.output
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    champion = client.get_model_version_by_alias("rp-small", "champion")
    challenger = client.get_model_version_by_alias("rp-small", "challenger")
    assert int(challenger.version) == int(champion.version) + 1
    run = client.get_run(challenger.run_id)
    # the same data and seed give the same ROC AUC, which does not beat it
    assert run.data.metrics["is_promoted"] == 0.0
    np.testing.assert_allclose(
        run.data.metrics["champion_roc_auc"], run.data.metrics["roc_auc"], rtol=1e-12
    )
    assert "not promoted" in run.data.tags["champion_decision"]
    assert "not more than the margin" in run.data.tags["champion_decision"]


def test_two_runs_with_the_same_config_write_identical_scores(tmp_path):
    outputs = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        config = write_config(folder)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
            result = invoke(
                "run", "--config", str(config), "--output-dir", str(folder / "out")
            )
        assert result.exit_code == 0, result.output
        outputs.append((folder / "out" / "scores.csv").read_bytes())
    assert outputs[0] == outputs[1]


def test_failed_scoring_leaves_the_earlier_scores_file_untouched(
    finished_run, tmp_path
):
    folder, store, config, _ = finished_run
    before = {
        name: (folder / "out" / name).read_bytes()
        for name in ("scores.csv", "scores.parquet")
    }
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "customer_id,timestamp,amount\nA1,2024-01-01,12.50\nA2,2024-01-02,twelve\n"
    )

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke(
            "score",
            "--config",
            str(config),
            "--output-dir",
            str(folder / "out"),
            "--transactions",
            str(bad),
        )

    assert result.exit_code == EXIT_BAD_INPUT
    assert "transactions.amount" in result.output and "line 3" in result.output
    for name, content in before.items():
        assert (folder / "out" / name).read_bytes() == content
    assert not list((folder / "out").glob(".*tmp"))


def test_scoring_without_a_champion_exits_with_the_missing_model_code(tmp_path):
    config = write_config(tmp_path, experiment="nomodel", model="rp-none")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
        result = invoke(
            "score", "--config", str(config), "--output-dir", str(tmp_path / "out")
        )
    assert result.exit_code == EXIT_NO_MODEL
    assert "models:/rp-none@champion" in result.output
    assert not (tmp_path / "out" / "scores.csv").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("customer_id,timestamp,amount\n", "has 0 data rows"),
        ("", "is empty (no header row)"),
        (
            "customer_id,timestamp,amount\nC95,2024-07-02,10.00\nC96,2024-08-15,20.00\n",
            "0 of 2 transactions are before cutoff",
        ),
        (
            "customer_id,when,amount\nC1,2024-01-01,1\n",
            "missing required column(s) timestamp",
        ),
    ],
    ids=["header_only", "zero_bytes", "all_after_as_of", "missing_column"],
)
def test_bad_transactions_stop_training_before_any_model(tmp_path, content, message):
    path = tmp_path / "transactions.csv"
    path.write_text(content)
    config = write_config(
        tmp_path, experiment="bad", model="rp-bad", label="reactivation"
    )
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke(
            "train",
            "--config",
            str(config),
            "--transactions",
            str(path),
            "--as-of",
            "2024-07-01",
        )

    assert result.exit_code == EXIT_BAD_INPUT
    assert message in result.output
    mlflow.set_tracking_uri(store)
    experiment = mlflow.get_experiment_by_name("bad")
    runs = (
        pd.DataFrame({"status": [], "tags.stage": []})
        if experiment is None
        else mlflow.search_runs([experiment.experiment_id])
    )
    # at most the job's parent run, marked FAILED; no training run
    assert set(runs["tags.stage"]) <= {"job"}
    assert set(runs["status"]) <= {"FAILED"}
    assert (
        MlflowClient(tracking_uri=store, registry_uri=store).search_registered_models()
        == []
    )


def test_an_as_of_before_the_data_is_refused(tmp_path):
    config = write_config(tmp_path, experiment="early", model="rp-early")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
        result = invoke(
            "features",
            "--config",
            str(config),
            "--as-of",
            "2001-01-01",
            "--output-dir",
            str(tmp_path),
        )
    assert result.exit_code == EXIT_BAD_INPUT
    assert "before cutoff 2001-01-01" in result.output


def test_a_wrong_config_key_names_its_path(tmp_path):
    config = write_config(tmp_path, extra="label:\n  horizon_dayz: 30\n")
    result = invoke("features", "--config", str(config))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "label.horizon_dayz" in result.output


def test_every_command_has_help():
    for command in ("run", "train", "score", "features", "segments", "ui"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "--config" in result.output


def test_segments_prints_the_segment_table_and_writes_it(finished_run, tmp_path):
    _, store, config, _ = finished_run
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke(
            "segments", "--config", str(config), "--output-dir", str(tmp_path)
        )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(next(tmp_path.glob("segments_*.csv")))
    # k is searched in 2..4 (the config), ids 0..k-1 ordered by median spend
    assert 2 <= len(table) <= 4
    np.testing.assert_array_equal(table["segment_id"], np.arange(len(table)))
    assert table["median_spend_total"].is_monotonic_increasing
    assert table["segment_name"].is_unique
    for name in table["segment_name"]:
        assert name in result.output
    # every inactive customer at the scoring date is in exactly one segment
    features = invoke(
        "features", "--config", str(config), "--output-dir", str(tmp_path)
    )
    assert features.exit_code == 0
    frame = pd.read_parquet(next(tmp_path.glob("features_*.parquet")))
    assert table["n_customers"].sum() == frame["is_inactive"].sum()


def test_scoring_without_the_tables_the_model_used_is_refused(finished_run, tmp_path):
    # the champion was trained with engagement and customers; transactions alone
    # would silently drop those features
    _, store, config, _ = finished_run
    tx = tmp_path / "tx.csv"
    tx.write_text(
        "customer_id,timestamp,amount\nS000001,2024-01-01,10\nS000002,2024-02-01,20\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke(
            "score",
            "--config",
            str(config),
            "--transactions",
            str(tx),
            "--output-dir",
            str(tmp_path / "o"),
        )
    assert result.exit_code == EXIT_BAD_INPUT
    assert "feature(s) that these tables do not give" in result.output
    assert not (tmp_path / "o" / "scores.csv").exists()


def test_an_unwritable_output_folder_fails_before_training(tmp_path):
    config = write_config(tmp_path, experiment="nowrite", model="rp-nowrite")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke(
            "run", "--config", str(config), "--output-dir", str(blocker / "sub")
        )
    assert result.exit_code == EXIT_WRITE_FAILED
    assert "cannot write to output folder" in result.output
    # nothing was trained: no registered model
    assert (
        MlflowClient(tracking_uri=store, registry_uri=store).search_registered_models()
        == []
    )


def test_replacing_one_table_of_a_bundled_source_asks_for_transactions(tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,region\n00001,north\n")
    config = tmp_path / "cdnow.yaml"
    config.write_text("data: {source: cdnow}\n")
    result = invoke("features", "--config", str(config), "--customers", str(customers))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "pass --transactions as well" in result.output


def test_run_as_of_past_the_data_explains_the_test_snapshot(tmp_path):
    config = tmp_path / "cdnow.yaml"
    config.write_text("data: {source: cdnow}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
        result = invoke(
            "run", "--config", str(config), "--as-of", "2030-01-01", "-o", str(tmp_path)
        )
    assert result.exit_code == EXIT_BAD_INPUT
    # CDNOW ends 1998-06-30, so a 90-day window must start by 1998-04-02
    assert "pick an as_of on or before 1998-04-02" in result.output
    assert "tests the model on the snapshot 2029-10-03" in result.output
