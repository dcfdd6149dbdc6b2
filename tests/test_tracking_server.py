"""Two training runs logged to a real MLflow tracking server, compared over REST."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from referral_propensity.cli import app

pytestmark = pytest.mark.slow

CONFIG = """
    experiment_name: served
    model_name: rp-served
    seed: 3
    data:
      source: synthetic
      synthetic: {{n_customers: 3000, start: 2023-01-01, end: 2025-06-30, seed: 11}}
    segments: {{k_min: 2, k_max: 4}}
    label: {{kind: offer_response, horizon_days: 60}}
    training:
      lightgbm: {{num_boost_round: 200, min_child_samples: {min_child}, num_leaves: {leaves}}}
    scoring:
      catalog:
        - {{offer_type: discount, cost: 0.5, value: 30.0}}
        - {{offer_type: freebie, cost: 0.4, value: 30.0}}
        - {{offer_type: early_access, cost: 0.2, value: 30.0}}
        - {{offer_type: personal_message, cost: 0.2, value: 30.0}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_until_up(base: str, server: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"mlflow server did not answer on {base} in {seconds} s")


@pytest.fixture()
def server(tmp_path):
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    process = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "server.log", "wb"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, 180)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_runs_on_a_server_can_be_searched_by_roc_auc(server, tmp_path):
    for name, leaves, min_child in (("narrow", 3, 300), ("wide", 15, 40)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            textwrap.dedent(CONFIG.format(leaves=leaves, min_child=min_child)),
            encoding="utf-8",
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", server)
            result = CliRunner().invoke(
                app, ["train", "--config", str(path)], catch_exceptions=False
            )
        assert result.exit_code == 0, result.output

    with urllib.request.urlopen(
        f"{server}/api/2.0/mlflow/experiments/get-by-name?experiment_name=served",
        timeout=30,
    ) as response:
        experiment = json.loads(response.read())
    experiment_id = experiment["experiment"]["experiment_id"]
    found = _post(
        f"{server}/api/2.0/mlflow/runs/search",
        {
            "experiment_ids": [experiment_id],
            "filter": "tags.stage = 'train'",
            "order_by": ["metrics.roc_auc DESC"],
        },
    )["runs"]

    assert len(found) == 2
    aucs = [
        next(m["value"] for m in run["data"]["metrics"] if m["key"] == "roc_auc")
        for run in found
    ]
    assert aucs == sorted(aucs, reverse=True)
    params = [{p["key"]: p["value"] for p in run["data"]["params"]} for run in found]
    differing = {
        key
        for key in set(params[0]) | set(params[1])
        if params[0].get(key) != params[1].get(key)
    }
    # the two configs differ in exactly these settings
    assert {
        "training.lightgbm.num_leaves",
        "training.lightgbm.min_child_samples",
    } <= differing
    assert {
        params[0]["training.lightgbm.num_leaves"],
        params[1]["training.lightgbm.num_leaves"],
    } == {"3", "15"}
    assert not {k for k in differing if k.startswith("label.") or k.startswith("data.")}
