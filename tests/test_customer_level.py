"""Tests of customer-level inputs: features, labels, k-fold training, real data."""

from __future__ import annotations

import datetime as dt
import logging
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from referral_propensity.config import load_config
from referral_propensity.customer_level import (
    build_customer_features,
    customer_lightgbm_params,
    summarize_folds,
    train_customer_level,
)
from referral_propensity.engine import connect
from referral_propensity.errors import InputValidationError
from referral_propensity.inputs import table_sources
from referral_propensity.io.load import TableSource
from referral_propensity.io.tables import load_tables

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FEATURES_LOGGER = "referral_propensity.customer_level.features"


def _config_run(name: str):
    """Load the bundled table of configs/<name>.yaml and train as it says."""
    config = load_config(CONFIGS / f"{name}.yaml")
    tables = load_tables(connect(), table_sources(config))
    features = build_customer_features(tables, label_column=config.label.column)
    result = train_customer_level(
        features,
        cv_folds=config.training.cv_folds,
        calibration=config.training.calibration,
        early_stopping_rounds=config.training.early_stopping_rounds,
        lightgbm=dict(config.training.lightgbm),
        segments=config.segments.model_dump(),
        seed=config.seed,
    )
    return tables, features, result


@pytest.fixture(scope="module")
def ifood():
    return _config_run("ifood")


@pytest.fixture(scope="module")
def hillstrom():
    return _config_run("hillstrom")


# ----------------------------------------------------------------- acceptance


@pytest.mark.slow
def test_ifood_five_fold_cv_mean_roc_auc_is_at_least_0_90(ifood):
    _, _, result = ifood

    assert result.metrics["n_folds"] == 5
    assert result.metrics["n_customers"] == 2240
    assert result.metrics["roc_auc"] >= 0.90


@pytest.mark.slow
def test_hillstrom_womens_email_visit_cv_mean_roc_auc_is_at_least_0_62(hillstrom):
    tables, _, result = hillstrom

    # only the women's e-mail recipients: 21,387 of 64,000 rows
    assert tables.customers.n_rows == 21_387
    assert tables.customers.n_rows_filtered_out == 64_000 - 21_387
    assert result.metrics["n_folds"] == 5
    assert result.metrics["roc_auc"] >= 0.62


@pytest.mark.slow
def test_real_data_metrics_are_fold_means_with_their_spread(ifood, hillstrom):
    for _, _, result in (ifood, hillstrom):
        metrics = result.metrics
        for name in ("roc_auc", "pr_auc", "brier", "lift_top_decile"):
            assert np.isfinite(metrics[name])
            assert metrics[f"{name}_std"] > 0
        per_fold = result.snapshots["roc_auc"].to_numpy()
        np.testing.assert_allclose(metrics["roc_auc"], per_fold.mean(), rtol=1e-12)
        np.testing.assert_allclose(
            metrics["roc_auc_std"], per_fold.std(ddof=1), rtol=1e-12
        )


@pytest.mark.slow
def test_ifood_recency_baseline_applies_and_the_model_beats_it(ifood):
    _, _, result = ifood

    # Recency is mapped to recency_days; the RFM baseline needs n_orders and
    # spend_total, which this table does not have, so it is skipped
    assert "baseline_recency_roc_auc" in result.metrics
    assert not any(k.startswith("baseline_rfm") for k in result.metrics)
    assert result.metrics["roc_auc"] > result.metrics["baseline_recency_roc_auc"]


@pytest.mark.slow
def test_ifood_dates_become_days_and_birth_year_becomes_age(ifood):
    _, features, _ = ifood
    frame = features.frame

    # the latest Dt_Customer is 2014-06-29, so as_of is the day after
    assert features.as_of == dt.date(2014, 6, 30)
    assert "signup_tenure_days" in frame and "signup_date" not in frame
    assert frame["signup_tenure_days"].min() == 1
    assert "age" in frame and "birth_year" not in frame
    # customer 5524 was born in 1957: 2014 - 1957 = 57
    assert frame.loc[frame["customer_id"] == "5524", "age"].item() == 57
    assert {"education", "marital_status"} <= set(features.categorical)
    assert features.dropped == {"Z_CostContact": "constant", "Z_Revenue": "constant"}


@pytest.mark.slow
def test_hillstrom_outcomes_of_the_same_window_are_left_out(hillstrom):
    _, features, result = hillstrom

    # conversion and spend are non-zero only for visitors: they leak the label
    assert features.dropped["conversion"] == "looks like an outcome"
    assert features.dropped["spend"] == "looks like an outcome"
    assert features.dropped["segment"] == "constant"
    assert not {"conversion", "spend", "segment"} & set(result.model.feature_columns)


