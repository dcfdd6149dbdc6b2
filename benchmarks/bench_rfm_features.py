"""Time and memory of the purchase (RFM) features against peers.

CDNOW is repeated under new customer ids up to the requested number of rows
and written once to Parquet in ``benchmarks/results/``. Each tool then runs in
its own process (this script re-invoked with ``--only NAME``), so the peak
resident memory reported for a tool is its own. The tools:

- ``ours``: ``engine.connect``, ``io.load.load_table`` and
  ``features.rfm.build_rfm_features`` collected to pandas; the load and the
  build are timed separately.
- ``sql_parquet``: one hand-written DuckDB query from the Parquet file to
  pandas, de-duplicating rows the way the load does so the numbers agree.
- ``sql_table``: the same query over the loaded DuckDB table, the same input
  the feature builder gets; only the query is compared with the build.
- ``lifetimes``: ``lifetimes.utils.summary_data_from_transaction_data`` on a
  pandas frame read from the Parquet file (a smaller summary, for scale).
- ``pandas``: plain pandas computing the same columns.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_rfm_features.py --rows 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
CDNOW_PATH = (
    ROOT / "src" / "referral_propensity" / "datasets" / "data" / "cdnow_master.csv.gz"
)
TOOLS = ("ours", "sql_parquet", "sql_table", "lifetimes", "pandas")
TARGET_RATIO = 1.5
EPOCH = dt.date(1970, 1, 1)
_RESULT_MARK = "BENCH_RESULT "
_ROWS_PER_ROW_GROUP = 1_000_000
_MB = 1024 * 1024


# -- data ---------------------------------------------------------------------


def prepare_parquet(n_rows: int) -> Path:
    """Write CDNOW repeated to ``n_rows`` rows as Parquet, once per size.

    Copy k of CDNOW gets customer ids ``"{k}-{customer_id}"``; the last copy is
    cut short to hit ``n_rows`` exactly. Columns: customer_id (string),
    timestamp (UTC, midnight of the purchase day), amount (double). There is
    no order_id, so an order is a customer-day.
    """
    path = RESULTS_DIR / f"cdnow_{n_rows}.parquet"
    if path.is_file():
        return path
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)

    cdnow = pa_csv.read_csv(
        CDNOW_PATH,
        convert_options=pa_csv.ConvertOptions(
            column_types={"customer_id": pa.string(), "date": pa.string()}
        ),
    )
    days = pc.strptime(cdnow["date"], format="%Y%m%d", unit="us")
    timestamps = pc.assume_timezone(days, timezone="UTC")
    amounts = pc.cast(cdnow["dollar_value"], pa.float64())
    schema = pa.schema(
        [
            ("customer_id", pa.string()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("amount", pa.float64()),
        ]
    )

    n_copies = math.ceil(n_rows / cdnow.num_rows)
    copies_per_block = max(1, _ROWS_PER_ROW_GROUP // cdnow.num_rows)
    partial = path.with_suffix(".parquet.partial")
    n_written = 0
    with pq.ParquetWriter(partial, schema) as writer:
        for first in range(0, n_copies, copies_per_block):
            copies = [
                pa.table(
                    [
                        pc.binary_join_element_wise(f"{k}-", cdnow["customer_id"], ""),
                        timestamps,
                        amounts,
                    ],
                    schema=schema,
                )
                for k in range(first, min(first + copies_per_block, n_copies))
            ]
            block = pa.concat_tables(copies).slice(0, n_rows - n_written)
            writer.write_table(block, row_group_size=_ROWS_PER_ROW_GROUP)
            n_written += block.num_rows
    partial.rename(path)
    return path


# -- measurement helpers -------------------------------------------------------


class _Peak:
    """Peak resident memory of this process, overall and per phase.

    The kernel keeps the high-water mark of resident memory (VmHWM, which
    starts afresh at exec, unlike ``getrusage``'s ru_maxrss that inherits the
    parent's); writing 5 to /proc/self/clear_refs resets it, which gives the
    peak of one phase. Where that is not allowed, a phase peak is the
    process peak so far.
    """

    def __init__(self) -> None:
        self._peak_before_reset = 0.0
        self.can_reset = self._reset()

    @staticmethod
    def _status(field: str) -> float:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024 / _MB
        raise RuntimeError(f"/proc/self/status has no {field}")

    def _reset(self) -> bool:
        self._peak_before_reset = max(self._peak_before_reset, self._status("VmHWM"))
        try:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")
            return True
        except OSError:
            return False

    def start_phase(self) -> float:
        """Reset the high-water mark; return the resident MB now."""
        self._reset()
        return self._status("VmRSS")

    def phase_peak(self) -> float:
        """Highest resident MB since the last start_phase."""
        return self._status("VmHWM")

    def process_peak(self) -> float:
        """Highest resident MB of the whole process."""
        return max(self._peak_before_reset, self._status("VmHWM"))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _phase(peak: _Peak, name: str, step, phases: list[dict]):
    rss_before = peak.start_phase()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    value = step()
    phases.append(
        {
            "phase": name,
            "seconds": time.perf_counter() - started,
            "cpu_seconds": _cpu_seconds() - cpu_before,
            "rss_before_mb": rss_before,
            "peak_mb": peak.phase_peak(),
        }
    )
    return value


# -- the tools -----------------------------------------------------------------


def _to_day(day: dt.date) -> int:
    return (day - EPOCH).days


def _parquet_rows(path: Path, *, as_of: dt.date) -> str:
    # the same rows the load keeps: exact duplicates dropped, days in UTC
    return f"""
            SELECT
                customer_id,
                CAST(date_diff('day', DATE '1970-01-01', CAST(timestamp AS DATE))
                    AS INTEGER) AS event_day,
                amount
            FROM (
                SELECT DISTINCT customer_id, timestamp, amount
                FROM read_parquet('{path}')
                WHERE timestamp < TIMESTAMPTZ '{as_of.isoformat()}'
            )"""


def _table_rows(table: str, *, as_of: dt.date) -> str:
    return f"""
            SELECT customer_id, event_day, amount
            FROM {table}
            WHERE event_day < {_to_day(as_of)}"""


def _hand_written_sql(rows: str, *, as_of: dt.date, windows: list[int]) -> str:
    """The features in one DuckDB query over ``rows``.

    ``rows`` is a query giving customer_id, event_day and amount of the
    transactions before as_of (:func:`_parquet_rows` or :func:`_table_rows`).
    Rows are summed per customer-day, then per customer. An order is a
    customer-day with a purchase, since the benchmark data has no order_id, so
    n_orders and n_purchase_days are the same count here.
    """
    as_of_day = _to_day(as_of)
    window_days = ",\n".join(
        f"count(*) FILTER (WHERE is_purchase AND event_day >= {as_of_day - w})"
        f" AS n_orders_{w}d,\n"
        f"coalesce(sum(spend) FILTER (WHERE event_day >= {as_of_day - w}), 0)"
        f" AS spend_{w}d"
        for w in windows
    )
    return f"""
        WITH rows AS ({rows}
        ),
        per_day AS (
            SELECT
                customer_id,
                event_day,
                sum(amount) AS spend,
                sum(greatest(amount, 0)) AS gross,
                sum(greatest(-amount, 0)) AS refund,
                count(*) FILTER (WHERE amount < 0) AS n_refunds,
                bool_or(amount > 0) AS is_purchase
            FROM rows
            GROUP BY customer_id, event_day
        ),
        per_customer AS (
            SELECT
                customer_id,
                min(event_day) FILTER (WHERE is_purchase) AS first_day,
                max(event_day) FILTER (WHERE is_purchase) AS last_day,
                count(*) FILTER (WHERE is_purchase) AS n_orders,
                sum(spend) AS spend_total,
                sum(gross) AS gross_spend_total,
                sum(refund) AS refund_total,
                sum(n_refunds) AS n_refunds,
                {window_days}
            FROM per_day
            GROUP BY customer_id
        )
        SELECT
            customer_id,
            {as_of_day} - last_day AS recency_days,
            {as_of_day} - first_day AS tenure_days,
            n_orders,
            n_orders AS n_purchase_days,
            spend_total,
            spend_total / nullif(n_orders, 0) AS spend_mean,
            gross_spend_total,
            refund_total,
            n_refunds,
            CASE WHEN gross_spend_total > 0
                THEN refund_total / gross_spend_total END AS refund_share,
            CASE WHEN n_orders > 1
                THEN (last_day - first_day) / (n_orders - 1) END AS mean_gap_days,
            CASE WHEN last_day > first_day
                THEN ({as_of_day} - last_day) * (n_orders - 1) / (last_day - first_day)
                END AS recency_to_gap,
            {", ".join(f"n_orders_{w}d, spend_{w}d" for w in windows)}
        FROM per_customer
    """


def _load_transactions(parquet: Path):
    from referral_propensity import engine
    from referral_propensity.io.load import TableSource, load_table

    con = engine.connect()
    loaded = load_table(con, TableSource("transactions", path=parquet))
    return con, loaded


def run_ours(parquet: Path, as_of: dt.date, windows: list[int], peak, phases):
    import narwhals as nw

    from referral_propensity.features.rfm import build_rfm_features

    con, loaded = _phase(peak, "load", lambda: _load_transactions(parquet), phases)

    def build() -> pd.DataFrame:
        features = build_rfm_features(
            nw.from_native(loaded.relation),
            as_of_day=_to_day(as_of),
            windows_days=windows,
        )
        return features.to_native().df()

    return _phase(peak, "build", build, phases)


def run_sql_parquet(parquet: Path, as_of: dt.date, windows: list[int], peak, phases):
    from referral_propensity import engine

    con = engine.connect()
    rows = _parquet_rows(parquet, as_of=as_of)
    query = _hand_written_sql(rows, as_of=as_of, windows=windows)
    return _phase(peak, "query", lambda: con.sql(query).df(), phases)


def run_sql_table(parquet: Path, as_of: dt.date, windows: list[int], peak, phases):
    con, loaded = _phase(peak, "load", lambda: _load_transactions(parquet), phases)
    rows = _table_rows(loaded.relation.alias, as_of=as_of)
    query = _hand_written_sql(rows, as_of=as_of, windows=windows)
    return _phase(peak, "query", lambda: con.sql(query).df(), phases)


def run_lifetimes(parquet: Path, as_of: dt.date, windows: list[int], peak, phases):
    from lifetimes.utils import summary_data_from_transaction_data

    transactions = _phase(peak, "read", lambda: pd.read_parquet(parquet), phases)

    # lifetimes counts days up to and including its end: the day before as_of
    def summarise() -> pd.DataFrame:
        before = transactions[transactions["timestamp"] < pd.Timestamp(as_of, tz="UTC")]
        return summary_data_from_transaction_data(
            before,
            "customer_id",
            "timestamp",
            monetary_value_col="amount",
            observation_period_end=pd.Timestamp(as_of - dt.timedelta(days=1), tz="UTC"),
            freq="D",
        ).reset_index()

    return _phase(peak, "summary", summarise, phases)


def run_pandas(parquet: Path, as_of: dt.date, windows: list[int], peak, phases):
    transactions = _phase(peak, "read", lambda: pd.read_parquet(parquet), phases)
    return _phase(
        peak,
        "groupby",
        lambda: _pandas_features(transactions, as_of=as_of, windows=windows),
        phases,
    )


def _pandas_features(
    transactions: pd.DataFrame, *, as_of: dt.date, windows: list[int]
) -> pd.DataFrame:
    as_of_day = _to_day(as_of)
    rows = transactions.drop_duplicates()
    naive_utc = rows["timestamp"].dt.tz_localize(None).to_numpy()
    event_day = naive_utc.astype("datetime64[D]").astype(np.int64)
    is_before = event_day < as_of_day
    amount = rows["amount"].to_numpy()[is_before]
    event_day = event_day[is_before]
    codes, customer_ids = pd.factorize(rows["customer_id"].to_numpy()[is_before])

    per_row = {
        "spend_total": amount,
        "gross_spend_total": np.where(amount > 0, amount, 0.0),
        "refund_total": np.where(amount < 0, -amount, 0.0),
        "n_refunds": (amount < 0).astype(np.int64),
    }
    for w in windows:
        per_row[f"spend_{w}d"] = np.where(event_day >= as_of_day - w, amount, 0.0)
    per_customer = pd.DataFrame(per_row).groupby(codes).sum()

    # an order is a customer-day with a purchase
    is_purchase = amount > 0
    orders = pd.DataFrame(
        {"customer": codes[is_purchase], "event_day": event_day[is_purchase]}
    ).drop_duplicates()
    for w in windows:
        orders[f"n_orders_{w}d"] = (orders["event_day"] >= as_of_day - w).astype(
            np.int64
        )
    per_customer_orders = orders.groupby("customer").agg(
        n_orders=("event_day", "size"),
        first_day=("event_day", "min"),
        last_day=("event_day", "max"),
        **{f"n_orders_{w}d": (f"n_orders_{w}d", "sum") for w in windows},
    )

    features = per_customer.join(per_customer_orders, how="left")
    counts = ["n_orders", *(f"n_orders_{w}d" for w in windows)]
    features[counts] = features[counts].fillna(0).astype(np.int64)
    n_orders = features["n_orders"]
    span = features["last_day"] - features["first_day"]
    features["recency_days"] = as_of_day - features["last_day"]
    features["tenure_days"] = as_of_day - features["first_day"]
    features["n_purchase_days"] = n_orders
    features["spend_mean"] = features["spend_total"] / n_orders.where(n_orders > 0)
    gross = features["gross_spend_total"]
    features["refund_share"] = features["refund_total"] / gross.where(gross > 0)
    features["mean_gap_days"] = span / (n_orders - 1).where(n_orders > 1)
    gap = features["mean_gap_days"]
    features["recency_to_gap"] = features["recency_days"] / gap.where(gap > 0)
    features.insert(0, "customer_id", customer_ids[features.index.to_numpy()])
    return features[_feature_columns(windows)].reset_index(drop=True)


def _feature_columns(windows: list[int]) -> list[str]:
    """Output columns of the feature builder, in order."""
    return [
        "customer_id",
        "recency_days",
        "tenure_days",
        "n_orders",
        "n_purchase_days",
        "spend_total",
        "spend_mean",
        "gross_spend_total",
        "refund_total",
        "n_refunds",
        "refund_share",
        "mean_gap_days",
        "recency_to_gap",
        *(name for w in windows for name in (f"n_orders_{w}d", f"spend_{w}d")),
    ]


RUNNERS = {
    "ours": run_ours,
    "sql_parquet": run_sql_parquet,
    "sql_table": run_sql_table,
    "lifetimes": run_lifetimes,
    "pandas": run_pandas,
}


def run_one(args: argparse.Namespace) -> dict:
    """Run one tool in this process; return its timings and memory."""
    peak = _Peak()
    phases: list[dict] = []
    record = {
        "tool": args.only,
        "rows": args.n_rows,
        "phase_peaks": peak.can_reset,
        "load_average_before": os.getloadavg()[0],
    }
    rss_start = peak.start_phase()
    try:
        frame = RUNNERS[args.only](args.parquet, args.as_of, args.windows, peak, phases)
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        record["traceback"] = traceback.format_exc()
        frame = None
    record.update(
        phases=phases,
        seconds=sum(p["seconds"] for p in phases),
        cpu_seconds=sum(p["cpu_seconds"] for p in phases),
        peak_mb=peak.process_peak(),
        rss_start_mb=rss_start,
    )
    if frame is not None:
        record["n_customers"] = len(frame)
        if args.output is not None:
            frame.to_parquet(args.output)
    return record


# -- comparison and report -----------------------------------------------------


def compare_features(
    ours: pd.DataFrame,
    other: pd.DataFrame,
    *,
    rtol: float = 1e-9,
    atol: float = 1e-6,
) -> list[str]:
    """Differences between two feature frames; an empty list when they agree.

    Rows are matched on customer_id after sorting; numbers are compared as
    float64 with ``rtol``/``atol``, and nulls must sit in the same places.
    """
    problems = []
    if list(ours.columns) != list(other.columns):
        missing = sorted(set(ours.columns) - set(other.columns))
        extra = sorted(set(other.columns) - set(ours.columns))
        problems.append(f"columns differ: missing {missing}, extra {extra}")
        return problems
    ours = ours.sort_values("customer_id").reset_index(drop=True)
    other = other.sort_values("customer_id").reset_index(drop=True)
    if len(ours) != len(other):
        return [f"{len(ours)} customers against {len(other)}"]
    if not (ours["customer_id"].astype(str) == other["customer_id"].astype(str)).all():
        return ["the customer ids differ"]

    for column in ours.columns[1:]:
        left = pd.to_numeric(ours[column]).astype("float64").to_numpy()
        right = pd.to_numeric(other[column]).astype("float64").to_numpy()
        same = np.isclose(left, right, rtol=rtol, atol=atol, equal_nan=True)
        if not same.all():
            both = ~same & ~np.isnan(left) & ~np.isnan(right)
            worst = (
                f"largest difference {np.abs(left - right)[both].max():.3g}"
                if both.any()
                else "a null against a number"
            )
            problems.append(
                f"{column}: {int((~same).sum())} of {len(same)} differ ({worst})"
            )
    return problems


def _lifetimes_agreement(ours: pd.DataFrame, summary: pd.DataFrame) -> str:
    # frequency = purchase days - 1, recency = last - first purchase day,
    # T = first purchase day to the day before as_of
    merged = ours.merge(summary, on="customer_id", how="inner")
    agrees = (
        (merged["frequency"] == merged["n_purchase_days"] - 1)
        & (merged["recency"] == merged["tenure_days"] - merged["recency_days"])
        & (merged["T"] == merged["tenure_days"] - 1)
    )
    return (
        f"lifetimes frequency/recency/T agree with ours for {int(agrees.sum()):,} of "
        f"{len(ours):,} customers (lifetimes counts a day with only zero-amount "
        f"rows as a purchase day; ours does not)"
    )


def _check_outputs(records: dict, outputs: dict[str, Path]) -> list[str]:
    if not outputs["ours"].is_file() or records.get("ours", {}).get("error"):
        return ["ours produced no result; nothing to compare"]
    ours = pd.read_parquet(outputs["ours"])
    lines = []
    for tool in ("sql_parquet", "sql_table", "pandas"):
        if not outputs[tool].is_file():
            continue
        problems = compare_features(ours, pd.read_parquet(outputs[tool]))
        verdict = "match" if not problems else "DIFFER: " + "; ".join(problems)
        lines.append(f"ours vs {tool}: {len(ours):,} customers, {verdict}")
    if outputs["lifetimes"].is_file():
        lines.append(_lifetimes_agreement(ours, pd.read_parquet(outputs["lifetimes"])))
    return lines


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _phase_of(record: dict, name: str) -> dict | None:
    return next((p for p in record.get("phases", []) if p["phase"] == name), None)


def summarise(records: dict[str, dict], n_rows: int) -> list[dict]:
    """Table rows, one per tool and per timed phase, with ratios for ours.

    ``ours: load + build`` is compared with the query from Parquet (both
    start from the file), ``ours: build`` with the query on the loaded table
    (both start from the same DuckDB table).
    """
    rows = []

    def add(label, measured, reference=None, error=None):
        measured = measured or {}
        row = {
            "tool": label,
            "rows": n_rows,
            "seconds": measured.get("seconds"),
            "cpu_seconds": measured.get("cpu_seconds"),
            "peak_mb": measured.get("peak_mb"),
        }
        if error:
            row["error"] = error
        if reference and not error:
            for key, ratio in (
                ("seconds", "time_ratio"),
                ("cpu_seconds", "cpu_ratio"),
                ("peak_mb", "memory_ratio"),
            ):
                row[ratio] = _ratio(row[key], reference.get(key))
        rows.append(row)

    ours = records.get("ours")
    sql_parquet = records.get("sql_parquet")
    sql_table = records.get("sql_table")
    sql_query = _phase_of(sql_table, "query") if sql_table else None
    sql_parquet_reference = (
        sql_parquet if sql_parquet and not sql_parquet.get("error") else None
    )

    if ours:
        add("ours: load + build", ours, sql_parquet_reference, ours.get("error"))
        for name, reference in (("load", None), ("build", sql_query)):
            phase = _phase_of(ours, name)
            if phase:
                add(f"  ours: {name}", phase, reference)
    if sql_parquet:
        add("sql: from parquet", sql_parquet, error=sql_parquet.get("error"))
    if sql_table:
        add("sql: loaded table (query)", sql_query, error=sql_table.get("error"))
    for tool, label, step in (
        ("lifetimes", "lifetimes: read + summary", "summary"),
        ("pandas", "pandas: read + groupby", "groupby"),
    ):
        record = records.get(tool)
        if not record:
            continue
        add(label, record, error=record.get("error"))
        step_phase = _phase_of(record, step)
        if step_phase:
            add(f"  {tool}: {step}", step_phase)
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a fixed-width text table."""
    header = (
        f"{'tool':<27} {'rows':>11} {'seconds':>8} {'cpu s':>7} {'peak MB':>8} "
        f"{'time/sql':>9} {'cpu/sql':>8} {'mem/sql':>8}"
    )
    lines = [header, "-" * len(header)]

    def number(value, spec):
        return format(value, spec) if value is not None else "-"

    def ratio(row, key):
        value = row.get(key)
        if value is None:
            return ""
        return f"{value:.2f}x" + ("!" if value > TARGET_RATIO else " ")

    for row in rows:
        start = f"{row['tool']:<27} {row['rows']:>11,}"
        if row.get("error"):
            lines.append(f"{start} failed: {row['error']}")
            continue
        lines.append(
            f"{start} {number(row['seconds'], '8.2f')} "
            f"{number(row['cpu_seconds'], '7.2f')} {number(row['peak_mb'], '8.0f')} "
            f"{ratio(row, 'time_ratio'):>9} {ratio(row, 'cpu_ratio'):>8} "
            f"{ratio(row, 'memory_ratio'):>8}"
        )
    return "\n".join(lines)


TABLE_NOTE = (
    "seconds: wall time; cpu s: user + system time of all threads; peak MB: "
    "highest resident memory of the tool's process (indented rows: one phase, "
    "and the highest resident memory during it). Ratios: ours load + build "
    "against sql from parquet; ours build against the sql query on the loaded "
    "table; '!' marks a ratio above {target}."
)


def _run_child(tool: str, parquet: Path, args, output: Path | None) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--only",
        tool,
        "--parquet",
        str(parquet),
        "--n-rows",
        str(args.current_rows),
        "--as-of",
        args.as_of.isoformat(),
        "--windows",
        *map(str, args.windows),
    ]
    if output is not None:
        command += ["--output", str(output)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p
    )
    completed = subprocess.run(
        command, capture_output=True, text=True, env=env, check=False
    )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(_RESULT_MARK):
            return json.loads(line[len(_RESULT_MARK) :])
    last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
    return {
        "tool": tool,
        "rows": args.current_rows,
        "error": f"process exited with {completed.returncode}: {last}",
    }


