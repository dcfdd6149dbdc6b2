"""Customer attributes as model features (age, region, signup tenure, ...)."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pandas as pd

logger = logging.getLogger(__name__)

#: parts of column names that hold personal data, matched after lower-casing
#: and removing everything but letters and digits ("E-Mail" -> "email");
#: such columns never become features
_PERSONAL_NAME_PARTS = (
    "email",
    "mail",
    "name",
    "phone",
    "mobile",
    "telephone",
    "address",
    "street",
    "postcode",
    "postalcode",
    "zip",
    "birthdate",
    "dateofbirth",
    "dob",
    "ssn",
    "socialsecurity",
    "passport",
    "iban",
    "creditcard",
    "cardnumber",
    "ipaddr",
)
#: short parts that count only as a whole word of the name ("tel", not "hotel")
_PERSONAL_NAME_WORDS = re.compile(r"(^|[^a-z])(tel|ip|dob|zip)($|[^a-z])")
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


def looks_like_personal_name(column: str) -> bool:
    """True when a column's name says it holds personal data (e-mail, name, ...)."""
    squashed = re.sub(r"[^a-z0-9]", "", column.lower())
    return any(part in squashed for part in _PERSONAL_NAME_PARTS) or bool(
        _PERSONAL_NAME_WORDS.search(column.lower())
    )


def _looks_personal(column: str, values: pd.Series) -> bool:
    if looks_like_personal_name(column):
        return True
    if pd.api.types.is_numeric_dtype(values) or isinstance(
        values.dtype, pd.DatetimeTZDtype
    ):
        return False
    distinct = pd.Series(values.dropna().astype(str).unique())
    if len(distinct) == 0:
        return False
    # any e-mail address in any row, or mostly phone numbers or street addresses
    return bool(
        distinct.str.contains(_EMAIL_VALUE).any()
        or distinct.str.match(_PHONE_VALUE).mean() > 0.5
        or distinct.str.contains(_ADDRESS_VALUE).mean() > 0.5
    )
