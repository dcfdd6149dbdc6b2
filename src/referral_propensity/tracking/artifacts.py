"""Read back what a run logged (info, params, metrics, tags, artifacts); add files.

The report reads runs through these functions, so that it never touches MLflow
itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from referral_propensity.errors import ModelNotFoundError, OutputWriteError

logger = logging.getLogger(__name__)


class RunNotFoundError(ModelNotFoundError):
    """An MLflow run (or an experiment with runs) that is not in the store."""


@dataclass
class RunRecord:
    """One MLflow run as logged, with the artifacts that were asked for.

    Attributes
    ----------
    run_id, run_name, experiment_id, experiment_name, status : str
        As MLflow keeps them; ``status`` is FINISHED, FAILED, RUNNING, ...
    started_at : datetime.datetime or None
        Start of the run, UTC.
    params, tags : dict of str to str
    metrics : dict of str to float
        The latest value of each metric.
    tables : dict of str to pandas.DataFrame
        CSV artifacts by their path in the run (``tables/gains.csv``).
    texts : dict of str to str
        Other artifacts by path (``config.yaml``), as UTF-8 text.
    missing : dict of str to str
        Artifacts asked for that could not be read, by path, with the reason.
    """

    run_id: str
    run_name: str
    experiment_id: str
    experiment_name: str
    status: str
    started_at: dt.datetime | None
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        """The run's ``stage`` tag (train, score, ...), or "" when it has none."""
        return self.tags.get("stage", "")


def read_run(run_id: str, *, artifact_paths: Iterable[str] = ()) -> RunRecord:
    """Read a run's info, params, metrics and tags, and some of its artifacts.

    Parameters
    ----------
    run_id : str
        The MLflow run.
    artifact_paths : iterable of str, default=()
        Artifact paths inside the run (``tables/gains.csv``, ``config.yaml``).
        Paths ending in ``.csv`` are read into data frames, others as text.

    Returns
    -------
    RunRecord

    Raises
    ------
    RunNotFoundError
        When the store has no such run, or the run is deleted.

    Notes
    -----
    An artifact that was not logged, is empty or cannot be parsed does not
    raise: it goes to ``RunRecord.missing`` with the reason, so that a caller
    can say what is missing. The artifacts are downloaded to a temporary
    folder that is removed before returning.
    """
    client = MlflowClient()
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise RunNotFoundError(
            f"no MLflow run {run_id!r} in this tracking store ({_first_line(exc)}); "
            f"check --run-id, or pass the config whose tracking_uri holds it"
        ) from exc
    if run.info.lifecycle_stage == "deleted":
        raise RunNotFoundError(
            f"MLflow run {run_id} is deleted; restore it in the MLflow UI or pick "
            f"another --run-id"
        )

    experiment = client.get_experiment(run.info.experiment_id)
    started = run.info.start_time
    record = RunRecord(
        run_id=run.info.run_id,
        run_name=run.info.run_name or "",
        experiment_id=run.info.experiment_id,
        experiment_name=experiment.name if experiment else "",
        status=run.info.status,
        started_at=(
            dt.datetime.fromtimestamp(started / 1000, tz=dt.UTC) if started else None
        ),
        params=dict(run.data.params),
        metrics={key: float(value) for key, value in run.data.metrics.items()},
        tags=dict(run.data.tags),
    )
    paths = list(dict.fromkeys(artifact_paths))
    if paths:
        _read_artifacts(client, record, paths)
    return record


def _read_artifacts(client: MlflowClient, record: RunRecord, paths: list[str]) -> None:
    logged = _logged_paths(client, record.run_id, paths)
    folder = Path(tempfile.mkdtemp(prefix="rp-artifacts-"))
    try:
        for path in paths:
            if path not in logged:
                record.missing[path] = "not logged with this run"
                continue
            try:
                local = Path(client.download_artifacts(record.run_id, path, folder))
                if path.endswith(".csv"):
                    record.tables[path] = pd.read_csv(local)
                else:
                    record.texts[path] = local.read_text(encoding="utf-8")
            except pd.errors.EmptyDataError:
                record.missing[path] = "logged, but empty"
            except (MlflowException, OSError, ValueError) as exc:
                record.missing[path] = f"logged, but unreadable ({_first_line(exc)})"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if record.missing:
        logger.debug(
            "Run %s lacks %d artifact(s): %s",
            record.run_id,
            len(record.missing),
            ", ".join(record.missing),
        )


def _logged_paths(client: MlflowClient, run_id: str, paths: list[str]) -> set[str]:
    """The files among ``paths`` that the run has, listing each folder once."""
    folders = {str(PurePosixPath(path).parent) for path in paths}
    logged: set[str] = set()
    for folder in folders:
        try:
            listed = client.list_artifacts(run_id, None if folder == "." else folder)
        except (MlflowException, OSError) as exc:
            logger.debug("Cannot list artifacts %s of run %s: %s", folder, run_id, exc)
            continue
        logged.update(info.path for info in listed if not info.is_dir)
    return logged


def find_latest_run(
    experiment_name: str, *, stages: Iterable[str] = ("train", "score")
) -> str:
    """The id of the latest finished run of an experiment with one of the stages.

    Parameters
    ----------
    experiment_name : str
        The experiment (one per config).
    stages : iterable of str, default=("train", "score")
        Values of the run tag ``stage`` to accept.

    Returns
    -------
    str
        The run id.

    Raises
    ------
    RunNotFoundError
        When there is no such experiment, or it has no finished run of these
        stages.

    Notes
    -----
    "Latest" is by start time; ties go to the run MLflow lists first. Runs
    that failed or are still running are passed over.
    """
    stages = list(stages)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        raise RunNotFoundError(
            f"no MLflow experiment {experiment_name!r} in this tracking store; run "
            f"`referral-propensity run` (or train) with this config first, or pass "
            f"--run-id"
        )
    candidates = []
    for stage in stages:
        found = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.stage = '{stage}' and attributes.status = 'FINISHED'",
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
        candidates.extend(found)
    if not candidates:
        raise RunNotFoundError(
            f"experiment {experiment_name!r} has no finished run with stage "
            f"{' or '.join(stages)}; run `referral-propensity run` (or train) with "
            f"this config first, or pass --run-id"
        )
    latest = max(candidates, key=lambda run: run.info.start_time or 0)
    return latest.info.run_id


def log_file_artifact(
    run_id: str, local_path: Path, *, name: str | None = None, folder: str | None = None
) -> str:
    """Log a local file as an artifact of an existing run (finished or not).

    Parameters
    ----------
    run_id : str
        The run.
    local_path : Path
        The file to log.
    name : str or None, default=None
        File name in the run; default: the local file's name. A file of that
        name logged before is replaced.
    folder : str or None, default=None
        Artifact folder in the run; default: its root.

    Returns
    -------
    str
        The artifact path in the run (``report.html``).

    Raises
    ------
    OutputWriteError
        When the artifact store does not take the file.
    """
    local_path = Path(local_path)
    name = name or local_path.name
    try:
        with tempfile.TemporaryDirectory(prefix="rp-log-") as staging:
            staged = Path(staging) / name
            shutil.copyfile(local_path, staged)
            MlflowClient().log_artifact(run_id, str(staged), folder)
    except (MlflowException, OSError) as exc:
        raise OutputWriteError(
            f"could not log {local_path} to MLflow run {run_id} as {name}: "
            f"{_first_line(exc)}; the file itself is written, check that the "
            f"artifact store is writable"
        ) from exc
    return f"{folder}/{name}" if folder else name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