def _best_of(runs: list[dict]) -> dict:
    """One record for repeated runs of a tool, each measure summarised alone.

    Wall and CPU seconds are the lowest over the runs (the run least slowed by
    other work on the machine), peak memory the highest; the same for each
    phase. Every run's own figures stay under ``runs``.
    """
    good = [r for r in runs if not r.get("error")]
    if not good:
        return runs[0]

    def summarised(measured: list[dict]) -> dict:
        return {
            **measured[0],
            "seconds": min(m["seconds"] for m in measured),
            "cpu_seconds": min(m["cpu_seconds"] for m in measured),
            "peak_mb": max(m["peak_mb"] for m in measured),
        }

    best = summarised(good)
    best["phases"] = [
        summarised([r["phases"][i] for r in good])
        for i in range(len(good[0]["phases"]))
    ]
    best["runs"] = [
        {key: r[key] for key in ("seconds", "cpu_seconds", "peak_mb", "phases")}
        | {"load_average_before": r["load_average_before"]}
        for r in good
    ]
    return best


def _describe(record: dict) -> str:
    if record.get("error"):
        return f"failed: {record['error']}"
    phases = ", ".join(
        f"{p['phase']} {p['seconds']:.2f} s (peak {p['peak_mb']:.0f} MB)"
        for p in record["phases"]
    )
    return (
        f"{record['seconds']:.2f} s, cpu {record['cpu_seconds']:.1f} s, peak "
        f"{record['peak_mb']:.0f} MB [{phases}]; load average before "
        f"{record['load_average_before']:.1f}"
    )


