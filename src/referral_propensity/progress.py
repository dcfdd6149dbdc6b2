"""Progress of long loops: a bar on a terminal, log lines elsewhere, or nothing.

The command line picks the mode once (:func:`configure`); library code only
calls :func:`iterate`, which shows nothing until then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Literal, TypeVar

T = TypeVar("T")

Mode = Literal["bar", "log", "off"]

logger = logging.getLogger(__name__)

_mode: Mode = "off"
_console = None
# a loop of unknown length logs at most one line in this many seconds
_LOG_EVERY_SECONDS = 10.0


def configure(mode: Mode, *, console=None) -> None:
    """Choose how loops show progress (the command line does this once).

    Parameters
    ----------
    mode : {"bar", "log", "off"}
        ``bar``: a rich progress bar (for a terminal); ``log``: INFO lines on
        the ``referral_propensity.progress`` logger, about one per tenth of
        the loop; ``off``: nothing.
    console : rich.console.Console, optional
        Where bars are drawn; share the log handler's console so log lines
        and bars do not overwrite each other. Default: rich's own (stdout).
    """
    global _mode, _console
    if mode not in ("bar", "log", "off"):
        raise ValueError(f"progress mode {mode!r} is not one of bar, log, off")
    _mode = mode
    _console = console


def enable(on: bool) -> None:
    """Turn progress bars on or off (same as ``configure("bar" or "off")``)."""
    configure("bar" if on else "off")


def mode() -> Mode:
    """The current mode."""
    return _mode


def iterate(
    items: Iterable[T], description: str, *, total: int | None = None
) -> Iterator[T]:
    """Yield items, showing progress as :func:`configure` chose.

    Parameters
    ----------
    items : iterable
    description : str
        What the loop does, e.g. ``Building training snapshots``.
    total : int, optional
        Number of items; default ``len(items)`` when it has one.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    if _mode == "bar":
        from rich.progress import track

        yield from track(
            items,
            description=description,
            total=total,
            transient=True,
            console=_console,
        )
    elif _mode == "log":
        yield from _logged(items, description, total)
    else:
        yield from items


def _logged(items: Iterable[T], description: str, total: int | None) -> Iterator[T]:
    started = last_logged = time.perf_counter()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.perf_counter()
        if total:
            # one line each time another tenth of the loop is done
            due = done == total or done * 10 // total > (done - 1) * 10 // total
            shown = f"{done}/{total}"
        else:
            due = now - last_logged >= _LOG_EVERY_SECONDS
            shown = str(done)
        if due:
            last_logged = now
            logger.info("%s: %s done in %.1f s", description, shown, now - started)
