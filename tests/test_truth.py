"""Tests of the comparison with the synthetic shop's truth, on hand-built inputs."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from referral_propensity.selection import Offer
from referral_propensity.truth import measure_against_truth

CATALOG = (Offer("cheap", cost=1.0, value=10.0), Offer("dear", cost=3.0, value=10.0))


def _shop(p_cheap, p_dear, latent):
    n = len(p_cheap)
    ids = [f"C{i}" for i in range(n)]
    truth = pd.DataFrame(
        {
            "customer_id": ids,
            "latent_segment": latent,
            "p_respond_cheap": p_cheap,
            "p_respond_dear": p_dear,
        }
    )
    sent = pd.Timestamp("2025-06-01 10:00", tz="UTC")
    offer_truth = pd.DataFrame(
        {"customer_id": ids, "sent_at": [sent] * n, "p_respond": p_cheap}
    )
    return SimpleNamespace(truth=truth, offer_truth=offer_truth), ids


def _scores(ids, segment_id, offer, selected, reason=None):
    return pd.DataFrame(
        {
            "customer_id": ids,
            "segment_id": segment_id,
            "segment_name": [f"s{s}" for s in segment_id],
            "offer": offer,
            "selected": selected,
            "reason": reason or ["selected" if s else "over_budget" for s in selected],
        }
    )


def test_figures_match_a_hand_computation():
    # customers 0-1 answer the cheap offer best, 2-3 the dear one:
    # true EV cheap = 10 p - 1, dear = 10 p - 3
    p_cheap = [0.5, 0.4, 0.1, 0.1]
    p_dear = [0.2, 0.2, 0.9, 0.8]  # EVs: C0 4 vs -1, C1 3 vs -1, C2 0 vs 6, C3 0 vs 5
    shop, ids = _shop(p_cheap, p_dear, ["a", "a", "b", "b"])
    test_frame = pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": [dt.date(2025, 6, 1)] * 4,
            "label": [1, 0, 1, 0],
            # the model ranks C1 above C0: one of the four pairs is wrong
            "propensity": [0.3, 0.6, 0.7, 0.1],
        }
    )
    # C0 and C2 selected with their best offers; C1 selected with the wrong one
    scores = _scores(
        ids,
        segment_id=[0, 0, 1, 1],
        offer=["cheap", "dear", "dear", "cheap"],
        selected=[True, True, True, False],
    )

    figures = measure_against_truth(
        shop,
        test_frame=test_frame,
        scores=scores,
        catalog=CATALOG,
        predicted_value=pd.Series(1.0, index=ids),
        total_cost=7.0,
        max_contacts=None,
    )

    # oracle on p_cheap: positives 0.5 (C0), 0.1 (C2) vs negatives 0.4, 0.1:
    # pairs (0.5>0.4)=1, (0.5>0.1)=1, (0.1<0.4)=0, (0.1=0.1)=0.5 -> 2.5 / 4
    assert figures["oracle_roc_auc"] == pytest.approx(0.625)
    # model: positives 0.3, 0.7 vs negatives 0.6, 0.1: 0 + 1 + 1 + 1 -> 3 / 4
    assert figures["roc_auc_on_truth_rows"] == pytest.approx(0.75)
    # segments {C0, C1}, {C2, C3} equal the latent ones
    assert figures["segment_ari"] == pytest.approx(1.0)
    # best offers: cheap, cheap, dear, dear; selected chose cheap, dear, dear
    assert figures["best_offer_share"] == pytest.approx(2 / 3)
    # one offer for all: cheap is best for two of the three selected
    assert figures["best_offer_share_one_offer"] == pytest.approx(2 / 3)
    # true expected responses of the selection: 0.5 + 0.2 + 0.9
    assert figures["true_expected_responses_selected"] == pytest.approx(1.6)


def test_random_baseline_with_one_offer_is_the_budget_share_of_the_pool():
    # one offer costing 1 and a budget of 25 among 100 customers: a random
    # selection takes 25 of them, so it expects 25 x the mean true probability
    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 0.2, size=100)
    shop, ids = _shop(p, p, ["a"] * 100)
    order = np.argsort(-p)
    selected = np.zeros(100, dtype=bool)
    selected[order[:25]] = True
    catalog = (Offer("cheap", cost=1.0, value=10.0),)
    test_frame = pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": [dt.date(2025, 6, 1)] * 100,
            "label": (rng.random(100) < p).astype(int),
            "propensity": p,
        }
    )

    figures = measure_against_truth(
        shop,
        test_frame=test_frame,
        scores=_scores(ids, [0] * 100, ["cheap"] * 100, list(selected)),
        catalog=catalog,
        predicted_value=pd.Series(1.0, index=ids),
        total_cost=25.0,
        max_contacts=None,
    )

    expected_random = 25 * p.mean()
    assert figures["true_expected_responses_random"] == pytest.approx(
        expected_random, rel=0.05
    )
    assert figures["selection_gain_vs_random"] == pytest.approx(
        p[order[:25]].sum() / expected_random, rel=0.05
    )
    # every selected customer has the only offer, which is therefore the best
    assert figures["best_offer_share"] == 1.0


def test_opted_out_customers_are_not_in_the_random_pool():
    # the only customers a random pick may take are the two not opted out
    p = [0.9, 0.9, 0.1, 0.3]
    shop, ids = _shop(p, p, ["a", "a", "b", "b"])
    catalog = (Offer("cheap", cost=1.0, value=10.0),)
    test_frame = pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": [dt.date(2025, 6, 1)] * 4,
            "label": [1, 0, 0, 1],
            "propensity": p,
        }
    )
    scores = _scores(
        ids,
        [0, 0, 1, 1],
        ["cheap"] * 4,
        [False, False, True, True],
        reason=["opted_out", "opted_out", "selected", "selected"],
    )

    figures = measure_against_truth(
        shop,
        test_frame=test_frame,
        scores=scores,
        catalog=catalog,
        predicted_value=pd.Series(1.0, index=ids),
        total_cost=2.0,
        max_contacts=None,
    )

    # both pools hold C2 and C3 only: random takes both, as the selection does
    assert figures["true_expected_responses_random"] == pytest.approx(0.4)
    assert figures["selection_gain_vs_random"] == pytest.approx(1.0)
