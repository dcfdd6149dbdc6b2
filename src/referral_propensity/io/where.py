"""Row filters of an input table: the SQL behind ``data.<table>.where``.

``source`` below is a :class:`~referral_propensity.io.load.TableSource`; its
``where`` maps a column (its name in the source) to the value to keep.
"""

from __future__ import annotations

import logging

from referral_propensity.errors import InputValidationError
from referral_propensity.io.columns import NUMERIC_TYPES, sql_str

logger = logging.getLogger(__name__)

#: values of a where column listed in the error when no row matches
_MAX_VALUES_SHOWN = 20


# Limitation: a condition is one value per column (equality); lists, ranges and
# negation are not supported yet.
def where_sql(source, found: list[str], raw_types: dict[str, str]) -> str:
    """SQL that is true on the rows ``source.where`` keeps.

    Parameters
    ----------
    source : TableSource
    found : list of str
        Column names of the source.
    raw_types : dict of str to str
        Source column -> its type as read (VARCHAR for CSV).

    Returns
    -------
    str
        A boolean SQL expression over the raw columns; ``true`` without
        ``where``. A row whose column is missing is left out.

    Raises
    ------
    InputValidationError
        When ``where`` names a column the source lacks; the message lists the
        columns found.
    """
    if not source.where:
        return "true"
    unknown = [column for column in source.where if column not in found]
    if unknown:
        raise InputValidationError(
            f"data.{source.name}.where names column(s) {', '.join(map(repr, unknown))} "
            f"that {source.name} file `{source.label}` does not have (found: "
            f"{', '.join(repr(f) for f in found)}); use the file's column names"
        )
    conditions = []
    for column, value in source.where.items():
        raw_col = _quoted(column)
        text = f"trim(CAST({raw_col} AS VARCHAR))"
        if isinstance(value, bool):
            # a flag compares in every spelling the loader accepts for flags
            spellings = ("true", "t", "1", "yes", "y", "1.0")
            if not value:
                spellings = ("false", "f", "0", "no", "n", "0.0")
            listed = ", ".join(sql_str(v) for v in spellings)
            conditions.append(f"lower({text}) IN ({listed})")
        elif isinstance(value, int | float):
            if raw_types[column].upper().startswith(NUMERIC_TYPES):
                number = f"CAST({raw_col} AS DOUBLE)"
            else:
                if source.thousands:
                    text = f"replace({text}, {sql_str(source.thousands)}, '')"
                if source.decimal != ".":
                    text = f"replace({text}, {sql_str(source.decimal)}, '.')"
                number = f"try_cast({text} AS DOUBLE)"
            conditions.append(f"{number} = {float(value)!r}")
        else:
            conditions.append(f"{text} = {sql_str(str(value).strip())}")
    # a missing value equals nothing, so its row is left out
    return "coalesce(" + " AND ".join(conditions) + ", false)"


def count_filtered_out(con, raw_name: str, source, keep_sql: str) -> int:
    """Rows of the raw table that ``where`` leaves out; logs how many it kept.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    raw_name : str
        The registered raw table.
    source : TableSource
    keep_sql : str
        The expression from :func:`where_sql`.

    Returns
    -------
    int
        0 without ``where``.

    Raises
    ------
    InputValidationError
        When no row is kept; the message lists the values the column holds
        when there are at most 20 of them.
    """
    if not source.where:
        return 0
    n_rows_read, n_kept = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {keep_sql}) FROM {raw_name}"
    ).fetchall()[0]
    described = " and ".join(f"{c} = {v!r}" for c, v in source.where.items())
    if n_kept == 0:
        seen = []
        for column in source.where:
            values = con.execute(
                f"SELECT DISTINCT trim(CAST({_quoted(column)} AS VARCHAR)) AS v "
                f"FROM {raw_name} ORDER BY v LIMIT {_MAX_VALUES_SHOWN + 1}"
            ).fetchall()
            # many distinct values may be ids or other personal data: not shown
            if len(values) <= _MAX_VALUES_SHOWN:
                listed = ", ".join(repr(row[0]) for row in values)
                seen.append(f"{column} holds {listed}")
        hint = f" ({'; '.join(seen)})" if seen else ""
        raise InputValidationError(
            f"data.{source.name}.where ({described}) keeps none of the "
            f"{n_rows_read} rows of {source.name} file `{source.label}`{hint}; "
            f"fix the value(s) in data.{source.name}.where"
        )
    logger.info(
        "Kept %d of %d %s row(s) where %s",
        n_kept,
        n_rows_read,
        source.name,
        described,
    )
    return n_rows_read - n_kept


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'
