"""Point-in-time features: one row per customer as of a date."""

from referral_propensity.features.build import FeatureTable, build_features

__all__ = ["FeatureTable", "build_features"]
