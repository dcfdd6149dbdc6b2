"""Write the tables of a synthetic shop to Parquet files."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from referral_propensity.datasets.synthetic.shop import SyntheticShop

logger = logging.getLogger(__name__)


def write_shop(shop: SyntheticShop, folder: Path) -> dict[str, Path]:
    """Write each table of a shop to a Parquet file in a folder.

    Parameters
    ----------
    shop : SyntheticShop
        The shop to write, truth and offer truth included.
    folder : pathlib.Path
        Target folder, created when missing. Existing files of the same names are
        replaced.

    Returns
    -------
    dict of str to pathlib.Path
        Table name (``customers``, ``transactions``, ``engagement``, ``offers``,
        ``truth``, ``offer_truth``) to the path of its ``<name>.parquet`` file.

    Notes
    -----
    Each file is written to a temporary file in the same folder and then moved into
    place with ``os.replace``, so a reader never sees a half-written file. If a
    write fails, its temporary file is removed and the tables written before it
    stay in place.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    paths = {}
    for name, frame in shop.tables().items():
        path = folder / f"{name}.parquet"
        _write_parquet_atomically(frame, path)
        paths[name] = path

    logger.info(
        "Wrote %d synthetic shop tables to %s in %.1f s",
        len(paths),
        folder,
        time.perf_counter() - started,
    )
    return paths


def _write_parquet_atomically(frame: pd.DataFrame, path: Path) -> None:
    handle, temp_name = tempfile.mkstemp(
        dir=path.parent,
        prefix=f".{path.stem}.",
        suffix=".parquet.tmp",
    )
    os.close(handle)
    try:
        frame.to_parquet(temp_name, index=False)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    logger.debug("Wrote %d rows to %s", len(frame), path)
