"""The fitted propensity model: segmenter, booster and calibrator in one object."""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from referral_propensity.segments import Segmenter

#: columns of the frame returned by :meth:`PropensityModel.predict_frame`
OUTPUT_COLUMNS = (
    "customer_id",
    "segment_id",
    "segment_name",
    "propensity",
    "raw_score",
)


@dataclass
class PropensityModel:
    """Everything scoring needs, fitted together.

    Attributes
    ----------
    segmenter : Segmenter
        Fitted on inactive customers.
    booster : lightgbm.Booster
        Predicts the raw (log-odds) score.
    calibrator : object
        ``calibrator.predict(raw_score) -> probability`` (isotonic) or a
        logistic regression on the raw score (Platt).
    feature_columns : list of str
        Model inputs, in order.
    categories : dict of str to list
        Categorical column -> categories seen in training.
    settings : dict
        Feature and inactivity settings the model was trained with
        (windows_days, event_types, no_purchase_days, ...), so scoring builds
        the same features.
    """

    segmenter: Segmenter
    booster: lgb.Booster
    calibrator: object
    feature_columns: list[str]
    categories: dict[str, list] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def design_matrix(self, features: pd.DataFrame) -> pd.DataFrame:
        """The model's input columns, typed as in training.

        Missing columns are filled with NaN; categories unseen in training
        become missing.
        """
        X = features.reindex(columns=self.feature_columns)
        for column in self.feature_columns:
            if column in self.categories:
                known = self.categories[column]
                text = X[column].astype("string")
                text = text.where(text.isin(known))
                X[column] = pd.Categorical(text.astype(object), categories=known)
            else:
                X[column] = pd.to_numeric(X[column], errors="coerce").astype("float64")
        return X

    def raw_score(self, features: pd.DataFrame) -> np.ndarray:
        """The booster's raw score (log-odds before calibration)."""
        return self.booster.predict(self.design_matrix(features), raw_score=True)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability of a raw score."""
        if hasattr(self.calibrator, "predict_proba"):
            return self.calibrator.predict_proba(np.asarray(raw).reshape(-1, 1))[:, 1]
        return np.clip(self.calibrator.predict(np.asarray(raw)), 0.0, 1.0)

    def predict_frame(self, features: pd.DataFrame) -> pd.DataFrame:
        """Segment and calibrated propensity of each customer.

        Parameters
        ----------
        features : pandas.DataFrame
            A feature table (customer_id and the features).

        Returns
        -------
        pandas.DataFrame
            customer_id, segment_id, segment_name, propensity (calibrated
            probability), raw_score; one row per input row, same order.
        """
        raw = self.raw_score(features)
        segment_ids = self.segmenter.predict(features)
        return pd.DataFrame(
            {
                "customer_id": features["customer_id"].astype(str).to_numpy(),
                "segment_id": segment_ids.astype("int64"),
                "segment_name": self.segmenter.name(segment_ids),
                "propensity": self.calibrate(raw),
                "raw_score": raw,
            }
        )

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the raw score (LightGBM's own).

        Returns
        -------
        pandas.DataFrame
            One column per feature plus ``bias``; each row sums to the raw
            score.
        """
        values = self.booster.predict(self.design_matrix(features), pred_contrib=True)
        return pd.DataFrame(
            values, columns=[*self.feature_columns, "bias"], index=features.index
        )
