"""Atomic writes: a temporary file beside the target, then a rename."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from referral_propensity.errors import OutputWriteError


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name the writer creates itself, so the file mode follows the umask
    temporary = target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp"
    try:
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(writers: dict[Path, Callable[[Path], None]]) -> list[Path]:
    """Write several files so that either all are replaced or none is.

    Parameters
    ----------
    writers : dict of Path to callable
        Target path -> a function that writes the content to the path it is
        given (a temporary file in the target's folder).

    Returns
    -------
    list of Path
        The targets, written.

    Raises
    ------
    OutputWriteError
        When any writer fails; every target keeps its earlier content.

    Notes
    -----
    Each rename is atomic; the renames of several files follow one another
    only after every temporary file has been written and flushed.
    """
    with contextlib.ExitStack() as stack:
        temporaries = {}
        for target, write in writers.items():
            temporary = stack.enter_context(_temporary_beside(Path(target)))
            try:
                write(temporary)
                with open(temporary, "rb+") as handle:
                    os.fsync(handle.fileno())
            except Exception as exc:
                raise OutputWriteError(
                    f"could not write {target}: {exc}; earlier outputs are untouched"
                ) from exc
            temporaries[Path(target)] = temporary
        for target, temporary in temporaries.items():
            os.replace(temporary, target)
    return list(temporaries)


def write_scores(scores: pd.DataFrame, output_dir: Path) -> list[Path]:
    """Write ``scores.parquet`` and ``scores.csv`` atomically.

    Parameters
    ----------
    scores : pandas.DataFrame
        The ranked scores (see :func:`referral_propensity.score.score_customers`).
    output_dir : Path
        Created when missing.

    Returns
    -------
    list of Path
    """
    output_dir = Path(output_dir)
    return write_atomically(
        {
            output_dir / "scores.parquet": lambda path: scores.to_parquet(
                path, index=False
            ),
            output_dir / "scores.csv": lambda path: scores.to_csv(path, index=False),
        }
    )


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """Write one data frame atomically, as Parquet or CSV by the suffix."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        write_atomically({path: lambda tmp: frame.to_csv(tmp, index=False)})
    else:
        write_atomically({path: lambda tmp: frame.to_parquet(tmp, index=False)})
    return path
