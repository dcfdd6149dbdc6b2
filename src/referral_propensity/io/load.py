"""Load an input table from CSV, Parquet or a data frame into DuckDB.

Every table is checked against the data contract (:mod:`.contract`), typed
(ids as text, timestamps in UTC, numbers as doubles), stripped of exact
duplicate rows and kept as a DuckDB temporary table, so later stages run as
SQL over it without copying it into Python.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from referral_propensity.errors import EmptyTableError, InputValidationError
from referral_propensity.io.columns import (
    check_typed,
    sql_str,
    typed_columns,
)
from referral_propensity.io.contract import KEEPS_EXTRA_COLUMNS, OPTIONAL, REQUIRED
from referral_propensity.io.lines import PARQUET_SUFFIXES, LineFinder
from referral_propensity.io.where import count_filtered_out, where_sql

logger = logging.getLogger(__name__)

_PARQUET_SUFFIXES = PARQUET_SUFFIXES
_MAX_SHOWN = 5
#: name of the helper column that marks the rows where keeps
_KEEP = "__keep_row"
_TABLE_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class TableSource:
    """Where a table comes from and how to read it.

    Parameters
    ----------
    name : str
        Table name in the data contract: transactions, customers, engagement
        or offers.
    path : Path, optional
        A CSV (also gzip-compressed) or Parquet file.
    frame : pandas.DataFrame, optional
        An in-memory table instead of a file.
    columns : dict of str to str
        Contract column name -> the column's name in the source.
    sep, decimal, thousands, encoding : str
        CSV settings; ``thousands`` is removed before a number is parsed.
    date_format : str or dict, optional
        One strptime format (or ``"ISO"``) for every timestamp column, or a
        mapping column -> format. Inferred per column when not given.
    where : dict of str to str, int, float or bool
        Keep only the rows whose column (its name in the source) equals the
        value; several entries must all hold. Text is compared after trimming
        spaces, numbers as numbers, booleans as true/false, yes/no or 1/0.
    """

    name: str
    path: Path | None = None
    frame: pd.DataFrame | None = None
    columns: dict[str, str] = field(default_factory=dict)
    sep: str = ","
    decimal: str = "."
    thousands: str | None = None
    date_format: str | dict[str, str] | None = None
    encoding: str = "utf-8"
    where: dict[str, str | int | float | bool] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How messages name the source: the file name, or ``<data frame>``."""
        return self.path.name if self.path is not None else "<data frame>"

    def format_for(self, column: str) -> str | None:
        """The configured date format of a column, if any."""
        if isinstance(self.date_format, dict):
            return self.date_format.get(column)
        return self.date_format


@dataclass
class LoadedTable:
    """A validated table held by DuckDB.

    Attributes
    ----------
    name : str
        Contract name of the table.
    relation : duckdb.DuckDBPyRelation
        The typed rows; timestamps are TIMESTAMPTZ in UTC, and tables with a
        time column carry ``event_day`` (days since 1970-01-01, UTC).
    source : str
        File name or ``<data frame>``.
    n_rows_read, n_duplicate_rows_dropped : int
        Rows in the source, and exact duplicates removed.
    n_rows_filtered_out : int
        Rows left out by ``where`` (0 without it).
    date_formats : dict of str to str
        The format used for each parsed timestamp column.
    order_definition : str
        For transactions: ``order_id`` or ``customer_day`` (one order per
        customer and UTC day, when the source has no order ids).
    """

    name: str
    relation: duckdb.DuckDBPyRelation
    source: str
    n_rows_read: int
    n_duplicate_rows_dropped: int
    date_formats: dict[str, str] = field(default_factory=dict)
    order_definition: str | None = None
    n_rows_filtered_out: int = 0

    @property
    def n_rows(self) -> int:
        """Rows kept after validation and de-duplication."""
        return self.relation.shape[0]

    @property
    def columns(self) -> list[str]:
        """Column names of the typed table."""
        return list(self.relation.columns)

    def to_pandas(self) -> pd.DataFrame:
        """The table as pandas, timestamps as UTC-aware datetimes."""
        return self.relation.df()


