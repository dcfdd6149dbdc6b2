"""The report of one run: read it from MLflow, write the HTML, log it with the run."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from referral_propensity.errors import InputValidationError, OutputWriteError
from referral_propensity.io.write import check_writable, write_atomically
from referral_propensity.report.build import (
    SCORING_ARTIFACTS,
    TRAINING_ARTIFACTS,
    build_report_html,
)

logger = logging.getLogger(__name__)

#: name of the report among the run's artifacts
ARTIFACT_NAME = "report.html"
_STAGES = ("train", "score")


@dataclass
class ReportOutcome:
    """A written report: where it is, which run it shows, what it lacks."""

    path: Path
    run_id: str
    stage: str
    training_run_id: str | None
    missing: list[str]
    artifact_path: str


def write_run_report(
    *,
    experiment_name: str,
    output_dir: Path,
    run_id: str | None = None,
    output: Path | None = None,
    generated_at: dt.datetime | None = None,
) -> ReportOutcome:
    """Write the HTML report of a run and log it with the run as ``report.html``.

    Parameters
    ----------
    experiment_name : str
        Where to look for the latest run when ``run_id`` is None.
    output_dir : Path
        Folder of the default output file.
    run_id : str or None, default=None
        A training or scoring run; default: the latest finished one of the
        experiment.
    output : Path or None, default=None
        The HTML file; default: ``<output_dir>/report_<run_id>.html``.
    generated_at : datetime.datetime or None, default=None
        Shown in the report; default: now (UTC).

    Returns
    -------
    ReportOutcome

    Raises
    ------
    RunNotFoundError
        When the run, or any finished run of the experiment, is not found.
    InputValidationError
        When the run is neither a training nor a scoring run.
    OutputWriteError
        When the file cannot be written or logged; an earlier file of the
        same name is left as it was when the write fails.

    Notes
    -----
    A scoring run's report takes the model's charts from the training run
    named by its param ``scoring.model_run_id`` (or by a ``runs:/`` model
    URI); when that run cannot be read, the report says why in their place.
    """
    from referral_propensity import tracking

    started = time.perf_counter()
    _check_output(output, output_dir)
    run_id = run_id or tracking.find_latest_run(experiment_name, stages=_STAGES)
    stage = tracking.read_run(run_id).stage
    _check_stage(run_id, stage)

    artifacts = SCORING_ARTIFACTS if stage == "score" else TRAINING_ARTIFACTS
    run = tracking.read_run(run_id, artifact_paths=artifacts)
    training, problem = None, ""
    if stage == "score":
        training, problem = _training_run(run, tracking)
    html = build_report_html(
        run, training=training, training_problem=problem, generated_at=generated_at
    )

    path = (
        Path(output)
        if output is not None
        else Path(output_dir) / f"report_{run_id}.html"
    )
    write_atomically({path: lambda tmp: tmp.write_text(html, encoding="utf-8")})
    artifact_path = tracking.log_file_artifact(run_id, path, name=ARTIFACT_NAME)
    missing = sorted(run.missing) + sorted(
        f"{training.run_id}:{p}" for p in (training.missing if training else {})
    )
    logger.info(
        "Wrote the report of %s run %s (%d artifact(s) missing) to %s in %.1f s; "
        "logged with the run as %s",
        "scoring" if stage == "score" else "training",
        run_id,
        len(missing),
        path,
        time.perf_counter() - started,
        artifact_path,
    )
    return ReportOutcome(
        path=path,
        run_id=run_id,
        stage=stage,
        training_run_id=training.run_id if training else None,
        missing=missing,
        artifact_path=artifact_path,
    )


def _check_output(output: Path | None, output_dir: Path) -> None:
    """Fail before any work when the report cannot be written where asked."""
    if output is None:
        check_writable(Path(output_dir))
        return
    try:
        check_writable(Path(output).parent)
    except OutputWriteError as exc:
        raise OutputWriteError(
            f"cannot write the report to {output}: {exc.__cause__ or exc}; pass "
            f"another --output"
        ) from exc
    if Path(output).is_dir():
        raise OutputWriteError(
            f"--output {output} is a folder; give a file name such as "
            f"{Path(output) / 'report.html'}"
        )


def _check_stage(run_id: str, stage: str) -> None:
    if stage in _STAGES:
        return
    shown = f"stage {stage!r}" if stage else "no stage tag"
    raise InputValidationError(
        f"run {run_id} has {shown}; report takes a training run (tag stage = train) "
        f"or a scoring run (stage = score): pass the id of one (the parent run of "
        f"a job holds none of the results, its train and score runs do)"
    )


def _training_run(run, tracking):
    """The training run of a scoring run's model, or None and why not."""
    model_run_id = run.params.get("scoring.model_run_id", "")
    uri = run.params.get("scoring.model_uri", "")
    if model_run_id in ("", "None") and uri.startswith("runs:/"):
        model_run_id = uri.removeprefix("runs:/").split("/")[0]
    if model_run_id in ("", "None"):
        return None, (
            f"the scoring run names no training run (param scoring.model_run_id; "
            f"model {uri or 'unknown'})"
        )
    try:
        return tracking.read_run(model_run_id, artifact_paths=TRAINING_ARTIFACTS), ""
    except tracking.RunNotFoundError as exc:
        logger.warning("The training run of the scored model is not readable: %s", exc)
        return None, str(exc)
