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
    _remove_stale(target)
    # a fresh name the writer creates itself, so the file mode follows the umask;
    # the process id lets a later run remove what a killed one left behind
    temporary = (
        target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    )
    try:
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def _remove_stale(target: Path) -> None:
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        pid = leftover.name.removeprefix(f".{target.name}.").split(".")[0]
        if pid.isdigit() and not _is_running(int(pid)):
            leftover.unlink(missing_ok=True)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_writable(folder: Path) -> None:
    """Fail early, before any work, when outputs cannot be written to a folder.

    Raises
    ------
    OutputWriteError
        When the folder cannot be created or written, or a target name is
        taken by something that is not a file.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-check.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputWriteError(
            f"cannot write to output folder {folder}: {exc.strerror or exc}; pick "
            f"another --output-dir"
        ) from exc
    for name in ("scores.csv", "scores.parquet"):
        if (folder / name).exists() and not (folder / name).is_file():
            raise OutputWriteError(
                f"{folder / name} exists and is not a file; remove it or pick "
                f"another --output-dir"
            )


def write_atomically(writers: dict[Path, Callable[[Path], None]]) -> list[Path]:
    """Write several files, each replaced whole, none when any write fails.

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
    only after every temporary file has been written and flushed. A process
    killed between two renames (SIGKILL; SIGTERM is caught and unwinds first)
    can leave the first target new and the next one old.
    """
    for target in writers:
        if Path(target).exists() and not Path(target).is_file():
            raise OutputWriteError(
                f"{target} exists and is not a file; nothing was written"
            )
    with contextlib.ExitStack() as stack:
        temporaries = {}
        for target, write in writers.items():
            try:
                temporary = stack.enter_context(_temporary_beside(Path(target)))
            except OSError as exc:
                raise OutputWriteError(
                    f"could not write {target}: {exc}; earlier outputs are untouched"
                ) from exc
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
