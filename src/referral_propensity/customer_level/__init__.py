"""Customer-level inputs: one customers table with aggregated features and a label.

Many companies keep a customers table that already holds each customer's
aggregated behaviour, attributes and a 0/1 outcome. Such a table skips the
point-in-time feature building: :func:`build_customer_features` turns it into
model inputs, and :func:`train_customer_level` segments the customers, fits
the propensity model and evaluates it by stratified k-fold cross-validation.
"""

from referral_propensity.customer_level.features import (
    CustomerFeatureTable,
    build_customer_features,
)
from referral_propensity.customer_level.train import (
    DEFAULT_CUSTOMER_LIGHTGBM,
    customer_lightgbm_params,
    summarize_folds,
    train_customer_level,
)

__all__ = [
    "DEFAULT_CUSTOMER_LIGHTGBM",
    "CustomerFeatureTable",
    "build_customer_features",
    "customer_lightgbm_params",
    "summarize_folds",
    "train_customer_level",
]
