"""MLflow runs: the tracking store, training and scoring runs, the pyfunc model.

The model is logged as a custom pyfunc that bundles segmenter, booster and
calibrator and returns ``propensity`` (a calibrated probability), not class
labels.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import matplotlib.pyplot as plt
import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from referral_propensity.errors import InputValidationError, ModelNotFoundError
from referral_propensity.model import PropensityModel

logger = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
CHAMPION = "champion"
CHALLENGER = "challenger"
_MODEL_FILE = "propensity_model.joblib"


def resolve_tracking_uri(configured: str | None) -> str:
    """The tracking URI: ``MLFLOW_TRACKING_URI``, else the config, else SQLite here."""
    return os.environ.get("MLFLOW_TRACKING_URI") or configured or DEFAULT_TRACKING_URI


def configure(tracking_uri: str | None) -> str:
    """Point MLflow (tracking and registry) at the resolved store; return its URI."""
    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        # fail in seconds, before any work, when a tracking server is not there
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise InputValidationError(
                f"cannot open the MLflow tracking store {uri}: {folder} is not a "
                "folder; point tracking_uri / MLFLOW_TRACKING_URI at a file in an "
                "existing folder"
            )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if uri.startswith(("http://", "https://")):
        try:
            MlflowClient().search_experiments(max_results=1)
        except Exception as exc:  # any failure here means the server is unusable
            raise InputValidationError(
                f"the MLflow tracking server {uri} does not answer "
                f"({str(exc).splitlines()[0][:200]}); start it, or unset "
                f"MLFLOW_TRACKING_URI / tracking_uri to use sqlite:///mlflow.db here"
            ) from exc
    return uri


def use_experiment(name: str) -> None:
    """Make ``name`` the active experiment, creating it when needed.

    With a SQLite store, a new experiment keeps its artifacts in ``mlruns/``
    beside the database file, not in the working folder.
    """
    if mlflow.get_experiment_by_name(name) is None:
        uri = mlflow.get_tracking_uri()
        location = None
        if uri.startswith("sqlite:///"):
            database = Path(uri.removeprefix("sqlite:///"))
            location = (database.resolve().parent / "mlruns").as_uri()
        try:
            mlflow.create_experiment(name, artifact_location=location)
        except MlflowException:
            pass  # created meanwhile by another process
    mlflow.set_experiment(name)


class PropensityPyfunc(mlflow.pyfunc.PythonModel):
    """The logged model: customer features in; customer_id, segment_id,
    segment_name and propensity out."""

    def load_context(self, context):
        """Load the bundled segmenter, booster and calibrator."""
        self.model = joblib.load(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Score a frame of features (the output of ``build_features``)."""
        frame = pd.DataFrame(model_input)
        return self.model.predict_frame(frame).drop(columns=["raw_score"])


@dataclass
class LoggedModel:
    """Where a trained model went, and whether it became champion."""

    run_id: str
    model_uri: str
    version: str
    promoted: bool
    champion_version: str | None
    decision: str = ""


