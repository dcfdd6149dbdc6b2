"""Choose which inactive customers to invite into a referral program.

The flow: load tables, build point-in-time features, mark inactive customers,
segment them, score their propensity to respond, and rank them for an offer.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("referral-propensity")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
