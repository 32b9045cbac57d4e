"""The Coffee: a small, realistic shop used by the console tests and the README screenshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from omnicrm.customers.models import Address, Consent, Customer
from omnicrm.orders.models import Order, OrderStatus
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    IdentityFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    ProductFactory,
    ReviewFactory,
)


@dataclass
class CoffeeShop:
    ha: Customer
    orders: list[Order]
    others: list[Customer]


def build_the_coffee() -> CoffeeShop:
    """Đặng Lưu Hà with two orders of Arabica (one delivered, one on its way), her
    identities, addresses, consent and reviews, and three other customers."""
    now = timezone.now().replace(second=0, microsecond=0)
    coffee = CategoryFactory(slug="coffee", name="Coffee")
    gear = CategoryFactory(slug="brewing-gear", name="Brewing gear")
    arabica = ProductFactory(
        sku="ARA-CD-500",
        title="Arabica Cầu Đất, 500 g",
        category=coffee,
        price=Decimal("185000"),
        currency="VND",
    )
    phin = ProductFactory(
        sku="PHIN-SS-01",
        title="Stainless steel phin filter",
        category=gear,
        price=Decimal("95000"),
        currency="VND",
    )
    ha = CustomerFactory(
        name="Đặng Lưu Hà",
        email="ha.dang@example.com",
        phone="+84912345678",
        language="vi",
        timezone="Asia/Ho_Chi_Minh",
        country="VN",
        city="Hà Nội",
        first_seen_at=now - timedelta(days=412),
        last_seen_at=now - timedelta(hours=3),
    )
    IdentityFactory(customer=ha, kind="email", value=ha.email, verified=True, source="web")
    IdentityFactory(customer=ha, kind="phone", value=ha.phone, verified=True, source="store")
    IdentityFactory(customer=ha, kind="loyalty_card", value="TC-000482", source="store")
    IdentityFactory(customer=ha, kind="anonymous", value="anon_7f3c9a2e41", source="web")
    Address.objects.create(
        customer=ha,
        kind="shipping",
        line1="12 Hàng Bạc",
        line2="Hoàn Kiếm",
        city="Hà Nội",
        postal_code="100000",
        country="VN",
        is_default=True,
    )
    Address.objects.create(
        customer=ha,
        kind="billing",
        line1="45 Láng Hạ, Đống Đa",
        city="Hà Nội",
        postal_code="100000",
        country="VN",
        is_default=True,
    )
    for channel, status, days in (
        ("email", "granted", 410),
        ("sms", "withdrawn", 120),
        ("tracking", "granted", 410),
    ):
        Consent.objects.create(
            customer=ha, channel=channel, status=status, changed_at=now - timedelta(days=days)
        )

    delivered = OrderFactory(
        customer=ha,
        channel="web",
        status=OrderStatus.DELIVERED,
        placed_at=now - timedelta(days=41),
        confirmed_at=now - timedelta(days=41),
        packed_at=now - timedelta(days=40),
        shipped_at=now - timedelta(days=39),
        delivered_at=now - timedelta(days=37),
        tracking_number="VNP5512098341",
        currency="VND",
        subtotal=Decimal("1480000"),
        shipping_total=Decimal("30000"),
        total=Decimal("1510000"),
    )
    OrderLineFactory(
        order=delivered,
        line_number=1,
        product=arabica,
        quantity=8,
        unit_price=Decimal("185000"),
        total=Decimal("1480000"),
    )
    PaymentFactory(
        order=delivered,
        method="credit_card",
        brand="visa",
        last4="4242",
        amount=Decimal("1510000"),
        currency="VND",
    )
    on_its_way = OrderFactory(
        customer=ha,
        channel="app",
        status=OrderStatus.SHIPPED,
        placed_at=now - timedelta(days=5),
        confirmed_at=now - timedelta(days=5),
        packed_at=now - timedelta(days=4),
        shipped_at=now - timedelta(days=3),
        estimated_delivery_at=now + timedelta(days=1),
        tracking_number="VNP5519920077",
        currency="VND",
        subtotal=Decimal("465000"),
        total=Decimal("465000"),
    )
    OrderLineFactory(
        order=on_its_way,
        line_number=1,
        product=arabica,
        quantity=2,
        unit_price=Decimal("185000"),
        total=Decimal("370000"),
    )
    OrderLineFactory(
        order=on_its_way,
        line_number=2,
        product=phin,
        quantity=1,
        unit_price=Decimal("95000"),
        total=Decimal("95000"),
    )
    PaymentFactory(
        order=on_its_way,
        method="wallet",
        brand="MoMo",
        last4="",
        token="tok_momo_7781",
        amount=Decimal("465000"),
        currency="VND",
    )
    ReviewFactory(
        customer=ha,
        product=arabica,
        order=delivered,
        rating=5,
        title="Thơm và êm",
        body="Fragrant, smooth and fresh: roasted three days before it arrived.",
        verified_purchase=True,
        reviewed_at=now - timedelta(days=30),
    )
    others = [
        CustomerFactory(name="Nguyễn Văn An", email="an.nguyen@example.com", city="Đà Nẵng"),
        CustomerFactory(name="Trần Thị Lan", email="lan.tran@example.com", city="Huế"),
        CustomerFactory(
            name="Lưu Minh", email="minh.luu@example.com", city="Singapore", country="SG"
        ),
    ]
    OrderFactory(
        customer=others[0],
        currency="VND",
        total=Decimal("185000"),
        placed_at=now - timedelta(days=12),
    )
    return CoffeeShop(ha=ha, orders=[on_its_way, delivered], others=others)
