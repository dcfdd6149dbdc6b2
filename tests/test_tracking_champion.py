"""Champion and challenger: the automatic decision, and promote/rollback by hand.

Every test uses a real SQLite MLflow store (one per module, for speed) and its
own registered model name, so tests do not see each other's versions.
"""

from __future__ import annotations

import textwrap

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from numpy.testing import assert_allclose
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from referral_propensity import tracking
from referral_propensity.cli import EXIT_BAD_INPUT, EXIT_NO_MODEL, app
from referral_propensity.errors import InputValidationError, ModelNotFoundError
from small_model import fit_small_model, seeded_customers

EXPERIMENT = "champion-tests"
FEATURE_COLUMNS = ["recency_days", "n_orders", "spend_total", "spend_mean"]
SEGMENT_FEATURES = ["recency_days", "n_orders", "spend_total"]


def _customers(seed: int, n: int = 400) -> pd.DataFrame:
    return seeded_customers(
        seed, n, prefix=f"C{seed}-", intercept=2.0, recency_scale=150, order_weight=0.4
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A fresh SQLite tracking store and an experiment with its artifacts there."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    before = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        tracking.configure(None)
        MlflowClient().create_experiment(
            EXPERIMENT, artifact_location=(folder / "artifacts").as_uri()
        )
        yield uri
    mlflow.set_tracking_uri(before)
    mlflow.set_registry_uri(before)


@pytest.fixture(scope="module")
def train():
    return _customers(seed=1)


@pytest.fixture(scope="module")
def test_rows():
    return _customers(seed=2, n=300)


@pytest.fixture(scope="module")
def good_model(train):
    return fit_small_model(
        train, segment_features=SEGMENT_FEATURES, feature_columns=FEATURE_COLUMNS
    )


@pytest.fixture(scope="module")
def shuffled_model(train):
    # the same rows with their labels permuted: no signal left to learn
    rng = np.random.default_rng(5)
    shuffled = train.assign(label=rng.permutation(train["label"].to_numpy()))
    return fit_small_model(
        shuffled, segment_features=SEGMENT_FEATURES, feature_columns=FEATURE_COLUMNS
    )


def _auc(model, rows: pd.DataFrame) -> float:
    """ROC AUC computed here, independently of the tracking module."""
    propensity = model.predict_frame(rows)["propensity"].to_numpy()
    return roc_auc_score(rows["label"], propensity)


def _log(model, model_name: str, rows: pd.DataFrame, **options):
    return tracking.log_training_run(
        experiment_name=EXPERIMENT,
        run_name=f"train {model_name}",
        model_name=model_name,
        model=model,
        params={"model_kind": "small"},
        metrics={"roc_auc": _auc(model, rows)},
        tags={"stage": "train"},
        figures={},
        tables={},
        texts={},
        test_features=rows.drop(columns=["label"]),
        test_labels=rows["label"].to_numpy(),
        **options,
    )


def _aliases(model_name: str) -> dict[str, str]:
    found = MlflowClient().get_registered_model(model_name).aliases
    return {alias: str(version) for alias, version in found.items()}


def _run(run_id: str):
    return MlflowClient().get_run(run_id).data


def test_shuffled_label_challenger_loses_and_better_model_wins(
    store, good_model, shuffled_model, test_rows
):
    good_auc, shuffled_auc = (
        _auc(good_model, test_rows),
        _auc(shuffled_model, test_rows),
    )
    # the premise: the label is learnable, shuffled labels are not
    assert good_auc > 0.75 and abs(shuffled_auc - 0.5) < 0.15

    first = _log(shuffled_model, "rp-duel", test_rows)
    better = _log(good_model, "rp-duel", test_rows)
    worse = _log(shuffled_model, "rp-duel", test_rows)

    assert first.promoted and "no champion yet" in first.decision
    assert better.promoted and not worse.promoted
    assert _aliases("rp-duel") == {"champion": "2", "challenger": "3"}

    # the winner was compared with v1 re-scored on the same 300 rows
    won = _run(better.run_id)
    assert_allclose(won.metrics["champion_roc_auc"], shuffled_auc, rtol=1e-9)
    assert_allclose(
        won.metrics["roc_auc_gain_vs_champion"], good_auc - shuffled_auc, rtol=1e-9
    )
    assert won.metrics["is_promoted"] == pytest.approx(1.0)
    assert won.params["promotion_margin"] == "0.0"
    assert "champion v1" in won.tags["champion_decision"]
    assert f"{good_auc:.4f}" in won.tags["champion_decision"]
    assert f"{shuffled_auc:.4f}" in won.tags["champion_decision"]

    lost = _run(worse.run_id)
    assert_allclose(lost.metrics["champion_roc_auc"], good_auc, rtol=1e-9)
    assert lost.metrics["roc_auc_gain_vs_champion"] < -0.1
    assert lost.metrics["is_promoted"] == pytest.approx(0.0)
    assert lost.tags["champion_decision"].startswith("not promoted")
    assert "champion v2" in lost.tags["champion_decision"]


def test_decision_is_kept_as_tags_on_the_new_version(
    store, good_model, shuffled_model, test_rows
):
    _log(shuffled_model, "rp-version-tags", test_rows)
    logged = _log(good_model, "rp-version-tags", test_rows, promotion_margin=0.01)

    tags = MlflowClient().get_model_version("rp-version-tags", logged.version).tags
    assert tags["run_id"] == logged.run_id
    assert tags["is_promoted"] == "true"
    assert tags["promotion_margin"] == "0.01"
    assert tags["compared_with_version"] == "1"
    assert tags["previous_champion"] == "1"
    assert tags["champion_decision"] == logged.decision
    assert_allclose(float(tags["roc_auc"]), _auc(good_model, test_rows), rtol=1e-5)
    assert_allclose(
        float(tags["champion_roc_auc"]), _auc(shuffled_model, test_rows), rtol=1e-5
    )


def test_equal_model_is_not_promoted_with_a_zero_margin(store, good_model, test_rows):
    # the same model twice: a gain of exactly 0 is not more than 0
    _log(good_model, "rp-tie", test_rows)
    again = _log(good_model, "rp-tie", test_rows)

    assert not again.promoted
    assert _aliases("rp-tie") == {"champion": "1", "challenger": "2"}
    assert _run(again.run_id).metrics["roc_auc_gain_vs_champion"] == pytest.approx(
        0.0, abs=1e-12
    )


def test_gain_below_the_margin_is_not_promoted_and_above_it_is(
    store, good_model, shuffled_model, test_rows
):
    gain = _auc(good_model, test_rows) - _auc(shuffled_model, test_rows)
    # margins chosen well away from the gain, so the test does not hang on noise
    assert 0.1 < gain < 0.45

    _log(shuffled_model, "rp-margin", test_rows)
    short = _log(good_model, "rp-margin", test_rows, promotion_margin=0.45)
    clear = _log(good_model, "rp-margin", test_rows, promotion_margin=0.1)

    assert not short.promoted and clear.promoted
    assert _aliases("rp-margin") == {"champion": "3", "challenger": "2"}
    short_run = _run(short.run_id)
    assert short_run.params["promotion_margin"] == "0.45"
    assert short_run.tags["promotion_margin"] == "0.45"
    assert "not more than the margin 0.4500" in short_run.tags["champion_decision"]
    # v3 was compared with the champion v1, not with the challenger v2
    assert "champion v1" in _run(clear.run_id).tags["champion_decision"]


def test_negative_margin_is_refused(store, good_model, test_rows):
    with pytest.raises(InputValidationError, match="training.promotion_margin"):
        _log(good_model, "rp-negative", test_rows, promotion_margin=-0.01)


def test_champion_that_cannot_be_rescored_is_kept_and_decision_says_why(
    store, good_model, train, test_rows
):
    # the champion needs spend_mean; the new model and its test rows do without
    without = [c for c in FEATURE_COLUMNS if c != "spend_mean"]
    narrow_model = fit_small_model(
        train.drop(columns=["spend_mean"]),
        segment_features=SEGMENT_FEATURES,
        feature_columns=without,
    )
    _log(good_model, "rp-unscorable", test_rows)
    logged = _log(narrow_model, "rp-unscorable", test_rows.drop(columns=["spend_mean"]))

    assert not logged.promoted
    assert _aliases("rp-unscorable") == {"champion": "1", "challenger": "2"}
    run = _run(logged.run_id)
    assert "could not be re-scored" in run.tags["champion_decision"]
    assert "spend_mean" in run.tags["champion_decision"]
    assert "champion_roc_auc" not in run.metrics
    assert run.metrics["is_promoted"] == pytest.approx(0.0)


def test_promote_and_rollback_move_the_alias_and_log_runs(store, good_model, test_rows):
    _log(good_model, "rp-hand", test_rows)
    _log(good_model, "rp-hand", test_rows)  # a tie: v2 is the challenger

    promoted = tracking.promote_version(
        "rp-hand",
        "2",
        reason="v2 did better in the March campaign",
        experiment_name=EXPERIMENT,
    )

    assert (promoted.version, promoted.previous_champion) == ("2", "1")
    # v2 was the challenger; as champion it holds no other alias
    assert _aliases("rp-hand") == {"champion": "2"}
    tags = MlflowClient().get_model_version("rp-hand", "2").tags
    assert tags["promoted_reason"] == "v2 did better in the March campaign"
    assert tags["previous_champion"] == "1"
    assert pd.Timestamp(tags["promoted_at"]).tz is not None
    run = MlflowClient().get_run(promoted.run_id)
    assert run.data.tags["stage"] == "promote"
    assert run.data.params == {
        "model_name": "rp-hand",
        "version": "2",
        "previous_champion": "1",
        "reason": "v2 did better in the March campaign",
    }
    assert (
        run.info.experiment_id
        == mlflow.get_experiment_by_name(EXPERIMENT).experiment_id
    )

    rolled = tracking.rollback_champion(
        "rp-hand", reason="complaints about v2 offers", experiment_name=EXPERIMENT
    )

    assert (rolled.version, rolled.previous_champion) == ("1", "2")
    assert _aliases("rp-hand") == {"champion": "1"}
    tags = MlflowClient().get_model_version("rp-hand", "1").tags
    assert tags["rollback_reason"] == "complaints about v2 offers"
    assert tags["rolled_back_from"] == "2"
    run = _run(rolled.run_id)
    assert run.tags["stage"] == "rollback"
    assert run.params["reason"] == "complaints about v2 offers"
    assert run.params["previous_champion"] == "2"

    # v1 was the first champion: there is nothing further back
    with pytest.raises(ModelNotFoundError, match="records no previous champion"):
        tracking.rollback_champion(
            "rp-hand", reason="again", experiment_name=EXPERIMENT
        )


def test_rollback_returns_to_the_champion_an_automatic_promotion_replaced(
    store, good_model, shuffled_model, test_rows
):
    _log(shuffled_model, "rp-auto", test_rows)
    _log(good_model, "rp-auto", test_rows)

    rolled = tracking.rollback_champion(
        "rp-auto", reason="check the old model", experiment_name=EXPERIMENT
    )

    assert (rolled.version, rolled.previous_champion) == ("1", "2")
    assert _aliases("rp-auto") == {"champion": "1"}


def test_promote_refuses_unknown_versions_models_and_empty_reasons(
    store, good_model, test_rows
):
    _log(good_model, "rp-refuse", test_rows)

    with pytest.raises(ModelNotFoundError, match=r"no version 7 \(versions: 1\)"):
        tracking.promote_version("rp-refuse", 7, reason="x", experiment_name=EXPERIMENT)
    with pytest.raises(ModelNotFoundError, match="no registered model named 'rp-nope'"):
        tracking.promote_version("rp-nope", 1, reason="x", experiment_name=EXPERIMENT)
    with pytest.raises(InputValidationError, match="needs a reason"):
        tracking.promote_version(
            "rp-refuse", 1, reason="  ", experiment_name=EXPERIMENT
        )
    with pytest.raises(InputValidationError, match="not a version number"):
        tracking.promote_version(
            "rp-refuse", "latest", reason="x", experiment_name=EXPERIMENT
        )
    with pytest.raises(InputValidationError, match="already the champion"):
        tracking.promote_version("rp-refuse", 1, reason="x", experiment_name=EXPERIMENT)
    with pytest.raises(InputValidationError, match="needs a reason"):
        tracking.rollback_champion("rp-refuse", reason="", experiment_name=EXPERIMENT)
    assert _aliases("rp-refuse") == {"champion": "1"}


def test_cli_promote_and_rollback_exit_codes(store, tmp_path, good_model, test_rows):
    config = tmp_path / "champion-cli.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            experiment_name: {EXPERIMENT}
            model_name: rp-cli
            data: {{source: synthetic}}
            """
        ),
        encoding="utf-8",
    )
    _log(good_model, "rp-cli", test_rows)
    _log(good_model, "rp-cli", test_rows)

    def invoke(*args: str):
        return CliRunner().invoke(app, [*args, "--config", str(config)])

    unknown = invoke("promote", "9", "--reason", "try")
    assert unknown.exit_code == EXIT_NO_MODEL, unknown.output
    assert "no version 9 (versions: 1, 2)" in unknown.output
    no_reason = invoke("promote", "2", "--reason", "")
    assert no_reason.exit_code == EXIT_BAD_INPUT, no_reason.output
    nothing_back = invoke("rollback", "--reason", "try")
    assert nothing_back.exit_code == EXIT_NO_MODEL, nothing_back.output
    assert "records no previous champion" in nothing_back.output
    other_model = invoke("promote", "1", "--reason", "x", "--model-name", "rp-absent")
    assert other_model.exit_code == EXIT_NO_MODEL, other_model.output

    promoted = invoke("promote", "2", "--reason", "better on the pilot")
    assert promoted.exit_code == 0, promoted.output
    assert "rp-cli version 2 is champion (was 1)" in promoted.output
    assert _aliases("rp-cli") == {"champion": "2"}
    rolled = invoke("rollback", "--reason", "pilot was too small")
    assert rolled.exit_code == 0, rolled.output
    assert _aliases("rp-cli") == {"champion": "1"}


def test_rollback_walks_the_champion_history_back_and_stops_at_the_first(
    store, good_model, shuffled_model, test_rows
):
    name = "rp-history"
    _log(good_model, name, test_rows)  # v1, the first champion
    _log(shuffled_model, name, test_rows)  # v2, a challenger
    # champions in turn: 1, 2, 1
    tracking.promote_version(name, "2", reason="pilot", experiment_name=EXPERIMENT)
    tracking.promote_version(name, "1", reason="back", experiment_name=EXPERIMENT)

    steps = [
        tracking.rollback_champion(name, reason="undo", experiment_name=EXPERIMENT)
        for _ in range(2)
    ]

    # back to 2, then to the first champion, never round in a circle
    assert [(c.version, c.previous_champion) for c in steps] == [("2", "1"), ("1", "2")]
    assert _aliases(name) == {"champion": "1"}
    with pytest.raises(ModelNotFoundError, match="records no previous champion"):
        tracking.rollback_champion(name, reason="undo", experiment_name=EXPERIMENT)
