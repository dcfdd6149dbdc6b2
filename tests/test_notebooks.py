"""The walkthrough notebooks run top to bottom and leave the repository alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from referral_propensity.score import SCORE_COLUMNS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
QUICKSTART = "01-quickstart.ipynb"
COMPARE = "02-compare-experiments.ipynb"
CELL_TIMEOUT_S = 600


def _kernel_manager() -> KernelManager:
    # only ipykernel's built-in spec, whose kernel runs on this interpreter
    # (sys.executable); a python3 kernel installed for the user is ignored
    specs = KernelSpecManager(kernel_dirs=[])
    return KernelManager(kernel_name="python3", kernel_spec_manager=specs)


def run_notebook(name: str, probe: str, tmp_path: Path, monkeypatch) -> tuple:
    """Execute a notebook from the repository root, then evaluate ``probe``.

    ``probe`` is an expression over the notebook's variables whose value is
    JSON; it runs in a cell appended to the in-memory copy only.
    """
    # the notebook's temporary folder, and the kernel's own files, in tmp_path
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    notebook.cells.append(
        nbformat.v4.new_code_cell(f"import json\nprint(json.dumps({probe}))")
    )
    client = NotebookClient(
        notebook,
        km=_kernel_manager(),
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(REPO)}},
    )
    client.execute()

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, errors
    printed = "".join(
        output.text
        for output in notebook.cells[-1].outputs
        if output.output_type == "stream" and output.name == "stdout"
    )
    return notebook, json.loads(printed)


def _cell(notebook, cell_id: str):
    return next(cell for cell in notebook.cells if cell.get("id") == cell_id)


def _has_output(cell, mime: str) -> bool:
    return any(mime in output.get("data", {}) for output in cell.outputs)


def _inside(path: str, folder: Path) -> bool:
    path = path.removeprefix("file://")
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_notebooks_are_stored_without_outputs():
    names = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))
    assert names == [QUICKSTART, COMPARE]
    for name in names:
        assert re.fullmatch(r"\d{2}-[a-z0-9-]+\.ipynb", name)
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "python3"
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], (name, cell.id)
                assert cell.execution_count is None, (name, cell.id)


@pytest.mark.slow
def test_quickstart_trains_scores_and_shows_the_plots(tmp_path, monkeypatch):
    notebook, facts = run_notebook(
        QUICKSTART,
        """{
            "work_dir": str(work_dir),
            "tracking_uri": tracking_uri,
            "artifact_uri": mlflow.get_run(training.logged.run_id).info.artifact_uri,
            "promoted": training.logged.promoted,
            "roc_auc": training.result.metrics["roc_auc"],
            "n_scores": len(scores),
            "n_selected": int(scores["selected"].sum()),
            "score_columns": list(scores.columns),
            "paths": [str(path) for path in scoring.paths],
        }""",
        tmp_path,
        monkeypatch,
    )

    assert facts["promoted"]
    assert 0.5 < facts["roc_auc"] <= 1.0
    assert facts["score_columns"] == list(SCORE_COLUMNS)
    assert 0 < facts["n_selected"] < facts["n_scores"]
    # everything the notebook wrote is in its temporary folder
    assert _inside(facts["work_dir"], tmp_path)
    assert _inside(facts["tracking_uri"].removeprefix("sqlite:///"), tmp_path)
    assert _inside(facts["artifact_uri"], Path(facts["work_dir"]))
    assert facts["paths"]
    for path in facts["paths"]:
        assert _inside(path, Path(facts["work_dir"])) and Path(path).is_file()

    # the four figures are shown inline, the scores as a table
    for cell_id in ("segments-plot", "gains-plot", "calibration-plot"):
        assert _has_output(_cell(notebook, cell_id), "image/png"), cell_id
    assert _has_output(_cell(notebook, "importance-plot"), "image/png")
    assert _has_output(_cell(notebook, "score"), "text/html")


@pytest.mark.slow
def test_compare_notebook_ranks_two_runs_by_roc_auc(tmp_path, monkeypatch):
    notebook, facts = run_notebook(
        COMPARE,
        """{
            "work_dir": str(work_dir),
            "tracking_uri": tracking_uri,
            "candidates": list(runs.index),
            "roc_auc": runs["metrics.roc_auc"].tolist(),
            "differing": differing,
            "artifact_uris": runs["artifact_uri"].tolist(),
            "n_bars": len(axis.patches),
        }""",
        tmp_path,
        monkeypatch,
    )

    assert sorted(facts["candidates"]) == ["bigger trees", "built-in"]
    assert facts["roc_auc"] == sorted(facts["roc_auc"], reverse=True)
    # only the LightGBM settings differ between the two runs
    assert facts["differing"]
    assert all(key.startswith("params.training.lightgbm") for key in facts["differing"])
    # model, recency and RFM for each run
    assert facts["n_bars"] == 6
    assert _has_output(_cell(notebook, "search"), "text/html")
    assert _has_output(_cell(notebook, "chart"), "image/png")
    assert _inside(facts["work_dir"], tmp_path)
    assert _inside(facts["tracking_uri"].removeprefix("sqlite:///"), tmp_path)
    for uri in facts["artifact_uris"]:
        assert _inside(uri, Path(facts["work_dir"]))
