"""The embedded DuckDB engine: one connection per job, in UTC."""

from __future__ import annotations

import duckdb


def connect(*, threads: int | None = None, memory_limit: str | None = None):
    """Open an in-memory DuckDB connection set to UTC.

    Parameters
    ----------
    threads : int, optional
        Worker threads; DuckDB's default (all cores) when None.
    memory_limit : str, optional
        For example ``"4GB"``; DuckDB spills to disk past it.

    Returns
    -------
    duckdb.DuckDBPyConnection
    """
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit is not None:
        con.execute("SET memory_limit = ?", [memory_limit])
    return con
