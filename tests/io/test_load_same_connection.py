"""Tables loaded on one connection stay what they were when loaded."""

from __future__ import annotations

import datetime as dt

from referral_propensity.engine import connect
from referral_propensity.io.load import TableSource, load_table

TODAY = dt.date(2024, 9, 30)


def test_loading_a_second_table_of_the_same_name_leaves_the_first_intact(
    write_file,
):
    # first file: one row of customer A1; second: two rows, B1 and B2
    first_path = write_file(
        "first.csv", "customer_id,timestamp,amount\nA1,2024-01-01,10\n"
    )
    second_path = write_file(
        "second.csv",
        "customer_id,timestamp,amount\nB1,2024-01-01,99\nB2,2024-01-01,1\n",
    )
    con = connect()

    first = load_table(con, TableSource("transactions", path=first_path), today=TODAY)
    load_table(con, TableSource("transactions", path=second_path), today=TODAY)

    assert first.n_rows == 1
    assert first.to_pandas()["customer_id"].tolist() == ["A1"]