def load_table(
    con: duckdb.DuckDBPyConnection,
    source: TableSource,
    *,
    today: dt.date | None = None,
) -> LoadedTable:
    """Read, check and type one input table.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection made by :func:`referral_propensity.engine.connect`.
    source : TableSource
    today : date, optional
        The wall-clock date used only to warn about rows dated in the future
        (never for features); today's UTC date when None.

    Returns
    -------
    LoadedTable

    Raises
    ------
    InputValidationError
        For a missing or empty file, a missing required column (listing the
        columns found), an empty required value, an unparsable timestamp or
        number (naming the column, lines and values), duplicate customer
        ids in a customers table, a ``where`` column the source lacks, or a
        ``where`` that keeps no row.

    Notes
    -----
    Line numbers count the header as line 1; a quoted field holding a line
    break shifts the count for the rows after it. Every row is checked, also
    those ``where`` leaves out, so the line numbers in messages are the
    file's; duplicates are counted among the rows kept.
    """
    started = time.perf_counter()
    raw_name = f"raw_{source.name}"
    raw = _read_raw(con, source)
    con.register(raw_name, raw)

    found = [str(column) for column in raw.columns]
    mapping = _map_columns(source, found)
    n_rows_read = raw.shape[0]
    if n_rows_read == 0:
        raise EmptyTableError(
            f"{source.name} file `{source.label}` has 0 data rows; "
            f"point data.{source.name}.path at a file with data"
        )

    raw_types = dict(zip(found, (str(t) for t in raw.types), strict=True))
    finder = LineFinder(source, mapping)
    typed, date_formats = typed_columns(
        con, raw_name, source, mapping, raw_types, finder
    )
    check_typed(con, raw_name, source, mapping, raw_types, typed, finder)
    if "timestamp" in mapping:
        _warn_future_rows(
            con,
            raw_name,
            f'"{mapping["timestamp"]}"',
            dict(typed)["timestamp"],
            source,
            finder,
            today or dt.datetime.now(dt.UTC).date(),
        )
    keep_sql = where_sql(source, found, raw_types)
    selects = ", ".join(f'{expr} AS "{column}"' for column, expr in typed)
    typed_sql = f"SELECT {selects}, {keep_sql} AS {_KEEP} FROM {raw_name}"
    n_filtered_out = count_filtered_out(con, raw_name, source, keep_sql)

    # a fresh name per load, so an earlier table on this connection stays valid
    table_name = f"t_{source.name}_{next(_TABLE_NUMBERS)}"
    time_column = next((c for c in ("timestamp", "sent_at") if c in mapping), None)
    day_sql = (
        f", CAST(date_diff('day', DATE '1970-01-01', CAST(\"{time_column}\" AS DATE)) "
        f"AS INTEGER) AS event_day"
        if time_column
        else ""
    )
    # event_day depends on the timestamp only, so it leaves duplicates as they are
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table_name} AS "
        f"SELECT DISTINCT * EXCLUDE ({_KEEP}){day_sql} FROM ({typed_sql}) "
        f"WHERE {_KEEP}"
    )
    n_kept = con.execute(f"SELECT count(*) FROM {table_name}").fetchall()[0][0]
    n_dropped = n_rows_read - n_filtered_out - n_kept
    if n_dropped:
        logger.warning(
            "Dropped %d exact duplicate row(s) of %d in %s file %s",
            n_dropped,
            n_rows_read - n_filtered_out,
            source.name,
            source.label,
        )

    order_definition = _fill_order_ids(con, table_name, source, mapping)
    con.unregister(raw_name)
    relation = con.table(table_name)

    if source.name == "customers":
        _check_unique_customers(con, table_name, source)

    logger.info(
        "Loaded %s from %s: %d rows (%d duplicates dropped) in %.1f s",
        source.name,
        source.label,
        n_kept,
        n_dropped,
        time.perf_counter() - started,
    )
    return LoadedTable(
        name=source.name,
        relation=relation,
        source=source.label,
        n_rows_read=n_rows_read,
        n_duplicate_rows_dropped=n_dropped,
        date_formats=date_formats,
        order_definition=order_definition,
        n_rows_filtered_out=n_filtered_out,
    )


