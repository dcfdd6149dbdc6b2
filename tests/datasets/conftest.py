"""Synthetic shops shared by the dataset tests, each generated once per session."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from referral_propensity.datasets.synthetic import SyntheticShop, generate_shop


@pytest.fixture(scope="session")
def shop() -> SyntheticShop:
    """5,000 customers over the default three years, for shape and domain checks."""
    return generate_shop(
        n_customers=5000,
        start=date(2023, 1, 1),
        end=date(2025, 12, 31),
        seed=11,
    )


@pytest.fixture(scope="session")
def default_shop() -> SyntheticShop:
    """The default shop (20,000 customers, seed 0), for campaign statistics."""
    return generate_shop(seed=0)


@pytest.fixture(scope="session")
def sales(shop: SyntheticShop) -> pd.DataFrame:
    """Orders of ``shop``, refunds left out."""
    transactions = shop.transactions
    return transactions[transactions["amount"] > 0]