@pytest.mark.slow
def test_real_data_segment_names_mention_standout_attributes(ifood, hillstrom):
    _, _, ifood_result = ifood
    _, _, hillstrom_result = hillstrom

    ifood_names = " | ".join(ifood_result.segment_profile["segment_name"])
    hillstrom_names = " | ".join(hillstrom_result.segment_profile["segment_name"])
    assert "kids at home" in ifood_names
    assert "income" in ifood_names
    assert "mostly" in hillstrom_names or "rarely" in hillstrom_names


# -------------------------------------------------- k-fold logic, small table


def _synthetic_customers(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Customers whose response rises with income and falls with recency.

    Half the customers live in the north, where the rate is higher; the
    label is drawn from a logistic model, so no feature determines it.
    """
    rng = np.random.default_rng(seed)
    income = rng.normal(50_000, 15_000, n).round()
    recency = rng.integers(1, 100, n).astype("float64")
    region = rng.choice(["north", "south"], n)
    logit = (
        -1.5 + (income - 50_000) / 10_000 - (recency - 50) / 25 + (region == "north")
    )
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "customer_id": [f"K{i:04d}" for i in range(n)],
            "income": income,
            "recency_days": recency,
            "region": region,
            "label": label,
        }
    )


@pytest.fixture(scope="module")
def small_run():
    frame = _synthetic_customers()
    features = build_customer_features(frame, label_column="label")
    result = train_customer_level(
        features, cv_folds=4, segments={"k_min": 2, "k_max": 3}, seed=3
    )
    return features, result


def test_metrics_are_means_and_sample_stds_of_independently_scored_folds(small_run):
    features, result = small_run
    oof = result.test_frame
    y = oof["label"].to_numpy()

    # the folds again, from scikit-learn with the same seed, and each fold's
    # ROC AUC and PR AUC recomputed from the out-of-fold propensities
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=3)
    roc, pr = [], []
    for _, test_rows in folds.split(features.frame, features.frame["label"]):
        roc.append(roc_auc_score(y[test_rows], oof["propensity"].iloc[test_rows]))
        pr.append(
            average_precision_score(y[test_rows], oof["propensity"].iloc[test_rows])
        )

    np.testing.assert_allclose(result.metrics["roc_auc"], np.mean(roc), rtol=1e-12)
    np.testing.assert_allclose(
        result.metrics["roc_auc_std"], np.std(roc, ddof=1), rtol=1e-12
    )
    np.testing.assert_allclose(result.metrics["pr_auc"], np.mean(pr), rtol=1e-12)
    np.testing.assert_allclose(
        result.metrics["pr_auc_std"], np.std(pr, ddof=1), rtol=1e-12
    )
    assert result.metrics["n_folds"] == 4
    assert result.metrics["n_customers"] == 400
    assert result.snapshots["n_test_rows"].sum() == 400


def test_every_customer_gets_one_out_of_fold_propensity(small_run):
    _, result = small_run
    oof = result.test_frame

    assert len(oof) == 400
    assert oof["customer_id"].is_unique
    assert oof["propensity"].between(0, 1).all()
    assert {"segment_id", "segment_name", "label"} <= set(oof.columns)


def test_small_table_model_finds_the_planted_signal(small_run):
    _, result = small_run

    # income, recency and region drive the label: a loose floor
    assert result.metrics["roc_auc"] >= 0.75
    assert result.metrics["baseline_recency_roc_auc"] < result.metrics["roc_auc"]


def test_summarize_folds_matches_a_hand_computation():
    folds = [
        {"roc_auc": 0.6, "brier": 0.20, "n_customers": 10.0},
        {"roc_auc": 0.7, "brier": 0.10, "n_customers": 10.0},
        {"roc_auc": 0.8, "brier": 0.15, "n_customers": 11.0},
    ]

    summary = summarize_folds(folds)

    # mean 0.7; deviations -0.1, 0, 0.1 -> sample variance 0.02 / 2 = 0.01
    np.testing.assert_allclose(summary["roc_auc"], 0.7, rtol=1e-12)
    np.testing.assert_allclose(summary["roc_auc_std"], 0.1, rtol=1e-12)
    # brier: mean 0.15, deviations 0.05, -0.05, 0 -> variance 0.005 / 2
    np.testing.assert_allclose(summary["brier"], 0.15, rtol=1e-12)
    np.testing.assert_allclose(summary["brier_std"], np.sqrt(0.0025), rtol=1e-12)
    # the folds partition the customers, so their counts add up
    assert summary["n_customers"] == 31
    assert "n_customers_std" not in summary


def test_same_seed_gives_the_same_metrics_and_predictions(small_run):
    features, first = small_run

    second = train_customer_level(
        features, cv_folds=4, segments={"k_min": 2, "k_max": 3}, seed=3
    )

    assert first.metrics == second.metrics
    np.testing.assert_array_equal(
        first.test_frame["propensity"], second.test_frame["propensity"]
    )


def test_final_model_survives_a_pickle_round_trip(small_run):
    features, result = small_run

    restored = pickle.loads(pickle.dumps(result.model))

    pd.testing.assert_frame_equal(
        restored.predict_frame(features.frame),
        result.model.predict_frame(features.frame),
    )
    assert result.model.settings["input"] == "customer_level"


def test_small_tables_get_small_leaves_unless_the_config_says_otherwise():
    # one in a hundred fitting rows, at least 10 and at most 200
    assert customer_lightgbm_params(1434)["min_child_samples"] == 14
    assert customer_lightgbm_params(300)["min_child_samples"] == 10
    assert customer_lightgbm_params(90_000)["min_child_samples"] == 200
    params = customer_lightgbm_params(1434, {"min_child_samples": 50}, seed=4)
    assert params["min_child_samples"] == 50
    assert params["seed"] == 4


def test_too_few_positives_for_the_folds_raise():
    frame = _synthetic_customers(n=60)
    frame["label"] = 0
    frame.loc[:6, "label"] = 1  # 7 positives; 5 folds need 10

    features = build_customer_features(frame, label_column="label")

    with pytest.raises(InputValidationError, match="at least 10 of each"):
        train_customer_level(features, cv_folds=5)


# ------------------------------------------------------------------ features


def _customers(**columns) -> pd.DataFrame:
    base = {"customer_id": ["C1", "C2", "C3", "C4"]}
    return pd.DataFrame({**base, **columns})


def test_iso_text_dates_become_days_before_the_day_after_the_latest():
    frame = _customers(
        joined=["2024-01-01", "2024-03-01", None, "2024-02-29"],
        label=[0, 1, 0, 1],
    )

    features = build_customer_features(frame, label_column="label")

    # latest 2024-03-01, so as_of 2024-03-02: 61, 1, missing, 2 days back
    assert features.as_of == dt.date(2024, 3, 2)
    np.testing.assert_allclose(
        features.frame["joined_days"], [61.0, 1.0, np.nan, 2.0], rtol=0
    )


def test_given_as_of_counts_days_back_from_it_and_turns_birth_year_into_age():
    frame = _customers(
        birth_year=[1980.0, 1990.0, 2000.0, np.nan],
        signup=pd.to_datetime(
            ["2020-01-01", "2020-12-31", "2020-12-31", "2019-01-01"], utc=True
        ),
        label=[1, 0, 0, 1],
    )

    features = build_customer_features(
        frame, label_column="label", as_of=dt.date(2021, 1, 1)
    )

    # 2021 - 1980 = 41, 2021 - 1990 = 31, 2021 - 2000 = 21; missing stays missing
    np.testing.assert_allclose(
        features.frame["age"], [41.0, 31.0, 21.0, np.nan], rtol=0
    )
    assert "birth_year" not in features.frame
    # 2020 was a leap year: 366 days from its first day, 1 from its last,
    # 366 + 365 from 2019-01-01
    np.testing.assert_allclose(
        features.frame["signup_days"], [366.0, 1.0, 1.0, 731.0], rtol=0
    )


def test_text_attributes_stay_categorical_and_labels_accept_true_false():
    frame = _customers(
        channel=["Web", "Phone", "Web", "Store"],
        label=["true", "False", " TRUE ", "false"],
    )

    features = build_customer_features(frame, label_column="label")

    assert features.categorical == ["channel"]
    assert features.frame["label"].tolist() == [1, 0, 1, 0]


def test_rows_come_sorted_by_customer_id_whatever_the_input_order():
    frame = _customers(x=[1.0, 2.0, 3.0, 4.0], label=[0, 1, 0, 1]).iloc[::-1]

    features = build_customer_features(frame, label_column="label")

    assert features.frame["customer_id"].tolist() == ["C1", "C2", "C3", "C4"]
    assert features.frame["x"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert features.frame["label"].tolist() == [0, 1, 0, 1]


def test_a_column_set_only_on_positive_rows_is_left_out_with_a_warning(caplog):
    rng = np.random.default_rng(1)
    n = 200
    label = (rng.random(n) < 0.2).astype("int64")
    # 'bought' is non-zero on every positive row and never on a negative one;
    # 'score' is an honest feature, noisy in both classes
    frame = pd.DataFrame(
        {
            "customer_id": [f"D{i:03d}" for i in range(n)],
            "bought": np.where(label == 1, rng.integers(1, 5, n), 0),
            "score": rng.normal(0, 1, n) + label,
            "label": label,
        }
    )

    with caplog.at_level(logging.WARNING, logger=FEATURES_LOGGER):
        features = build_customer_features(frame, label_column="label")
        kept = build_customer_features(frame, label_column="label", outcome_check=False)

    assert "bought" not in features.frame and "score" in features.frame
    assert features.dropped == {"bought": "looks like an outcome"}
    assert "bought" in kept.frame
    assert any("bought" in r.getMessage() for r in caplog.records)


def test_scoring_mode_reads_no_label_and_drops_nothing():
    frame = _customers(
        constant=[1.0, 1.0, 1.0, 1.0], income=[1.0, 2.0, 3.0, 4.0], label=[9, 9, 9, 9]
    )

    features = build_customer_features(frame, label_column=None)

    # the label column of an old extract is just another column when scoring
    assert "label" in features.frame and "constant" in features.frame
    assert features.dropped == {}


def test_excluded_columns_never_become_features():
    frame = _customers(
        a=[1.0, 2.0, 3.0, 4.0], b=[4.0, 3.0, 1.0, 2.0], label=[0, 1, 0, 1]
    )

    features = build_customer_features(frame, label_column="label", exclude=["b"])

    assert features.feature_columns == ["a"]
    with pytest.raises(InputValidationError, match="not in customers: zz"):
        build_customer_features(frame, label_column="label", exclude=["zz"])


# ------------------------------------------------------------- label errors


def test_label_that_is_not_zero_or_one_names_column_rows_and_fix():
    frame = _customers(x=[1.0, 2.0, 3.0, 4.0], label=[0, 2, 1, 5])

    # customers C2 and C4 hold 2 and 5 (written as whole numbers, not 2.0)
    with pytest.raises(
        InputValidationError,
        match=r"customers\.label \(the label\) has 2 value\(s\) that are not 0/1 "
        r"or true/false: customer_id C2, C4 \(values 2, 5\); recode the column",
    ):
        build_customer_features(frame, label_column="label")


def test_text_label_that_is_not_true_or_false_is_refused():
    frame = _customers(x=[1.0, 2.0, 3.0, 4.0], label=["yes", "0", "1", "no"])

    with pytest.raises(
        InputValidationError, match=r"customer_id C1, C4 \(values 'yes', 'no'\)"
    ):
        build_customer_features(frame, label_column="label")


def test_missing_labels_name_the_rows():
    frame = _customers(x=[1.0, 2.0, 3.0, 4.0], label=[0.0, np.nan, 1.0, np.nan])

    with pytest.raises(
        InputValidationError,
        match=r"customers\.label \(the label\) is empty on 2 of 4 row\(s\): "
        r"customer_id C2, C4; every customer needs a 0/1 label",
    ):
        build_customer_features(frame, label_column="label")


def test_label_errors_in_a_file_name_the_customers(write_file):
    # customer D has no label, customer B the value 'maybe'; the count covers all
    path = write_file(
        "customers.csv",
        "ID,income,Response\nA,10,1\nB,20,maybe\nC,30,0\nD,40,\nE,50,1\n",
    )
    source = TableSource("customers", path=path, columns={"customer_id": "ID"})
    tables = load_tables(connect(), {"customers": source})

    with pytest.raises(
        InputValidationError, match=r"empty on 1 of 5 row\(s\): customer_id D;"
    ):
        build_customer_features(tables, label_column="Response")
    path.write_text("ID,income,Response\nA,10,1\nB,20,maybe\nC,30,0\n")
    tables = load_tables(connect(), {"customers": source})
    with pytest.raises(
        InputValidationError,
        match=r"1 value\(s\) that are not 0/1 or true/false: customer_id B \(values 'maybe'\)",
    ):
        build_customer_features(tables, label_column="Response")


def test_missing_label_column_lists_the_columns():
    frame = _customers(x=[1.0, 2.0, 3.0, 4.0])

    with pytest.raises(
        InputValidationError,
        match=r"no label column 'Response' \(found: customer_id, x\); set label.column",
    ):
        build_customer_features(frame, label_column="Response")


def test_tables_without_customers_are_refused(write_file):
    path = write_file("tx.csv", "customer_id,timestamp,amount\nA,2024-01-01,5\n")
    tables = load_tables(
        connect(), {"transactions": TableSource("transactions", path=path)}
    )

    with pytest.raises(InputValidationError, match="no customers table was loaded"):
        build_customer_features(tables, label_column="label")


def test_many_bad_labels_are_counted_in_full():
    labels = [0, 1] * 5 + [2, -1, 2, 2, -1, 2, 2]
    frame = pd.DataFrame(
        {"customer_id": [f"K{i:02d}" for i in range(len(labels))], "label": labels}
    )

    # seven bad rows: the first five named, "2 more", and the two distinct values
    with pytest.raises(
        InputValidationError,
        match=r"has 7 value\(s\) .*: customer_id K10, K11, K12, K13, K14 and 2 more "
        r"\(values 2, -1\)",
    ):
        build_customer_features(frame, label_column="label")
