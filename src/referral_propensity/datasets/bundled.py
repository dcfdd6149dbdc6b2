"""Data files shipped inside the package, found by name.

The files sit in the package's ``datasets/data/`` folder, gzip-compressed:

- ``cdnow_master.csv.gz``: CDNOW purchases (transactions), see
  :mod:`referral_propensity.datasets`.
- ``hillstrom_email.csv.gz``: Kevin Hillstrom's MineThatData e-mail data set
  (64,000 customers, one row each). The published file has no id column, so
  a ``customer_id`` column (the row's 1-based position in the published file)
  comes first; every other value is as published.
- ``ifood_marketing_campaign.csv.gz``: the iFood marketing campaign data set
  (2,240 customers), byte for byte as published: semicolon-separated, with a
  UTF-8 byte order mark.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from referral_propensity.errors import InputValidationError

_PACKAGE = "referral_propensity.datasets"
_FOLDER = "data"


def bundled_names() -> list[str]:
    """Names of the bundled data files, sorted.

    Returns
    -------
    list of str
        File names such as ``"hillstrom_email.csv.gz"``.
    """
    folder = resources.files(_PACKAGE) / _FOLDER
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_file() and not entry.name.startswith((".", "_"))
    )


def bundled_path(name: str | Path) -> Path:
    """Path of a bundled data file.

    Parameters
    ----------
    name : str or Path
        The file's name, for example ``"ifood_marketing_campaign.csv.gz"``
        (a bare name: no folders).

    Returns
    -------
    Path
        An existing file inside the installed package.

    Raises
    ------
    InputValidationError
        When no bundled file has that name; the message lists the names.

    Examples
    --------
    >>> bundled_path("hillstrom_email.csv.gz").name
    'hillstrom_email.csv.gz'
    """
    text = str(name)
    available = bundled_names()
    if text not in available:
        raise InputValidationError(
            f"no bundled data file named {text!r} (available: "
            f"{', '.join(available)}); with data.source 'bundled' a table's path "
            f"is one of these names, or use data.source 'files' for your own file"
        )
    return Path(str(resources.files(_PACKAGE) / _FOLDER / text))
