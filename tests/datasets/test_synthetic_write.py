"""Tests of writing a synthetic shop to Parquet files."""

from pathlib import Path

import pandas as pd
import pytest

from referral_propensity.datasets.synthetic import write_shop

TABLES = {"customers", "transactions", "engagement", "offers", "truth", "offer_truth"}


def test_write_shop_round_trip_reads_back_equal_frames(shop, tmp_path):
    folder = tmp_path / "shop"

    paths = write_shop(shop, folder)

    assert set(paths) == TABLES
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{name}.parquet" for name in TABLES
    )
    for name, path in paths.items():
        assert path == folder / f"{name}.parquet"
        pd.testing.assert_frame_equal(
            pd.read_parquet(path), shop.tables()[name], obj=name
        )


def test_write_shop_leaves_no_temporary_file_when_a_write_fails(
    shop, tmp_path, monkeypatch
):
    (tmp_path / "engagement.parquet").write_bytes(b"previous")
    original_to_parquet = pd.DataFrame.to_parquet

    def fail_on_engagement(frame, path, *args, **kwargs):
        if list(frame.columns) == ["customer_id", "timestamp", "event_type"]:
            Path(path).write_bytes(b"half")
            raise OSError("disk full")
        return original_to_parquet(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail_on_engagement)

    with pytest.raises(OSError, match="disk full"):
        write_shop(shop, tmp_path)

    # customers and transactions came first and are complete; engagement is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "customers.parquet",
        "engagement.parquet",
        "transactions.parquet",
    ]
    assert (tmp_path / "engagement.parquet").read_bytes() == b"previous"
