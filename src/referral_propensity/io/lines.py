"""Where offending values sit in a source: "line 3 ('N/A')" phrases for errors."""

from __future__ import annotations

import pandas as pd

PARQUET_SUFFIXES = {".parquet", ".pq"}


class LineFinder:
    """Turns offending values or row positions into phrases for messages.

    ``source`` is a :class:`~referral_propensity.io.load.TableSource`.
    """

    def __init__(self, source, mapping: dict[str, str]):
        self.source = source
        self.mapping = mapping
        self.is_csv = (
            source.path is not None
            and source.path.suffix.lower() not in PARQUET_SUFFIXES
        )

    def _where(self, position: int) -> str:
        # positions count data rows from 1; in a CSV file the header is line 1
        return f"line {position + 1}" if self.is_csv else f"row {position}"

    def describe_positions(self, column, rows, *, show_values=True) -> str:
        parts = []
        for position, value in rows:
            shown = f" ({value!r})" if show_values and value is not None else ""
            parts.append(f"{self._where(position)}{shown}")
        return ", ".join(parts)

    def __call__(self, column: str, values: list[str]) -> list[str]:
        """Where the given raw values of a column sit (first few rows each)."""
        raw = self._raw_column(column)
        if raw is None:
            return [repr(value) for value in values]
        stripped = raw.str.strip()
        phrases = []
        for value in values:
            hits = stripped.index[stripped == value][:3]
            where = ", ".join(self._where(int(i) + 1) for i in hits) or "?"
            phrases.append(f"{where} ({value!r})")
        return phrases

    def _raw_column(self, column: str) -> pd.Series | None:
        name = self.mapping.get(column, column)
        if self.source.frame is not None:
            return (
                self.source.frame[name]
                .astype("string")
                .fillna("")
                .reset_index(drop=True)
            )
        if not self.is_csv:
            return None
        frame = pd.read_csv(
            self.source.path,
            sep=self.source.sep,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig"
            if self.source.encoding.lower() in ("utf-8", "utf8")
            else self.source.encoding,
            usecols=[name],
        )
        return frame[name]
