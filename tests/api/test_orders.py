from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omnicrm.core.models import AuditLog
from omnicrm.orders.models import Order, OrderStatus, Payment
from omnicrm.orders.services import ORDER_TRANSITIONS, looks_like_card_number
from tests.api.conftest import error_fields
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

VISA_TEST_PAN = "4111111111111111"


@pytest.fixture
def shop():
    customer = CustomerFactory(name="Đặng Lưu Hà")
    arabica = ProductFactory(sku="ARABICA-10", title="Arabica, 10 packs", price=Decimal("19.90"))
    filter_ = ProductFactory(sku="FILTER", title="Paper filters", price=Decimal("3.00"))
    return customer, arabica, filter_


def order_body(owner, **changes):
    body = {
        "customer": owner.public_id,
        "currency": "USD",
        "channel": "web",
        "placed_at": "2025-03-01T08:00:00+07:00",
        "lines": [
            {"sku": "ARABICA-10", "quantity": 3, "unit_price": "19.90"},
            {"sku": "FILTER", "quantity": 2, "unit_price": "3.00"},
        ],
        "shipping_total": "5.00",
        "discount_total": "6.00",
        "payments": [
            {
                "method": "credit_card",
                "amount": "64.70",
                "token": "tok_1Nv0abc",
                "brand": "visa",
                "last4": "4242",
            }
        ],
    }
    body.update(changes)
    return body


def test_create_computes_totals_on_the_server(api, shop):
    customer, arabica, filter_ = shop

    response = api.post("/orders", order_body(customer))

    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get()
    assert body["id"] == order.public_id and body["id"].startswith("ord_")
    assert (body["customer"], body["status"], body["channel"], body["currency"]) == (
        customer.public_id,
        "pending",
        "web",
        "USD",
    )
    assert body["placed_at"] == "2025-03-01T01:00:00Z"
    assert (body["subtotal"], body["shipping_total"], body["discount_total"], body["total"]) == (
        "65.70",
        "5.00",
        "6.00",
        "64.70",
    )
    assert body["lines"] == [
        {
            "line_number": 1,
            "product": arabica.public_id,
            "sku": "ARABICA-10",
            "title": "Arabica, 10 packs",
            "quantity": 3,
            "unit_price": "19.90",
            "total": "59.70",
        },
        {
            "line_number": 2,
            "product": filter_.public_id,
            "sku": "FILTER",
            "title": "Paper filters",
            "quantity": 2,
            "unit_price": "3.00",
            "total": "6.00",
        },
    ]
    assert body["payments"] == [
        {
            "sequence": 1,
            "method": "credit_card",
            "amount": "64.70",
            "currency": "USD",
            "installments": 1,
            "brand": "visa",
            "last4": "4242",
        }
    ]
    assert Payment.objects.get().token == "tok_1Nv0abc"
    assert AuditLog.objects.get(action="order.create").data == {
        "customer": customer.public_id,
        "total": "64.70",
        "currency": "USD",
    }


