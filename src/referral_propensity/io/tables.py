"""The set of input tables of one job, loaded together."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

from referral_propensity.errors import EmptyTableError, InputValidationError
from referral_propensity.io.load import LoadedTable, TableSource, load_table

logger = logging.getLogger(__name__)

EPOCH = dt.date(1970, 1, 1)


def to_day(day: dt.date) -> int:
    """Days since 1970-01-01 (the integer form of ``event_day``)."""
    return (day - EPOCH).days


def from_day(day: int) -> dt.date:
    """The date of an integer ``event_day``."""
    return EPOCH + dt.timedelta(days=int(day))


@dataclass
class Tables:
    """The loaded input tables: transactions, or a customer-level customers table.

    With transactions, the other tables are optional. Without them the input
    is customer-level (:attr:`customer_level`): one customers table that
    already holds aggregated features and a label; it has no event days, so
    :meth:`day_range` and the transaction stages do not apply.
    """

    con: object
    transactions: LoadedTable | None = None
    customers: LoadedTable | None = None
    engagement: LoadedTable | None = None
    offers: LoadedTable | None = None
    sources: dict[str, TableSource] | None = None
    #: warnings already given for these tables, so each is given once
    warned: set[str] = field(default_factory=set)
    _customers_frame: object = field(default=None, repr=False)

    def present(self) -> dict[str, LoadedTable]:
        """Table name -> loaded table, for the tables given."""
        names = ("transactions", "customers", "engagement", "offers")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    @property
    def customer_level(self) -> bool:
        """True when the input is a customers table without transactions."""
        return self.transactions is None and self.customers is not None

    def require_transactions(self, purpose: str = "this step") -> LoadedTable:
        """The transactions table, or a clear error for a customer-level input.

        Parameters
        ----------
        purpose : str, default="this step"
            What needs the transactions, for the message (for example
            ``"reactivation labels"``).

        Raises
        ------
        InputValidationError
            When no transactions table was loaded.
        """
        if self.transactions is None:
            raise InputValidationError(
                f"{purpose} needs a transactions table, but the input is a "
                f"customer-level customers table (no purchase events); set "
                f"data.transactions.path, or use label.kind 'column' with the "
                f"customer-level training"
            )
        return self.transactions

    def customers_frame(self):
        """The customers table as pandas, read from DuckDB once per job."""
        if self._customers_frame is None and self.customers is not None:
            self._customers_frame = self.customers.to_pandas()
        return self._customers_frame

    def day_range(self) -> tuple[int, int]:
        """First and last ``event_day`` of the transactions.

        Raises
        ------
        InputValidationError
            For a customer-level input, which has no transactions.
        """
        transactions = self.require_transactions("the range of purchase dates")
        first, last = self.con.execute(
            f"SELECT min(event_day), max(event_day) FROM {transactions.relation.alias}"
        ).fetchall()[0]
        return int(first), int(last)

    def event_types(self) -> list[str]:
        """Distinct engagement event types, sorted (empty without engagement)."""
        if self.engagement is None:
            return []
        rows = self.con.execute(
            f"SELECT DISTINCT event_type FROM {self.engagement.relation.alias} "
            f"WHERE event_type IS NOT NULL ORDER BY 1"
        ).fetchall()
        return [row[0] for row in rows]

    def fingerprints(self) -> dict[str, object]:
        """Rows, customers, date range and a content hash of each table.

        The content hash is order-independent: the same rows in another order
        give the same hash. Tables without event days (customers) have no
        date range; a table filtered by ``where`` also gives the rows left out.
        """
        prints: dict[str, object] = {}
        for name, table in self.present().items():
            alias = table.relation.alias
            n_rows, n_customers, content = self.con.execute(
                f"SELECT count(*), count(DISTINCT customer_id), "
                f"CAST(bit_xor(hash(t)) AS VARCHAR) FROM {alias} t"
            ).fetchall()[0]
            prints[f"{name}.rows"] = n_rows
            prints[f"{name}.customers"] = n_customers
            prints[f"{name}.duplicate_rows_dropped"] = table.n_duplicate_rows_dropped
            prints[f"{name}.content_hash"] = hashlib.sha256(
                str(content).encode()
            ).hexdigest()[:16]
            prints[f"{name}.source"] = table.source
            if table.n_rows_filtered_out:
                prints[f"{name}.rows_filtered_out"] = table.n_rows_filtered_out
            if "event_day" in table.columns:
                first, last = self.con.execute(
                    f"SELECT min(event_day), max(event_day) FROM {alias}"
                ).fetchall()[0]
                prints[f"{name}.first_date"] = str(from_day(first))
                prints[f"{name}.last_date"] = str(from_day(last))
        return prints

    def short_hash(self) -> str:
        """Eight hex digits that identify the content of all tables."""
        parts = [
            v
            for k, v in sorted(self.fingerprints().items())
            if k.endswith("content_hash")
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


def load_tables(
    con, sources: dict[str, TableSource], *, today: dt.date | None = None
) -> Tables:
    """Load every given table; transactions, or a customers table, must be given.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    sources : dict of str to TableSource
        Table name -> where it comes from.
    today : date, optional
        Passed to :func:`load_table` (future-row warnings only).

    Returns
    -------
    Tables
        ``customer_level`` is True when customers came without transactions.

    Raises
    ------
    InputValidationError
        When neither transactions nor customers are given, or the main table
        (transactions, else customers) is empty.

    Notes
    -----
    An empty optional table is logged and left out, as if not given.
    """
    if "transactions" in sources:
        main = "transactions"
    elif "customers" in sources:
        main = "customers"
    else:
        raise InputValidationError(
            "no transactions table given; set data.transactions.path (or give "
            "only data.customers.path for a customer-level table with a label "
            "column)"
        )
    if main == "customers":
        logger.info(
            "No transactions table: the customers table is a customer-level input"
        )
    loaded = {}
    for name, source in sources.items():
        try:
            loaded[name] = load_table(con, source, today=today)
        except EmptyTableError as exc:
            if name == main:
                raise
            # an empty optional table is as if it were not given
            logger.warning("%s; going on without the %s table", exc, name)
    _warn_email_ids(con, loaded[main])
    return Tables(con=con, sources=sources, **loaded)


def _warn_email_ids(con, table: LoadedTable) -> None:
    """Warn when customer ids are e-mail addresses: ids appear in logs and scores."""
    n_email = con.execute(
        f"SELECT count(*) FILTER (WHERE regexp_matches(customer_id, "
        f"'^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$')) FROM {table.relation.alias}"
    ).fetchall()[0][0]
    if n_email:
        logger.warning(
            "%d %s row(s) have an e-mail address as customer_id; ids are written "
            "to the scores file and named in some log lines, so map an opaque id "
            "(for example a number or a hash) onto customer_id instead",
            n_email,
            table.name,
        )
