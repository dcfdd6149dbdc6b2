"""The small synthetic-shop config the command-line tests run (a few seconds)."""

from __future__ import annotations

import textwrap
from pathlib import Path

SMALL_SHOP_CONFIG = """
    experiment_name: {experiment}
    model_name: {model}
    seed: 3
    data:
      source: synthetic
      synthetic: {{n_customers: 3000, start: 2023-01-01, end: 2025-06-30, seed: 11}}
    segments: {{k_min: 2, k_max: 4}}
    label: {{kind: {label}, horizon_days: 60}}
    training:
      n_snapshots: 3
      snapshot_step_days: 45
      lightgbm: {{num_boost_round: 200, min_child_samples: 50}}
    scoring:
      catalog:
        - {{offer_type: discount, cost: 0.5, value: 30.0}}
        - {{offer_type: freebie, cost: 0.4, value: 30.0}}
        - {{offer_type: early_access, cost: 0.2, value: 30.0}}
        - {{offer_type: personal_message, cost: 0.2, value: 30.0, segments: ["0"]}}
      budget: {{total_cost: 60.0}}
"""


def write_small_shop_config(
    folder: Path,
    *,
    experiment: str = "small",
    model: str | None = None,
    label: str = "offer_response",
    extra: str = "",
) -> Path:
    """Write the config as ``<folder>/<experiment>.yaml``; ``extra`` is appended."""
    path = Path(folder) / f"{experiment}.yaml"
    text = textwrap.dedent(
        SMALL_SHOP_CONFIG.format(
            experiment=experiment, model=model or f"rp-{experiment}", label=label
        )
    )
    path.write_text(text + textwrap.dedent(extra), encoding="utf-8")
    return path
