"""MLflow: tracking store, training and scoring runs, the model registry.

This package is the only code that imports MLflow.
"""

from referral_propensity.tracking.artifacts import (
    RunNotFoundError,
    RunRecord,
    find_latest_run,
    log_file_artifact,
    read_run,
)
from referral_propensity.tracking.registry import (
    ChampionChange,
    promote_version,
    rollback_champion,
)
from referral_propensity.tracking.runs import (
    CHALLENGER,
    CHAMPION,
    DEFAULT_TRACKING_URI,
    LoadedModel,
    LoggedModel,
    PropensityPyfunc,
    configure,
    load_model,
    log_run_metrics,
    log_step_run,
    log_training_run,
    parent_run,
    resolve_tracking_uri,
    set_run_tag,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_TRACKING_URI",
    "ChampionChange",
    "LoadedModel",
    "LoggedModel",
    "PropensityPyfunc",
    "RunNotFoundError",
    "RunRecord",
    "configure",
    "find_latest_run",
    "load_model",
    "log_run_metrics",
    "log_step_run",
    "log_file_artifact",
    "log_training_run",
    "parent_run",
    "promote_version",
    "read_run",
    "resolve_tracking_uri",
    "rollback_champion",
    "set_run_tag",
]
