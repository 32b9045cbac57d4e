"""The customer list (search, filters, pagination, htmx) and the Customer 360 page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from omnicrm.orders.models import OrderStatus
from tests.console.html import text_by_id
from tests.factories import (
    CustomerFactory,
    IdentityFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db

LIST = "/customers/"
HTMX = {"HX-Request": "true", "HX-Target": "customer-results"}


def names(response) -> list[str]:
    return [c.name for c in response.context["page"].object_list]


@pytest.fixture
def marketer(login_as):
    return login_as("marketer")


def test_list_shows_every_customer_newest_first_with_order_count_and_last_order(coffee, marketer):
    response = marketer.get(LIST)

    assert response.status_code == 200
    rows = {c.name: (c.order_count or 0, c.last_order_at) for c in response.context["page"]}
    assert list(rows) == ["Lưu Minh", "Trần Thị Lan", "Nguyễn Văn An", "Đặng Lưu Hà"]
    assert rows["Đặng Lưu Hà"] == (2, coffee.orders[0].placed_at)
    assert rows["Lưu Minh"] == (0, None)
    html = response.content.decode()
    assert "4 customers" in html
    assert "ha.dang@example.com" in html
    assert "Singapore, SG" in html
    assert reverse("console:customer_detail", args=[coffee.ha.public_id]) in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "Lưu Hà"}, ["Đặng Lưu Hà"]),
        ({"q": "lan.tran@"}, ["Trần Thị Lan"]),
        ({"q": "912345"}, ["Đặng Lưu Hà"]),
        ({"q": "TC-000482"}, ["Đặng Lưu Hà"]),  # a loyalty card identity
        ({"country": "SG"}, ["Lưu Minh"]),
        ({"country": "sg"}, ["Lưu Minh"]),
        ({"has_orders": "yes"}, ["Nguyễn Văn An", "Đặng Lưu Hà"]),
        ({"has_orders": "no"}, ["Lưu Minh", "Trần Thị Lan"]),
        ({"q": "Lưu", "country": "VN"}, ["Đặng Lưu Hà"]),
        ({"q": "Lưu", "has_orders": "no"}, ["Lưu Minh"]),
        ({"q": "nobody-by-this-name"}, []),
    ],
)
def test_search_and_filters_return_the_right_rows(coffee, marketer, query, expected):
    response = marketer.get(LIST, query)

    assert names(response) == expected


def test_search_by_public_id_finds_that_customer(coffee, marketer):
    response = marketer.get(LIST, {"q": coffee.ha.public_id})

    assert names(response) == ["Đặng Lưu Hà"]


def test_an_unknown_country_is_reported_and_ignored(coffee, marketer):
    response = marketer.get(LIST, {"country": "ZZ", "has_orders": "yes"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert names(response) == ["Nguyễn Văn An", "Đặng Lưu Hà"]


def test_an_empty_result_says_so_and_offers_to_clear_the_filters(coffee, marketer):
    response = marketer.get(LIST, {"q": "zzz"})

    html = response.content.decode()
    assert "No customer matches these filters." in html
    assert "0 customers" in html


def test_htmx_search_returns_only_the_results_fragment(coffee, marketer):
    response = marketer.get(LIST, {"q": "Lưu Hà"}, headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="customer-table"' in html
    assert "Đặng Lưu Hà" in html
    assert "Trần Thị Lan" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_history_restore_gets_the_full_page(coffee, marketer):
    response = marketer.get(
        LIST, {"q": "Lưu"}, headers={**HTMX, "HX-History-Restore-Request": "true"}
    )

    assert "<html" in response.content.decode()


def test_pagination_keeps_the_filters_and_counts_all_matches(coffee, marketer):
    CustomerFactory.create_batch(30, country="TH", city="Bangkok")

    first = marketer.get(LIST, {"country": "TH"})
    second = marketer.get(LIST, {"country": "TH", "page": 2})

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 5
    html = first.content.decode()
    assert "30 customers" in html
    assert "Page 1 of 2" in html
    assert 'href="?country=TH&amp;page=2"' in html


@pytest.mark.parametrize("extra_customers", [0, 30])
def test_list_query_count_does_not_grow_with_rows(
    coffee, marketer, extra_customers, django_assert_num_queries
):
    for customer in CustomerFactory.create_batch(extra_customers):
        OrderFactory(customer=customer)
    # session, user, 2 x permissions, countries, count, the user's roles, the page of rows
    with django_assert_num_queries(8):
        response = marketer.get(LIST, {"has_orders": "yes"})

    assert len(response.context["page"].object_list) == min(2 + extra_customers, 25)


# ---------- Customer 360 ----------


@pytest.fixture
def hand_built():
    """Three USD orders: 100.00 delivered, 50.25 shipped and 70.00 canceled."""
    customer = CustomerFactory(
        name="Trần Bảo Ngọc",
        email="ngoc@example.com",
        phone="+84900000001",
        language="vi",
        timezone="Asia/Ho_Chi_Minh",
        country="VN",
        city="Hội An",
    )
    IdentityFactory(customer=customer, kind="email", value="ngoc@example.com", verified=True)
    first = OrderFactory(
        customer=customer,
        total=Decimal("100.00"),
        placed_at=datetime(2025, 1, 5, 9, 30, tzinfo=UTC),
        status=OrderStatus.DELIVERED,
    )
    OrderLineFactory(
        order=first,
        line_number=1,
        title="Robusta Buôn Ma Thuột 1 kg",
        sku="ROB-BMT-1000",
        quantity=4,
        unit_price=Decimal("25.00"),
        total=Decimal("100.00"),
    )
    PaymentFactory(order=first, brand="mastercard", last4="5454", token="tok_secret_value")
    second = OrderFactory(
        customer=customer,
        total=Decimal("50.25"),
        placed_at=datetime(2025, 2, 10, tzinfo=UTC),
        status=OrderStatus.SHIPPED,
    )
    OrderLineFactory(order=second, line_number=1, quantity=1, unit_price=Decimal("50.25"))
    OrderFactory(
        customer=customer,
        total=Decimal("70.00"),
        placed_at=datetime(2025, 3, 1, tzinfo=UTC),
        status=OrderStatus.CANCELED,
        canceled_at=datetime(2025, 3, 2, tzinfo=UTC),
    )
    ReviewFactory(customer=customer, rating=4, title="Đậm đà", verified_purchase=True)
    return customer


def detail(client, customer):
    return client.get(reverse("console:customer_detail", args=[customer.public_id]))


def test_customer_360_shows_exact_lifetime_figures(hand_built, marketer):
    response = detail(marketer, hand_built)

    assert response.status_code == 200
    # Revenue counts the delivered and shipped orders only; AOV 150.25 / 2 rounds half-even.
    assert text_by_id(response.content, "kpi-revenue") == "150.25USD"
    assert text_by_id(response.content, "kpi-orders") == "3"
    assert text_by_id(response.content, "kpi-aov") == "75.12USD"
    assert text_by_id(response.content, "kpi-first") == "Jan. 5, 2025"
    assert text_by_id(response.content, "kpi-last") == "March 1, 2025"
    summary = response.context["summary"]
    assert (summary.lifetime_revenue, summary.revenue_order_count) == (Decimal("150.25"), 2)


def test_customer_360_shows_profile_orders_lines_payments_and_reviews(hand_built, marketer):
    response = detail(marketer, hand_built)

    html = response.content.decode()
    assert text_by_id(html, "customer-name") == "Trần Bảo Ngọc"
    for fact in ("ngoc@example.com", "+84900000001", "Hội An, VN", "Asia/Ho_Chi_Minh"):
        assert fact in html
    orders = response.context["orders"]
    assert [o.status for o in orders] == ["canceled", "shipped", "delivered"]
    first = text_by_id(html, f"order-{orders[2].public_id}")
    assert "Robusta Buôn Ma Thuột 1 kg ROB-BMT-1000 4 25.00 USD 100.00 USD" in first
    assert "Mastercard •••• 5454" in first
    assert "tok_secret_value" not in html
    assert "Canceled" in text_by_id(html, f"order-{orders[0].public_id}")
    reviews = text_by_id(html, "reviews")
    assert "Đậm đà" in reviews
    assert "Verified purchase" in reviews
    assert 'aria-label="4 out of 5 stars"' in html


def test_customer_360_shows_identities_addresses_and_consent(coffee, marketer):
    response = detail(marketer, coffee.ha)

    html = response.content.decode()
    assert "TC-000482" in html
    assert "Loyalty card" in html
    assert "12 Hàng Bạc" in html
    assert "45 Láng Hạ, Đống Đa" in html
    assert "Email marketing" in html
    assert "Withdrawn" in html


@pytest.mark.parametrize("extra_orders", [0, 6])
def test_customer_360_query_count_does_not_grow_with_orders(
    hand_built, marketer, extra_orders, django_assert_num_queries
):
    for _ in range(extra_orders):
        order = OrderFactory(customer=hand_built)
        OrderLineFactory(order=order, line_number=1)
        OrderLineFactory(order=order, line_number=2)
        PaymentFactory(order=order)
    # session, user, 2 x permissions, customer + identities + addresses + consents,
    # 2 summary aggregates, orders + lines + payments, reviews, the user's roles,
    # the merge history
    with django_assert_num_queries(16):
        response = detail(marketer, hand_built)

    assert len(response.context["orders"]) == 3 + extra_orders


def test_customer_360_of_an_unknown_id_is_a_404_page(marketer):
    response = marketer.get(reverse("console:customer_detail", args=["cus_doesnotexist"]))

    assert response.status_code == 404
    assert "console/404.html" in [t.name for t in response.templates]
    assert "No customer has the id cus_doesnotexist" in response.content.decode()


def test_customer_360_of_a_customer_without_orders_says_so(coffee, marketer):
    response = detail(marketer, coffee.others[2])

    html = response.content.decode()
    assert text_by_id(html, "kpi-orders") == "0"
    assert "This customer has not ordered yet." in html
    assert "No reviews from this customer." in html
