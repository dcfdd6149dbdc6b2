"""How close a run on the synthetic shop comes to the shop's hidden truth.

Only ``run --with-truth`` and the tests call this module; the pipeline never
reads the truth to train or score.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from referral_propensity.selection import Offer

logger = logging.getLogger(__name__)

#: random selections averaged for the random baseline
N_RANDOM_DRAWS = 200


def measure_against_truth(
    shop,
    *,
    test_frame: pd.DataFrame,
    scores: pd.DataFrame,
    catalog: Sequence[Offer],
    predicted_value: pd.Series,
    total_cost: float | None,
    max_contacts: int | None,
    seed: int = 0,
) -> dict[str, float]:
    """The four truth figures of a training and a scoring run.

    Parameters
    ----------
    shop : SyntheticShop
        The generated shop, with ``offer_truth`` and ``truth``.
    test_frame : pandas.DataFrame
        Held-out treatment offers with customer_id, as_of, label and
        propensity (``TrainingResult.test_frame`` of the offer model).
    scores : pandas.DataFrame
        The scores file: customer_id, segment_id, segment_name, offer,
        selected, reason.
    catalog : sequence of Offer
    predicted_value : pandas.Series
        Value of a response per customer_id, used for offers without a value.
    total_cost, max_contacts : optional
        The campaign's budget, applied to the random selection too.
    seed : int

    Returns
    -------
    dict of str to float
        ``oracle_roc_auc`` (the true response probability as the score on the
        held-out offers), ``segment_ari`` (adjusted Rand index of the scored
        customers' segments against their latent segments),
        ``best_offer_share`` (selected customers given the offer with the
        highest true expected value among those they may get; beside it
        ``best_offer_share_one_offer``, what one offer for all would score) and
        ``selection_gain_vs_random`` (true expected responses of the selection
        over those of a random selection under the same budget), with the
        figures behind them.
    """
    figures = _oracle(shop, test_frame)

    truth = shop.truth.set_index("customer_id")
    scored = scores.set_index("customer_id")
    figures["segment_ari"] = float(
        adjusted_rand_score(
            truth.loc[scored.index, "latent_segment"], scored["segment_id"]
        )
    )

    true_p = _true_probabilities(truth, scored.index, catalog)
    value = predicted_value.reindex(scored.index).to_numpy()
    eligible = _eligibility(scored, catalog)
    true_ev = np.where(
        eligible,
        true_p * _values(catalog, value) - _costs(catalog)[None, :],
        -np.inf,
    )
    names = np.array([o.offer_type for o in catalog], dtype=object)
    selected = scored["selected"].to_numpy(dtype=bool)
    best = names[np.argmax(true_ev, axis=1)]
    chosen = scored["offer"].to_numpy(dtype=object)
    n_selected = int(selected.sum())
    figures["best_offer_share"] = (
        float(np.mean(best[selected] == chosen[selected])) if n_selected else np.nan
    )
    # what giving every selected customer the same, most often best, offer scores
    figures["best_offer_share_one_offer"] = (
        float(pd.Series(best[selected]).value_counts(normalize=True).iloc[0])
        if n_selected
        else np.nan
    )

    position = {name: i for i, name in enumerate(names)}
    chosen_index = np.array([position.get(o, -1) for o in chosen[selected]])
    ours = (
        float(true_p[np.flatnonzero(selected), chosen_index].sum())
        if n_selected
        else 0.0
    )
    pool = (
        ~scored["reason"]
        .isin(["opted_out", "cooldown", "no_eligible_offer"])
        .to_numpy()
    )
    random_mean = _random_selection(
        true_p[pool],
        eligible[pool],
        _costs(catalog),
        total_cost=total_cost,
        max_contacts=max_contacts if max_contacts is not None else None,
        n_contacts=n_selected if total_cost is None and max_contacts is None else None,
        seed=seed,
    )
    figures["true_expected_responses_selected"] = ours
    figures["true_expected_responses_random"] = random_mean
    figures["selection_gain_vs_random"] = (
        ours / random_mean if random_mean > 0 else np.nan
    )
    logger.info(
        "Against the truth: ROC AUC %.3f vs oracle %.3f; segment ARI %.2f; best offer "
        "for %.0f%% of %d selected; %.1fx the true expected responses of a random "
        "selection",
        figures["roc_auc_on_truth_rows"],
        figures["oracle_roc_auc"],
        figures["segment_ari"],
        100 * figures["best_offer_share"],
        n_selected,
        figures["selection_gain_vs_random"],
    )
    return figures


def _oracle(shop, test_frame: pd.DataFrame) -> dict[str, float]:
    offer_truth = shop.offer_truth.assign(
        as_of=lambda t: t["sent_at"].dt.tz_convert("UTC").dt.date,
        customer_id=lambda t: t["customer_id"].astype(str),
    )[["customer_id", "as_of", "p_respond"]]
    matched = test_frame[["customer_id", "as_of", "label", "propensity"]].merge(
        offer_truth, on=["customer_id", "as_of"], how="inner", validate="one_to_one"
    )
    if len(matched) < len(test_frame):
        logger.warning(
            "%d held-out offers have no truth row", len(test_frame) - len(matched)
        )
    return {
        "oracle_roc_auc": float(roc_auc_score(matched["label"], matched["p_respond"])),
        "roc_auc_on_truth_rows": float(
            roc_auc_score(matched["label"], matched["propensity"])
        ),
        "n_truth_rows": float(len(matched)),
    }


def _true_probabilities(truth, customer_ids, catalog) -> np.ndarray:
    columns = []
    for offer in catalog:
        column = f"p_respond_{offer.offer_type}"
        if column not in truth:
            raise ValueError(
                f"the synthetic shop has no true probability for offer type "
                f"{offer.offer_type!r}; its offer types are "
                + ", ".join(
                    c.removeprefix("p_respond_")
                    for c in truth
                    if c.startswith("p_respond_")
                )
            )
        columns.append(truth.loc[customer_ids, column].to_numpy(dtype="float64"))
    return np.column_stack(columns)


def _eligibility(scored: pd.DataFrame, catalog) -> np.ndarray:
    names = scored["segment_name"].astype(str).to_numpy()
    ids = scored["segment_id"].astype(str).to_numpy()
    columns = []
    for offer in catalog:
        if offer.segments is None:
            columns.append(np.ones(len(scored), dtype=bool))
        else:
            allowed = {str(s) for s in offer.segments}
            columns.append(np.isin(names, list(allowed)) | np.isin(ids, list(allowed)))
    return np.column_stack(columns)


def _values(catalog, predicted_value: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [
            predicted_value
            if offer.value is None
            else np.full(len(predicted_value), offer.value)
            for offer in catalog
        ]
    )


def _costs(catalog) -> np.ndarray:
    return np.array([offer.cost for offer in catalog], dtype="float64")


def _random_selection(
    true_p: np.ndarray,
    eligible: np.ndarray,
    costs: np.ndarray,
    *,
    total_cost: float | None,
    max_contacts: int | None,
    n_contacts: int | None,
    seed: int,
) -> float:
    """Mean true expected responses of random customers with random eligible offers.

    Customers are taken in a random order, each with one of their eligible
    offers drawn at random, until the next one no longer fits the budget.
    """
    rng = np.random.default_rng(seed)
    limit = n_contacts if n_contacts is not None else max_contacts
    has_offer = eligible.any(axis=1)
    true_p, eligible = true_p[has_offer], eligible[has_offer]
    # an offer drawn uniformly among each customer's eligible ones
    weights = eligible / eligible.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(weights, axis=1)
    totals = []
    for _ in range(N_RANDOM_DRAWS):
        order = rng.permutation(len(true_p))
        u = rng.random(len(order))[:, None]
        offer = np.minimum((u >= cumulative[order]).sum(axis=1), eligible.shape[1] - 1)
        spent = np.cumsum(costs[offer])
        take = np.ones(len(order), dtype=bool)
        if total_cost is not None:
            take &= spent <= total_cost
        if limit is not None:
            take &= np.arange(len(order)) < limit
        totals.append(float(true_p[order[take], offer[take]].sum()))
    return float(np.mean(totals))