def test_totals_sent_by_the_client_are_refused_not_trusted(api, shop):
    customer, _, _ = shop

    response = api.post("/orders", order_body(customer, total="1.00"))

    assert response.status_code == 422
    assert error_fields(response) == ["total"]
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"lines": [{"sku": "ARABICA-10", "quantity": -1, "unit_price": "19.90"}]},
            "lines.0.quantity",
        ),
        (
            {
                "lines": [
                    {"sku": "ARABICA-10", "quantity": 1, "unit_price": "19.90"},
                    {"sku": "ARABICA-10", "quantity": "two", "unit_price": "19.90"},
                ]
            },
            "lines.1.quantity",
        ),
        ({"lines": [{"sku": "NOPE", "quantity": 1, "unit_price": "1.00"}]}, "lines.0.sku"),
        ({"lines": [{"sku": "FILTER", "quantity": 1, "unit_price": "-1"}]}, "lines.0.unit_price"),
        ({"lines": []}, "lines"),
        ({"customer": "cus_nobody"}, "customer"),
        ({"currency": "dollars"}, "currency"),
        ({"channel": "fax"}, "channel"),
        ({"status": "teleported"}, "status"),
        ({"placed_at": "2025-03-01T08:00:00"}, "placed_at"),
        ({"discount_total": "100.00"}, "discount_total"),
        (
            {"payments": [{"method": "credit_card", "amount": "1", "last4": "42"}]},
            "payments.0.last4",
        ),
        ({"payments": [{"method": "barter", "amount": "1"}]}, "payments.0.method"),
        (
            {"payments": [{"method": "credit_card", "amount": "1", "card_number": VISA_TEST_PAN}]},
            "payments.0.card_number",
        ),
    ],
)
def test_create_with_a_bad_field_is_422_naming_it(api, shop, change, field):
    customer, _, _ = shop

    response = api.post("/orders", order_body(customer, **change))

    assert response.status_code == 422
    assert error_fields(response) == [field]
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("payment_change", "field"),
    [
        ({"token": VISA_TEST_PAN}, "payments.0.token"),
        ({"token": "4111 1111 1111 1111"}, "payments.0.token"),
        ({"token": "tok_5555-5555-5555-4444"}, "payments.0.token"),
        ({"brand": "378282246310005"}, "payments.0.brand"),
    ],
)
def test_a_card_number_anywhere_in_a_payment_is_422_and_never_stored(
    api, shop, payment_change, field
):
    customer, _, _ = shop
    payment = {"method": "credit_card", "amount": "64.70", "brand": "visa", **payment_change}

    response = api.post("/orders", order_body(customer, payments=[payment]))

    assert response.status_code == 422
    assert response.json()["error"]["fields"] == [
        {
            "field": field,
            "message": f"{field} looks like a card number; send the payment provider's token, "
            "never the card number",
        }
    ]
    assert Payment.objects.count() == 0


def test_card_number_detection_needs_13_to_19_digits_passing_luhn():
    assert looks_like_card_number("4111111111111111")
    assert looks_like_card_number("pan=4111-1111-1111-1111;")
    assert not looks_like_card_number("4111111111111112")  # fails Luhn
    assert not looks_like_card_number("tok_1Nv0abc")
    assert not looks_like_card_number("4242")
    assert not looks_like_card_number("411111111111")  # 12 digits
    assert not looks_like_card_number("41111111111111111111")  # 20 digits


def test_an_external_id_is_unique(api, shop):
    customer, _, _ = shop
    assert api.post("/orders", order_body(customer, external_id="shop-1")).status_code == 201

    again = api.post("/orders", order_body(customer, external_id="shop-1"))

    assert again.status_code == 409
    assert again.json()["error"]["field"] == "external_id"
    assert Order.objects.count() == 1


def test_list_filters_by_customer_status_and_time(api):
    ha, bob = CustomerFactory(), CustomerFactory()
    jan = OrderFactory(
        customer=ha, status=OrderStatus.DELIVERED, placed_at=datetime(2025, 1, 15, tzinfo=UTC)
    )
    feb = OrderFactory(
        customer=ha, status=OrderStatus.PENDING, placed_at=datetime(2025, 2, 15, tzinfo=UTC)
    )
    bobs = OrderFactory(
        customer=bob, status=OrderStatus.DELIVERED, placed_at=datetime(2025, 3, 15, tzinfo=UTC)
    )

    def ids(params):
        response = api.get("/orders", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["data"]]

    assert ids({}) == [bobs.public_id, feb.public_id, jan.public_id]
    assert ids({"customer": ha.public_id}) == [feb.public_id, jan.public_id]
    assert ids({"status": "delivered"}) == [bobs.public_id, jan.public_id]
    assert ids({"since": "2025-02-01T00:00:00Z", "until": "2025-03-15T00:00:00Z"}) == [
        feb.public_id
    ]
    assert ids({"customer": "cus_nobody"}) == []
    bad = api.get("/orders", {"status": "lost"})
    assert (bad.status_code, error_fields(bad)) == (422, ["status"])
    naive = api.get("/orders", {"since": "2025-02-01T00:00:00"})
    assert (naive.status_code, error_fields(naive)) == (422, ["since"])


def test_retrieve_has_lines_and_payments_and_404(api):
    line = OrderLineFactory(quantity=2, unit_price=Decimal("4.50"), total=Decimal("9.00"))

    found = api.get(f"/orders/{line.order.public_id}")
    missing = api.get("/orders/ord_nothere")

    assert found.status_code == 200
    assert [(x["sku"], x["quantity"], x["total"]) for x in found.json()["lines"]] == [
        (line.sku, 2, "9.00")
    ]
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no order with id ord_nothere"
    assert api.patch("/orders/ord_nothere/status", {"status": "confirmed"}).status_code == 404


