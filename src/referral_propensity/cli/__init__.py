"""The ``referral-propensity`` command: one sub-command per stage, plus ``run``.

Exit codes: 0 success; 1 unexpected error; 2 wrong command-line usage; 3 bad
input data or config; 4 model not found; 5 an output could not be written;
143 stopped by SIGTERM (128 + the signal number).
"""

from referral_propensity.cli import explore, jobs, store  # noqa: F401 (registers commands)
from referral_propensity.cli.app import (
    EXIT_BAD_INPUT,
    EXIT_CODES_HELP,
    EXIT_NO_MODEL,
    EXIT_SIGTERM,
    EXIT_USAGE,
    EXIT_WRITE_FAILED,
    JsonFormatter,
    LogFormat,
    app,
)

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CODES_HELP",
    "EXIT_NO_MODEL",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "EXIT_WRITE_FAILED",
    "JsonFormatter",
    "LogFormat",
    "app",
]
