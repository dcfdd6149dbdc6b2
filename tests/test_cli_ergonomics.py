"""Batch-job behaviour of the command line: exit codes, log formats, dry runs."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from referral_propensity.cli import (
    EXIT_BAD_INPUT,
    EXIT_NO_MODEL,
    EXIT_SIGTERM,
    EXIT_USAGE,
    EXIT_WRITE_FAILED,
    JsonFormatter,
    app,
)
from small_shop import write_small_shop_config

# C1 has a duplicated row, which the loader drops with a warning
TRANSACTIONS = """\
customer_id,timestamp,amount
C1,2024-01-05,20.00
C1,2024-01-05,20.00
C1,2024-03-01,35.50
C2,2024-02-10,12.00
C3,2024-06-20,80.00
C4,2024-06-28,15.00
C5,2023-11-30,44.00
"""


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A config reading six customers' transactions, and its own empty store."""
    transactions = tmp_path / "transactions.csv"
    transactions.write_text(TRANSACTIONS, encoding="utf-8")
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "experiment_name: tiny\nmodel_name: rp-tiny\n"
        f"data:\n  source: files\n  transactions: {{path: '{transactions}'}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return config


def shop_config(folder: Path, experiment: str, label: str = "offer_response"):
    return write_small_shop_config(folder, experiment=experiment, label=label)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_help_lists_the_exit_codes():
    for args in ([], ["score"], ["run"], ["explain"]):
        result = invoke(*args, "--help")
        assert result.exit_code == 0
        text = " ".join(result.output.split())
        for code in (
            "0 success",
            "1 unexpected error",
            "2 wrong command-line usage",
            "3 bad input data or config",
            "4 model not found",
            "5 an output could not be written",
            "143 stopped by SIGTERM",
        ):
            assert code in text, (args, code)


def test_quiet_log_format_and_dry_run_are_in_the_help():
    top = invoke("--help").output
    assert "--quiet" in top and "--log-format" in top
    for command in ("run", "train", "score"):
        assert "--dry-run" in invoke(command, "--help").output


@pytest.mark.parametrize(
    "args",
    [
        ["score", "--no-such-option"],
        ["--log-format", "xml", "features"],
        ["--quiet", "features", "--verbose"],
        ["explain"],
        ["features", "--as-of", "July"],
    ],
    ids=["unknown_option", "bad_log_format", "quiet_and_verbose", "no_id", "bad_date"],
)
def test_wrong_usage_exits_with_2(args, tiny):
    result = invoke(*args, "--config", str(tiny))
    assert result.exit_code == EXIT_USAGE == 2, result.output


def test_a_missing_config_exits_with_the_bad_input_code(tmp_path):
    result = invoke("features", "--config", str(tmp_path / "none.yaml"))
    assert result.exit_code == EXIT_BAD_INPUT == 3
    assert "does not exist" in result.output


def test_scoring_without_a_model_exits_with_4_and_creates_no_store(tiny, tmp_path):
    result = invoke("score", "--config", str(tiny), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_NO_MODEL == 4
    assert "models:/rp-tiny@champion" in result.output


def test_dry_run_of_score_without_a_model_exits_with_4_writing_nothing(tiny, tmp_path):
    result = invoke(
        "score", "--dry-run", "--config", str(tiny), "-o", str(tmp_path / "out")
    )

    assert result.exit_code == EXIT_NO_MODEL
    assert "does not exist yet" in result.output
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "out").exists()


def test_explain_without_a_model_exits_with_4(tiny):
    result = invoke("explain", "--config", str(tiny), "--customer-id", "C1")
    assert result.exit_code == EXIT_NO_MODEL


@pytest.mark.parametrize("dry_run", [False, True], ids=["score", "dry_run"])
def test_an_unwritable_output_folder_exits_with_5(tiny, tmp_path, dry_run):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    result = invoke(
        "score",
        *(["--dry-run"] if dry_run else []),
        "--config",
        str(tiny),
        "-o",
        str(blocker / "out"),
    )

    assert result.exit_code == EXIT_WRITE_FAILED == 5
    assert "cannot write to output folder" in result.output


def test_json_logs_are_one_object_per_line_with_level_and_message(tiny, tmp_path):
    result = invoke(
        "--log-format",
        "json",
        "features",
        "--config",
        str(tiny),
        "-o",
        str(tmp_path / "out"),
    )

    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stderr
    records = json_lines(result.stderr)
    assert records
    for record in records:
        assert {"ts", "level", "logger", "message"} <= set(record)
        assert record["ts"].endswith("Z")
    levels = {record["level"] for record in records}
    assert {"INFO", "WARNING"} <= levels
    assert any(r["message"].startswith("Built ") for r in records)
    # the result line stays on stdout, apart from the logs
    assert result.stdout.strip().endswith(".parquet")


def test_json_logs_of_a_failure_carry_the_error(tmp_path):
    result = invoke(
        "--log-format", "json", "features", "--config", str(tmp_path / "x.yaml")
    )

    assert result.exit_code == EXIT_BAD_INPUT
    (record,) = json_lines(result.stderr)
    assert record["level"] == "ERROR"
    assert record["message"].startswith("bad input: config file")


def test_json_formatter_keeps_extra_fields_and_one_line_per_record():
    record = logging.LogRecord(
        "referral_propensity.x", logging.INFO, __file__, 1, "rows\n%d", (3,), None
    )
    record.n_rows = 3
    record.as_of = Path("2024-07-01")  # not JSON by itself: written as text

    entry = json.loads(JsonFormatter().format(record))

    assert "\n" not in JsonFormatter().format(record)
    assert entry["message"] == "rows\n3"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "referral_propensity.x"
    assert entry["n_rows"] == 3
    assert entry["as_of"] == "2024-07-01"