def test_status_moves_through_the_lifecycle_stamping_each_stage(api, shop):
    customer, _, _ = shop
    order_id = api.post("/orders", order_body(customer)).json()["id"]

    stamps = {}
    for status, extra in [
        ("confirmed", {}),
        ("packed", {}),
        ("shipped", {"tracking_number": "VN123456789"}),
        ("delivered", {}),
    ]:
        at = datetime(2025, 3, 2, 10, tzinfo=UTC) + timedelta(hours=len(stamps))
        response = api.patch(
            f"/orders/{order_id}/status", {"status": status, "occurred_at": at.isoformat(), **extra}
        )
        assert response.status_code == 200, response.json()
        stamps[status] = at.isoformat().replace("+00:00", "Z")
        assert response.json()["status"] == status

    body = response.json()
    assert (
        body["confirmed_at"],
        body["packed_at"],
        body["shipped_at"],
        body["delivered_at"],
        body["canceled_at"],
    ) == (stamps["confirmed"], stamps["packed"], stamps["shipped"], stamps["delivered"], None)
    assert body["tracking_number"] == "VN123456789"
    assert list(
        AuditLog.objects.filter(action="order.status_change")
        .order_by("id")
        .values_list("data", flat=True)
    ) == [
        {"from": "pending", "to": "confirmed"},
        {"from": "confirmed", "to": "packed"},
        {"from": "packed", "to": "shipped", "tracking_number": "VN123456789"},
        {"from": "shipped", "to": "delivered"},
    ]


def test_an_illegal_transition_is_409_and_changes_nothing(api):
    order = OrderFactory(status=OrderStatus.DELIVERED)

    response = api.patch(f"/orders/{order.public_id}/status", {"status": "packed"})

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": "an order that is delivered cannot become packed; allowed: returned",
        "field": "status",
        "current_status": "delivered",
        "allowed": ["returned"],
    }
    order.refresh_from_db()
    assert (order.status, order.packed_at) == ("delivered", None)


def test_canceling_stamps_canceled_at_and_is_final(api):
    order = OrderFactory(status=OrderStatus.CONFIRMED)

    canceled = api.patch(f"/orders/{order.public_id}/status", {"status": "canceled"})
    revived = api.patch(f"/orders/{order.public_id}/status", {"status": "confirmed"})

    assert canceled.status_code == 200
    assert canceled.json()["canceled_at"] is not None
    assert revived.status_code == 409
    assert ORDER_TRANSITIONS[OrderStatus.CANCELED] == frozenset()


def test_shipping_needs_a_tracking_number_and_repeating_a_status_is_harmless(api):
    order = OrderFactory(status=OrderStatus.PACKED)

    untracked = api.patch(f"/orders/{order.public_id}/status", {"status": "shipped"})
    shipped = api.patch(
        f"/orders/{order.public_id}/status", {"status": "shipped", "tracking_number": "TRK1"}
    )
    again = api.patch(f"/orders/{order.public_id}/status", {"status": "shipped"})

    assert (untracked.status_code, error_fields(untracked)) == (422, ["tracking_number"])
    assert shipped.status_code == 200
    assert again.status_code == 200
    assert again.json()["shipped_at"] == shipped.json()["shipped_at"]
    assert AuditLog.objects.filter(action="order.status_change").count() == 1


def test_list_query_count_does_not_grow_with_rows(api, django_assert_max_num_queries):
    for _ in range(30):
        OrderLineFactory()
    api.get("/orders")

    with django_assert_max_num_queries(2):
        response = api.get("/orders", {"limit": 30})

    assert len(response.json()["data"]) == 30
    assert all(row["customer"].startswith("cus_") for row in response.json()["data"])


def test_retrieve_query_count_is_fixed(api, django_assert_max_num_queries):
    order = OrderFactory()
    for n in range(10):
        OrderLineFactory(order=order, line_number=n + 1)
    api.get("/orders")

    with django_assert_max_num_queries(4):  # key, order+customer, lines+products, payments
        response = api.get(f"/orders/{order.public_id}")

    assert len(response.json()["lines"]) == 10
