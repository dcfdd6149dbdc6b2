"""What a killed run leaves behind is cleaned by the next write."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from referral_propensity.errors import OutputWriteError
from referral_propensity.io.write import check_writable, write_scores


def _dead_pid() -> int:
    # a process that has finished: its pid is free (or reused, which keeps the file)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_a_dead_process_are_removed_on_the_next_write(tmp_path):
    leftover = tmp_path / f".scores.csv.{_dead_pid()}.0123456789abcdef.tmp"
    leftover.write_text("half a file")
    frame = pd.DataFrame({"customer_id": ["A"], "rank": [1]})

    write_scores(frame, tmp_path)

    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "scores.csv",
        "scores.parquet",
    ]


def test_a_target_that_is_a_folder_stops_the_write_before_any_file_changes(tmp_path):
    (tmp_path / "scores.parquet").write_bytes(b"earlier")
    (tmp_path / "scores.csv").mkdir()
    frame = pd.DataFrame({"customer_id": ["A"], "rank": [1]})

    with pytest.raises(OutputWriteError, match="is not a file"):
        write_scores(frame, tmp_path)
    assert (tmp_path / "scores.parquet").read_bytes() == b"earlier"
    with pytest.raises(OutputWriteError, match="is not a file"):
        check_writable(tmp_path)
