"""Customer attributes as model features (age, region, signup tenure, ...)."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pandas as pd

logger = logging.getLogger(__name__)

#: column names that hold personal data; such columns never become features
_PERSONAL_NAME = re.compile(
    r"(^|_)(e_?mail|name|first_?name|last_?name|surname|full_?name|phone|mobile|"
    r"tel|telephone|address|street|postcode|ssn|passport|iban|ip_?address)($|_)",
    re.IGNORECASE,
)
_EMAIL_VALUE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_VALUE = re.compile(r"^\+?[\d\s\-().]{7,}$")
_ADDRESS_VALUE = re.compile(
    r"\d.*(?:stra(?:ss|ß)e|street|st\.|road|rd\.|avenue|ave\.|rue|weg|lane|blvd|platz)\b"
    r"|(?:stra(?:ss|ß)e|street|road|avenue|rue|weg|lane|blvd|platz)\b.*\d",
    re.IGNORECASE,
)
#: a text attribute with more distinct values than this is never a category
_MAX_CATEGORIES = 50


def prepare_attributes(
    customers: pd.DataFrame, *, as_of: dt.date, warn: bool = True
) -> tuple[pd.DataFrame, list[str]]:
    """Turn a customers table into feature columns.

    Parameters
    ----------
    customers : pandas.DataFrame
        customer_id and any attributes (typed by the loader).
    as_of : date
        Timestamps become whole days before as_of (``signup_date`` ->
        ``signup_tenure_days``).
    warn : bool, default=True
        Log the dropped columns (once per table is enough).

    Returns
    -------
    frame : pandas.DataFrame
        customer_id and the attribute features.
    categorical : list of str
        Text columns (object dtype), which the model treats as categories.

    Notes
    -----
    Attributes are a snapshot with no history, so a value that changed after
    as_of is seen as of the extract. Text columns with more than 50 distinct
    values, columns named like personal data (e-mail, name, phone, address,
    ...) and columns holding any e-mail address, or mostly phone numbers or
    street addresses, are dropped with a warning, so no such value is ever a
    feature or stored in a model.
    """
    as_of_ts = pd.Timestamp(as_of, tz="UTC")
    frame = pd.DataFrame({"customer_id": customers["customer_id"].astype(str)})
    categorical: list[str] = []
    dropped: list[str] = []
    for column in customers.columns:
        if column == "customer_id":
            continue
        values = customers[column]
        if _looks_personal(column, values):
            dropped.append(column)
            continue
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            name = "signup_tenure_days" if column == "signup_date" else f"{column}_days"
            frame[name] = (as_of_ts.normalize() - values.dt.normalize()).dt.days.astype(
                "float64"
            )
        elif (
            pd.api.types.is_bool_dtype(values)
            or values.dtype == object
            and _is_flag(values)
        ):
            frame[column] = values.astype("float64")
        elif pd.api.types.is_numeric_dtype(values):
            frame[column] = values.astype("float64")
        else:
            # many distinct texts are names, notes or ids, never useful categories
            if values.nunique(dropna=True) > _MAX_CATEGORIES:
                dropped.append(column)
                continue
            # plain text here; the model turns it into categories it knows
            text = values.astype("string")
            frame[column] = text.astype(object).where(text.notna(), None)
            categorical.append(column)
    if dropped and warn:
        logger.warning(
            "Dropped %d customers column(s) that look like identifiers, not "
            "attributes: %s",
            len(dropped),
            ", ".join(dropped),
        )
    return frame, categorical


def _is_flag(values: pd.Series) -> bool:
    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, bool) for v in present)


def _looks_personal(column: str, values: pd.Series) -> bool:
    if _PERSONAL_NAME.search(column):
        return True
    if pd.api.types.is_numeric_dtype(values) or isinstance(
        values.dtype, pd.DatetimeTZDtype
    ):
        return False
    sample = values.dropna().astype(str).head(500)
    if len(sample) == 0:
        return False
    # any e-mail address, or mostly phone numbers or street addresses
    return bool(
        sample.str.contains(_EMAIL_VALUE).any()
        or sample.str.match(_PHONE_VALUE).mean() > 0.5
        or sample.str.contains(_ADDRESS_VALUE).mean() > 0.5
    )
