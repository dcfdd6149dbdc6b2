"""The whole job on a bundled customer-level table, through the command line."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from referral_propensity.cli import EXIT_BAD_INPUT, app

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).parents[1] / "configs"


def _invoke(*args):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_ifood_runs_end_to_end_with_cross_validated_metrics(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = _invoke(
            "run", "--config", str(CONFIGS / "ifood.yaml"), "-o", str(tmp_path / "o")
        )
    assert result.exit_code == 0, result.output
    assert "over 5 folds" in result.output

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["ifood"])
    train = runs[runs["tags.stage"] == "train"].iloc[0]
    assert train["metrics.roc_auc"] >= 0.90
    assert 0 < train["metrics.roc_auc_std"] < 0.05
    assert train["metrics.n_folds"] == 5
    # the champion is judged on the fixed holdout, about a fifth of 2,240
    assert 350 < train["metrics.n_holdout_customers"] < 550
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    champion = client.get_model_version_by_alias(
        "referral-propensity-ifood", "champion"
    )
    assert champion.run_id == train["run_id"]

    scores = pd.read_parquet(tmp_path / "o" / "scores.parquet")
    source = pd.read_csv(
        Path(__file__).parents[1]
        / "src/referral_propensity/datasets/data/ifood_marketing_campaign.csv.gz",
        sep=";",
    )
    # every customer is a candidate; the label column is not a model input
    assert len(scores) == len(source)
    assert set(scores["customer_id"]) == set(source.iloc[:, 0].astype(str))
    # campaign offer: cost 3, value 11 -> selected only when 11 p > 3
    selected = scores[scores["selected"]]
    assert (selected["propensity"] * 11.0 > 3.0).all()
    assert ((scores["propensity"] * 11.0 <= 3.0) == ~scores["selected"]).all()


def test_a_customer_table_needs_a_label_column(tmp_path):
    table = tmp_path / "c.csv"
    table.write_text("customer_id,spend\nA,1\nB,2\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  customers: {{path: {table}}}\n")

    result = _invoke("train", "--config", str(config))

    assert result.exit_code == EXIT_BAD_INPUT
    assert "label.kind must be 'column'" in result.output
