"""A tiny hand-built catalog and run for the serving tests, where the right answer is known.

The Coffee: Hà bought Arabica Beans 1kg and a Moka Pot, which she rated 5 stars. The run's
weights W say that beans lead to a grinder (0.8) and paper filters (0.5), the moka pot to the
grinder (0.4) and a mug (0.6), green tea to the mug (0.2). With her signals (beans 1.0; moka
pot 1.0 + 0.5 for the rating, all touched "now") the scores are exactly
grinder 0.8 + 0.6 = 1.4 (causes beans 0.8, moka pot 0.6), mug 0.9, filters 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from omnicrm.catalog.models import Product
from omnicrm.customers.models import Customer
from omnicrm.orders.models import Order
from omnicrm.recommendations.models import (
    ItemList,
    ItemNeighbor,
    RecommenderModel,
    TrainingStatus,
)
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    ReviewFactory,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@dataclass
class Shop:
    beans: Product
    moka: Product
    grinder: Product
    filters: Product
    mug: Product
    tea: Product
    kettle: Product
    ha: Customer
    model: RecommenderModel


def buy(customer: Customer, product: Product, *, at: datetime = NOW) -> Order:
    order = OrderFactory(customer=customer, placed_at=at)
    OrderLineFactory(order=order, product=product, line_number=1)
    return order


def make_run(**fields: object) -> RecommenderModel:
    values: dict[str, object] = {
        "algorithm": "ease",
        "status": TrainingStatus.SUCCEEDED,
        "started_at": NOW - timedelta(minutes=5),
        "finished_at": NOW - timedelta(minutes=1),
    }
    values.update(fields)
    return RecommenderModel.objects.create(**values)


def link(model: RecommenderModel, kind: str, product: Product, neighbor: Product, score: float,
         rank: int = 1, **extra: object) -> None:  # fmt: skip
    ItemNeighbor.objects.create(
        model=model, kind=kind, product=product, neighbor=neighbor, score=score, rank=rank, **extra
    )


def listed(model: RecommenderModel, kind: str, scope: str, products: list[Product]) -> None:
    ItemList.objects.bulk_create(
        ItemList(model=model, kind=kind, scope=scope, product=p, rank=i + 1, score=100 - i)
        for i, p in enumerate(products)
    )


def build_shop() -> Shop:
    coffee = CategoryFactory(slug="coffee", name="Coffee")
    gear = CategoryFactory(slug="gear", name="Gear")
    brewers = CategoryFactory(slug="brewers", name="Brewers", parent=gear)
    tea_cat = CategoryFactory(slug="tea", name="Tea")
    beans = ProductFactory(title="Arabica Beans 1kg", category=coffee)
    moka = ProductFactory(title="Moka Pot", category=brewers)
    grinder = ProductFactory(title="Burr Grinder", category=gear)
    filters = ProductFactory(title="Paper Filters", category=coffee)
    mug = ProductFactory(title="Stoneware Mug", category=gear)
    tea = ProductFactory(title="Green Tea", category=tea_cat)
    kettle = ProductFactory(title="Gooseneck Kettle", category=brewers)
    ha = CustomerFactory(name="Đặng Lưu Hà", country="VN", language="vi")
    buy(ha, beans)
    buy(ha, moka)
    ReviewFactory(customer=ha, product=moka, rating=5, reviewed_at=NOW)
    model = make_run()
    link(model, "personal", beans, grinder, 0.8, 1)
    link(model, "personal", beans, filters, 0.5, 2)
    link(model, "personal", moka, mug, 0.6, 1)
    link(model, "personal", moka, grinder, 0.4, 2)
    link(model, "personal", tea, mug, 0.2, 1)
    link(model, "similar", beans, grinder, 0.7, 1)
    link(model, "similar", beans, filters, 0.3, 2)
    link(model, "content", kettle, moka, 0.5, 1)
    link(model, "together", beans, filters, 0.4, 1, support=12, confidence=0.4, lift=3.2)
    link(model, "together", beans, mug, 0.1, 2, support=3, confidence=0.1, lift=1.1)
    listed(model, "popular", "", [beans, tea, kettle, mug])
    listed(model, "popular", "country:VN", [tea, kettle])
    listed(model, "popular", "language:vi", [kettle])
    listed(model, "trending", "", [kettle, tea])
    listed(model, "best_sellers", "", [beans, moka, tea])
    listed(model, "best_sellers", "category:coffee", [beans, filters])
    listed(model, "top_rated", "", [moka])
    listed(model, "most_wished", "", [grinder, kettle])
    return Shop(beans, moka, grinder, filters, mug, tea, kettle, ha, model)
