"""What each job records in MLflow besides its results: tags and params."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from referral_propensity import __version__
from referral_propensity.config import Config, flatten_config
from referral_propensity.features.rfm import BOUNDARY_RULE, ORDER_RULES
from referral_propensity.io.tables import Tables

logger = logging.getLogger(__name__)


def code_version() -> str:
    """The git commit of the package's checkout, or the package version."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return commit or __version__
    except (OSError, subprocess.SubprocessError):
        return __version__


def job_tags(config: Config, tables: Tables, stage: str) -> dict[str, str]:
    """Tags of a run: its stage, data set, label kind, engine and code version."""
    return {
        "stage": stage,
        "config": config.source_path.name if config.source_path else "",
        "dataset": dataset_name(config),
        "data_hash": tables.short_hash(),
        "label_kind": config.label.kind,
        "engine": "duckdb",
        "code_version": code_version(),
        "package_version": __version__,
    }


def dataset_name(config: Config) -> str:
    """A short name of the data: synthetic, cdnow, or the main file's name."""
    data = config.data
    if data.source in ("synthetic", "cdnow"):
        return data.source
    main = data.customers if data.customer_level else data.transactions
    return Path(str(main.path)).name


def job_params(config: Config, tables: Tables) -> dict[str, str]:
    """Params of a run: the flattened config, derived rules and data fingerprints."""
    params = flatten_config(config)
    if not tables.customer_level:
        order = tables.transactions.order_definition or "order_id"
        params["derived.order_definition"] = order
        params["derived.frequency_rule"] = ORDER_RULES[order]
        params["derived.boundary_rule"] = BOUNDARY_RULE
    for name, table in tables.present().items():
        for column, fmt in table.date_formats.items():
            params[f"derived.date_format.{name}.{column}"] = fmt
    params.update(
        {f"data_fingerprint.{k}": str(v) for k, v in tables.fingerprints().items()}
    )
    return params
