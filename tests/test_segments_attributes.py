"""Attributes in segmentation: clustering on them and naming standout segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from referral_propensity.segment_names import attribute_phrases
from referral_propensity.segments import CATEGORY_WEIGHT, Segmenter


def _attribute_customers(seed: int = 0, n_per_group: int = 60):
    """Three groups of customers that differ by attributes, rows shuffled.

    Group 0: young web shoppers with high income and no kids (90% Web).
    Group 1: families with many kids, middle income, mostly Phone.
    Group 2: older store customers with low income, a mix of channels.
    Spend is alike in all groups, so only the attributes tell them apart.
    """
    rng = np.random.default_rng(seed)
    specs = [
        {"income": 95_000, "kids": (0, 0), "age": 28, "channel": [0.9, 0.05, 0.05]},
        {"income": 55_000, "kids": (2, 3), "age": 41, "channel": [0.1, 0.8, 0.1]},
        {"income": 25_000, "kids": (0, 1), "age": 67, "channel": [0.3, 0.3, 0.4]},
    ]
    groups, truth = [], []
    for group, spec in enumerate(specs):
        groups.append(
            pd.DataFrame(
                {
                    "income": rng.normal(spec["income"], 4_000, n_per_group).round(),
                    "n_kids_at_home": rng.integers(
                        spec["kids"][0], spec["kids"][1] + 1, n_per_group
                    ),
                    "age": rng.normal(spec["age"], 3, n_per_group).round(),
                    "channel": rng.choice(
                        ["Web", "Phone", "Store"], n_per_group, p=spec["channel"]
                    ),
                    "spend_total": np.exp(rng.normal(np.log(300), 0.1, n_per_group)),
                }
            )
        )
        truth += [group] * n_per_group
    customers = pd.concat(groups, ignore_index=True)
    order = rng.permutation(len(customers))
    customers = customers.iloc[order].reset_index(drop=True)
    customers.insert(0, "customer_id", [f"A{i:03d}" for i in range(len(customers))])
    return customers, np.asarray(truth)[order]


ATTRIBUTES = ["income", "n_kids_at_home", "age", "channel"]


@pytest.fixture(scope="module")
def planted():
    return _attribute_customers()


@pytest.fixture(scope="module")
def fitted(planted):
    X, _ = planted
    return Segmenter(
        k_min=3, k_max=3, attributes=ATTRIBUTES, population="customers"
    ).fit(X)


def test_attributes_alone_recover_groups_that_differ_only_by_attributes(
    planted, fitted
):
    X, truth = planted

    # spend_total is a default feature, but it is alike in every group
    assert adjusted_rand_score(truth, fitted.predict(X)) >= 0.9


def test_segment_names_mention_the_attributes_a_segment_stands_out_on(planted, fitted):
    X, truth = planted
    labels = fitted.predict(X)

    def name_of(group: int) -> str:
        # the segment holding most of a planted group
        segment = np.bincount(labels[truth == group]).argmax()
        return fitted.names_[int(segment)]

    # at most two phrases each, strongest first. Group 0: ~90% Web against
    # ~43% overall (ratio ~2.1) and income far above the upper quartile.
    # Group 1: ~80% Phone against ~38%, and two or three kids where the upper
    # quartile of all is 2. Group 2: median age 67 and income 25,000 sit beyond
    # the overall quartiles; no channel holds half of it.
    assert name_of(0) == "mostly Web channel, high income"
    assert name_of(1) == "mostly Phone channel, many kids at home"
    assert name_of(2) == "older, low income"
    assert len(set(fitted.names_.values())) == 3


def test_profile_shows_medians_of_numeric_and_top_values_of_text_attributes(
    planted, fitted
):
    X, _ = planted
    profile = fitted.profile_
    labels = fitted.predict(X)

    for segment in range(fitted.k_):
        members = X[labels == segment]
        np.testing.assert_allclose(
            profile.loc[segment, "median_income"], members["income"].median(), rtol=0
        )
        top = members["channel"].value_counts()
        assert profile.loc[segment, "top_channel"] == top.index[0]
        np.testing.assert_allclose(
            profile.loc[segment, "top_channel_share"],
            top.iloc[0] / len(members),
            rtol=1e-12,
        )


def test_text_attributes_are_one_hot_encoded_with_their_weight(fitted):
    X = pd.DataFrame(
        {
            "customer_id": ["N1", "N2", "N3"],
            "income": [50_000.0] * 3,
            "n_kids_at_home": [1] * 3,
            "age": [40.0] * 3,
            "channel": ["Phone", "Kiosk", None],
            "spend_total": [300.0] * 3,
        }
    )

    one_hot = fitted._one_hot(X)

    # categories most common first, so their order is fitted.categories_
    known = fitted.categories_["channel"]
    assert sorted(known) == ["Phone", "Store", "Web"]
    expected = np.zeros((3, 3))
    expected[0, known.index("Phone")] = CATEGORY_WEIGHT
    # an unseen category and a missing one are encoded as no category
    np.testing.assert_allclose(one_hot, expected, rtol=0, atol=0)
    assert set(fitted.predict(X).tolist()) <= set(range(fitted.k_))


def test_without_default_features_it_clusters_on_the_attributes(planted):
    X, truth = planted
    customer_level = X.drop(columns=["spend_total"])

    segmenter = Segmenter(k_min=3, k_max=3, attributes=ATTRIBUTES, random_state=0).fit(
        customer_level
    )

    assert segmenter.columns_ == ["income", "n_kids_at_home", "age"]
    assert list(segmenter.categories_) == ["channel"]
    assert adjusted_rand_score(truth, segmenter.predict(customer_level)) >= 0.9
    # with no behaviour columns, the names come from attributes alone
    assert not any("buyers" in name for name in segmenter.names_.values())


def test_nothing_to_cluster_on_is_an_error_naming_the_keys():
    X = pd.DataFrame({"customer_id": list("ABCDEFGH"), "income": np.arange(8.0)})

    with pytest.raises(
        ValueError, match="set segments.features or segments.attributes"
    ):
        Segmenter(k_min=2).fit(X)


def test_unknown_attribute_is_an_error_naming_it(planted):
    X, _ = planted

    with pytest.raises(
        ValueError, match="segments.attributes names column.* not in the table: pets"
    ):
        Segmenter(attributes=["income", "pets"]).fit(X)


def test_standout_phrases_on_a_hand_built_table():
    # ten customers; the segment is the first four rows
    X = pd.DataFrame(
        {
            # Web: 4 of 4 in the segment (100%) against 5 of 10 overall (50%)
            "channel": ["Web"] * 4 + ["Phone"] * 5 + ["Web"],
            # overall quartiles 0.25 / 1.5 / 3.75; segment median 0 -> "no kids"
            "n_kids_at_home": [0, 0, 0, 0, 2, 3, 4, 5, 1, 1],
            # overall median 50; the segment's 80 sits above the upper quartile
            "income": [80, 80, 80, 80, 40, 40, 50, 50, 50, 30],
            # a flag set on 2 of 4 in the segment vs 6 of 10: not low enough for
            # "rarely" (at most half of 0.6) nor high enough for "mostly" (1.5 x)
            "is_member": [1, 1, 0, 0, 1, 1, 1, 1, 0, 0],
            # the segment's median age 45 equals the overall median: no phrase
            "age": [40, 45, 45, 50, 30, 60, 45, 45, 20, 70],
        }
    )
    members = np.array([True] * 4 + [False] * 6)

    phrases = attribute_phrases(X, members, list(X.columns))

    assert set(phrases) == {"mostly Web channel", "no kids at home", "high income"}


def test_a_flag_that_is_rare_in_the_segment_reads_rarely():
    # overall 5 of 10 are new; in the segment (first five rows) none is
    X = pd.DataFrame({"is_new_customer": [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]})
    members = np.arange(10) < 5

    assert attribute_phrases(X, members, ["is_new_customer"]) == ["rarely new customer"]
    assert attribute_phrases(X, ~members, ["is_new_customer"]) == [
        "mostly new customer"
    ]


def test_default_segmenter_ignores_attribute_columns(planted):
    X, _ = planted

    # attributes=None: only the default behaviour features present are used
    segmenter = Segmenter(k_min=2, k_max=3, random_state=0).fit(X)

    assert segmenter.columns_ == ["spend_total"]
    assert segmenter.categories_ == {}
    assert "median_income" not in segmenter.profile_


def test_without_behaviour_columns_a_standout_feature_leads_the_name():
    # two tight groups on a feature that is no behaviour column and no
    # attribute: low and high yearly spend (spend_365d), twenty customers each
    rng = np.random.default_rng(5)
    spend = np.r_[rng.normal(50, 5, 20), rng.normal(900, 50, 20)]
    X = pd.DataFrame(
        {"customer_id": [f"F{i:02d}" for i in range(40)], "spend_365d": spend}
    )

    segmenter = Segmenter(k_min=2, k_max=2, features=["spend_365d"]).fit(X)

    # ids follow the first column (no spend_total): low spenders first; the
    # window suffix is left out of the words
    assert segmenter.names_ == {0: "low spend", 1: "high spend"}
