"""Bad settings are refused early with the documented exit code."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from referral_propensity.cli import EXIT_BAD_INPUT, EXIT_USAGE, app
from referral_propensity.config import load_config
from referral_propensity.errors import InputValidationError
from referral_propensity.segments import Segmenter


def _invoke(*args):
    return CliRunner().invoke(app, list(args))


def test_an_impossible_date_in_the_config_is_bad_input(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("scoring: {as_of: 2025-13-01}\n")

    result = _invoke("features", "--config", str(config))

    assert result.exit_code == EXIT_BAD_INPUT
    assert "holds a date that does not exist" in result.output


@pytest.mark.parametrize("day", ["9999-12-31", "1066-10-14"])
def test_an_as_of_outside_sensible_years_is_a_usage_error(tmp_path, day):
    result = _invoke("train", "--config", "configs/cdnow.yaml", "--as-of", day)

    assert result.exit_code == EXIT_USAGE
    assert "outside the years 1900 to 2200" in result.output


def test_a_tracking_store_in_a_file_instead_of_a_folder_is_bad_input(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/x.db")
        result = _invoke(
            "score", "--config", "configs/cdnow.yaml", "-o", str(tmp_path / "o")
        )

    assert result.exit_code == EXIT_BAD_INPUT
    assert "is not a folder" in result.output


def test_segment_ids_in_the_catalog_may_be_numbers(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {source: cdnow}\n"
        "scoring:\n  catalog:\n    - {offer_type: a, cost: 1, segments: [0, 2]}\n"
    )

    assert load_config(config).scoring.catalog[0].segments == ["0", "2"]


def test_order_by_a_column_the_customers_lack_is_refused():
    frame = pd.DataFrame(
        {"recency_days": range(40), "n_orders": [1, 2, 3, 4] * 10}, dtype="float64"
    )

    with pytest.raises(InputValidationError, match="segments.order_by names 'nosuch'"):
        Segmenter(order_by="nosuch", k_min=2, k_max=3).fit(frame)


def test_dry_run_finds_a_missing_label_column_like_the_real_run(tmp_path):
    text = open("configs/ifood.yaml", encoding="utf-8").read()
    config = tmp_path / "ifood-bad.yaml"
    config.write_text(text.replace("column: Response", "column: nosuchcol"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
        result = _invoke("train", "--config", str(config), "--dry-run")

    assert result.exit_code == EXIT_BAD_INPUT
    assert "no label column 'nosuchcol'" in result.output
    assert not (tmp_path / "mlflow.db").exists()
