"""Model inputs from a customer-level table: dates to days, a checked 0/1 label."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from referral_propensity.errors import InputValidationError
from referral_propensity.features.attributes import prepare_attributes
from referral_propensity.io.load import LoadedTable, TableSource
from referral_propensity.io.tables import Tables

logger = logging.getLogger(__name__)

#: text spellings accepted in a label column
_TRUE = frozenset({"1", "1.0", "true"})
_FALSE = frozenset({"0", "0.0", "false"})
_ISO_DATE = (
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
#: a column is taken for an outcome when the chance that its unusual rows all
#: share one label at random is below this (see Notes of build_customer_features)
_OUTCOME_CHANCE = 1e-6
_MAX_SHOWN = 5


@dataclass
class CustomerFeatureTable:
    """Model inputs built from a customer-level table.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per customer, sorted by customer_id: customer_id, the
        features, and ``label`` (int 0/1) when a label column was given.
    as_of : date or None
        The date that date columns were counted back from; None when the
        table has no date column.
    categorical : list of str
        Text feature columns, treated as categories by the model.
    label_column : str or None
        The source column the label came from.
    dropped : dict of str to str
        Column -> why it is not a feature (constant, looks like an outcome,
        personal or identifier-like, excluded by the caller).
    """

    frame: pd.DataFrame
    as_of: dt.date | None
    categorical: list[str] = field(default_factory=list)
    label_column: str | None = None
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def feature_columns(self) -> list[str]:
        """Every column but customer_id and label."""
        return [c for c in self.frame.columns if c not in ("customer_id", "label")]


def build_customer_features(
    tables_or_frame: Tables | LoadedTable | pd.DataFrame,
    *,
    label_column: str | None,
    as_of: dt.date | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    outcome_check: bool = True,
) -> CustomerFeatureTable:
    """Turn a customer-level customers table into model inputs.

    Parameters
    ----------
    tables_or_frame : Tables, LoadedTable or pandas.DataFrame
        The loaded tables (their customers table is used), the loaded
        customers table, or a frame with customer_id and the columns.
    label_column : str or None
        The 0/1 (or true/false) outcome column, named as loaded (after the
        column mapping). None when scoring: no label is read, and no column is
        dropped for being constant or outcome-like, so the model finds every
        column it was trained on.
    as_of : date, optional
        Date columns become whole days before it (``<column>_days``, and
        ``signup_date`` becomes ``signup_tenure_days``); a ``birth_year``
        becomes ``age`` (as_of's year minus the birth year). Default: the day
        after the latest date in the table.
    exclude : sequence of str, default=()
        Columns that are never features (for example other outcomes of the
        same campaign).
    outcome_check : bool, default=True
        Leave out columns that look like outcomes recorded with the label
        (see Notes), with a warning.

    Returns
    -------
    CustomerFeatureTable

    Raises
    ------
    InputValidationError
        When there is no customers table or no customer_id column, the label
        column is missing, or a label is empty or not 0/1 or true/false (the
        message names the table, the column, the first rows and the fix).

    Notes
    -----
    Text columns holding only ISO dates (``2014-06-29``) are read as dates;
    other date layouts stay text unless the column is mapped to
    ``signup_date`` (with ``date_format``). Text columns stay categorical,
    except those with more than 50 values or that look like personal data,
    which are dropped (see :func:`~referral_propensity.features.attributes.prepare_attributes`).
    When training, constant columns are dropped, and so is a column whose
    rows that differ from its most common value all hold the same label when
    chance would give that less than once in a million (``p ** n < 1e-6`` for
    ``n`` such rows and that label's share ``p``): such a column was almost
    surely recorded with the outcome (Hillstrom's ``conversion`` and
    ``spend`` are only ever non-zero for visitors), so it would leak the
    label into the model.
    """
    started = time.perf_counter()
    customers, source = _customers_frame(tables_or_frame)
    columns = [str(c) for c in customers.columns]
    if "customer_id" not in customers:
        raise InputValidationError(
            f"customers has no customer_id column (found: {', '.join(columns)}); "
            f"map it in data.customers.columns.customer_id"
        )
    unknown = [c for c in exclude if c not in customers]
    if unknown:
        raise InputValidationError(
            f"columns to exclude are not in customers: {', '.join(unknown)} "
            f"(found: {', '.join(columns)})"
        )

    label = None
    if label_column is not None:
        if label_column not in customers:
            raise InputValidationError(
                f"customers has no label column {label_column!r} (found: "
                f"{', '.join(columns)}); set label.column to the 0/1 outcome column "
                f"as named after data.customers.columns"
            )
        label = _check_label(
            customers[label_column], label_column, customers["customer_id"]
        )

    # a fixed row order, so seeded folds do not depend on how the table was read
    order = np.argsort(customers["customer_id"].astype(str).to_numpy(), kind="stable")
    customers = customers.iloc[order].reset_index(drop=True)
    if label is not None:
        label = label[order]
    leave_out = {*exclude, *([label_column] if label_column else [])}
    dropped = {c: "excluded" for c in exclude}
    attributes = _read_text_dates(customers.drop(columns=sorted(leave_out)))

    as_of = as_of or _default_as_of(attributes)
    _warn_dates_after(attributes, as_of)
    # Limitation: without a date column there is no as_of; prepare_attributes
    # reads it for date columns only, so any placeholder serves.
    frame, categorical = prepare_attributes(
        attributes, as_of=as_of or dt.date(1970, 1, 1)
    )
    for column in attributes.columns:
        if (
            column != "customer_id"
            and column not in frame
            and not _is_date(attributes[column])
        ):
            dropped[column] = "personal or identifier-like"
    frame = _birth_year_to_age(frame, as_of)

    if label is not None:
        for column in _constant_columns(frame):
            dropped[column] = "constant"
        if outcome_check:
            for column in _outcome_like_columns(frame, label, dropped):
                dropped[column] = "looks like an outcome"
        _log_dropped(dropped, label_column)
        frame = frame.drop(columns=[c for c in dropped if c in frame])
        frame["label"] = label
    categorical = [c for c in categorical if c in frame]
    logger.info(
        "Built %d customer-level features for %d customers%s in %.1f s",
        frame.shape[1] - 1 - int(label is not None),
        len(frame),
        f" as of {as_of}" if as_of else "",
        time.perf_counter() - started,
    )
    return CustomerFeatureTable(
        frame=frame,
        as_of=as_of,
        categorical=categorical,
        label_column=label_column,
        dropped=dropped,
    )


def _customers_frame(
    tables_or_frame,
) -> tuple[pd.DataFrame, TableSource | None]:
    if isinstance(tables_or_frame, pd.DataFrame):
        return tables_or_frame.reset_index(drop=True), None
    if isinstance(tables_or_frame, LoadedTable):
        return tables_or_frame.to_pandas(), None
    if isinstance(tables_or_frame, Tables):
        if tables_or_frame.customers is None:
            raise InputValidationError(
                "no customers table was loaded; a customer-level input needs "
                "data.customers.path"
            )
        source = (tables_or_frame.sources or {}).get("customers")
        return tables_or_frame.customers_frame(), source
    raise TypeError(
        f"expected Tables, LoadedTable or a pandas DataFrame, got "
        f"{type(tables_or_frame).__name__}"
    )


def _check_label(values: pd.Series, column: str, ids: pd.Series) -> np.ndarray:
    """The label as int8 0/1, or an error naming the offending rows."""
    missing = values.isna().to_numpy()
    if pd.api.types.is_bool_dtype(values):
        bad = np.zeros(len(values), dtype=bool)
        label = values.fillna(False).to_numpy(dtype="float64")
    elif pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64").to_numpy()
        bad = ~missing & ~np.isin(numbers, (0.0, 1.0))
        label = np.where(bad | missing, 0, numbers)
    else:
        text = values.astype("string").str.strip().str.lower()
        missing = missing | (text == "").fillna(True).to_numpy()
        is_true = text.isin(_TRUE).fillna(False).to_numpy()
        is_false = text.isin(_FALSE).fillna(False).to_numpy()
        bad = ~missing & ~is_true & ~is_false
        label = is_true.astype("float64")

    if missing.any():
        where = _where(values, missing, ids, show_values=False)
        raise InputValidationError(
            f"customers.{column} (the label) is empty on {int(missing.sum())} of "
            f"{len(values)} row(s): {where}; every customer needs a 0/1 label: "
            f"fill those rows or leave those customers out"
        )
    if bad.any():
        where = _where(values, bad, ids, show_values=True)
        raise InputValidationError(
            f"customers.{column} (the label) has {int(bad.sum())} value(s) that are "
            f"not 0/1 or true/false: {where}; recode the column to 0/1 (1 = the "
            f"outcome happened) or point label.column at a 0/1 column"
        )
    return label.astype("int8")


def _where(values: pd.Series, rows: np.ndarray, ids: pd.Series, *, show_values):
    """The customers of the offending rows and, optionally, their distinct values."""
    positions = np.flatnonzero(rows)
    more = len(positions) - _MAX_SHOWN
    shown_ids = ", ".join(str(c) for c in ids.iloc[positions[:_MAX_SHOWN]])
    text = f"customer_id {shown_ids}" + (f" and {more} more" if more > 0 else "")
    if show_values:
        distinct = list(dict.fromkeys(_plain(v) for v in values.iloc[positions]))
        shown = ", ".join(repr(v) for v in distinct[:_MAX_SHOWN])
        text += f" (values {shown}{', ...' if len(distinct) > _MAX_SHOWN else ''})"
    return text


def _plain(value):
    """A value as the file most likely wrote it: 2.0 -> 2, numpy scalars unwrapped."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _read_text_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns holding only ISO dates become UTC timestamps."""
    out = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if column == "customer_id" or pd.api.types.is_numeric_dtype(values):
            continue
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            continue
        if pd.api.types.is_datetime64_dtype(values):
            out[column] = values.dt.tz_localize("UTC")
            continue
        text = values.dropna().astype("string").str.strip()
        if text.empty or not text.str.fullmatch(_ISO_DATE).all():
            continue
        out[column] = pd.to_datetime(values, utc=True, format="ISO8601")
        logger.debug("customers.%s holds ISO dates; read as dates", column)
    return out


def _is_date(values: pd.Series) -> bool:
    return isinstance(values.dtype, pd.DatetimeTZDtype)


def customer_table_as_of(tables: Tables) -> dt.date | None:
    """The default as_of of a customers table: the day after its latest date.

    None when the table has no date column. The same date
    :func:`build_customer_features` uses, without building the features.
    """
    customers, _ = _customers_frame(tables)
    return _default_as_of(_read_text_dates(customers))


def _default_as_of(frame: pd.DataFrame) -> dt.date | None:
    latest = [
        frame[c].max()
        for c in frame.columns
        if _is_date(frame[c]) and frame[c].notna().any()
    ]
    if not latest:
        return None
    return max(latest).date() + dt.timedelta(days=1)


def _warn_dates_after(frame: pd.DataFrame, as_of: dt.date | None) -> None:
    if as_of is None:
        return
    cutoff = pd.Timestamp(as_of, tz="UTC")
    for column in frame.columns:
        if not _is_date(frame[column]):
            continue
        n_late = int((frame[column] >= cutoff).sum())
        if n_late:
            logger.warning(
                "%d customers row(s) have %s on or after as_of %s; their %s_days "
                "is zero or negative",
                n_late,
                column,
                as_of,
                column,
            )


def _birth_year_to_age(frame: pd.DataFrame, as_of: dt.date | None) -> pd.DataFrame:
    if "birth_year" not in frame or "age" in frame or as_of is None:
        return frame
    position = list(frame.columns).index("birth_year")
    age = as_of.year - frame["birth_year"].astype("float64")
    frame = frame.drop(columns=["birth_year"])
    frame.insert(position, "age", age)
    return frame


def _constant_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if c != "customer_id" and frame[c].nunique(dropna=False) <= 1
    ]


def _outcome_like_columns(
    frame: pd.DataFrame, label: np.ndarray, dropped: dict[str, str]
) -> list[str]:
    shares = {0: float(np.mean(label == 0)), 1: float(np.mean(label == 1))}
    found = []
    for column in frame.columns:
        if column == "customer_id" or column in dropped:
            continue
        values = frame[column].astype(object).where(frame[column].notna(), "<NA>")
        usual = values.value_counts().index[0]
        unusual = (values != usual).to_numpy()
        n_unusual = int(unusual.sum())
        held = np.unique(label[unusual])
        if (
            n_unusual
            and len(held) == 1
            and shares[int(held[0])] ** n_unusual < (_OUTCOME_CHANCE)
        ):
            found.append(column)
    return found


def _log_dropped(dropped: dict[str, str], label_column: str | None) -> None:
    outcomes = [c for c, why in dropped.items() if why == "looks like an outcome"]
    if outcomes:
        logger.warning(
            "Left out %d customers column(s) that look like outcomes recorded with "
            "the label %s: %s (every row where they differ from their usual value "
            "has the same label); they never enter the model",
            len(outcomes),
            label_column,
            ", ".join(outcomes),
        )
    constant = [c for c, why in dropped.items() if why == "constant"]
    if constant:
        logger.info(
            "Left out %d constant customers column(s): %s",
            len(constant),
            ", ".join(constant),
        )