def _signature(model: PropensityModel, features: pd.DataFrame):
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    def spec(column: str) -> ColSpec:
        dtype = features[column].dtype if column in features else np.dtype("float64")
        if column in model.categories or not pd.api.types.is_numeric_dtype(dtype):
            kind = "string"
        elif pd.api.types.is_integer_dtype(dtype):
            kind = "long"
        else:
            kind = "double"
        return ColSpec(kind, column, required=column == "customer_id")

    inputs = Schema([spec("customer_id"), *(spec(c) for c in model.feature_columns)])
    outputs = Schema(
        [
            ColSpec("string", "customer_id"),
            ColSpec("long", "segment_id"),
            ColSpec("string", "segment_name"),
            ColSpec("double", "propensity"),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [
        f"{name}=={version(name)}"
        for name in ("lightgbm", "scikit-learn", "pandas", "numpy", "joblib")
    ]


def log_training_run(
    *,
    experiment_name: str,
    run_name: str,
    model_name: str,
    model: PropensityModel,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
    figures: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    texts: dict[str, str],
    test_features: pd.DataFrame,
    test_labels: np.ndarray,
    promotion_margin: float = 0.0,
) -> LoggedModel:
    """Log one training run, register its model and decide on the champion.

    Parameters
    ----------
    test_features : pandas.DataFrame
        The held-out test rows (customer_id and features, no label).
    test_labels : numpy.ndarray
        Their labels, 0 or 1, in the same order.
    promotion_margin : float, default=0.0
        ROC AUC points the new model must gain over the current champion to
        replace it (``training.promotion_margin``); at least 0.

    Returns
    -------
    LoggedModel

    Raises
    ------
    InputValidationError
        When ``promotion_margin`` is negative or not a number.

    Notes
    -----
    The new model and the current champion are both scored on
    ``test_features`` and their ROC AUCs compared. The new model becomes
    ``champion`` when there is none yet, or when its ROC AUC exceeds the
    champion's by more than ``promotion_margin`` (an equal gain is not
    enough); otherwise it gets the ``challenger`` alias. A champion that
    cannot be scored on these rows (it needs a column they lack, or fails to
    load) stays champion, and the decision says why.

    The comparison is logged either way: metrics ``champion_roc_auc``,
    ``roc_auc_gain_vs_champion`` (both only when a champion was scored) and
    ``is_promoted``; param and tag ``promotion_margin``; tag
    ``champion_decision``, one sentence with both ROC AUCs, the margin and
    the champion's version. The new model version carries the same values as
    tags, and, when promoted, ``previous_champion`` (what
    :func:`rollback_champion` returns to) and ``promoted_at``.
    """
    margin = _check_margin(promotion_margin)

    use_experiment(experiment_name)
    client = MlflowClient()
    with mlflow.start_run(run_name=run_name, tags=tags, nested=_in_parent()) as run:
        _log_contents(
            {**params, "promotion_margin": str(margin)}, metrics, figures, tables, texts
        )
        version = _log_model(model, model_name, test_features)

        new_auc = _roc_auc(model, test_features, test_labels)
        champion = _champion_score(client, model_name, test_features, test_labels)
        promoted, decision = _decide(
            new_auc, champion, margin=margin, n_rows=len(test_features)
        )
        comparison = {"is_promoted": float(promoted)}
        if champion.roc_auc is not None:
            comparison["champion_roc_auc"] = champion.roc_auc
            comparison["roc_auc_gain_vs_champion"] = new_auc - champion.roc_auc
        mlflow.log_metrics({k: v for k, v in comparison.items() if np.isfinite(v)})
        mlflow.set_tags(
            {"promotion_margin": str(margin), "champion_decision": decision}
        )

        version_tags = {
            "run_id": run.info.run_id,
            "champion_decision": decision,
            "promotion_margin": str(margin),
            "compared_with_version": champion.version or "",
            "roc_auc": f"{new_auc:.6f}",
            **{k: f"{v:.6f}" for k, v in comparison.items() if k != "is_promoted"},
            "is_promoted": str(promoted).lower(),
        }
        if promoted:
            version_tags |= {
                "previous_champion": champion.version or "",
                "promoted_at": _utc_now(),
                "promoted_reason": decision,
            }
        client.set_registered_model_alias(
            model_name, CHAMPION if promoted else CHALLENGER, version
        )
        if promoted:
            write_champion_history(
                client, model_name, [*champion_history(client, model_name), version]
            )
        for key, value in version_tags.items():
            client.set_model_version_tag(model_name, version, key, value)
        logger.info("Registered %s version %s: %s", model_name, version, decision)
        return LoggedModel(
            run_id=run.info.run_id,
            model_uri=f"models:/{model_name}/{version}",
            version=version,
            promoted=promoted,
            champion_version=version if promoted else champion.version,
            decision=decision,
        )


def _check_margin(promotion_margin: float) -> float:
    margin = float(promotion_margin)
    if not np.isfinite(margin) or margin < 0:
        raise InputValidationError(
            f"promotion_margin is {promotion_margin!r}; set training.promotion_margin "
            f"to a ROC AUC gain of at least 0 (0.0 promotes any better model)"
        )
    return margin


def _log_model(model: PropensityModel, model_name: str, features: pd.DataFrame) -> str:
    """Log the pyfunc in the active run, register it; return the new version."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / _MODEL_FILE
        joblib.dump(model, path)
        # MLflow prints registry chatter to stderr; it goes to DEBUG instead
        chatter = io.StringIO()
        with contextlib.redirect_stderr(chatter):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=PropensityPyfunc(),
                artifacts={"model": str(path)},
                signature=_signature(model, features),
                pip_requirements=_requirements(),
                registered_model_name=model_name,
            )
        logger.debug("Registry: %s", " ".join(chatter.getvalue().split()))
    return str(info.registered_model_version)


def _roc_auc(model: PropensityModel, features: pd.DataFrame, labels) -> float:
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        # ROC AUC is undefined with one class; NaN never wins a comparison
        return float("nan")
    propensity = model.predict_frame(features)["propensity"].to_numpy()
    return float(roc_auc_score(labels, propensity))


@dataclass
class _ChampionScore:
    version: str | None
    roc_auc: float | None
    # why the champion could not be scored, when it could not
    failure: str = ""


def _champion_score(client, model_name, features, labels) -> _ChampionScore:
    version = _alias_version(client, model_name, CHAMPION)
    if version is None:
        return _ChampionScore(version=None, roc_auc=None)
    try:
        champion = load_model(f"models:/{model_name}/{version}").model
        needed = [
            *champion.feature_columns,
            *getattr(champion.segmenter, "columns_", []),
        ]
        # the booster would score absent columns as missing values, which is
        # not the champion's real performance, so absent columns fail instead
        missing = sorted(set(needed) - set(features.columns))
        if missing:
            raise InputValidationError(
                f"the test rows lack column(s) it needs: {', '.join(missing)}"
            )
        return _ChampionScore(version, _roc_auc(champion, features, labels))
    except Exception as exc:  # a champion that cannot score these rows loses nothing
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        failure = reason or type(exc).__name__
        logger.warning(
            "Could not re-score champion v%s on the test snapshot: %s", version, failure
        )
        return _ChampionScore(version, None, failure)


def _decide(
    new_auc: float, champion: _ChampionScore, *, margin: float, n_rows: int
) -> tuple[bool, str]:
    """Whether the new model replaces the champion, and one sentence why."""
    ours = f"ROC AUC {new_auc:.4f}"
    if champion.version is None:
        return (
            True,
            f"promoted: no champion yet ({ours}, margin {margin:.4f} not needed)",
        )
    if champion.roc_auc is None:
        return False, (
            f"not promoted: champion v{champion.version} could not be re-scored on "
            f"the {n_rows} test rows ({champion.failure}), so it stays champion "
            f"({ours}, margin {margin:.4f}); compare them by hand and use "
            f"`referral-propensity promote` to replace it"
        )
    gain = new_auc - champion.roc_auc
    theirs = f"champion v{champion.version}'s {champion.roc_auc:.4f}"
    if gain > margin:
        return True, (
            f"promoted: {ours} beats {theirs} on the same {n_rows} test rows "
            f"by {gain:.4f}, more than the margin {margin:.4f}"
        )
    return False, (
        f"not promoted: {ours} against {theirs} on the same {n_rows} test rows, "
        f"a gain of {gain:.4f}, not more than the margin {margin:.4f}"
    )


@dataclass
class LoadedModel:
    """A model from the registry or a run, with where it came from."""

    model: PropensityModel
    uri: str
    version: str | None
    run_id: str | None


def load_model(uri: str) -> LoadedModel:
    """Load a logged propensity model (``models:/name@champion``, ``runs:/...``).

    Raises
    ------
    ModelNotFoundError
        When the URI does not resolve (no such model, alias or run).
    """
    version = run_id = None
    try:
        if uri.startswith("models:/"):
            name, _, ref = uri.removeprefix("models:/").partition("@")
            client = MlflowClient()
            if ref:
                found = client.get_model_version_by_alias(name, ref)
            else:
                name, _, number = uri.removeprefix("models:/").partition("/")
                found = client.get_model_version(name, number)
            version, run_id = str(found.version), found.run_id
        pyfunc = mlflow.pyfunc.load_model(uri)
    except Exception as exc:  # a wrong URI fails in many ways, all meaning "no model"
        reason = (
            str(exc).strip().splitlines()[0][:200]
            if str(exc).strip()
            else type(exc).__name__
        )
        raise ModelNotFoundError(
            f"no model at {uri} ({reason}); train one with "
            f"`referral-propensity train` or pass --model-uri"
        ) from exc
    model = getattr(_unwrap(pyfunc), "model", None)
    if not isinstance(model, PropensityModel):
        raise ModelNotFoundError(
            f"{uri} is an MLflow model, but not one of referral-propensity; pass "
            f"the URI of a model this project trained"
        )
    return LoadedModel(model=model, uri=uri, version=version, run_id=run_id)


def _unwrap(pyfunc):
    try:
        return pyfunc.unwrap_python_model()
    except Exception:  # not a custom python model at all
        return None


@contextlib.contextmanager
def parent_run(
    *, experiment_name: str, run_name: str, tags: dict[str, str], params: dict[str, str]
):
    """Open the parent run of one job; runs logged inside it become its children.

    Yields the parent's run id. A job that fails leaves the parent FAILED.
    """
    use_experiment(experiment_name)
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        mlflow.log_params(_clip_params(params))
        yield run.info.run_id


def log_step_run(
    *,
    experiment_name: str,
    run_name: str,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
    figures: dict[str, Any] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    texts: dict[str, str] | None = None,
) -> str:
    """Log one step's run (segmentation, scoring); a child when a parent is open.

    Returns the run id.
    """
    use_experiment(experiment_name)
    with mlflow.start_run(run_name=run_name, tags=tags, nested=_in_parent()) as run:
        _log_contents(params, metrics, figures, tables, texts)
        return run.info.run_id


def _log_contents(params, metrics, figures=None, tables=None, texts=None) -> None:
    """Params, finite metrics, figures, CSV tables and texts of the active run."""
    mlflow.log_params(_clip_params(params))
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
    for name, figure in (figures or {}).items():
        mlflow.log_figure(figure, f"plots/{name}.png")
        plt.close(figure)
    for name, table in (tables or {}).items():
        mlflow.log_text(table.to_csv(index=False), f"tables/{name}.csv")
    for name, text in (texts or {}).items():
        mlflow.log_text(text, name)


def _in_parent() -> bool:
    return mlflow.active_run() is not None


def set_run_tag(run_id: str, key: str, value: str) -> None:
    """Set one tag of a run, finished or not."""
    MlflowClient().set_tag(run_id, key, value)


def log_run_metrics(run_id: str, metrics: dict[str, float]) -> None:
    """Add metrics to a finished run (finite values only)."""
    client = MlflowClient()
    for key, value in metrics.items():
        if np.isfinite(value):
            client.log_metric(run_id, key, float(value))


def _clip_params(params: dict[str, str]) -> dict[str, str]:
    # MLflow keeps at most 6,000 characters of a parameter value
    return {key: str(value)[:6000] for key, value in params.items()}


def _alias_version(client, model_name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


#: registered-model tag: the champions in the order they took over, oldest first
CHAMPION_HISTORY_TAG = "champion_history"


def champion_history(client, model_name: str) -> list[str]:
    """Versions that were champion, oldest first (what rollback walks back)."""
    tags = client.get_registered_model(model_name).tags
    return [v for v in tags.get(CHAMPION_HISTORY_TAG, "").split(",") if v]


def write_champion_history(client, model_name: str, versions: list[str]) -> None:
    """Record the champion history (the last 200 changes)."""
    client.set_registered_model_tag(
        model_name, CHAMPION_HISTORY_TAG, ",".join(versions[-200:])
    )


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
