"""Bundled real data (CDNOW) and the generated synthetic shop.

CDNOW: every purchase from 1997-01-01 to 1998-06-30 of the customers whose
first purchase at the online CD retailer CDNOW was in the first quarter of
1997 (23,570 customers, 69,659 rows), as published for Fader, Hardie and Lee,
"Counting your customers the easy way" (Marketing Science, 2005). Shipped as
comma-separated, gzip-compressed text converted from the original
whitespace-separated file; values are unchanged.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from referral_propensity.io.load import TableSource

CDNOW_FILE = "cdnow_master.csv.gz"


def cdnow_path() -> Path:
    """Path of the bundled CDNOW transactions file."""
    return Path(
        str(resources.files("referral_propensity.datasets") / "data" / CDNOW_FILE)
    )


def cdnow_source() -> TableSource:
    """The bundled CDNOW data as a transactions source.

    Columns are mapped onto the data contract: customer_id, timestamp (the
    purchase date, ``%Y%m%d``), amount (``dollar_value``) and quantity
    (``number_of_cds``). There is no order id, so several rows of one
    customer on one day form one order.
    """
    return TableSource(
        name="transactions",
        path=cdnow_path(),
        columns={
            "timestamp": "date",
            "amount": "dollar_value",
            "quantity": "number_of_cds",
        },
        date_format="%Y%m%d",
    )