def bench_size(n_rows: int, args: argparse.Namespace) -> dict:
    """Prepare the data, run every tool, compare and print; return the results."""
    started = time.perf_counter()
    parquet = prepare_parquet(n_rows)
    print(
        f"\n== {n_rows:,} rows: {parquet.relative_to(ROOT)} "
        f"({parquet.stat().st_size / _MB:.0f} MB, ready in "
        f"{time.perf_counter() - started:.1f} s); as_of {args.as_of}, windows "
        f"{args.windows} days",
        flush=True,
    )
    args.current_rows = n_rows
    outputs = {
        tool: RESULTS_DIR / f"features_{tool}_{n_rows}.parquet" for tool in TOOLS
    }

    # repeats go round the tools, so a busy spell on the machine hits them all
    runs: dict[str, list[dict]] = {tool: [] for tool in args.tools}
    for repeat in range(args.repeat):
        for tool in args.tools:
            output = outputs[tool] if repeat == 0 else None
            record = _run_child(tool, parquet, args, output)
            runs[tool].append(record)
            print(f"  {tool} (run {repeat + 1}): {_describe(record)}", flush=True)
    records = {tool: _best_of(tool_runs) for tool, tool_runs in runs.items()}

    checks = _check_outputs(records, outputs)
    for line in checks:
        print(f"  check: {line}")
    rows = summarise(records, n_rows)
    print()
    print(format_table(rows))
    print(TABLE_NOTE.format(target=TARGET_RATIO))
    busy = [
        r["load_average_before"]
        for tool_runs in runs.values()
        for r in tool_runs
        if "load_average_before" in r
    ]
    if busy and max(busy) > 0.5 * (os.cpu_count() or 1):
        print(
            f"Note: the 1-minute load average reached {max(busy):.1f} on "
            f"{os.cpu_count()} CPUs before some runs, so other work shared the "
            f"machine; wall times are noisy, cpu s less so (try --repeat 3)."
        )

    if not args.keep_outputs:
        for path in outputs.values():
            path.unlink(missing_ok=True)
    return {
        "rows": n_rows,
        "parquet": str(parquet.relative_to(ROOT)),
        "as_of": args.as_of.isoformat(),
        "windows_days": args.windows,
        "repeat": args.repeat,
        "records": records,
        "table": rows,
        "checks": checks,
    }


