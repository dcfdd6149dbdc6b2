"""Typing of raw columns: SQL that turns text into ids, numbers, timestamps.

Each contract column gets one SQL expression; values that do not fit become
NULL, and :func:`check_typed` reports those rows with their lines.
"""

from __future__ import annotations

import logging

from referral_propensity.errors import InputValidationError
from referral_propensity.io import dates
from referral_propensity.io.contract import OPTIONAL, REQUIRED

logger = logging.getLogger(__name__)

NUMERIC_TYPES = (
    "DOUBLE",
    "FLOAT",
    "INTEGER",
    "BIGINT",
    "SMALLINT",
    "TINYINT",
    "HUGEINT",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
    "DECIMAL",
)
TIME_TYPES = ("TIMESTAMP", "DATE")
_MAX_SHOWN = 5


def sql_str(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def typed_columns(con, raw_name, source, mapping, raw_types, finder):
    kinds = {**REQUIRED[source.name], **OPTIONAL[source.name]}
    typed: list[tuple[str, str]] = []
    date_formats: dict[str, str] = {}
    for column, name in mapping.items():
        raw_col = f'"{name}"'
        raw_type = raw_types[name].upper()
        kind = kinds.get(column)
        if kind == "timestamp":
            if raw_type.startswith(NUMERIC_TYPES):
                raise InputValidationError(
                    f"{source.name}.{column} holds numbers ({raw_type}), not "
                    f"timestamps; store it as a timestamp or as text such as "
                    f"2024-07-01T10:00:00Z (epoch numbers are ambiguous in unit)"
                )
            if raw_type.startswith(TIME_TYPES):
                expr = f"CAST({raw_col} AS TIMESTAMPTZ)"
                date_formats[column] = "native"
            else:
                choice = dates.choose_format(
                    con,
                    f'(SELECT {raw_col} AS "{column}" FROM {raw_name})',
                    column,
                    table=source.name,
                    configured=source.format_for(column),
                    find_lines=finder,
                )
                expr = dates.parse_sql(f"NULLIF(trim({raw_col}), '')", choice.fmt)
                date_formats[column] = choice.fmt
                logger.debug(
                    "%s.%s parsed with format %s", source.name, column, choice.fmt
                )
        elif kind == "number":
            expr = _number_sql(raw_col, raw_type, source)
        elif kind == "flag":
            expr = _flag_sql(raw_col)
        elif kind in ("id", "text"):
            expr = f"NULLIF(trim(CAST({raw_col} AS VARCHAR)), '')"
        else:
            expr = _attribute_sql(con, raw_name, raw_col, raw_type, source)
        typed.append((column, expr))
    return typed, date_formats


def _number_sql(raw_col: str, raw_type: str, source) -> str:
    # NaN and infinity are never amounts: they count as invalid values
    if raw_type.startswith(NUMERIC_TYPES):
        number = f"CAST({raw_col} AS DOUBLE)"
        return f"CASE WHEN isfinite({number}) THEN {number} END"
    text = f"trim(CAST({raw_col} AS VARCHAR))"
    if source.thousands:
        text = f"replace({text}, {sql_str(source.thousands)}, '')"
    if source.decimal != ".":
        text = f"replace({text}, {sql_str(source.decimal)}, '.')"
    number = f"try_cast(NULLIF({text}, '') AS DOUBLE)"
    return f"CASE WHEN isfinite({number}) THEN {number} END"


def _flag_sql(raw_col: str) -> str:
    value = f"lower(trim(CAST({raw_col} AS VARCHAR)))"
    return (
        f"CASE WHEN {value} IN ('true', 't', '1', 'yes', 'y') THEN true "
        f"WHEN {value} IN ('false', 'f', '0', 'no', 'n') THEN false END"
    )


def _attribute_sql(con, raw_name, raw_col, raw_type, source) -> str:
    # an attribute outside the contract becomes a number when every value is one
    if raw_type.startswith(NUMERIC_TYPES) or raw_type == "BOOLEAN":
        return raw_col
    if raw_type.startswith(TIME_TYPES):
        return f"CAST({raw_col} AS TIMESTAMPTZ)"
    number = _number_sql(raw_col, raw_type, source)
    n_text, n_numbers = con.execute(
        f"SELECT count(NULLIF(trim(CAST({raw_col} AS VARCHAR)), '')), count({number}) "
        f"FROM {raw_name}"
    ).fetchall()[0]
    if n_text and n_text == n_numbers:
        return number
    return f"NULLIF(trim(CAST({raw_col} AS VARCHAR)), '')"


def check_typed(con, raw_name, source, mapping, raw_types, typed, finder) -> None:
    kinds = {**REQUIRED[source.name], **OPTIONAL[source.name]}
    checks = []
    for column, expr in typed:
        kind = kinds.get(column)
        raw_col = f'"{mapping[column]}"'
        is_text = raw_types[mapping[column]].upper().startswith("VARCHAR")
        raw_text = f"NULLIF(trim({raw_col}), '')" if is_text else raw_col
        if column in REQUIRED[source.name]:
            checks.append((column, "empty", f"{raw_text} IS NULL"))
        # a column the source already types cannot hold an unparsable value,
        # but a number column can hold NaN or infinity
        if kind in ("number", "timestamp", "flag") and (is_text or kind == "number"):
            checks.append(
                (column, "invalid", f"{raw_text} IS NOT NULL AND ({expr}) IS NULL")
            )
    if not checks:
        return

    counts_sql = ", ".join(f"count(*) FILTER (WHERE {cond})" for _, _, cond in checks)
    counts = con.execute(f"SELECT {counts_sql} FROM {raw_name}").fetchall()[0]
    for (column, problem, cond), n_bad in zip(checks, counts, strict=True):
        if not n_bad:
            continue
        rows = con.execute(
            f'SELECT _pos, CAST("{mapping[column]}" AS VARCHAR) FROM '
            f"(SELECT *, row_number() OVER () AS _pos FROM {raw_name}) "
            f"WHERE {cond} ORDER BY _pos LIMIT {_MAX_SHOWN}"
        ).fetchall()
        where = finder.describe_positions(
            column, rows, show_values=kinds.get(column) != "id"
        )
        more = f" and {n_bad - len(rows)} more" if n_bad > len(rows) else ""
        if problem == "empty":
            raise InputValidationError(
                f"{source.name}.{column} is empty on {n_bad} row(s): {where}{more}; "
                f"every {source.name} row needs a value in {column}"
            )
        fix = _fix_hint(source, column, kinds.get(column))
        raise InputValidationError(
            f"{source.name}.{column} has {n_bad} value(s) that are not a valid "
            f"{kinds.get(column)}: {where}{more}; {fix}"
        )


def _fix_hint(source, column: str, kind: str | None) -> str:
    if kind == "number":
        return (
            f"fix those rows, or set data.{source.name}.decimal / thousands "
            f"(now {source.decimal!r} / {source.thousands!r})"
        )
    if kind == "timestamp":
        return f"fix those rows or set data.{source.name}.date_format"
    return "use true/false, yes/no or 1/0"
