"""Load and check the YAML settings of a run.

The config is read once (by the command line) and turned into plain arguments
for each stage; no stage reads the config itself.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from referral_propensity.errors import InputValidationError

TABLE_NAMES = ("transactions", "customers", "engagement", "offers")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TableConfig(_Strict):
    """Where one input table lives and how to read it.

    ``columns`` maps contract names onto the file's names; for the customers
    table any attribute name is allowed, for the others only contract names.
    """

    path: Path | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    sep: str = ","
    decimal: str = "."
    thousands: str | None = None
    date_format: str | dict[str, str] | None = None
    encoding: Literal["utf-8", "utf-16", "latin-1"] = "utf-8"
    # keep only rows whose column equals the value (file column names)
    where: dict[str, str | int | float | bool] = Field(default_factory=dict)


class SyntheticConfig(_Strict):
    """Size and seed of the generated demo shop."""

    n_customers: int = Field(20_000, ge=50)
    start: dt.date = dt.date(2023, 1, 1)
    end: dt.date = dt.date(2025, 12, 31)
    seed: int = 0


class DataConfig(_Strict):
    """The input tables: generated, bundled, or files."""

    # bundled: table paths name files shipped in the package (see configs/README.md)
    source: Literal["synthetic", "cdnow", "files", "bundled"] = "files"
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)
    transactions: TableConfig = Field(default_factory=TableConfig)
    customers: TableConfig | None = None
    engagement: TableConfig | None = None
    offers: TableConfig | None = None

    @model_validator(mode="after")
    def _known_columns(self) -> DataConfig:
        from referral_propensity.io.contract import OPTIONAL, REQUIRED

        for name in ("transactions", "engagement", "offers"):
            table = getattr(self, name)
            if table is None:
                continue
            known = {**REQUIRED[name], **OPTIONAL[name]}
            unknown = sorted(set(table.columns) - set(known))
            if unknown:
                raise ValueError(
                    f"data.{name}.columns maps unknown name(s) {', '.join(unknown)}; "
                    f"the keys are contract names: {', '.join(known)}"
                )
        return self

    @property
    def customer_level(self) -> bool:
        """True when the only input is a customer-level table (no transactions)."""
        return (
            self.source in ("files", "bundled")
            and self.transactions.path is None
            and self.customers is not None
            and self.customers.path is not None
        )


class FeatureConfig(_Strict):
    """Windows of the windowed aggregates."""

    windows_days: list[int] = Field(default_factory=lambda: [30, 90, 180, 365])

    @model_validator(mode="after")
    def _positive_distinct(self) -> FeatureConfig:
        if not self.windows_days or any(w < 1 for w in self.windows_days):
            raise ValueError("features.windows_days must be positive numbers of days")
        if len(set(self.windows_days)) != len(self.windows_days):
            raise ValueError("features.windows_days repeats a window")
        return self


class InactivityConfig(_Strict):
    """Who counts as inactive, and the lapse stages."""

    no_purchase_days: int = Field(90, ge=1)
    no_engagement_days: int | None = Field(None, ge=1)
    lapse_stage_edges_days: list[int] = Field(default_factory=lambda: [180, 365])


class SegmentConfig(_Strict):
    """How segments are found among inactive customers."""

    method: Literal["kmeans", "gmm"] = "kmeans"
    k_min: int = Field(3, ge=2)
    k_max: int = Field(7, ge=2)
    criterion: Literal["silhouette", "bic"] = "silhouette"
    features: list[str] | None = None
    # customer attributes clustered on beside the features (text ones one-hot);
    # segment names mention those a segment stands out on
    attributes: list[str] | None = None
    order_by: str = "spend_total"
    max_fit_rows: int = Field(50_000, ge=100)

    @model_validator(mode="after")
    def _k_range(self) -> SegmentConfig:
        if self.k_max < self.k_min:
            raise ValueError(f"segments.k_max {self.k_max} < k_min {self.k_min}")
        if self.method == "kmeans" and self.criterion == "bic":
            raise ValueError("segments.criterion 'bic' needs method 'gmm'")
        return self


class LabelConfig(_Strict):
    """What counts as a positive label.

    reactivation: a purchase in ``[as_of, as_of + horizon_days)``;
    offer_response: a response within ``horizon_days`` after an offer was sent
    (needs the offers table); column: a 0/1 column of a customer-level table.
    """

    kind: Literal["reactivation", "offer_response", "column"] = "reactivation"
    horizon_days: int = Field(90, ge=1)
    column: str | None = None

    @model_validator(mode="after")
    def _column_for_kind(self) -> LabelConfig:
        if self.kind == "column" and not self.column:
            raise ValueError("label.kind 'column' needs label.column (the 0/1 column)")
        if self.kind != "column" and self.column:
            raise ValueError(
                f"label.column is set but label.kind is '{self.kind}'; "
                "set label.kind to 'column' or remove label.column"
            )
        return self


class TrainingConfig(_Strict):
    """Snapshots, model settings and calibration."""

    test_as_of: dt.date | None = None
    extra_test_as_of: list[dt.date] = Field(default_factory=list)
    n_snapshots: int = Field(6, ge=2)
    snapshot_step_days: int = Field(30, ge=1)
    # all customers train (more rows); metrics are always on inactive ones
    population: Literal["inactive", "all"] = "all"
    # sigmoid (Platt) keeps the booster's ranking; isotonic makes ties
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"
    early_stopping_rounds: int = Field(50, ge=1)
    # log loss on the validation rows is smoother than ROC AUC when positives are few
    early_stopping_metric: Literal["auc", "binary_logloss"] = "auc"
    # the new model becomes champion only when its test ROC AUC beats the
    # re-scored champion's by more than this
    promotion_margin: float = Field(0.0, ge=0.0, le=1.0)
    # customer-level tables (no snapshot dates) are evaluated by stratified k-fold
    cv_folds: int = Field(5, ge=2, le=20)
    # Limitation: LightGBM settings are passed through unchecked; a misspelt
    # name is ignored by LightGBM rather than refused here.
    lightgbm: dict[str, Any] = Field(default_factory=dict)


class CatalogOffer(_Strict):
    """One offer of the catalog.

    ``value`` is what a response is worth; when None it is the customer's
    predicted spend (their past ``spend_mean``). ``segments`` lists the
    segment names or ids that may get the offer (None: all; an empty list
    retires the offer).
    """

    offer_type: str = Field(min_length=1)
    cost: float = Field(0.0, ge=0)
    value: float | None = Field(None, ge=0)
    segments: list[str] | None = None

    @field_validator("segments", mode="before")
    @classmethod
    def _ids_as_text(cls, value):
        # segment ids may be written as numbers: [1, 2] means ["1", "2"]
        if isinstance(value, list):
            return [
                str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                for v in value
            ]
        return value


class BudgetConfig(_Strict):
    """Limits of one campaign: total cost, number of contacts, or both."""

    total_cost: float | None = Field(None, ge=0)
    max_contacts: int | None = Field(None, ge=0)


class ScoringConfig(_Strict):
    """The scoring date, the offer catalog and the campaign's limits."""

    as_of: dt.date | None = None
    catalog: list[CatalogOffer] = Field(
        default_factory=lambda: [CatalogOffer(offer_type="referral_invite", cost=1.0)]
    )
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    # no offer to a customer who got one fewer than this many days ago
    cooldown_days: int = Field(0, ge=0)
    # add reason_1..reason_3 to the scores: the features that raised each
    # customer's score most
    reasons: bool = False

    @model_validator(mode="after")
    def _distinct_offers(self) -> ScoringConfig:
        if not self.catalog:
            raise ValueError("scoring.catalog is empty; list at least one offer")
        names = [offer.offer_type for offer in self.catalog]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"scoring.catalog repeats offer type(s) {', '.join(repeated)}"
            )
        return self