def _read_raw(con, source: TableSource) -> duckdb.DuckDBPyRelation:
    if source.frame is not None:
        if source.frame.shape[1] == 0:
            raise InputValidationError(f"{source.name} data frame has no columns")
        return con.from_df(source.frame)
    path = source.path
    if path is None:
        raise InputValidationError(
            f"no path or data frame given for table {source.name}"
        )
    if path.is_dir():
        raise InputValidationError(
            f"{source.name} path {path.resolve()} is a folder, not a file; point "
            f"data.{source.name}.path or --{source.name} at a CSV or Parquet file"
        )
    if not path.is_file():
        raise InputValidationError(
            f"{source.name} file {path.resolve()} does not exist; check "
            f"data.{source.name}.path or --{source.name}"
        )
    if path.stat().st_size == 0:
        raise EmptyTableError(
            f"{source.name} file `{path.name}` is empty (no header row); "
            f"export it again with a header and data rows"
        )
    is_parquet = path.suffix.lower() in _PARQUET_SUFFIXES
    try:
        if is_parquet:
            return con.read_parquet(str(path))
        # the SQL reader (not the Python one) honours encodings other than UTF-8
        relation = con.sql(
            f"SELECT * FROM read_csv({sql_str(str(path))}, header = true, "
            f"delim = {sql_str(source.sep)}, quote = '\"', all_varchar = true, "
            f"encoding = {sql_str(source.encoding)})"
        )
        _check_header(source, relation.columns)
        return relation
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0]
        text = str(exc).lower()
        if is_parquet:
            hint = "check that the file is Parquet"
        elif "unicode" in text or "utf-8" in text or "encoding" in text:
            hint = (
                f"the file is not {source.encoding}: set data.{source.name}.encoding "
                f"(utf-8, utf-16 or latin-1)"
            )
        else:
            hint = (
                f"check data.{source.name}.sep (now {source.sep!r}), quoting, and "
                f"that every row has as many fields as the header"
            )
        raise InputValidationError(
            f"{source.name} file `{path.name}` could not be read ({first_line}); {hint}"
        ) from exc


def _check_header(source: TableSource, columns: list[str]) -> None:
    # the reader renames a repeated header name; refuse it instead
    names = [name.strip() for name in _header_line(source).split(source.sep)]
    names = [name.strip('"') for name in names]
    # the reader matches names without regard to case, so "region,Region" repeat
    folded = [name.casefold() for name in names]
    repeated = sorted({name for name in folded if folded.count(name) > 1 and name})
    if repeated and len(names) == len(columns):
        raise InputValidationError(
            f"{source.name} file `{source.label}` repeats column name(s) "
            f"{', '.join(repr(name) for name in repeated)} in its header; keep one "
            f"column of each name"
        )


def _map_columns(source: TableSource, found: list[str]) -> dict[str, str]:
    wanted = {**REQUIRED[source.name], **OPTIONAL[source.name]}
    mapping: dict[str, str] = {}
    for column in wanted:
        name = source.columns.get(column, column)
        if name in found:
            mapping[column] = name
        elif column in source.columns:
            raise InputValidationError(
                f"{source.name} has no column {name!r} mapped to {column!r} "
                f"(found: {', '.join(repr(f) for f in found)}); fix "
                f"data.{source.name}.columns.{column}"
            )

    missing = [column for column in REQUIRED[source.name] if column not in mapping]
    if missing:
        hint = _delimiter_hint(source, found)
        if hint:
            # the sniffer may have taken a data row for the header; show the real one
            found = [_header_line(source)] if source.path is not None else found
        else:
            hint = f"map them in data.{source.name}.columns"
        raise InputValidationError(
            f"{source.name} file `{source.label}` is missing required column(s) "
            f"{', '.join(missing)} (found: {', '.join(repr(f) for f in found)}); {hint}"
        )

    if source.name in KEEPS_EXTRA_COLUMNS:
        # an attribute outside the contract may be renamed too
        for column, name in source.columns.items():
            if column in wanted:
                continue
            if name not in found:
                raise InputValidationError(
                    f"{source.name} has no column {name!r} mapped to {column!r} "
                    f"(found: {', '.join(repr(f) for f in found)}); fix "
                    f"data.{source.name}.columns.{column}"
                )
            mapping[column] = name
        used = set(mapping.values())
        for name in found:
            if name not in used and name not in mapping:
                mapping[name] = name
    return mapping


