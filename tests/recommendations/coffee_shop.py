"""A small hand-built coffee shop whose every recommendation list is known in advance
(the figures are worked out in tests/recommendations/test_training.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from omnicrm.catalog.models import Category, Product
from omnicrm.customers.models import Customer
from omnicrm.orders.models import Order, OrderStatus
from omnicrm.reviews.models import WishlistItem
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    ReviewFactory,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def order(customer: Customer, days: float, *products: Product, status: str = "") -> Order:
    placed = OrderFactory(
        customer=customer, placed_at=days_ago(days), status=status or OrderStatus.DELIVERED
    )
    for number, product in enumerate(products, start=1):
        OrderLineFactory(order=placed, product=product, line_number=number)
    return placed


@dataclass
class CoffeeShop:
    categories: dict[str, Category]
    products: dict[str, Product]
    customers: dict[str, Customer]

    def __getattr__(self, name: str) -> Any:
        for group in (self.products, self.customers):
            if name in group:
                return group[name]
        raise AttributeError(name)


def coffee_shop() -> CoffeeShop:
    """Four Vietnamese buyers of coffee and equipment, two American tea drinkers.

    Orders (days before NOW): an 30 beans+moka, 3 beans; binh 20 beans+moka, 2 beans+filter;
    chi 15 beans+moka+grinder, 1 beans; dung 40 moka+filter; emma 10 tea, 5 tea+retired;
    frank 6 tea+grinder and a canceled order of robusta 1 day ago.
    """
    coffee = CategoryFactory(slug="coffee", name="Coffee")
    arabica = CategoryFactory(slug="arabica", name="Arabica", parent=coffee)
    equipment = CategoryFactory(slug="equipment", name="Equipment")
    tea_category = CategoryFactory(slug="tea", name="Tea")
    products = {
        "beans": ProductFactory(title="Arabica Beans 1kg", category=arabica),
        "robusta": ProductFactory(title="Robusta Beans 1kg", category=coffee),
        "moka": ProductFactory(title="Moka Pot", category=equipment),
        "filter": ProductFactory(title="Paper Filters", category=equipment),
        "grinder": ProductFactory(title="Hand Grinder", category=equipment),
        "tea": ProductFactory(
            title="Green Tea", category=tea_category, attributes={"repeat_purchase": True}
        ),
        "retired": ProductFactory(title="Old Blend", category=coffee, is_active=False),
    }
    customers = {
        name: CustomerFactory(name=name.title(), country="VN", language="vi")
        for name in ("an", "binh", "chi", "dung")
    }
    customers |= {
        name: CustomerFactory(name=name.title(), country="US", language="en-US")
        for name in ("emma", "frank")
    }
    p, c = products, customers
    order(c["an"], 30, p["beans"], p["moka"])
    order(c["an"], 3, p["beans"])
    order(c["binh"], 20, p["beans"], p["moka"])
    order(c["binh"], 2, p["beans"], p["filter"])
    order(c["chi"], 15, p["beans"], p["moka"], p["grinder"])
    order(c["chi"], 1, p["beans"])
    order(c["dung"], 40, p["moka"], p["filter"])
    order(c["emma"], 10, p["tea"])
    order(c["emma"], 5, p["tea"], p["retired"])
    order(c["frank"], 6, p["tea"], p["grinder"])
    order(c["frank"], 1, p["robusta"], status=OrderStatus.CANCELED)
    for who, what, stars in (
        ("an", "moka", 5),
        ("dung", "moka", 4),
        ("chi", "moka", 5),
        ("emma", "tea", 5),
        ("frank", "tea", 4),
    ):
        ReviewFactory(customer=c[who], product=p[what], rating=stars, reviewed_at=days_ago(1))
    for who, what in (("emma", "grinder"), ("frank", "moka"), ("an", "grinder")):
        WishlistItem.objects.create(customer=c[who], product=p[what])
    WishlistItem.objects.update(created_at=days_ago(2))
    return CoffeeShop(
        categories={
            "coffee": coffee,
            "arabica": arabica,
            "equipment": equipment,
            "tea": tea_category,
        },
        products=products,
        customers=customers,
    )
