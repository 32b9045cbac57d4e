"""A small hand-built shop for the segment tests: four people whose every fact is known."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import translation

from omnicrm.analytics.models import CustomerMetrics
from omnicrm.catalog.models import Category
from omnicrm.customers.models import Consent, Customer
from omnicrm.events.models import Event, Source
from omnicrm.orders.models import Order, OrderLine
from tests.api.conftest import api, api_as, make_key  # noqa: F401  (API fixtures)
from tests.console.conftest import login_as  # noqa: F401  (console fixture)
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English: a console request in another language leaves that
    language active in the thread (LocaleMiddleware does not reset it)."""
    translation.activate("en")
    yield
    translation.activate("en")


IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def make_order(
    customer: Customer,
    *,
    products: list,
    days: float,
    status: str = "delivered",
    total: str = "10.00",
) -> Order:
    order = Order.objects.create(
        customer=customer,
        status=status,
        placed_at=days_ago(days),
        currency="USD",
        subtotal=Decimal(total),
        total=Decimal(total),
    )
    for i, product in enumerate(products, start=1):
        OrderLine.objects.create(
            order=order,
            line_number=i,
            product=product,
            sku=product.sku,
            title=product.title,
            quantity=1,
            unit_price=Decimal(total),
            total=Decimal(total),
        )
    return order


_message = iter(range(1, 10**9))


def make_event(
    customer: Customer | None,
    name: str,
    *,
    days: float,
    channel: str = "web",
    source: Source | None = None,
) -> Event:
    source = (
        source
        or Source.objects.get_or_create(
            prefix="testsrc", defaults={"name": "Test", "channel": "web", "key_hash": "x" * 64}
        )[0]
    )
    return Event.objects.create(
        source=source,
        message_id=f"m{next(_message)}",
        type="track",
        event=name,
        channel=channel,
        customer=customer,
        timestamp=days_ago(days),
        received_at=days_ago(days),
        processed_at=days_ago(days),
    )


@dataclass
class Shop:
    ha: Customer
    binh: Customer
    chen: Customer
    dana: Customer
    coffee: Category
    arabica: Category
    robusta: Category

    @property
    def everyone(self) -> set[str]:
        return {"ha", "binh", "chen", "dana"}


@pytest.fixture
def shop(db) -> Shop:
    return build_shop()


def build_shop() -> Shop:
    """
    ha    VN Hanoi vi, 3 arabica orders (5, 20, 40 days ago; 30 USD), email granted,
          viewed products 3 times on web, champions, p_alive 0.9, next order in 10 days
    binh  VN Ho Chi Minh vi, 1 robusta order 200 days ago (50 USD) + 1 canceled, email
          withdrawn, at_risk, p_alive 0.3
    chen  CN Shanghai zh, no orders, no consent, one Product Viewed in the app 3 days ago,
          no metrics row at all
    dana  US no city, en, never seen, 1 arabica order 100 days ago (12.50), sms granted,
          metrics with no scores (rfm_segment "", p_alive unknown)
    """
    coffee = CategoryFactory(slug="coffee", name="Coffee")
    arabica = CategoryFactory(slug="arabica", name="Arabica", parent=coffee)
    robusta = CategoryFactory(slug="robusta", name="Robusta", parent=coffee)
    arabica_pack = ProductFactory(sku="ARA-500", category=arabica)
    robusta_pack = ProductFactory(sku="ROB-500", category=robusta)
    ha = CustomerFactory(
        name="Đặng Lưu Hà",
        email="ha@example.com",
        country="VN",
        city="Hanoi",
        language="vi",
        first_seen_at=days_ago(400),
        last_seen_at=days_ago(1),
    )
    binh = CustomerFactory(
        name="Trần Bình",
        email="binh@example.com",
        country="VN",
        city="Ho Chi Minh",
        language="vi",
        first_seen_at=days_ago(300),
        last_seen_at=days_ago(150),
    )
    chen = CustomerFactory(
        name="Chen Wei",
        email="chen@example.cn",
        country="CN",
        city="Shanghai",
        language="zh",
        first_seen_at=days_ago(10),
        last_seen_at=days_ago(3),
    )
    dana = CustomerFactory(
        name="Dana Smith",
        email="dana@example.com",
        country="US",
        city="",
        language="en",
        first_seen_at=None,
        last_seen_at=None,
    )
    for days in (5, 20, 40):
        make_order(ha, products=[arabica_pack], days=days, total="10.00")
    make_order(binh, products=[robusta_pack], days=200, total="50.00")
    make_order(binh, products=[arabica_pack], days=2, status="canceled", total="99.00")
    make_order(dana, products=[arabica_pack], days=100, total="12.50")
    Consent.objects.create(customer=ha, channel="email", status="granted", changed_at=NOW)
    Consent.objects.create(customer=binh, channel="email", status="withdrawn", changed_at=NOW)
    Consent.objects.create(customer=dana, channel="sms", status="granted", changed_at=NOW)
    for days in (1, 2, 4):
        make_event(ha, "Product Viewed", days=days)
    make_event(chen, "Product Viewed", days=3, channel="ios")
    make_event(binh, "Cart Viewed", days=60)
    CustomerMetrics.objects.create(
        customer=ha,
        order_count=3,
        revenue=Decimal("30"),
        rfm_r=5,
        rfm_f=5,
        rfm_m=3,
        rfm_segment="champions",
        p_alive=0.9,
        p_order_30d=0.7,
        expected_purchases_30d=1.2,
        clv_12m=Decimal("120.00"),
        churn_risk="low",
        model="bgnbd",
        next_order_at=NOW + timedelta(days=10),
        computed_at=NOW,
    )
    CustomerMetrics.objects.create(
        customer=binh,
        order_count=1,
        revenue=Decimal("50"),
        rfm_r=1,
        rfm_f=1,
        rfm_m=5,
        rfm_segment="at_risk",
        p_alive=0.3,
        p_order_30d=0.05,
        expected_purchases_30d=0.1,
        clv_12m=Decimal("15.50"),
        churn_risk="high",
        model="bgnbd",
        next_order_at=NOW + timedelta(days=90),
        computed_at=NOW,
    )
    CustomerMetrics.objects.create(customer=dana, order_count=1, computed_at=NOW)
    # Created long ago, in a known order.
    for i, person in enumerate((ha, binh, chen, dana)):
        Customer.objects.filter(pk=person.pk).update(created_at=days_ago(500 - 100 * i))
    return Shop(
        ha=ha, binh=binh, chen=chen, dana=dana, coffee=coffee, arabica=arabica, robusta=robusta
    )
