"""Progress bars for long loops, shown only when the command line asks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_enabled = False


def enable(on: bool) -> None:
    """Turn progress bars on or off (the command line does this once)."""
    global _enabled
    _enabled = on


def iterate(
    items: Iterable[T], description: str, *, total: int | None = None
) -> Iterator[T]:
    """Yield items, with a progress bar on stderr when enabled."""
    if not _enabled:
        yield from items
        return
    from rich.progress import track

    yield from track(items, description=description, total=total, transient=True)
