"""The default job on the synthetic shop, measured against the shop's truth."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from referral_propensity.cli import EXIT_BAD_INPUT, app

pytestmark = pytest.mark.slow

DEFAULT_CONFIG = Path(__file__).parents[1] / "configs" / "default.yaml"


@pytest.fixture(scope="module")
def truth_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("truth")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = CliRunner().invoke(
            app,
            [
                "run",
                "--config",
                str(DEFAULT_CONFIG),
                "--with-truth",
                "--output-dir",
                str(folder / "out"),
            ],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["default"])
    return {row["tags.stage"]: row for _, row in runs.iterrows()}, result.output


def test_held_out_roc_auc_is_within_003_of_the_oracle(truth_run):
    runs, _ = truth_run
    train = runs["train"]
    assert 0.70 <= train["metrics.oracle_roc_auc"] <= 0.90
    assert train["metrics.roc_auc"] >= train["metrics.oracle_roc_auc"] - 0.03


def test_segments_recover_the_latent_segments(truth_run):
    runs, _ = truth_run
    assert runs["train"]["metrics.segment_ari"] >= 0.5


def test_the_chosen_offer_is_the_truly_best_one_for_most_selected(truth_run):
    runs, _ = truth_run
    score = runs["score"]
    assert score["metrics.best_offer_share"] >= 0.6
    # and better than giving everyone the offer most often best
    assert (
        score["metrics.best_offer_share"] > score["metrics.best_offer_share_one_offer"]
    )


def test_the_selection_expects_twice_the_responses_of_a_random_one(truth_run):
    runs, output = truth_run
    assert runs["score"]["metrics.selection_gain_vs_random"] >= 2.0
    assert "Against the truth" in output


def test_with_truth_is_refused_without_the_synthetic_shop(tmp_path):
    config = tmp_path / "cdnow.yaml"
    config.write_text("data: {source: cdnow}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
        result = CliRunner().invoke(
            app, ["run", "--config", str(config), "--with-truth", "-o", str(tmp_path)]
        )
    assert result.exit_code == EXIT_BAD_INPUT
    assert "only the generated shop has a known truth" in result.output
