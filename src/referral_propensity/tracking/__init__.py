"""MLflow: tracking store, training and scoring runs, the model registry.

This package is the only code that imports MLflow.
"""

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
    log_scoring_run,
    log_training_run,
    resolve_tracking_uri,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_TRACKING_URI",
    "ChampionChange",
    "LoadedModel",
    "LoggedModel",
    "PropensityPyfunc",
    "configure",
    "load_model",
    "log_run_metrics",
    "log_scoring_run",
    "log_training_run",
    "promote_version",
    "resolve_tracking_uri",
    "rollback_champion",
]
