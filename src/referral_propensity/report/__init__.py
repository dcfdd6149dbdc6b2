"""The HTML report of a training or scoring run, self-contained in one file.

:func:`build_report_html` turns what a run logged into HTML (no MLflow needed);
:func:`write_run_report` reads the run, writes the file and logs it with the
run as ``report.html``.
"""

from referral_propensity.report.build import (
    SCORING_ARTIFACTS,
    TRAINING_ARTIFACTS,
    build_report_html,
)
from referral_propensity.report.job import (
    ARTIFACT_NAME,
    ReportOutcome,
    write_run_report,
)

__all__ = [
    "ARTIFACT_NAME",
    "SCORING_ARTIFACTS",
    "TRAINING_ARTIFACTS",
    "ReportOutcome",
    "build_report_html",
    "write_run_report",
]
