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
from referral_propensity.segment_names import describe_segments

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
#: weight of a one-hot category column: two customers in different categories
#: are then as far apart (squared distance 1) as two customers one
#: interquartile range apart on a scaled numeric column
CATEGORY_WEIGHT = float(np.sqrt(0.5))
#: most common categories kept per categorical attribute; rarer ones get none
MAX_CATEGORIES = 20


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
    attributes : list of str, optional
        Demographic or psychographic columns that enter the clustering beside
        ``features`` and may be named in segment names when a segment stands
        out on them ("mostly Web channel", "high income"). Numeric ones are
        transformed and scaled like the features; text ones are one-hot
        encoded with weight :data:`CATEGORY_WEIGHT`. None (the default)
        clusters on ``features`` alone.
    population : str, default="inactive customers"
        How messages call the rows (``"customers"`` for a customer-level
        table).

    Attributes
    ----------
    columns_ : list of str
        Numeric columns kept after dropping constant ones.
    categories_ : dict of str to list of str
        Categorical attribute -> the categories one-hot encoded (at most
        :data:`MAX_CATEGORIES`, most common first).
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
    its median and interquartile range. When ``features`` is None and none of
    :data:`DEFAULT_FEATURES` is present (a customer-level table), the
    clustering uses the attributes alone. A missing or rare category is
    encoded as no category (all zeros).
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
        attributes: list[str] | None = None,
        population: str = "inactive customers",
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
        self.attributes = attributes
        self.population = population

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
                f"{len(X)} {self.population} are too few for {self.k_min} segments; "
                f"lower segments.k_min or check the inactivity settings"
            )
        if self.order_by not in X and self.order_by != "spend_total":
            numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
            raise InputValidationError(
                f"segments.order_by names {self.order_by!r}, which the "
                f"{self.population} do not have; pick one of "
                f"{', '.join(numeric[:12])}{', ...' if len(numeric) > 12 else ''}"
            )
        candidates, categorical = self._columns(X)
        self._warn_clipped(X, candidates)

        raw = X[candidates].astype("float64")
        self.medians_ = raw.median().fillna(0.0)
        filled = raw.fillna(self.medians_)
        self.log_columns_ = [
            c for c in candidates if filled[c].clip(lower=0).skew() > _SKEW_FOR_LOG
        ]
        transformed = self._log(filled)
        self.columns_ = [c for c in candidates if transformed[c].nunique() > 1]
        self.categories_ = _categories(X, categorical)
        kept = set(self.columns_) | set(self.categories_)
        dropped = sorted(set(candidates + categorical) - kept)
        if dropped:
            logger.debug("Dropped constant segment columns: %s", ", ".join(dropped))
        if not kept:
            raise InputValidationError(
                f"every segment feature is constant among {self.population}"
            )
        self.scaler_ = (
            RobustScaler(unit_variance=False).fit(transformed[self.columns_])
            if self.columns_
            else None
        )
        scaled = np.hstack([self._scale(transformed), self._one_hot(X)])

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
            "Found %d segments among %d %s (%s by %s, tried k=%d..%d) in %.1f s",
            self.k_,
            len(X),
            self.population,
            self.method,
            self.criterion,
            self.k_min,
            self.k_max,
            time.perf_counter() - started,
        )
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Segment id of each row, ordered as described in the class."""
        design = self._design(X)
        with threadpool_limits(limits=1):
            labels = self.model_.predict(design)
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
            :data:`PROFILE_FEATURES` present and of the numeric attributes
            (``median_<column>``), for each categorical attribute its most
            common value and that value's share in the segment
            (``top_<column>``, ``top_<column>_share``), and response_rate when
            labels are given.
        """
        segment_ids = self.predict(X)
        attributes = list(getattr(self, "attributes", None) or [])
        categorical = [c for c in attributes if _is_text(X[c])]
        shown = [c for c in PROFILE_FEATURES if c in X]
        shown += [c for c in attributes if c not in categorical and c not in shown]
        frame = X[shown].astype("float64").assign(segment_id=segment_ids)
        if y is not None:
            frame["response_rate"] = np.asarray(y, dtype="float64")
        grouped = frame.groupby("segment_id")
        table = grouped[shown].median().add_prefix("median_")
        table.insert(0, "n_customers", grouped.size())
        table.insert(1, "share", table["n_customers"] / len(frame))
        if y is not None:
            table["response_rate"] = grouped["response_rate"].mean()
        for column in categorical:
            top, share = _top_values(X[column], segment_ids)
            table[f"top_{column}"] = top
            table[f"top_{column}_share"] = share
        table = table.reindex(range(self.k_)).reset_index()
        table["n_customers"] = table["n_customers"].fillna(0).astype("int64")
        if hasattr(self, "names_"):
            names = [self.names_[i] for i in range(self.k_)]
        else:
            names = describe_segments(
                table,
                X,
                segment_ids,
                attributes=attributes,
                features=[c for c in self.columns_ if c not in attributes],
                recently_lapsed_days=self.recently_lapsed_days,
            )
        table.insert(1, "segment_name", names)
        return table

    def _columns(self, X: pd.DataFrame) -> tuple[list[str], list[str]]:
        """Numeric columns (features, then numeric attributes) and text attributes."""
        attributes = list(self.attributes or [])
        if self.features:
            features = list(self.features)
        else:
            features = [c for c in DEFAULT_FEATURES if c in X and c not in attributes]
        missing = [c for c in features if c not in X]
        if missing:
            raise InputValidationError(
                f"segments.features names column(s) not in the feature table: "
                f"{', '.join(missing)} (available: {', '.join(map(str, X.columns))})"
            )
        missing = [c for c in attributes if c not in X]
        if missing:
            raise InputValidationError(
                f"segments.attributes names column(s) not in the table: "
                f"{', '.join(missing)} (available: {', '.join(map(str, X.columns))})"
            )
        categorical = [c for c in attributes if _is_text(X[c])]
        numeric = features + [
            c for c in attributes if c not in categorical and c not in features
        ]
        if not numeric and not categorical:
            raise InputValidationError(
                f"no column to segment on: none of the default features "
                f"({', '.join(DEFAULT_FEATURES[:4])}, ...) is in the table; set "
                f"segments.features or segments.attributes (available: "
                f"{', '.join(c for c in map(str, X.columns) if c != 'customer_id')})"
            )
        return numeric, categorical

    def _design(self, X: pd.DataFrame) -> np.ndarray:
        """The matrix the clusters see: numeric part, then the one-hot part."""
        return np.hstack([self._scale(self._log(self._prepare(X))), self._one_hot(X)])

    def _one_hot(self, X: pd.DataFrame) -> np.ndarray:
        blocks = []
        for column, known in getattr(self, "categories_", {}).items():
            text = X[column].astype("string")
            hits = [(text == value).fillna(False).to_numpy(bool) for value in known]
            blocks.append(np.column_stack(hits).astype("float64") * CATEGORY_WEIGHT)
        if not blocks:
            return np.empty((len(X), 0))
        return np.hstack(blocks)

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        raw = X.reindex(columns=list(self.medians_.index)).astype("float64")
        return raw.fillna(self.medians_)

    def _log(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for column in self.log_columns_:
            out[column] = np.log1p(out[column].clip(lower=0))
        return out

    def _scale(self, frame: pd.DataFrame) -> np.ndarray:
        if self.scaler_ is None:
            return np.empty((len(frame), 0))
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


def _categories(X: pd.DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """Categories to one-hot encode per column; a column with one is constant."""
    found = {}
    for column in columns:
        counts = X[column].astype("string").value_counts(dropna=True)
        has_missing = bool(X[column].isna().any())
        if len(counts) + int(has_missing) < 2:
            continue
        # most common first, ties by name, so the encoding is stable
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        found[column] = [str(value) for value, _ in ordered[:MAX_CATEGORIES]]
    return found


def _is_text(values: pd.Series) -> bool:
    return not (
        pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    )


def _top_values(values: pd.Series, segment_ids: np.ndarray):
    """Most common value of each segment and its share (missing counts as none)."""
    text = pd.Series(values.astype("string").to_numpy(), dtype="string")
    top, share = {}, {}
    for segment in np.unique(segment_ids):
        members = text[segment_ids == segment]
        counts = members.value_counts(dropna=True)
        top[int(segment)] = counts.index[0] if len(counts) else None
        share[int(segment)] = (
            float(counts.iloc[0] / len(members)) if len(counts) else 0.0
        )
    return pd.Series(top, dtype=object), pd.Series(share, dtype="float64")
