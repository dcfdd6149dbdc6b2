"""Parse text timestamps with one format per column, converted to UTC.

A column is parsed with the configured format, or with the one format among
:data:`CANDIDATE_FORMATS` that every value fits. Rows are never guessed one by
one, so day-first and month-first values cannot mix in one column.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from referral_propensity.errors import InputValidationError

#: "ISO" means ISO 8601 (date, optional time, optional offset or Z)
ISO = "ISO"
CANDIDATE_FORMATS = (
    ISO,
    "%Y%m%d",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
)

_ISO_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"(Z|[+-]\d{2}(:?\d{2})?)?$"
)
_OFFSET_PATTERN = r"(Z|[+-]\d{2}(:?\d{2})?)$"
_TIME_PART = r"[T ]\d{2}:\d{2}"
_SAMPLE_VALUES = 20_000


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parse_sql(column_sql: str, fmt: str) -> str:
    """SQL that parses a text column with one format into a UTC TIMESTAMPTZ.

    A value that does not fit gives NULL; the caller reports those rows.
    Naive values are read as UTC (the connection runs in UTC).
    """
    if fmt == ISO:
        return (
            f"CASE WHEN regexp_full_match({column_sql}, {_quote(_ISO_PATTERN)}) "
            f"THEN try_cast({column_sql} AS TIMESTAMPTZ) END"
        )
    return f"try_cast(try_strptime({column_sql}, {_quote(fmt)}) AS TIMESTAMPTZ)"


@dataclass(frozen=True)
class DateFormatChoice:
    """The format picked for a column, and whether it was inferred."""

    fmt: str
    inferred: bool


def choose_format(
    con,
    relation_sql: str,
    column: str,
    *,
    table: str,
    configured: str | None,
    find_lines,
) -> DateFormatChoice:
    """Pick the one format that parses every non-empty value of a column.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    relation_sql : str
        A SQL name or subquery holding the raw text column.
    column : str
        The column (its contract name).
    table : str
        Table name, for messages.
    configured : str, optional
        A format from the config (strptime codes, or ``"ISO"``).
    find_lines : callable
        ``find_lines(column, values) -> list[str]`` describing where the
        given raw values sit in the file.

    Raises
    ------
    InputValidationError
        When the configured format does not fit some values (naming column,
        lines and values), when no candidate fits every value, when more than
        one fits (ambiguous day and month), or when ISO values mix naive and
        offset-carrying timestamps.
    """
    col = f'"{column}"'
    distinct_sql = (
        f"SELECT DISTINCT trim({col}) AS v FROM {relation_sql} "
        f"WHERE {col} IS NOT NULL AND trim({col}) <> ''"
    )
    candidates = (configured,) if configured else CANDIDATE_FORMATS
    if not configured:
        # a sample rules most formats out cheaply; survivors are checked on all
        sample = _count_failures(
            con, f"{distinct_sql} LIMIT {_SAMPLE_VALUES}", candidates
        )
        survivors = tuple(
            f for f, n_bad in zip(candidates, sample, strict=True) if n_bad == 0
        )
        candidates = survivors or candidates
    try:
        failures = _count_failures(con, distinct_sql, candidates)
    except duckdb.Error as exc:
        raise InputValidationError(
            f"data.{table}.date_format {configured!r} is not a valid format for "
            f"{table}.{column} ({str(exc).splitlines()[0]}); use strptime codes such "
            f"as %Y-%m-%d %H:%M:%S, or ISO"
        ) from exc
    fitting = [
        fmt for fmt, n_bad in zip(candidates, failures, strict=True) if n_bad == 0
    ]

    if configured:
        if not fitting:
            bad = _sample_failures(con, distinct_sql, configured)
            where = "; ".join(find_lines(column, bad))
            raise InputValidationError(
                f"{table}.{column} has {failures[0]} value(s) that do not fit "
                f"date_format {configured!r}: {where}; fix those rows or change "
                f"data.{table}.date_format"
            )
        choice = DateFormatChoice(configured, inferred=False)
    elif not fitting:
        nearest = min(zip(failures, candidates, strict=True))[1]
        bad = _sample_failures(con, distinct_sql, nearest)
        where = "; ".join(find_lines(column, bad))
        raise InputValidationError(
            f"{table}.{column} has values that fit no known date format "
            f"(nearest {nearest!r}): {where}; set data.{table}.date_format"
        )
    elif ISO in fitting:
        choice = DateFormatChoice(ISO, inferred=True)
    elif len(fitting) > 1 and len({_without_time(f) for f in fitting}) > 1:
        raise InputValidationError(
            f"{table}.{column} fits more than one date format "
            f"({', '.join(fitting)}), so day and month cannot be told apart; "
            f"set data.{table}.date_format"
        )
    else:
        choice = DateFormatChoice(fitting[0], inferred=True)

    if choice.fmt == ISO:
        _check_offsets_consistent(con, distinct_sql, column, table, find_lines)
    return choice


def _count_failures(con, values_sql: str, formats) -> tuple[int, ...]:
    failures_sql = ", ".join(
        f"count(*) FILTER (WHERE {parse_sql('v', fmt)} IS NULL)" for fmt in formats
    )
    return tuple(
        con.execute(f"SELECT {failures_sql} FROM ({values_sql})").fetchall()[0]
    )


def _without_time(fmt: str) -> str:
    return fmt.split(" ")[0]


def _sample_failures(con, distinct_sql: str, fmt: str, limit: int = 5) -> list[str]:
    rows = con.execute(
        f"SELECT v FROM ({distinct_sql}) WHERE {parse_sql('v', fmt)} IS NULL "
        f"ORDER BY v LIMIT {limit}"
    ).fetchall()
    return [row[0] for row in rows]


def _check_offsets_consistent(con, distinct_sql, column, table, find_lines) -> None:
    # a date alone ("2024-05-01") is a day in UTC; a time without an offset
    # beside times with offsets is ambiguous, so it is refused
    counts = con.execute(
        f"SELECT count(*) FILTER (WHERE regexp_matches(v, {_quote(_OFFSET_PATTERN)})), "
        f"count(*) FILTER (WHERE NOT regexp_matches(v, {_quote(_OFFSET_PATTERN)}) "
        f"AND regexp_matches(v, {_quote(_TIME_PART)})) FROM ({distinct_sql})"
    ).fetchall()[0]
    n_aware, n_naive = counts
    if n_aware and n_naive:
        # show the rarer kind: those are the rows that most likely need fixing
        offset = f"regexp_matches(v, {_quote(_OFFSET_PATTERN)})"
        rare = (
            offset
            if n_aware < n_naive
            else f"NOT {offset} AND regexp_matches(v, {_quote(_TIME_PART)})"
        )
        rare_values = [
            row[0]
            for row in con.execute(
                f"SELECT v FROM ({distinct_sql}) WHERE {rare} ORDER BY v LIMIT 5"
            ).fetchall()
        ]
        where = "; ".join(find_lines(column, rare_values))
        raise InputValidationError(
            f"{table}.{column} mixes timestamps with a UTC offset ({n_aware} distinct) "
            f"and without one ({n_naive} distinct): {where}; write every timestamp "
            f"with an offset, or none (naive timestamps are read as UTC)"
        )
