"""Tests of atomic output writes: all files or none, nothing half-written."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from referral_propensity.errors import OutputWriteError
from referral_propensity.io.write import write_atomically, write_scores

OLD_BYTES = b"customer_id,rank\nC1,1\n\x00\xff old bytes\n"


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(saved)


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C3", "C1", "C2"],
            "segment_id": np.array([1, 0, 1], dtype="int64"),
            "segment_name": ["long-lapsed repeat buyers", "one-time buyers", "x"],
            "propensity": [0.5, 0.25, 0.125],
            "offer": ["discount", "points", "discount"],
            "expected_value": [19.5, 4.75, 1.0],
            "rank": np.array([1, 2, 3], dtype="int64"),
        }
    )


def _write_half_then_fail(path):
    with open(path, "wb") as handle:
        handle.write(b"half a file")
    raise RuntimeError("disk full")


def test_failing_writer_leaves_the_earlier_file_byte_identical(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_bytes(OLD_BYTES)

    with pytest.raises(
        OutputWriteError, match=r"could not write .*scores\.csv: disk full"
    ):
        write_atomically({target: _write_half_then_fail})

    assert target.read_bytes() == OLD_BYTES
    # no temporary file is left beside the target
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_failing_second_writer_leaves_both_earlier_files_intact(tmp_path):
    first = tmp_path / "scores.parquet"
    second = tmp_path / "scores.csv"
    first.write_bytes(b"old parquet")
    second.write_bytes(OLD_BYTES)

    def write_new(path):
        path.write_bytes(b"new content")

    with pytest.raises(OutputWriteError, match="earlier outputs are untouched"):
        write_atomically({first: write_new, second: _write_half_then_fail})

    # the first writer succeeded, but nothing is renamed until all have
    assert first.read_bytes() == b"old parquet"
    assert second.read_bytes() == OLD_BYTES
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "scores.csv",
        "scores.parquet",
    ]


def test_failing_writer_without_an_earlier_file_creates_none(tmp_path):
    target = tmp_path / "out" / "scores.csv"

    with pytest.raises(OutputWriteError):
        write_atomically({target: _write_half_then_fail})

    assert not target.exists()
    # the folder may have been made, but nothing is left inside it
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_output_write_error_is_an_os_error():
    assert issubclass(OutputWriteError, OSError)


def test_successful_write_replaces_the_content_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_bytes(OLD_BYTES)

    written = write_atomically({target: lambda path: path.write_bytes(b"new\n")})

    assert written == [target]
    assert target.read_bytes() == b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


@pytest.mark.parametrize(("mask", "expected_mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_written_file_mode_respects_the_umask(tmp_path, umask, mask, expected_mode):
    # a new file's mode is 0o666 without the umask's bits:
    # 0o666 & ~0o022 = 0o644, 0o666 & ~0o077 = 0o600
    umask(mask)
    target = tmp_path / "scores.csv"

    write_atomically({target: lambda path: path.write_bytes(b"x\n")})

    assert stat.S_IMODE(target.stat().st_mode) == expected_mode


def test_write_scores_writes_parquet_and_csv_with_the_same_rows(tmp_path):
    scores = _scores()
    output_dir = tmp_path / "new" / "folder"

    paths = write_scores(scores, output_dir)

    assert sorted(p.name for p in paths) == ["scores.csv", "scores.parquet"]
    assert all(p.parent == output_dir for p in paths)
    assert sorted(p.name for p in output_dir.iterdir()) == [
        "scores.csv",
        "scores.parquet",
    ]
    from_parquet = pd.read_parquet(output_dir / "scores.parquet")
    pd.testing.assert_frame_equal(
        from_parquet, scores, check_dtype=False, check_exact=False, rtol=1e-12
    )
    from_csv = pd.read_csv(output_dir / "scores.csv")
    assert list(from_csv.columns) == list(scores.columns)
    assert from_csv["customer_id"].tolist() == ["C3", "C1", "C2"]
    np.testing.assert_allclose(
        from_csv["expected_value"], [19.5, 4.75, 1.0], rtol=1e-12
    )
    np.testing.assert_array_equal(from_csv["rank"], [1, 2, 3])


def test_write_scores_keeps_earlier_files_when_a_write_fails(tmp_path):
    # a column parquet cannot store makes the parquet writer fail
    (tmp_path / "scores.csv").write_bytes(OLD_BYTES)
    (tmp_path / "scores.parquet").write_bytes(b"old parquet")
    unwritable = _scores().assign(offer=[object(), object(), object()])

    with pytest.raises(OutputWriteError, match="scores.parquet"):
        write_scores(unwritable, tmp_path)

    assert (tmp_path / "scores.csv").read_bytes() == OLD_BYTES
    assert (tmp_path / "scores.parquet").read_bytes() == b"old parquet"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "scores.csv",
        "scores.parquet",
    ]
