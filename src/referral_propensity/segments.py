"""Segments of inactive customers: clustering, ordering and readable names."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import RobustScaler
from threadpoolctl import threadpool_limits

from referral_propensity.errors import InputValidationError

logger = logging.getLogger(__name__)

#: features used for clustering when the config names none (those present)
DEFAULT_FEATURES = (
    "recency_days",
    "tenure_days",
    "n_orders",
    "spend_total",
    "spend_mean",
    "mean_gap_days",
    "refund_share",
    "days_since_engagement",
    "n_email_open_90d",
    "n_email_open_365d",
    "n_email_click_365d",
    "n_site_visit_90d",
    "n_site_visit_365d",
)

#: features shown in the profile table (those present)
PROFILE_FEATURES = (
    "recency_days",
    "n_orders",
    "spend_total",
    "spend_mean",
    "tenure_days",
    "days_since_engagement",
    "n_email_open_90d",
)

_SILHOUETTE_SAMPLE = 5000
_SKEW_FOR_LOG = 1.0


class Segmenter:
    """Cluster inactive customers and name the clusters.

    Parameters
    ----------
    method : {"kmeans", "gmm"}, default="kmeans"
    k_min, k_max : int, default=3, 7
        Range of the number of segments tried.
    criterion : {"silhouette", "bic"}, default="silhouette"
        Highest silhouette (on a seeded sample of up to 5,000 rows) or lowest
        BIC (Gaussian mixture only) picks k.
    features : list of str, optional
        Columns to cluster on; :data:`DEFAULT_FEATURES` present in the data
        when None.
    order_by : str, default="spend_total"
        Segment ids follow the segments' median of this column, ascending
        (ties by segment size, larger first), so they are stable between runs.
    max_fit_rows : int, default=50000
        A seeded sample of at most this many rows fits the clusters.
    random_state : int, default=0
    recently_lapsed_days : int, optional
        A segment is called "recently lapsed" only when its median recency is
        at most this many days (training passes twice the inactivity
        threshold), so a cohort that lapsed long ago is never called recent.

    Attributes
    ----------
    columns_ : list of str
        Columns kept after dropping constant ones.
    k_ : int
        Number of segments chosen.
    scores_ : dict of int to float
        Criterion value for each k tried.
    names_ : dict of int to str
        segment_id -> segment_name.
    profile_ : pandas.DataFrame
        The segment table of the fitting data (see :meth:`profile`).

    Notes
    -----
    Missing values are filled with the fitting data's medians. Columns with a
    skew above 1 are log-transformed (``log1p``) after clipping at 0, so a
    customer with no or negative net spend never yields ``-inf``; customers
    clipped that way are named in a warning. Every column is then scaled by
    its median and interquartile range.
    """

    def __init__(
        self,
        *,
        method: str = "kmeans",
        k_min: int = 3,
        k_max: int = 7,
        criterion: str = "silhouette",
        features: list[str] | None = None,
        order_by: str = "spend_total",
        max_fit_rows: int = 50_000,
        random_state: int = 0,
        recently_lapsed_days: int | None = None,
    ):
        self.method = method
        self.k_min = k_min
        self.k_max = k_max
        self.criterion = criterion
        self.features = features
        self.order_by = order_by
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state
        self.recently_lapsed_days = recently_lapsed_days

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> Segmenter:
        """Fit the transform and the clusters on inactive customers.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows of inactive customers (customer_id optional).
        y : pandas.Series, optional
            Past labels aligned with X, for the profile's response rate.

        Returns
        -------
        Segmenter
        """
        started = time.perf_counter()
        if len(X) < self.k_min * 2:
            raise InputValidationError(
                f"{len(X)} inactive customers are too few for {self.k_min} segments; "
                f"lower segments.k_min or check the inactivity settings"
            )
        candidates = list(self.features or [c for c in DEFAULT_FEATURES if c in X])
        missing = [c for c in candidates if c not in X]
        if missing:
            raise InputValidationError(
                f"segments.features names column(s) not in the feature table: "
                f"{', '.join(missing)} (available: {', '.join(map(str, X.columns))})"
            )
        self._warn_clipped(X, candidates)

        raw = X[candidates].astype("float64")
        self.medians_ = raw.median().fillna(0.0)
        filled = raw.fillna(self.medians_)
        self.log_columns_ = [
            c for c in candidates if filled[c].clip(lower=0).skew() > _SKEW_FOR_LOG
        ]
        transformed = self._log(filled)
        self.columns_ = [c for c in candidates if transformed[c].nunique() > 1]
        dropped = sorted(set(candidates) - set(self.columns_))
        if dropped:
            logger.debug("Dropped constant segment columns: %s", ", ".join(dropped))
        if not self.columns_:
            raise InputValidationError(
                "every segment feature is constant among inactive customers"
            )
        self.scaler_ = RobustScaler(unit_variance=False).fit(transformed[self.columns_])
        scaled = self._scale(transformed)

        rng = np.random.default_rng(self.random_state)
        fit_rows = _sample(len(scaled), self.max_fit_rows, rng)
        score_rows = _sample(len(fit_rows), _SILHOUETTE_SAMPLE, rng)
        self.scores_ = {}
        models = {}
        # one thread: beside LightGBM's OpenMP runtime, scikit-learn's threads
        # spin against each other and run ten times slower on a small machine
        with threadpool_limits(limits=1):
            for k in range(self.k_min, min(self.k_max, len(fit_rows) - 1) + 1):
                model = self._new_model(k).fit(scaled[fit_rows])
                models[k] = model
                self.scores_[k] = self._score(model, scaled[fit_rows], score_rows)
        pick = max if self.criterion == "silhouette" else min
        self.k_ = pick(self.scores_, key=lambda k: (self.scores_[k], -k))
        self.model_ = models[self.k_]

        self._order_segments(X, scaled)
        self.profile_ = self.profile(X, y)
        self.names_ = dict(
            zip(self.profile_["segment_id"], self.profile_["segment_name"], strict=True)
        )
        logger.info(
            "Found %d segments among %d inactive customers (%s by %s, tried k=%d..%d) "
            "in %.1f s",
            self.k_,
            len(X),
            self.method,
            self.criterion,
            self.k_min,
            self.k_max,
            time.perf_counter() - started,
        )
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Segment id of each row, ordered as described in the class."""
        with threadpool_limits(limits=1):
            labels = self.model_.predict(self._scale(self._log(self._prepare(X))))
        return self.order_[labels]

    def name(self, segment_ids: np.ndarray) -> np.ndarray:
        """Segment names for an array of segment ids."""
        return np.array([self.names_[int(s)] for s in segment_ids], dtype=object)

    def profile(self, X: pd.DataFrame, y: pd.Series | None = None) -> pd.DataFrame:
        """The segment table: size, share, medians and response rate.

        Returns
        -------
        pandas.DataFrame
            segment_id, segment_name, n_customers, share, the medians of the
            :data:`PROFILE_FEATURES` present (``median_<feature>``), and
            response_rate when labels are given.
        """
        segment_ids = self.predict(X)
        shown = [c for c in PROFILE_FEATURES if c in X]
        frame = X[shown].astype("float64").assign(segment_id=segment_ids)
        if y is not None:
            frame["response_rate"] = np.asarray(y, dtype="float64")
        grouped = frame.groupby("segment_id")
        table = grouped[shown].median().add_prefix("median_")
        table.insert(0, "n_customers", grouped.size())
        table.insert(1, "share", table["n_customers"] / len(frame))
        if y is not None:
            table["response_rate"] = grouped["response_rate"].mean()
        table = table.reindex(range(self.k_)).reset_index()
        table["n_customers"] = table["n_customers"].fillna(0).astype("int64")
        if hasattr(self, "names_"):
            names = [self.names_[i] for i in range(self.k_)]
        else:
            names = _unique(
                [
                    _describe(row, X, self.recently_lapsed_days)
                    for _, row in table.iterrows()
                ]
            )
        table.insert(1, "segment_name", names)
        return table

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        raw = X.reindex(columns=list(self.medians_.index)).astype("float64")
        return raw.fillna(self.medians_)

    def _log(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for column in self.log_columns_:
            out[column] = np.log1p(out[column].clip(lower=0))
        return out

    def _scale(self, frame: pd.DataFrame) -> np.ndarray:
        return self.scaler_.transform(frame[self.columns_])

    def _new_model(self, k: int):
        if self.method == "gmm":
            return GaussianMixture(
                n_components=k,
                covariance_type="full",
                n_init=2,
                random_state=self.random_state,
            )
        return KMeans(n_clusters=k, n_init=4, random_state=self.random_state)

    def _score(self, model, X: np.ndarray, score_rows: np.ndarray) -> float:
        if self.criterion == "bic":
            return float(model.bic(X))
        labels = model.predict(X[score_rows])
        if len(np.unique(labels)) < 2:
            return -1.0
        return float(silhouette_score(X[score_rows], labels))

    def _order_segments(self, X: pd.DataFrame, scaled: np.ndarray) -> None:
        raw_labels = self.model_.predict(scaled)
        key = (
            X[self.order_by].astype("float64").to_numpy()
            if self.order_by in X
            else scaled[:, 0]
        )
        medians = []
        for label in range(self.k_):
            members = key[raw_labels == label]
            median = float(np.nanmedian(members)) if len(members) else np.inf
            medians.append((median, -len(members), label))
        ordered = [label for _, _, label in sorted(medians)]
        self.order_ = np.empty(self.k_, dtype=np.int64)
        self.order_[ordered] = np.arange(self.k_)

    def _warn_clipped(self, X: pd.DataFrame, columns: list[str]) -> None:
        spend = [c for c in ("spend_total", "spend_mean") if c in columns]
        if not spend:
            return
        bad = X[spend].astype("float64").fillna(0).le(0).any(axis=1)
        if bad.any():
            ids = (
                X.loc[bad, "customer_id"].astype(str).head(10).tolist()
                if "customer_id" in X
                else []
            )
            logger.warning(
                "%d inactive customer(s) have no positive net spend%s; their spend "
                "is clipped at 0 before the log transform",
                int(bad.sum()),
                f" ({', '.join(ids)}{', ...' if bad.sum() > 10 else ''})"
                if ids
                else "",
            )


def _sample(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(rng.choice(n, size=limit, replace=False))


def _describe(row: pd.Series, X: pd.DataFrame, recently_lapsed_days: int | None) -> str:
    """A marketer's name for a segment: its medians against the quantiles of all.

    Lapse: the segment's median recency in the top third of all inactive
    customers is "long-lapsed", in the bottom third (and within
    ``recently_lapsed_days``, when set) "recently lapsed". Value:
    a median of one order is "one-time buyers"; many orders "frequent buyers";
    else spend in the top or bottom third gives "high" or "low spenders".
    Engagement: a median of at least one e-mail open in 90 days adds "still
    opening e-mails"; a long silence adds "no longer engaging".
    """

    def quantile(column: str, q: float) -> float:
        return float(X[column].astype("float64").quantile(q))

    parts = []
    if "median_recency_days" in row and pd.notna(row["median_recency_days"]):
        recency = row["median_recency_days"]
        if recency >= quantile("recency_days", 0.67):
            parts.append("long-lapsed")
        elif recency <= quantile("recency_days", 0.33) and (
            recently_lapsed_days is None or recency <= recently_lapsed_days
        ):
            parts.append("recently lapsed")

    orders = row.get("median_n_orders", np.nan)
    spend = row.get("median_spend_total", np.nan)
    high_spend = pd.notna(spend) and spend >= quantile("spend_total", 0.67)
    low_spend = pd.notna(spend) and spend <= quantile("spend_total", 0.33)
    if pd.notna(orders) and orders <= 1:
        noun = "one-time buyers"
        if high_spend:
            noun = "big-ticket one-time buyers"
    elif pd.notna(orders) and orders >= max(quantile("n_orders", 0.8), 3):
        noun = "frequent buyers"
        if high_spend:
            noun = "frequent high spenders"
    elif high_spend:
        noun = "high spenders"
    elif low_spend:
        noun = "low spenders"
    else:
        noun = "repeat buyers"
    parts.append(noun)
    name = " ".join(parts)

    opens = row.get("median_n_email_open_90d", np.nan)
    since = row.get("median_days_since_engagement", np.nan)
    if pd.notna(opens) and opens > 0:
        name += ", still opening e-mails"
    elif (
        pd.notna(since)
        and "days_since_engagement" in X
        and since >= quantile("days_since_engagement", 0.67)
    ):
        name += ", no longer engaging"
    return name


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique
