"""The home dashboard: KPI figures, the monthly chart and the latest orders."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from omnicrm.orders.models import OrderStatus
from tests.console.html import text_by_id
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

HOME = "/"


def at(year: int, month: int, day: int = 15) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.fixture
def shop():
    """Four customers: Hà bought twice, Lan once, Minh only canceled, Tú never ordered."""
    ha, lan, minh, _tu = (CustomerFactory(name=n) for n in ("Hà", "Lan", "Minh", "Tú"))
    OrderFactory(customer=ha, total=Decimal("120.00"), placed_at=at(2025, 4, 2))
    OrderFactory(customer=ha, total=Decimal("80.00"), placed_at=at(2025, 6, 30))
    OrderFactory(
        customer=lan, total=Decimal("45.50"), placed_at=at(2025, 6, 1), status=OrderStatus.SHIPPED
    )
    OrderFactory(
        customer=minh,
        total=Decimal("300.00"),
        placed_at=at(2025, 5, 9),
        status=OrderStatus.CANCELED,
    )
    return ha


def monthly_rows(html: str) -> dict[str, tuple[str, str]]:
    rows = re.findall(
        r'<tr data-month="([0-9-]+)"><td>[^<]*</td><td class="num">([^<]*)</td>'
        r'<td class="num">([^<]*)</td></tr>',
        html,
    )
    return {month: (orders, revenue) for month, orders, revenue in rows}


def test_dashboard_shows_exact_kpis(shop, login_as):
    response = login_as("analyst").get(HOME)

    html = response.content.decode()
    assert response.status_code == 200
    assert text_by_id(html, "kpi-customers") == "4"
    assert text_by_id(html, "kpi-orders") == "4"
    # 120 + 80 + 45.50; the canceled 300 brings no revenue.
    assert text_by_id(html, "kpi-revenue") == "245.50USD"
    assert text_by_id(html, "kpi-aov") == "81.83USD"  # 245.50 / 3 = 81.8333
    # Two buyers (Hà, Lan), one of whom ordered twice.
    assert text_by_id(html, "kpi-repeat") == "50.0%"
    assert "1 of 2 buyers ordered twice or more" in html


def test_dashboard_chart_has_one_bucket_per_month_ending_at_the_latest_order(shop, login_as):
    response = login_as("marketer").get(HOME, {"months": 6})

    rows = monthly_rows(response.content.decode())
    assert rows == {
        "2025-01": ("0", "0.00 USD"),
        "2025-02": ("0", "0.00 USD"),
        "2025-03": ("0", "0.00 USD"),
        "2025-04": ("1", "120.00 USD"),
        "2025-05": ("1", "0.00 USD"),
        "2025-06": ("2", "125.50 USD"),
    }


def test_dashboard_chart_is_inline_svg_with_tooltips_and_two_axes(shop, login_as):
    response = login_as("marketer").get(HOME, {"months": 6})

    html = response.content.decode()
    chart = text_by_id(html, "orders-chart")
    assert html.count('<svg class="chart-svg"') == 1
    assert "<title>June 2025: 2 orders, 125.50 USD revenue</title>" in html
    assert "<title>April 2025: 1 order, 120.00 USD revenue</title>" in html
    assert 'class="axis axis-left"' in html
    assert 'class="axis axis-right"' in html
    assert html.count('<rect x="') >= 6
    assert "Orders placed 4" in chart
    # Nothing is loaded from another host: no CDN, no chart library.
    assert not re.search(r'(src|href)="(https?:)?//', html)


@pytest.mark.parametrize(("asked", "shown"), [("6", 6), ("24", 24), ("7", 12), ("x", 12)])
def test_dashboard_chart_period_is_one_of_the_offered_ranges(shop, login_as, asked, shown):
    response = login_as("marketer").get(HOME, {"months": asked})

    assert len(response.context["chart"].columns) == shown
    assert response.context["months"] == shown


def test_htmx_period_switch_returns_only_the_chart(shop, login_as):
    response = login_as("marketer").get(
        HOME, {"months": 6}, headers={"HX-Request": "true", "HX-Target": "orders-chart"}
    )

    html = response.content.decode()
    assert "<html" not in html
    assert html.strip().startswith('<div id="orders-chart"')
    assert len(monthly_rows(html)) == 6


def test_latest_orders_link_to_the_customer_360(shop, login_as):
    response = login_as("marketer").get(HOME)

    html = response.content.decode()
    latest = list(response.context["latest_orders"])
    assert [o.total for o in latest] == [
        Decimal("80.00"),
        Decimal("45.50"),
        Decimal("300.00"),
        Decimal("120.00"),
    ]
    assert f"{reverse('console:customer_detail', args=[shop.public_id])}#order-" in html


def test_dashboard_of_an_empty_shop_renders_zeros_and_an_empty_chart(login_as):
    response = login_as("admin").get(HOME)

    html = response.content.decode()
    assert response.status_code == 200
    assert text_by_id(html, "kpi-orders") == "0"
    assert text_by_id(html, "kpi-repeat") == "0.0%"
    assert "No orders in this period." in html
    assert "No orders yet." in html


@pytest.mark.parametrize("extra_orders", [0, 25])
def test_dashboard_query_count_is_fixed(shop, login_as, extra_orders, django_assert_num_queries):
    client = login_as("marketer")
    for i in range(extra_orders):
        OrderFactory(placed_at=at(2025, 1 + i % 6, 1 + i))
    # session, user, 2 x permissions, customers, orders, revenue by currency, repeat
    # buyers, months, latest orders, the user's roles
    with django_assert_num_queries(11):
        response = client.get(HOME)

    assert response.status_code == 200
