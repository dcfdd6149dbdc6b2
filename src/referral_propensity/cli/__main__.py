"""``python -m referral_propensity.cli``."""

from referral_propensity.cli import app

app()
