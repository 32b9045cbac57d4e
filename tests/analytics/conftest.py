"""Fixtures of the analytics tests."""

from __future__ import annotations

import pytest

from tests.analytics.shop import build_shop


@pytest.fixture
def shop(db):
    """Five buyers with hand-computed RFM scores and one customer without orders (see
    tests/analytics/shop.py): (customers by letter, arabica category, robusta category)."""
    return build_shop()