def _environment() -> dict:
    versions = {}
    for name in ("duckdb", "narwhals", "pandas", "pyarrow", "numpy", "lifetimes"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    page_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gb": round(page_bytes / 1024**3, 1),
        "versions": versions,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[1_000_000, 10_000_000],
        help="input sizes in transactions (default: 1000000 10000000)",
    )
    parser.add_argument(
        "--tools",
        nargs="+",
        choices=TOOLS,
        default=list(TOOLS),
        help="tools to run (default: all)",
    )
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=dt.date(1998, 7, 1),
        help="as_of date, YYYY-MM-DD (default: 1998-07-01)",
    )
    parser.add_argument(
        "--windows",
        type=int,
        nargs="+",
        default=[30, 90, 180, 365],
        help="window lengths in days (default: 30 90 180 365)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per tool, each in a fresh process; the table shows the "
        "lowest wall and CPU seconds and the highest peak memory (default: 1)",
    )
    parser.add_argument(
        "--keep-outputs",
        action="store_true",
        help="keep each tool's feature frame in benchmarks/results/ (default: off)",
    )
    parser.add_argument("--only", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n-rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, or one tool when called with ``--only``."""
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit(f"--repeat must be 1 or more, got {args.repeat}")
    if args.only:
        record = run_one(args)
        print(_RESULT_MARK + json.dumps(record), flush=True)
        return 0

    environment = _environment()
    print(
        f"RFM features benchmark: {environment['cpus']} CPUs, "
        f"{environment['memory_gb']} GB, "
        + ", ".join(f"{k} {v}" for k, v in environment["versions"].items())
    )
    for n_rows in args.rows:
        result = bench_size(n_rows, args)
        result["environment"] = environment
        result["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        path = RESULTS_DIR / f"rfm_features_{n_rows}.json"
        path.write_text(json.dumps(result, indent=2))
        print(f"results written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
