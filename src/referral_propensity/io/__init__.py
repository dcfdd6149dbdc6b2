"""Reading input tables and writing outputs."""

from referral_propensity.io.load import LoadedTable, TableSource, load_table
from referral_propensity.io.write import write_atomically, write_scores

__all__ = [
    "LoadedTable",
    "TableSource",
    "load_table",
    "write_atomically",
    "write_scores",
]