def _header_line(source: TableSource) -> str:
    import gzip

    opener = gzip.open if source.path.suffix.lower() == ".gz" else open
    with opener(source.path, "rt", encoding="utf-8-sig", errors="replace") as handle:
        return handle.readline().strip()


def _delimiter_hint(source: TableSource, found: list[str]) -> str | None:
    header = ",".join(found)
    if source.path is not None and source.path.suffix.lower() not in _PARQUET_SUFFIXES:
        header = _header_line(source)
    counts = {
        sep: header.count(sep) for sep in (",", ";", "\t", "|") if sep != source.sep
    }
    likely = max(counts, key=counts.get)
    if counts[likely] > header.count(source.sep):
        return (
            f"the header line {header.strip()!r} looks delimited by {likely!r}, "
            f"not {source.sep!r}: check the delimiter (set data.{source.name}.sep)"
        )
    return None


def _fill_order_ids(con, table_name, source, mapping) -> str | None:
    """Say how orders are counted; fill empty order ids with the customer-day."""
    if source.name != "transactions":
        return None
    if "order_id" not in mapping:
        # without order ids the features count one order per customer and day
        return "customer_day"
    n_missing = con.execute(
        f"SELECT count(*) FROM {table_name} WHERE order_id IS NULL"
    ).fetchall()[0][0]
    if n_missing:
        logger.warning(
            "%d transactions row(s) in %s have no order_id; each counts as one "
            "order per customer and day",
            n_missing,
            source.label,
        )
        con.execute(
            f"UPDATE {table_name} SET order_id = "
            f"customer_id || '|' || CAST(event_day AS VARCHAR) WHERE order_id IS NULL"
        )
    return "order_id"


def _check_unique_customers(con, table_name, source) -> None:
    n_rows, n_customers = con.execute(
        f"SELECT count(*), count(DISTINCT customer_id) FROM {table_name}"
    ).fetchall()[0]
    if n_rows != n_customers:
        repeated = con.execute(
            f"SELECT customer_id FROM {table_name} GROUP BY customer_id "
            f"HAVING count(*) > 1 ORDER BY customer_id LIMIT {_MAX_SHOWN}"
        ).fetchall()
        shown = ", ".join(row[0] for row in repeated)
        raise InputValidationError(
            f"customers file `{source.label}` has {n_rows - n_customers} repeated "
            f"customer_id value(s) with different attributes ({shown}"
            f"{', ...' if n_rows - n_customers > len(repeated) else ''}); keep one "
            f"row per customer"
        )


def _warn_future_rows(con, raw_name, raw_col, parsed, source, finder, today) -> None:
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    late = f"({parsed}) >= TIMESTAMPTZ '{tomorrow}'"
    n_late = con.execute(f"SELECT count(*) FROM {raw_name} WHERE {late}").fetchall()[0][
        0
    ]
    if not n_late:
        return
    values = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT trim(CAST({raw_col} AS VARCHAR)) AS v FROM {raw_name} "
            f"WHERE {late} ORDER BY v LIMIT {_MAX_SHOWN}"
        ).fetchall()
    ]
    logger.warning(
        "%d %s row(s) in %s are dated after today (%s): %s; the default scoring "
        "date ignores them, an as_of after them would use them; check the extract",
        n_late,
        source.name,
        source.label,
        today,
        "; ".join(finder("timestamp", values)),
    )
