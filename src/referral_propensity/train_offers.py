"""Train the offer-response model on past referral campaigns.

Each row is one offer sent to one customer: features as of the day it was
sent (events strictly before that day), the offer type, and the label "a
response within horizon_days after sent_at". Campaigns split out of time:
offers sent on or after the test as_of are held out; offers whose label
window closes by the test as_of fit the model, the latest day of them
validating (early stopping and calibration). Control rows (offers held back)
never become training rows; the held-out control rows measure the
incremental response.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import numpy as np
import pandas as pd

from referral_propensity import progress
from referral_propensity.errors import InputValidationError
from referral_propensity.evaluate import evaluate_with_baselines
from referral_propensity.features import build_features
from referral_propensity.inactivity import mark_inactive
from referral_propensity.io.tables import Tables
from referral_propensity.labels import build_offer_response_rows
from referral_propensity.model import PropensityModel
from referral_propensity.segments import Segmenter
from referral_propensity.train import (
    NOT_FEATURES,
    TrainingResult,
    TrainingSettings,
    feature_importance,
    fit_booster,
    fit_calibrator,
    model_settings,
)

logger = logging.getLogger(__name__)

#: columns of an offer row that are never model inputs (offer_type is one)
_NOT_OFFER_FEATURES = NOT_FEATURES | {"offer_row", "group"}
#: share of the held-out ranking in which the incremental response is measured
_TOP_SHARE = 0.3


def latest_complete_offer_day(tables: Tables, *, horizon_days: int) -> dt.date:
    """The latest day offers were sent whose responses are all known.

    Raises
    ------
    InputValidationError
        When no offer has a complete response window.
    """
    _check_offers_given(tables)
    rows = build_offer_response_rows(tables, horizon_days=horizon_days)
    if rows.empty:
        raise InputValidationError(
            f"offers table: no offer was sent at least {horizon_days} days before "
            "the end of the data, so no response label is known; shorten "
            "label.horizon_days or add later data"
        )
    return max(rows["as_of"])


def _check_offers_given(tables: Tables) -> None:
    if tables.offers is None:
        raise InputValidationError(
            "label.kind 'offer_response' learns from past offers, but no offers "
            "table was given; set data.offers.path or pass --offers"
        )


def count_unknown_customers(tables: Tables) -> tuple[int, list[str]]:
    """Offer rows whose customer has no transaction and no customers row."""
    known = f"SELECT customer_id FROM {tables.transactions.relation.alias}"
    if tables.customers is not None:
        known += f" UNION SELECT customer_id FROM {tables.customers.relation.alias}"
    rows = tables.con.execute(
        f"SELECT customer_id FROM {tables.offers.relation.alias} "
        f"WHERE customer_id NOT IN ({known}) ORDER BY customer_id"
    ).fetchall()
    ids = [r[0] for r in rows]
    return len(ids), sorted(set(ids))[:5]


def train_offer_model(tables: Tables, settings: TrainingSettings) -> TrainingResult:
    """Fit segments, booster and calibrator on past offers and test on the latest.

    Parameters
    ----------
    tables : Tables
        With an offers table holding ``responded_at``.
    settings : TrainingSettings
        ``test_as_of`` is the first day of the held-out campaigns.

    Returns
    -------
    TrainingResult
        Metrics are those of the held-out treatment rows, with the baselines
        under ``baseline_`` and the incremental response against the held-out
        control rows (``treatment_response_rate``, ``control_response_rate``,
        ``incremental_response_rate`` and the same within the top 30 % of the
        ranking, ``*_top30``). ``test_frame`` holds the held-out treatment rows
        with their offer_row, so a test can match them to known truth.

    Raises
    ------
    InputValidationError
        When no offers fall before or after the test as_of, or the training
        rows hold a single class.
    """
    started = time.perf_counter()
    _check_offers_given(tables)
    rows = build_offer_response_rows(tables, horizon_days=settings.horizon_days)
    n_unknown, shown = count_unknown_customers(tables)
    if n_unknown:
        logger.warning(
            "%d offer row(s) name customers with no transaction and no customers "
            "row (first: %s); they have no history to learn from and are left out",
            n_unknown,
            ", ".join(shown),
        )

    test_day = settings.test_as_of
    horizon = dt.timedelta(days=settings.horizon_days)
    held_out = rows[rows["as_of"] >= test_day]
    fitting = rows[
        (rows["as_of"] + horizon <= test_day) & (rows["group"] == "treatment")
    ]
    _check_split(rows, held_out, fitting, test_day, settings.horizon_days)

    event_types = tables.event_types()
    snapshots = _offer_snapshots(
        tables, pd.concat([fitting, held_out]), settings, event_types
    )
    labelled = pd.concat([fitting, held_out]).merge(
        snapshots, on=["customer_id", "as_of"], how="inner", validate="many_to_one"
    )
    n_without_history = len(fitting) + len(held_out) - len(labelled)
    if n_without_history:
        logger.info(
            "%d offer row(s) went to customers with no purchase before the offer "
            "and are left out",
            n_without_history,
        )

    valid_day = max(fitting["as_of"])
    fit_rows = labelled[labelled["as_of"] < test_day]
    train_rows = fit_rows[fit_rows["as_of"] < valid_day].reset_index(drop=True)
    valid_rows = fit_rows[fit_rows["as_of"] == valid_day].reset_index(drop=True)
    if train_rows.empty:
        raise InputValidationError(
            f"offers table: all offers before the test as_of {test_day} were sent "
            f"on one day ({valid_day}); at least two campaign days are needed "
            "(one to train, the latest to validate)"
        )
    for name, part in (("training", train_rows), ("validation", valid_rows)):
        if part["label"].nunique() < 2:
            raise InputValidationError(
                f"the {name} offers hold only label {part['label'].iloc[0]} "
                f"({len(part)} rows); widen label.horizon_days or add campaigns"
            )

    model = _fit_model(tables, train_rows, valid_rows, valid_day, settings, event_types)

    test_rows = labelled[labelled["as_of"] >= test_day].reset_index(drop=True)
    treated = test_rows[test_rows["group"] == "treatment"].reset_index(drop=True)
    control = test_rows[test_rows["group"] == "control"].reset_index(drop=True)
    scored = model.predict_frame(treated)
    test_frame = treated.assign(
        propensity=scored["propensity"].to_numpy(),
        segment_id=scored["segment_id"].to_numpy(),
        segment_name=scored["segment_name"].to_numpy(),
    )
    metrics, gains = evaluate_with_baselines(
        treated, treated["label"].to_numpy(), test_frame["propensity"].to_numpy()
    )
    metrics.update(_incremental_response(model, test_frame, control))
    metrics["best_iteration"] = float(
        model.booster.best_iteration or model.booster.current_iteration()
    )
    metrics["n_segments"] = float(model.segmenter.k_)
    metrics["n_train_rows"] = float(len(train_rows))
    metrics["n_validation_rows"] = float(len(valid_rows))
    metrics["offers_n_unknown_customer_rows"] = float(n_unknown)
    metrics["offers_n_rows_without_history"] = float(n_without_history)
    metrics.update(_rates_by_offer(test_frame))

    logger.info(
        "Trained on %d offers from %d campaign day(s), tested on %d offers sent from "
        "%s: ROC AUC %.3f (recency %.3f, RFM %.3f), top-decile lift %.2f in %.1f s",
        len(fit_rows),
        fit_rows["as_of"].nunique(),
        len(treated),
        test_day,
        metrics["roc_auc"],
        metrics["baseline_recency_roc_auc"],
        metrics["baseline_rfm_roc_auc"],
        metrics["lift_top_decile"],
        time.perf_counter() - started,
    )
    return TrainingResult(
        model=model,
        metrics=metrics,
        gains=gains,
        test_frame=test_frame,
        segment_profile=model.segmenter.profile_,
        feature_importance=feature_importance(model),
        snapshots=_summary(train_rows, valid_rows, test_rows),
        params={
            "derived.offer_days": ",".join(
                str(d) for d in sorted(set(fit_rows["as_of"]))
            ),
            "derived.test_as_of": str(test_day),
            "derived.validation_as_of": str(valid_day),
            "derived.event_types": ",".join(event_types),
            "derived.n_features": str(len(model.feature_columns)),
        },
    )


def _check_split(rows, held_out, fitting, test_day, horizon_days) -> None:
    if rows.empty:
        raise InputValidationError(
            "offers table: no offer has a complete response window; shorten "
            "label.horizon_days or add later data"
        )
    if held_out.empty:
        raise InputValidationError(
            f"offers table: no offer with a known response was sent on or after the "
            f"test as_of {test_day} (the latest is {max(rows['as_of'])}); pick an "
            "earlier training.test_as_of"
        )
    if fitting.empty:
        raise InputValidationError(
            f"offers table: no treatment offer was answered or not by {test_day} "
            f"(sent at least {horizon_days} days before it); pick a later "
            "training.test_as_of or shorten label.horizon_days"
        )


def _offer_snapshots(tables, rows, settings, event_types) -> pd.DataFrame:
    """Features of every customer as of each day offers were sent."""
    frames = []
    days = sorted(set(rows["as_of"]))
    # Limitation: one feature build per send day; offers sent on hundreds of
    # distinct days make as many builds (campaign waves make a handful).
    for as_of in progress.iterate(days, "Building features for each campaign day"):
        features = build_features(
            tables,
            as_of=as_of,
            windows_days=settings.windows_days,
            event_types=event_types,
        )
        marked = mark_inactive(
            features.frame,
            no_purchase_days=settings.no_purchase_days,
            no_engagement_days=settings.no_engagement_days,
            lapse_stage_edges_days=settings.lapse_stage_edges_days,
        )
        wanted = marked["customer_id"].isin(
            rows.loc[rows["as_of"] == as_of, "customer_id"]
        )
        frames.append(marked[wanted].assign(as_of=as_of))
    return pd.concat(frames, ignore_index=True)


def _fit_model(tables, train_rows, valid_rows, valid_day, settings, event_types):
    # segments are found among the inactive customers of the validation day
    segment_rows = valid_rows.drop_duplicates("customer_id")
    segment_rows = segment_rows[segment_rows["is_inactive"]]
    if len(segment_rows) < 2 * settings.segments.get("k_max", 7):
        segment_rows = valid_rows.drop_duplicates("customer_id")
    segmenter = Segmenter(
        **settings.segments,
        random_state=settings.seed,
        recently_lapsed_days=2 * settings.no_purchase_days,
    ).fit(segment_rows, segment_rows["label"])

    feature_columns = [c for c in train_rows.columns if c not in _NOT_OFFER_FEATURES]
    both = pd.concat([train_rows, valid_rows])
    categories = {
        c: sorted(both[c].dropna().astype(str).unique())
        for c in feature_columns
        if not pd.api.types.is_numeric_dtype(train_rows[c].dtype)
    }
    model = PropensityModel(
        segmenter=segmenter,
        booster=None,
        calibrator=None,
        feature_columns=feature_columns,
        categories=categories,
        settings={
            **model_settings(settings, event_types),
            "label_kind": "offer_response",
            "validation_as_of": str(valid_day),
        },
    )
    model.booster = fit_booster(model, train_rows, valid_rows, settings)
    model.calibrator = fit_calibrator(
        model.raw_score(valid_rows), valid_rows["label"], settings.calibration
    )
    return model


def _incremental_response(model, treated_frame, control) -> dict[str, float]:
    """Response of the treated against the held-back control rows."""
    if control.empty:
        return {}
    control_score = model.predict_frame(control)["propensity"].to_numpy()
    treated_score = treated_frame["propensity"].to_numpy()
    # one cut for both groups: the score above which the top 30 % of treated lie
    cut = np.quantile(treated_score, 1 - _TOP_SHARE)
    treated_rate = float(treated_frame["label"].mean())
    control_rate = float(control["label"].mean())
    top_treated = float(treated_frame.loc[treated_score >= cut, "label"].mean())
    top_control_rows = control.loc[control_score >= cut, "label"]
    top_control = float(top_control_rows.mean()) if len(top_control_rows) else np.nan
    return {
        "treatment_response_rate": treated_rate,
        "control_response_rate": control_rate,
        "incremental_response_rate": treated_rate - control_rate,
        "treatment_response_rate_top30": top_treated,
        "control_response_rate_top30": top_control,
        "incremental_response_rate_top30": top_treated - top_control,
        "n_control_rows": float(len(control)),
    }


def _rates_by_offer(test_frame: pd.DataFrame) -> dict[str, float]:
    by_offer = test_frame.groupby("offer_type")["label"].mean()
    return {f"response_rate_{name}": float(rate) for name, rate in by_offer.items()}


def _summary(train_rows, valid_rows, test_rows) -> pd.DataFrame:
    parts = [(train_rows, "train"), (valid_rows, "validation"), (test_rows, "test")]
    records = []
    for frame, role in parts:
        for (as_of, group), day in frame.groupby(["as_of", "group"]):
            records.append(
                {
                    "as_of": as_of,
                    "role": role,
                    "group": group,
                    "n_offers": len(day),
                    "n_inactive": int(day["is_inactive"].sum()),
                    "response_rate": float(day["label"].mean()),
                }
            )
    return pd.DataFrame(records)
