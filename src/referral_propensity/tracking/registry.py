"""The registry by hand: promote a version to champion, or roll back."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mlflow
import mlflow.pyfunc
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from referral_propensity.errors import InputValidationError, ModelNotFoundError
from referral_propensity.tracking.runs import (
    CHALLENGER,
    CHAMPION,
    _alias_version,
    _clip_params,
    _utc_now,
    champion_history,
    use_experiment,
    write_champion_history,
)

logger = logging.getLogger(__name__)


@dataclass
class ChampionChange:
    """A change of the ``champion`` alias made by hand, and its MLflow run."""

    model_name: str
    version: str
    previous_champion: str | None
    run_id: str
    changed_at: str


def promote_version(
    model_name: str, version: str | int, *, reason: str, experiment_name: str
) -> ChampionChange:
    """Make a registered version the ``champion``, by hand.

    Parameters
    ----------
    model_name : str
        The registered model.
    version : str or int
        Its version number to promote.
    reason : str
        Why, in words an analyst will read later; must not be empty.
    experiment_name : str
        Experiment of the MLflow run that records the change.

    Returns
    -------
    ChampionChange

    Raises
    ------
    InputValidationError
        When the reason is empty, the version is not a number, or it is
        already the champion.
    ModelNotFoundError
        When the model or the version is not registered (the message lists
        the versions there are).

    Notes
    -----
    The promoted version gets the tags ``promoted_reason``, ``promoted_at``
    (UTC, ISO 8601) and ``previous_champion`` (the replaced version, or ""
    when there was none), which :func:`rollback_champion` returns to. The
    replaced champion keeps its tags but loses every alias: ``challenger``
    stays the last trained model that did not win, so it is not moved. When
    the promoted version was the ``challenger``, that alias is removed. A
    run with tag ``stage`` = ``promote`` and params model_name, version,
    previous_champion and reason records the change.
    """
    reason = _check_reason(reason, "promote")
    version = _check_version(version)
    client = MlflowClient()
    versions = _registered_versions(client, model_name)
    if version not in versions:
        raise ModelNotFoundError(
            f"{model_name} has no version {version} (versions: {', '.join(versions)}); "
            f"pass one of them"
        )
    previous = _alias_version(client, model_name, CHAMPION)
    if previous == version:
        raise InputValidationError(
            f"version {version} of {model_name} is already the champion; "
            f"pass another version, or use `referral-propensity rollback`"
        )

    history = champion_history(client, model_name)
    if previous and (not history or history[-1] != previous):
        history.append(previous)  # a champion from before the history was kept
    change = _change_champion(
        client,
        model_name,
        version,
        previous=previous,
        stage="promote",
        reason=reason,
        experiment_name=experiment_name,
        version_tags={"promoted_reason": reason, "previous_champion": previous or ""},
        timestamp_tag="promoted_at",
    )
    write_champion_history(client, model_name, [*history, version])
    return change


def rollback_champion(
    model_name: str, *, reason: str, experiment_name: str
) -> ChampionChange:
    """Give the ``champion`` alias back to the version the champion replaced.

    Parameters
    ----------
    model_name : str
        The registered model.
    reason : str
        Why, in words an analyst will read later; must not be empty.
    experiment_name : str
        Experiment of the MLflow run that records the change.

    Returns
    -------
    ChampionChange
        ``version`` is the restored champion, ``previous_champion`` the one
        rolled back.

    Raises
    ------
    InputValidationError
        When the reason is empty.
    ModelNotFoundError
        When the model has no champion, the champion records no previous
        champion (the first model ever promoted), or that version is gone.

    Notes
    -----
    The registered model's ``champion_history`` tag lists the champions in
    the order they took over (training and :func:`promote_version` add to
    it); a rollback goes to the one before the current and drops the current
    from the list, so rolling back again steps further back until the first
    champion. Without a history, the current champion's
    ``previous_champion`` tag is used. It gets
    the tags ``rollback_reason``, ``rollback_at`` (UTC, ISO 8601) and
    ``rolled_back_from``; the rolled-back version loses every alias. A run
    with tag ``stage`` = ``rollback`` records the change.
    """
    reason = _check_reason(reason, "rollback")
    client = MlflowClient()
    versions = _registered_versions(client, model_name)
    current = _alias_version(client, model_name, CHAMPION)
    if current is None:
        raise ModelNotFoundError(
            f"{model_name} has no champion to roll back (versions: "
            f"{', '.join(versions)}); make one with `referral-propensity promote`"
        )
    history = champion_history(client, model_name)
    if history and history[-1] == current:
        # walk back the history: the champion before the current one, if any
        target = history[-2] if len(history) >= 2 else ""
        remaining = history[:-1]
    else:  # no history recorded (older registries): the previous_champion tag
        tags = client.get_model_version(model_name, current).tags
        target, remaining = tags.get("previous_champion", ""), None
    if not target:
        raise ModelNotFoundError(
            f"champion version {current} of {model_name} records no previous "
            f"champion (it was the first, or was promoted before they were "
            f"recorded); pick a version with `referral-propensity promote` "
            f"(versions: {', '.join(versions)})"
        )
    if target not in versions:
        raise ModelNotFoundError(
            f"the previous champion of {model_name}, version {target}, is no longer "
            f"registered (versions: {', '.join(versions)}); pick one with "
            f"`referral-propensity promote`"
        )

    change = _change_champion(
        client,
        model_name,
        target,
        previous=current,
        stage="rollback",
        reason=reason,
        experiment_name=experiment_name,
        version_tags={"rollback_reason": reason, "rolled_back_from": current},
        timestamp_tag="rollback_at",
    )
    if remaining is not None:
        write_champion_history(client, model_name, remaining)
    return change


def _change_champion(
    client,
    model_name: str,
    version: str,
    *,
    previous: str | None,
    stage: str,
    reason: str,
    experiment_name: str,
    version_tags: dict[str, str],
    timestamp_tag: str,
) -> ChampionChange:
    changed_at = _utc_now()
    was = f"v{previous}" if previous else "no champion"
    sentence = f"{stage}: {model_name} v{version} is champion (was {was}): {reason}"

    # the run comes first, so a failed alias change leaves a FAILED run behind
    use_experiment(experiment_name)
    run_tags = {"stage": stage, "champion_decision": sentence}
    run_name = f"{stage} {model_name} v{version}"
    with mlflow.start_run(run_name=run_name, tags=run_tags) as run:
        mlflow.log_params(
            _clip_params(
                {
                    "model_name": model_name,
                    "version": version,
                    "previous_champion": previous or "",
                    "reason": reason,
                }
            )
        )
        client.set_registered_model_alias(model_name, CHAMPION, version)
        if _alias_version(client, model_name, CHALLENGER) == version:
            client.delete_registered_model_alias(model_name, CHALLENGER)
        tags = {
            **version_tags,
            timestamp_tag: changed_at,
            f"{stage}_run_id": run.info.run_id,
        }
        for key, value in tags.items():
            client.set_model_version_tag(model_name, version, key, value[:5000])

    logger.info(
        "Set %s champion to version %s (was %s) in run %s: %s",
        model_name,
        version,
        previous or "none",
        run.info.run_id,
        reason,
    )
    return ChampionChange(
        model_name=model_name,
        version=version,
        previous_champion=previous,
        run_id=run.info.run_id,
        changed_at=changed_at,
    )


def _check_reason(reason: str | None, action: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InputValidationError(
            f"{action} needs a reason that analysts will read in the registry and "
            f"the MLflow run; pass --reason TEXT"
        )
    return text


def _check_version(version: str | int) -> str:
    text = str(version).strip().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise InputValidationError(
            f"model version {version!r} is not a version number; pass one like 3"
        )
    return str(int(text))


def _registered_versions(client, model_name: str) -> list[str]:
    """The model's version numbers in ascending order."""
    try:
        client.get_registered_model(model_name)
    except MlflowException as exc:
        raise ModelNotFoundError(
            f"no registered model named {model_name!r} in {mlflow.get_registry_uri()}; "
            f"train one with `referral-propensity train`, or pass --model-name"
        ) from exc
    escaped = model_name.replace("'", "\\'")
    found = client.search_model_versions(f"name = '{escaped}'")
    return [str(n) for n in sorted(int(v.version) for v in found)]
