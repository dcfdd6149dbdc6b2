"""Tests of offer choice and campaign selection under a budget."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from referral_propensity.config import CatalogOffer
from referral_propensity.errors import InputValidationError
from referral_propensity.selection import (
    CHOSEN_COLUMNS,
    REASONS,
    Offer,
    choose_best_offers,
    offers_from_config,
    select_customers,
    selection_summary,
)

SEGMENT_NAMES = {0: "loyal", 1: "bargain", 2: "lapsed"}

# points and discount go to everyone; gift_card only to the loyal segment; the
# retired voucher would beat every offer (free, worth 100) but is never chosen
CATALOG = (
    Offer("points", cost=0.5, value=20.0),
    Offer("discount", cost=2.0),  # worth the customer's predicted spend
    Offer("gift_card", cost=5.0, value=60.0, segments=("loyal",)),
    Offer("retired_voucher", cost=0.0, value=100.0, segments=()),
)

# ten customers; the propensities are binary fractions so that every
# expected value below is exact. Columns: customer, segment, predicted spend,
# propensity of points / discount / gift_card, days since the last offer,
# opted out
TEN_CUSTOMERS = [
    ("C01", 0, 48.0, 0.125, 0.125, 0.25, np.nan, False),
    ("C02", 0, 32.0, 0.25, 0.125, 0.125, np.nan, False),
    ("C03", 1, 96.0, 0.0625, 0.125, 0.75, 30.0, False),
    ("C04", 1, 40.0, 0.125, 0.0625, 0.5, 400.0, False),
    ("C05", 2, 16.0, 0.015625, 0.0625, 0.5, np.nan, False),
    ("C06", 2, 80.0, 0.1875, 0.25, 0.5, 10.0, False),
    ("C07", 0, 78.0, 0.25, 0.25, 0.375, np.nan, False),
    ("C08", 1, 200.0, 0.5, 0.5, 0.5, np.nan, True),
    ("C09", 2, 40.0, 0.5, 0.125, 0.5, 29.0, False),
    ("C10", 0, 40.0, 0.125, 0.125, 0.3125, np.nan, False),
]


def _ten_customers():
    rows = pd.DataFrame(
        TEN_CUSTOMERS,
        columns=[
            "customer_id",
            "segment_id",
            "spend",
            "points",
            "discount",
            "gift_card",
            "days_since_offer",
            "opted_out",
        ],
    )
    customers = rows[["customer_id", "segment_id"]].assign(
        segment_name=rows["segment_id"].map(SEGMENT_NAMES)
    )
    propensities = rows[["points", "discount", "gift_card"]].assign(retired_voucher=0.5)
    return customers, propensities, rows


def _one_offer_frame(expected_values, propensities, costs, ids=None) -> pd.DataFrame:
    """A chosen-offers frame built directly, one offer 'x' for everyone."""
    n = len(expected_values)
    return pd.DataFrame(
        {
            "customer_id": ids or [f"C{i}" for i in range(1, n + 1)],
            "segment_id": np.zeros(n, dtype="int64"),
            "segment_name": "loyal",
            "offer": "x",
            "propensity": propensities,
            "cost": costs,
            "expected_value": expected_values,
        }
    )


def test_ten_customers_get_the_offers_and_reasons_worked_out_by_hand(caplog):
    customers, propensities, rows = _ten_customers()

    chosen = choose_best_offers(
        customers, propensities, CATALOG, predicted_value=rows["spend"]
    )
    with caplog.at_level(logging.INFO, logger="referral_propensity.selection"):
        result = select_customers(
            chosen,
            total_cost=10.0,
            cooldown_days=30,
            days_since_offer=rows["days_since_offer"],
            opted_out=rows["opted_out"],
        )

    # expected value = propensity x value - cost; points 20p - 0.5, discount
    # spend x p - 2, gift_card 60p - 5 (loyal only):
    #   C01 loyal:   points 2.5-0.5=2.0, discount 6-2=4.0, gift 15-5=10.0 -> gift 10.0
    #   C02 loyal:   points 5-0.5=4.5, discount 4-2=2.0, gift 7.5-5=2.5 -> points 4.5
    #   C03 bargain: points 1.25-0.5=0.75, discount 12-2=10.0 (gift not
    #                eligible, it would be 45-5=40) -> discount 10.0
    #   C04 bargain: points 2.5-0.5=2.0, discount 2.5-2=0.5 -> points 2.0
    #   C05 lapsed:  points 0.3125-0.5=-0.1875, discount 1-2=-1.0 -> points -0.1875
    #   C06 lapsed:  points 3.75-0.5=3.25, discount 20-2=18.0 -> discount 18.0
    #   C07 loyal:   points 4.5, discount 19.5-2=17.5, gift 22.5-5=17.5 -> a tie,
    #                the cheaper discount (2 < 5) wins -> discount 17.5
    #   C08 bargain: points 9.5, discount 100-2=98.0 -> discount 98.0
    #   C09 lapsed:  points 10-0.5=9.5, discount 5-2=3.0 -> points 9.5
    #   C10 loyal:   points 2.0, discount 3.0, gift 18.75-5=13.75 -> gift 13.75
    # rank by expected value (the C01/C03 tie at 10.0 goes to C01's higher
    # propensity, 0.25 > 0.125), then walk with a budget of 10 and a cooldown
    # of 30 days:
    #   1 C08 98.0  opted out
    #   2 C06 18.0  cooldown (offered 10 days ago, 10 < 30)
    #   3 C07 17.5  cost 2: fits 10 -> selected, 8 left
    #   4 C10 13.75 cost 5: fits 8 -> selected, 3 left
    #   5 C01 10.0  cost 5: more than 3 -> over budget
    #   6 C03 10.0  cost 2: fits 3 (offered 30 days ago, not < 30) -> selected, 1 left
    #   7 C09 9.5   cooldown (29 < 30)
    #   8 C02 4.5   cost 0.5: fits 1 -> selected, 0.5 left
    #   9 C04 2.0   cost 0.5: fits 0.5 exactly -> selected, 0 left
    #  10 C05 -0.1875 not positive
    expected = pd.DataFrame(
        [
            ("C08", "discount", 0.5, 2.0, 98.0, False, "opted_out"),
            ("C06", "discount", 0.25, 2.0, 18.0, False, "cooldown"),
            ("C07", "discount", 0.25, 2.0, 17.5, True, "selected"),
            ("C10", "gift_card", 0.3125, 5.0, 13.75, True, "selected"),
            ("C01", "gift_card", 0.25, 5.0, 10.0, False, "over_budget"),
            ("C03", "discount", 0.125, 2.0, 10.0, True, "selected"),
            ("C09", "points", 0.5, 0.5, 9.5, False, "cooldown"),
            ("C02", "points", 0.25, 0.5, 4.5, True, "selected"),
            ("C04", "points", 0.125, 0.5, 2.0, True, "selected"),
            ("C05", "points", 0.015625, 0.5, -0.1875, False, "not_positive_value"),
        ],
        columns=[
            "customer_id",
            "offer",
            "propensity",
            "cost",
            "expected_value",
            "selected",
            "reason",
        ],
    )
    assert result["customer_id"].tolist() == expected["customer_id"].tolist()
    assert result["offer"].tolist() == expected["offer"].tolist()
    assert result["reason"].tolist() == expected["reason"].tolist()
    assert result["selected"].tolist() == expected["selected"].tolist()
    np.testing.assert_array_equal(result["rank"], np.arange(1, 11))
    for column in ("propensity", "cost", "expected_value"):
        np.testing.assert_allclose(result[column], expected[column], rtol=1e-12)

    # selected: C07, C10, C03, C02, C04; cost 2 + 5 + 2 + 0.5 + 0.5 = 10;
    # responses 0.25 + 0.3125 + 0.125 + 0.25 + 0.125 = 1.0625;
    # value 17.5 + 13.75 + 10 + 4.5 + 2 = 47.75
    summary = selection_summary(result)
    assert summary == pytest.approx(
        {
            "n_customers": 10.0,
            "n_selected": 5.0,
            "n_opted_out": 1.0,
            "n_cooldown": 2.0,
            "n_no_eligible_offer": 0.0,
            "n_not_positive_value": 1.0,
            "n_over_budget": 1.0,
            "n_over_contacts": 0.0,
            "total_cost_selected": 10.0,
            "expected_responses_selected": 1.0625,
            "expected_value_selected": 47.75,
        },
        rel=1e-12,
    )
    assert "Skipped 1 opted-out customers of 10" in caplog.text


def test_chosen_frame_keeps_the_input_order_and_columns():
    customers, propensities, rows = _ten_customers()

    chosen = choose_best_offers(
        customers, propensities, CATALOG, predicted_value=rows["spend"]
    )

    assert tuple(chosen.columns) == CHOSEN_COLUMNS
    assert chosen["customer_id"].tolist() == customers["customer_id"].tolist()
    assert "retired_voucher" not in set(chosen["offer"])


def test_max_contacts_stops_the_walk_and_marks_the_rest_over_contacts():
    customers, propensities, rows = _ten_customers()
    chosen = choose_best_offers(
        customers, propensities, CATALOG, predicted_value=rows["spend"]
    )

    result = select_customers(chosen, max_contacts=3)

    # without budget, opt-outs or cooldown the candidates in rank order are
    # C08, C06, C07, C10, C01, C03, C09, C02, C04 (C05 is not positive): the
    # first three are selected, the other six are over the contact limit
    by_id = result.set_index("customer_id")["reason"]
    assert sorted(by_id[by_id == "selected"].index) == ["C06", "C07", "C08"]
    assert (by_id == "over_contacts").sum() == 6
    assert by_id["C05"] == "not_positive_value"


def test_max_contacts_and_budget_together_skip_what_does_not_fit():
    customers, propensities, rows = _ten_customers()
    chosen = choose_best_offers(
        customers, propensities, CATALOG, predicted_value=rows["spend"]
    )

    result = select_customers(
        chosen,
        total_cost=10.0,
        max_contacts=3,
        cooldown_days=30,
        days_since_offer=rows["days_since_offer"],
        opted_out=rows["opted_out"],
    )

    # as in the ten-customer walk: C07 (8 left), C10 (3 left), C01 over
    # budget, C03 (third contact); then C02 and C04 are over the limit
    reasons = result.set_index("customer_id")["reason"]
    assert reasons[["C07", "C10", "C01", "C03", "C02", "C04"]].tolist() == [
        "selected",
        "selected",
        "over_budget",
        "selected",
        "over_contacts",
        "over_contacts",
    ]


def test_zero_max_contacts_selects_no_one():
    chosen = _one_offer_frame([3.0, 2.0], [0.5, 0.25], [1.0, 1.0])

    result = select_customers(chosen, max_contacts=0)

    assert result["reason"].tolist() == ["over_contacts", "over_contacts"]
    assert not result["selected"].any()


def test_budget_below_the_cheapest_offer_selects_no_one_and_says_so(caplog):
    customers, propensities, rows = _ten_customers()
    chosen = choose_best_offers(
        customers, propensities, CATALOG, predicted_value=rows["spend"]
    )

    with caplog.at_level(logging.INFO, logger="referral_propensity.selection"):
        result = select_customers(chosen, total_cost=0.25)

    # the cheapest chosen offer is points at 0.5 > 0.25
    assert not result["selected"].any()
    assert (result["reason"] == "over_budget").sum() == 9
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "total_cost 0.25" in warnings[0].getMessage()
    assert "cost 0.5" in warnings[0].getMessage()


def test_budget_that_fits_gives_no_warning(caplog):
    chosen = _one_offer_frame([3.0, 2.0], [0.5, 0.25], [1.0, 1.0])

    with caplog.at_level(logging.WARNING, logger="referral_propensity.selection"):
        result = select_customers(chosen, total_cost=1.0)

    # one contact of cost 1 fits a budget of 1, the second does not
    assert result["reason"].tolist() == ["selected", "over_budget"]
    assert caplog.records == []


def test_costs_that_add_up_to_the_budget_fit_despite_rounding():
    # 0.1 + 0.1 + 0.1 is 0.30000000000000004 in floating point
    chosen = _one_offer_frame([3.0, 2.0, 1.0], [0.5, 0.25, 0.125], [0.1, 0.1, 0.1])

    result = select_customers(chosen, total_cost=0.3)

    assert result["selected"].tolist() == [True, True, True]


def test_zero_budget_still_selects_free_offers():
    chosen = _one_offer_frame([3.0, 2.0], [0.5, 0.25], [0.0, 1.0])

    result = select_customers(chosen, total_cost=0.0)

    assert result["reason"].tolist() == ["selected", "over_budget"]


def test_equal_expected_values_rank_by_propensity_then_customer_id():
    # C2 and C3 tie on both expected value and propensity: C2 < C3 by id;
    # C4 has the same expected value with a higher propensity and comes first
    chosen = _one_offer_frame(
        [1.0, 1.0, 1.0, 5.0],
        [0.25, 0.25, 0.5, 0.125],
        [0.0, 0.0, 0.0, 0.0],
        ids=["C3", "C2", "C4", "C1"],
    )

    result = select_customers(chosen)

    assert result["customer_id"].tolist() == ["C1", "C4", "C2", "C3"]
    np.testing.assert_array_equal(result["rank"], [1, 2, 3, 4])
    assert result["rank"].dtype == "int64"


def test_equal_expected_values_choose_the_cheaper_then_the_first_offer():
    customers = pd.DataFrame(
        {"customer_id": ["C1"], "segment_id": [0], "segment_name": ["loyal"]}
    )
    catalog = (
        Offer("pricey", cost=2.0, value=10.0),
        Offer("first_cheap", cost=1.0, value=8.0),
        Offer("second_cheap", cost=1.0, value=8.0),
    )
    # pricey 0.5 x 10 - 2 = 3.0; both cheap ones 0.5 x 8 - 1 = 3.0
    propensities = pd.DataFrame({"pricey": [0.5], "first_cheap": [0.5]}).assign(
        second_cheap=0.5
    )

    chosen = choose_best_offers(customers, propensities, catalog)

    assert chosen["offer"].tolist() == ["first_cheap"]
    np.testing.assert_allclose(chosen["expected_value"], [3.0], rtol=1e-12)


def test_segment_restriction_matches_the_segment_id_as_text():
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "segment_id": np.array([1, 2], dtype="int64"),
            "segment_name": ["bargain", "lapsed"],
        }
    )
    catalog = (
        Offer("points", cost=0.0, value=1.0),
        Offer("discount", cost=0.0, value=10.0, segments=("1",)),
    )
    propensities = pd.DataFrame({"points": [0.5, 0.5], "discount": [0.5, 0.5]})

    chosen = choose_best_offers(customers, propensities, catalog)

    # segment 1 may get the discount (5 > 0.5); segment 2 only points
    assert chosen["offer"].tolist() == ["discount", "points"]


def test_customers_without_an_eligible_offer_are_ranked_last_and_not_selected():
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "segment_id": [0, 1, 0],
            "segment_name": ["loyal", "bargain", "loyal"],
        }
    )
    catalog = (Offer("gift_card", cost=1.0, value=10.0, segments=("loyal",)),)
    propensities = pd.DataFrame({"gift_card": [0.5, 0.9, 0.25]})

    chosen = choose_best_offers(customers, propensities, catalog)
    result = select_customers(chosen)

    assert chosen["offer"].isna().tolist() == [False, True, False]
    assert chosen[["propensity", "cost", "expected_value"]].iloc[1].isna().all()
    # C1 0.5 x 10 - 1 = 4, C3 0.25 x 10 - 1 = 1.5, C2 none
    assert result["customer_id"].tolist() == ["C1", "C3", "C2"]
    assert result["reason"].tolist() == ["selected", "selected", "no_eligible_offer"]
    np.testing.assert_array_equal(result["rank"], [1, 2, 3])


def test_zero_cooldown_leaves_recently_offered_customers_in():
    chosen = _one_offer_frame([3.0, 2.0], [0.5, 0.25], [1.0, 1.0])

    result = select_customers(chosen, cooldown_days=0, days_since_offer=[0.0, 1.0])

    assert result["selected"].tolist() == [True, True]


def test_missing_opt_out_values_count_as_contactable():
    chosen = _one_offer_frame([3.0, 2.0, 1.0], [0.5, 0.25, 0.125], [1.0, 1.0, 1.0])

    result = select_customers(chosen, opted_out=[None, True, np.nan])

    assert result["reason"].tolist() == ["selected", "opted_out", "selected"]


def test_opt_out_comes_before_the_other_reasons():
    # opted out, recently offered and with a negative value: opt-out is named
    chosen = _one_offer_frame([-1.0], [0.5], [1.0])

    result = select_customers(
        chosen, cooldown_days=30, days_since_offer=[1.0], opted_out=[True]
    )

    assert result["reason"].tolist() == ["opted_out"]


def test_selection_does_not_depend_on_the_input_row_order():
    customers, propensities, rows = _ten_customers()
    order = np.random.default_rng(3).permutation(len(rows))

    def run(positions):
        chosen = choose_best_offers(
            customers.iloc[positions].reset_index(drop=True),
            propensities.iloc[positions].reset_index(drop=True),
            CATALOG,
            predicted_value=rows["spend"].iloc[positions].to_numpy(),
        )
        return select_customers(
            chosen,
            total_cost=10.0,
            cooldown_days=30,
            days_since_offer=rows["days_since_offer"].iloc[positions].to_numpy(),
            opted_out=rows["opted_out"].iloc[positions].to_numpy(),
        )

    pd.testing.assert_frame_equal(
        run(np.arange(len(rows))), run(order), check_exact=True
    )


def test_every_reason_is_one_of_the_documented_ones():
    customers, propensities, rows = _ten_customers()
    chosen = choose_best_offers(
        customers, propensities, CATALOG, predicted_value=rows["spend"]
    )

    result = select_customers(chosen, total_cost=3.0, max_contacts=1)

    assert set(result["reason"]) <= set(REASONS)
    assert result["selected"].dtype == bool


def test_offers_from_config_keeps_order_values_and_segments():
    catalog = [
        CatalogOffer(offer_type="points", cost=0.5, value=20.0),
        CatalogOffer(offer_type="gift_card", cost=5.0, segments=["loyal", "2"]),
        CatalogOffer(offer_type="old", segments=[]),
    ]

    offers = offers_from_config(catalog)

    assert offers == (
        Offer("points", cost=0.5, value=20.0),
        Offer("gift_card", cost=5.0, value=None, segments=("loyal", "2")),
        Offer("old", cost=0.0, value=None, segments=()),
    )
    assert [offer.is_retired for offer in offers] == [False, False, True]


def test_offer_with_a_negative_cost_is_refused():
    with pytest.raises(InputValidationError, match=r"offer 'points' has cost -1"):
        Offer("points", cost=-1.0)


def test_offer_without_value_needs_a_predicted_value():
    customers, propensities, _ = _ten_customers()

    with pytest.raises(InputValidationError, match=r"discount have no value"):
        choose_best_offers(customers, propensities, CATALOG)


def test_missing_propensity_column_names_the_offer():
    customers, propensities, rows = _ten_customers()

    with pytest.raises(
        InputValidationError, match=r"no column for offer type\(s\) discount"
    ):
        choose_best_offers(
            customers,
            propensities.drop(columns=["discount"]),
            CATALOG,
            predicted_value=rows["spend"],
        )


def test_retired_offer_needs_no_propensity_column():
    customers, propensities, rows = _ten_customers()

    chosen = choose_best_offers(
        customers,
        propensities.drop(columns=["retired_voucher"]),
        CATALOG,
        predicted_value=rows["spend"],
    )

    assert chosen["offer"].notna().all()


def test_propensity_outside_zero_one_is_refused():
    customers, propensities, rows = _ten_customers()
    propensities.loc[3, "points"] = 1.5

    with pytest.raises(InputValidationError, match=r"outside \[0, 1\] \(rows 4\)"):
        choose_best_offers(
            customers, propensities, CATALOG, predicted_value=rows["spend"]
        )


def test_repeated_offer_type_is_refused():
    customers, propensities, rows = _ten_customers()
    catalog = (*CATALOG, Offer("points", cost=1.0, value=1.0))

    with pytest.raises(InputValidationError, match="repeats offer type"):
        choose_best_offers(
            customers, propensities, catalog, predicted_value=rows["spend"]
        )


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"total_cost": -1.0}, "total_cost is -1.0"),
        ({"max_contacts": -2}, "max_contacts is -2"),
        ({"max_contacts": 2.5}, "max_contacts is 2.5"),
        ({"cooldown_days": -1}, "cooldown_days is -1"),
    ],
)
def test_negative_limits_are_refused(limits, message):
    chosen = _one_offer_frame([1.0], [0.5], [1.0])

    with pytest.raises(InputValidationError, match=message):
        select_customers(chosen, **limits)


def test_days_since_offer_of_another_length_is_refused():
    chosen = _one_offer_frame([1.0, 2.0], [0.5, 0.5], [1.0, 1.0])

    with pytest.raises(InputValidationError, match="days_since_offer has 1 entries"):
        select_customers(chosen, cooldown_days=3, days_since_offer=[1.0])


def test_days_since_offer_that_are_not_numbers_are_refused():
    chosen = _one_offer_frame([1.0, 2.0], [0.5, 0.5], [1.0, 1.0])

    with pytest.raises(InputValidationError, match=r"1 days_since_offer .*rows 2"):
        select_customers(chosen, cooldown_days=3, days_since_offer=[1.0, "soon"])
