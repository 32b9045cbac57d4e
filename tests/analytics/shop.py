"""A hand-built shop whose RFM scores, segments and cohorts are worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omnicrm.orders.models import OrderStatus
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

AS_OF = datetime(2025, 7, 1, tzinfo=UTC)


def days_ago(days: int) -> datetime:
    return AS_OF - timedelta(days=days) + timedelta(hours=12)


def order(customer, days: int, total: str, product=None, **kwargs):
    placed = OrderFactory(
        customer=customer, placed_at=days_ago(days), total=Decimal(total), **kwargs
    )
    if product is not None:
        OrderLineFactory(
            order=placed, product=product, unit_price=Decimal(total), total=Decimal(total)
        )
    return placed


def build_shop():
    """Five buyers with hand-computed RFM scores, and one customer without orders.

    recency (days) / purchase days / average order value:
      A 1 / 3 / 30    B 10 / 2 / 50    C 100 / 1 / 20    D 200 / 2 / 100    E 5 / 1 / 10
    """
    arabica = ProductFactory(category=CategoryFactory(slug="arabica", name="Arabica"))
    robusta = ProductFactory(category=CategoryFactory(slug="robusta", name="Robusta"))
    people = {name: CustomerFactory(name=name) for name in "ABCDEF"}
    for days in (1, 31, 61):
        order(people["A"], days, "30.00", arabica)
    order(people["A"], 3, "500.00", arabica, status=OrderStatus.CANCELED)
    order(people["B"], 10, "50.00", arabica)
    order(people["B"], 40, "50.00", robusta)
    order(people["C"], 100, "20.00")
    order(people["D"], 200, "100.00")
    order(people["D"], 300, "100.00")
    order(people["E"], 5, "10.00")
    return people, arabica.category, robusta.category
