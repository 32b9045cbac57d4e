from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from omnicrm.analytics import selectors
from omnicrm.orders.models import OrderStatus
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int = 15, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def shop():
    """Three buyers, one of them repeat, a customer with only a canceled order,
    one who never ordered, an erased profile and an anonymous checkout."""
    ha, lan, minh, canceled_only, never, erased = (
        CustomerFactory(name=n)
        for n in ("Hà", "Lan", "Minh", "Canceled Only", "Never Ordered", "Erased")
    )
    erased.erased_at = timezone.now()
    erased.save()
    OrderFactory(customer=ha, total=Decimal("100.00"), placed_at=at(2025, 1, 10))
    OrderFactory(customer=ha, total=Decimal("50.50"), placed_at=at(2025, 3, 1, 0))
    OrderFactory(
        customer=ha,
        total=Decimal("70.00"),
        placed_at=at(2025, 3, 31, 23),
        status=OrderStatus.CANCELED,
    )
    OrderFactory(
        customer=lan, total=Decimal("20.00"), placed_at=at(2025, 3, 5), status=OrderStatus.SHIPPED
    )
    OrderFactory(
        customer=minh,
        total=Decimal("9.99"),
        placed_at=at(2024, 12, 31, 23),
        status=OrderStatus.PENDING,
    )
    OrderFactory(
        customer=minh,
        total=Decimal("30.00"),
        placed_at=at(2025, 2, 1, 0),
        status=OrderStatus.CONFIRMED,
    )
    OrderFactory(
        customer=canceled_only,
        total=Decimal("40.00"),
        placed_at=at(2025, 2, 2),
        status=OrderStatus.CANCELED,
    )
    OrderFactory(customer=None, total=Decimal("15.00"), placed_at=at(2025, 1, 20))
    return {"ha": ha, "never": never}


def test_dashboard_metrics_counts_revenue_statuses_and_defines_repeat_rate(
    shop, django_assert_num_queries
):
    with django_assert_num_queries(4):
        metrics = selectors.dashboard_metrics()

    assert metrics.customer_count == 6 - 1
    assert metrics.order_count == 8
    # Revenue orders: Hà 100 + 50.50, Lan 20, Minh 30, anonymous 15.
    assert metrics.revenue_order_count == 5
    assert metrics.revenue == Decimal("215.50")
    assert metrics.currency == "USD"
    assert metrics.average_order_value == Decimal("43.10")
    # Buyers: Hà (2 revenue orders), Lan (1), Minh (1; the pending one does not count).
    assert metrics.buyer_count == 3
    assert metrics.repeat_buyer_count == 1
    assert metrics.repeat_rate == Decimal("0.3333")
    assert metrics.first_order_at == at(2024, 12, 31, 23)
    assert metrics.last_order_at == at(2025, 3, 31, 23)
    assert metrics.other_currencies == ()


def test_dashboard_metrics_of_an_empty_shop_are_zero():
    metrics = selectors.dashboard_metrics()

    assert (metrics.customer_count, metrics.order_count, metrics.buyer_count) == (0, 0, 0)
    assert metrics.revenue == Decimal("0.00")
    assert metrics.average_order_value == Decimal("0.00")
    assert metrics.repeat_rate == Decimal("0.0000")
    assert metrics.currency == ""
    assert metrics.last_order_at is None


def test_dashboard_metrics_headline_the_largest_currency_and_list_the_others():
    buyer = CustomerFactory()
    OrderFactory(customer=buyer, currency="VND", total=Decimal("500000"))
    OrderFactory(customer=buyer, currency="VND", total=Decimal("250001"))
    OrderFactory(customer=buyer, currency="USD", total=Decimal("12.00"))

    metrics = selectors.dashboard_metrics()

    assert metrics.currency == "VND"
    assert metrics.revenue == Decimal("750001")
    assert metrics.average_order_value == Decimal("375000")  # 375000.5 rounds half-even
    assert metrics.revenue_order_count == 2
    assert metrics.other_currencies == (
        selectors.CurrencyRevenue(currency="USD", revenue=Decimal("12.00"), order_count=1),
    )
    # The repeat rate counts orders, not currencies: one buyer with three orders.
    assert (metrics.buyer_count, metrics.repeat_buyer_count) == (1, 1)
    assert metrics.repeat_rate == Decimal("1.0000")


def test_order_monthly_totals_bucket_by_utc_month_in_one_query(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        totals = selectors.order_monthly_totals(months=5, end=date(2025, 4, 30), currency="USD")

    assert [(t.month, t.order_count, t.revenue) for t in totals] == [
        (date(2024, 12, 1), 1, Decimal("0.00")),  # pending only
        (date(2025, 1, 1), 2, Decimal("115.00")),  # 100 + anonymous 15
        (date(2025, 2, 1), 2, Decimal("30.00")),  # canceled 40 left out of revenue
        (date(2025, 3, 1), 3, Decimal("70.50")),  # 50.50 + 20; canceled 70 left out
        (date(2025, 4, 1), 0, Decimal("0.00")),
    ]


def test_order_monthly_totals_end_at_the_latest_order_by_default(shop):
    totals = selectors.order_monthly_totals(months=2, currency="USD")

    assert [t.month for t in totals] == [date(2025, 2, 1), date(2025, 3, 1)]
    assert [t.order_count for t in totals] == [2, 3]


def test_order_monthly_totals_cross_year_boundaries_and_leave_other_currencies_out():
    OrderFactory(currency="EUR", total=Decimal("99.00"), placed_at=at(2023, 11, 30))
    OrderFactory(currency="USD", total=Decimal("5.00"), placed_at=at(2024, 1, 1, 0))

    totals = selectors.order_monthly_totals(months=3, end=at(2024, 1, 2), currency="USD")

    assert [(t.month, t.order_count, t.revenue) for t in totals] == [
        (date(2023, 11, 1), 1, Decimal("0.00")),
        (date(2023, 12, 1), 0, Decimal("0.00")),
        (date(2024, 1, 1), 1, Decimal("5.00")),
    ]


def test_order_monthly_totals_refuse_a_non_positive_month_count():
    with pytest.raises(ValueError, match="months must be at least 1"):
        selectors.order_monthly_totals(months=0)


def test_order_latest_returns_newest_first_with_customer_loaded(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        latest = list(selectors.order_latest(limit=3))
        names = [o.customer.name if o.customer else None for o in latest]

    assert [o.placed_at for o in latest] == [at(2025, 3, 31, 23), at(2025, 3, 5), at(2025, 3, 1, 0)]
    assert names == ["Hà", "Lan", "Hà"]