class Config(_Strict):
    """All settings of one run."""

    experiment_name: str | None = None
    tracking_uri: str | None = None
    model_name: str = "referral-propensity"
    seed: int = 0
    output_dir: Path = Path("outputs")
    data: DataConfig = Field(default_factory=DataConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    inactivity: InactivityConfig = Field(default_factory=InactivityConfig)
    segments: SegmentConfig = Field(default_factory=SegmentConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)

    # set by load_config, not by the YAML file
    source_path: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _inputs_fit_the_label(self) -> Config:
        data = self.data
        if data.customer_level:
            if self.label.kind != "column":
                raise ValueError(
                    "the only input is a customers table, so label.kind must be "
                    "'column' (with label.column); or set data.transactions.path"
                )
        elif data.source in ("files", "bundled") and data.transactions.path is None:
            raise ValueError(
                f"data.source is '{data.source}' but data.transactions.path is not "
                "set; set it or pass --transactions PATH (or give only a customers "
                "table with label.kind 'column')"
            )
        if self.label.kind == "column" and not data.customer_level:
            raise ValueError(
                "label.kind 'column' needs a customer-level table: data.customers.path "
                "set and no data.transactions.path"
            )
        if self.label.kind == "offer_response" and data.source == "cdnow":
            raise ValueError(
                "label.kind 'offer_response' needs an offers table; the cdnow data "
                "has none"
            )
        return self

    @property
    def resolved_experiment_name(self) -> str:
        """Experiment name: the configured one, else the config file's stem."""
        if self.experiment_name:
            return self.experiment_name
        if self.source_path is not None:
            return self.source_path.stem
        return "referral-propensity"


def load_config(path: str | Path, *, overrides: dict[str, Any] | None = None) -> Config:
    """Read a YAML config and check every key.

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative data paths in it are resolved against the
        current working folder.
    overrides : dict, optional
        Dotted key paths and values applied after reading, for example
        ``{"data.transactions.path": "x.csv"}``.

    Returns
    -------
    Config

    Raises
    ------
    InputValidationError
        When the file is missing, is not YAML, or a key or value is wrong; the
        message gives the key path.
    """
    path = Path(path)
    if not path.is_file():
        raise InputValidationError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputValidationError(
            f"config file {path} is not valid YAML: {exc}"
        ) from exc
    except ValueError as exc:  # YAML read an impossible date such as 2025-13-01
        raise InputValidationError(
            f"config file {path} holds a date that does not exist ({exc}); write "
            "dates as YYYY-MM-DD"
        ) from exc
    if not isinstance(raw, dict):
        raise InputValidationError(f"config file {path} must hold a mapping at the top")

    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)

    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise InputValidationError(_describe(exc, path)) from exc
    return config.model_copy(update={"source_path": path})


def flatten_config(config: Config) -> dict[str, str]:
    """Flatten the config into dotted keys for MLflow params.

    Returns
    -------
    dict of str to str
        For example ``{"label.horizon_days": "90", ...}``.
    """
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        else:
            flat[prefix] = "" if value is None else str(value)

    walk("", config.model_dump(mode="json"))
    return flat


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[leaf] = value


def _describe(exc: ValidationError, path: Path) -> str:
    lines = [f"config file {path} has {exc.error_count()} problem(s):"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  {key}: {error['msg']}")
    return "\n".join(lines)
