"""MLflow: tracking store, training and scoring runs, the model registry.

This is the only module that imports MLflow. The model is logged as a custom
pyfunc that bundles segmenter, booster and calibrator and returns
``propensity`` (a calibrated probability), not class labels.
"""

from __future__ import annotations

import contextlib
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
    """Where a trained model went."""

    run_id: str
    model_uri: str
    version: str
    promoted: bool
    champion_version: str | None


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
) -> LoggedModel:
    """Log one training run, register its model and decide on the champion.

    The new model becomes ``champion`` when there is none yet, or when its ROC
    AUC on the test snapshot beats that of the current champion re-scored on
    the same rows; otherwise it gets the ``challenger`` alias. The comparison
    is logged either way (``champion_roc_auc``, ``is_promoted``, and the
    ``champion_decision`` tag).

    Returns
    -------
    LoggedModel
    """
    from sklearn.metrics import roc_auc_score

    mlflow.set_experiment(experiment_name)
    client = MlflowClient()
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        mlflow.log_params(_clip_params(params))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        for name, figure in figures.items():
            mlflow.log_figure(figure, f"plots/{name}.png")
            plt.close(figure)
        for name, table in tables.items():
            mlflow.log_text(table.to_csv(index=False), f"tables/{name}.csv")
        for name, text in texts.items():
            mlflow.log_text(text, name)

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
                    signature=_signature(model, test_features),
                    pip_requirements=_requirements(),
                    registered_model_name=model_name,
                )
            logger.debug("Registry: %s", " ".join(chatter.getvalue().split()))
        version = str(info.registered_model_version)

        champion_version, champion_auc = _champion_score(
            client, model_name, test_features, test_labels, roc_auc_score
        )
        new_auc = float(metrics["roc_auc"])
        if champion_version is None:
            promoted, decision = True, "no champion yet"
        elif champion_auc is None:
            promoted, decision = (
                False,
                f"champion v{champion_version} could not be re-scored",
            )
        elif new_auc > champion_auc:
            promoted = True
            decision = f"beats champion v{champion_version}: ROC AUC {new_auc:.4f} > {champion_auc:.4f}"
        else:
            promoted = False
            decision = f"does not beat champion v{champion_version}: ROC AUC {new_auc:.4f} <= {champion_auc:.4f}"
        if champion_auc is not None:
            mlflow.log_metric("champion_roc_auc", champion_auc)
        mlflow.log_metric("is_promoted", float(promoted))
        mlflow.set_tag("champion_decision", decision)
        client.set_registered_model_alias(
            model_name, CHAMPION if promoted else CHALLENGER, version
        )
        client.set_model_version_tag(model_name, version, "run_id", run.info.run_id)
        logger.info("Registered %s version %s (%s)", model_name, version, decision)
        return LoggedModel(
            run_id=run.info.run_id,
            model_uri=f"models:/{model_name}/{version}",
            version=version,
            promoted=promoted,
            champion_version=version if promoted else champion_version,
        )


def _champion_score(client, model_name, features, labels, roc_auc_score):
    try:
        current = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None, None
    try:
        champion = load_model(f"models:/{model_name}@{CHAMPION}").model
        propensity = champion.predict_frame(features)["propensity"].to_numpy()
        return str(current.version), float(roc_auc_score(labels, propensity))
    except Exception as exc:  # a champion that cannot score these rows loses nothing
        logger.warning(
            "Could not re-score champion v%s on the test snapshot: %s",
            current.version,
            exc,
        )
        return str(current.version), None


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


def log_scoring_run(
    *,
    experiment_name: str,
    run_name: str,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
    texts: dict[str, str] | None = None,
) -> str:
    """Log a scoring run (counts, score quantiles, model version); return its id."""
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        mlflow.log_params(_clip_params(params))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        for name, text in (texts or {}).items():
            mlflow.log_text(text, name)
        return run.info.run_id


def _clip_params(params: dict[str, str]) -> dict[str, str]:
    # MLflow keeps at most 6,000 characters of a parameter value
    return {key: str(value)[:6000] for key, value in params.items()}