def test_quiet_keeps_warnings_and_the_result_but_no_info(tiny, tmp_path):
    result = invoke(
        "--quiet", "features", "--config", str(tiny), "-o", str(tmp_path / "out")
    )

    assert result.exit_code == 0, result.output
    assert "INFO" not in result.stderr
    # the duplicated row of C1 is a recoverable data problem: still reported
    assert "WARNING" in result.stderr and "duplicate" in result.stderr
    assert result.stdout.strip().endswith(".parquet")
    assert Path(result.stdout.strip()).exists()


def test_without_quiet_info_lines_are_logged(tiny, tmp_path):
    result = invoke("features", "--config", str(tiny), "-o", str(tmp_path / "out"))

    assert result.exit_code == 0, result.output
    assert " INFO referral_propensity" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("label", ["offer_response", "reactivation"])
def test_dry_run_of_run_writes_nothing_and_logs_no_run(tmp_path, monkeypatch, label):
    store = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    config = shop_config(tmp_path, "dry", label=label)
    out = tmp_path / "out"

    result = invoke("run", "--dry-run", "--config", str(config), "-o", str(out))

    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Dry run of run" in text
    assert "transactions " in text and " rows" in text
    assert "scoring as_of: 2025-07-01" in text
    assert f"writes: {out / 'scores.parquet'}, {out / 'scores.csv'}" in text
    if label == "offer_response":
        assert "held-out campaigns" in text and "validation campaign" in text
    else:
        # the scoring date 2025-07-01 minus the 60-day horizon
        assert "test snapshot: 2025-05-02" in text
        assert "validation snapshot: 2025-03-03" in text
    assert not out.exists()
    assert not store.exists()
    assert not list(tmp_path.glob("mlruns*"))


@pytest.mark.slow
def test_dry_run_of_train_past_the_data_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    config = shop_config(tmp_path, "late", label="reactivation")

    result = invoke(
        "train", "--dry-run", "--config", str(config), "--as-of", "2025-06-01"
    )

    # the 60-day label window of 2025-06-01 runs past the last day, 2025-06-30
    assert result.exit_code == EXIT_BAD_INPUT
    assert "runs past the last transaction" in result.output
    assert not (tmp_path / "mlflow.db").exists()


@pytest.fixture(scope="module")
def json_run(tmp_path_factory):
    """One `run` of the small shop with JSON logs, and its own store."""
    folder = tmp_path_factory.mktemp("json-run")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    config = shop_config(folder, "ergonomics")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke(
            "--log-format",
            "json",
            "run",
            "--config",
            str(config),
            "-o",
            str(folder / "out"),
        )
    return folder, store, config, result


@pytest.mark.slow
def test_a_whole_run_logs_json_lines_with_progress_as_log_lines(json_run):
    _, _, _, result = json_run

    assert result.exit_code == 0, result.output
    records = json_lines(result.stderr)
    assert all(r["level"] in {"DEBUG", "INFO", "WARNING"} for r in records)
    # not on a terminal, the campaign-day loop reports as log lines
    progress = [r for r in records if r["logger"] == "referral_propensity.progress"]
    assert progress
    assert progress[-1]["message"].startswith(
        "Building features for each campaign day: "
    )
    assert result.stdout.startswith("Trained model version 1")


@pytest.mark.slow
def test_dry_run_of_score_names_the_champion_and_changes_nothing(json_run, tmp_path):
    folder, store, config, first = json_run
    assert first.exit_code == 0, first.output
    mlflow.set_tracking_uri(store)
    n_runs = len(mlflow.search_runs(experiment_names=["ergonomics"]))
    scores = folder / "out" / "scores.csv"
    before = (scores.read_bytes(), scores.stat().st_mtime_ns)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store)
        result = invoke(
            "score", "--dry-run", "--config", str(config), "-o", str(folder / "out")
        )
        elsewhere = invoke(
            "score", "--dry-run", "--config", str(config), "-o", str(tmp_path / "o")
        )

    assert result.exit_code == 0, result.output
    assert "model: models:/rp-ergonomics@champion (version 1, run " in result.stdout
    assert "inactive of 3,000 would be scored" in result.stdout
    assert (scores.read_bytes(), scores.stat().st_mtime_ns) == before
    assert elsewhere.exit_code == 0, elsewhere.output
    assert not (tmp_path / "o").exists()
    assert len(mlflow.search_runs(experiment_names=["ergonomics"])) == n_runs


@pytest.mark.slow
def test_sigterm_stops_a_run_with_143(tmp_path):
    config = shop_config(tmp_path, "stopped")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    command = [
        sys.executable,
        "-m",
        "referral_propensity.cli",
        "--log-format",
        "json",
        "run",
        "--config",
        str(config),
        "-o",
        str(tmp_path / "out"),
    ]
    job = subprocess.Popen(
        command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        # wait until the job is busy: the tables are loaded
        deadline = time.monotonic() + 120
        for line in job.stderr:
            if "Loaded 4 table(s)" in line or time.monotonic() > deadline:
                break
        job.send_signal(signal.SIGTERM)
        rest = job.communicate(timeout=120)[1]
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()

    assert job.returncode == EXIT_SIGTERM == 143, rest[-3000:]
    errors = [r for r in json_lines(rest) if r["level"] == "ERROR"]
    assert errors and errors[-1]["message"].startswith("stopped by signal 15")
    # a signal that surfaces as another error (DuckDB's "Query interrupted")
    # still ends the job with 143, not as an unexpected error
    assert not any("unexpected error" in r["message"] for r in errors)
    assert not (tmp_path / "out" / "scores.csv").exists()
