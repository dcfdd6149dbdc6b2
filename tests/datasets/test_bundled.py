"""The bundled real data files: found by name, and read by the loader as shipped."""

from __future__ import annotations

import datetime as dt
import gzip

import pytest

from referral_propensity.datasets.bundled import bundled_names, bundled_path
from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.io.load import TableSource, load_table

TODAY = dt.date(2024, 9, 30)


def test_bundled_names_list_the_shipped_files():
    assert {
        "cdnow_master.csv.gz",
        "hillstrom_email.csv.gz",
        "ifood_marketing_campaign.csv.gz",
    } <= set(bundled_names())


def test_an_unknown_bundled_name_lists_the_available_ones():
    with pytest.raises(
        InputValidationError,
        match=r"no bundled data file named 'ifood\.csv' \(available: "
        r"cdnow_master\.csv\.gz, hillstrom_email\.csv\.gz, "
        r"ifood_marketing_campaign\.csv\.gz",
    ):
        bundled_path("ifood.csv")


def test_ifood_reads_with_its_byte_order_mark_and_semicolons():
    path = bundled_path("ifood_marketing_campaign.csv.gz")
    # the published bytes: a UTF-8 byte order mark before the header
    with gzip.open(path, "rb") as handle:
        assert handle.read(5) == b"\xef\xbb\xbfID"

    loaded = load_table(
        connect(),
        TableSource("customers", path=path, sep=";", columns={"customer_id": "ID"}),
        today=TODAY,
    )

    assert loaded.n_rows == 2240
    assert loaded.columns[0] == "customer_id"
    frame = loaded.to_pandas()
    # 24 customers have no income; Response is a 0/1 number
    assert frame["Income"].isna().sum() == 24
    assert set(frame["Response"].unique()) == {0.0, 1.0}


def test_hillstrom_has_a_row_number_customer_id_and_three_thirds():
    loaded = load_table(
        connect(),
        TableSource("customers", path=bundled_path("hillstrom_email.csv.gz")),
        today=TODAY,
    )
    frame = loaded.to_pandas()

    assert loaded.n_rows == 64_000
    assert sorted(frame["customer_id"].astype(int)) == list(range(1, 64_001))
    assert frame["segment"].value_counts().to_dict() == {
        "Womens E-Mail": 21_387,
        "Mens E-Mail": 21_307,
        "No E-Mail": 21_306,
    }
    # the published visit rate of the women's e-mail group is about 15.1%
    womens = frame[frame["segment"] == "Womens E-Mail"]
    assert abs(womens["visit"].mean() - 0.151) < 0.001
