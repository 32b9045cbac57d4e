from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnicrm.core.models import AuditLog
from omnicrm.orders.models import OrderStatus
from omnicrm.reviews.models import Review
from tests.api.conftest import error_fields
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db


def test_a_review_of_a_bought_product_is_a_verified_purchase(api):
    customer, product = CustomerFactory(), ProductFactory()
    order = OrderFactory(customer=customer, status=OrderStatus.DELIVERED)
    OrderLineFactory(order=order, product=product)

    response = api.post(
        "/reviews",
        {
            "customer": customer.public_id,
            "product": product.public_id,
            "rating": 5,
            "title": "Rich",
            "body": "Best arabica.",
        },
    )

    assert response.status_code == 201
    body = response.json()
    review = Review.objects.get()
    assert body["id"] == review.public_id and body["id"].startswith("rev_")
    assert {
        k: body[k]
        for k in ("customer", "product", "order", "rating", "title", "body", "verified_purchase")
    } == {
        "customer": customer.public_id,
        "product": product.public_id,
        "order": order.public_id,
        "rating": 5,
        "title": "Rich",
        "body": "Best arabica.",
        "verified_purchase": True,
    }
    assert AuditLog.objects.get(action="review.create").data == {
        "product": product.public_id,
        "rating": 5,
    }


@pytest.mark.parametrize("status", [OrderStatus.CANCELED, OrderStatus.UNAVAILABLE, None])
def test_without_an_order_that_reached_the_customer_it_is_not_verified(api, status):
    customer, product = CustomerFactory(), ProductFactory()
    if status is not None:
        OrderLineFactory(order=OrderFactory(customer=customer, status=status), product=product)
    # Someone else's order of the same product does not count either.
    OrderLineFactory(order=OrderFactory(status=OrderStatus.DELIVERED), product=product)

    response = api.post(
        "/reviews", {"customer": customer.public_id, "product": product.public_id, "rating": 2}
    )

    assert response.status_code == 201
    assert (response.json()["verified_purchase"], response.json()["order"]) == (False, None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rating": 6}, "rating"),
        ({"rating": 0}, "rating"),
        ({"rating": "five"}, "rating"),
        ({"rating": None}, "rating"),
        ({"customer": "cus_nobody"}, "customer"),
        ({"product": "prd_nothing"}, "product"),
        ({"title": "x" * 201}, "title"),
        ({"verified_purchase": True}, "verified_purchase"),
    ],
)
def test_create_with_a_bad_field_is_422_naming_it(api, change, field):
    customer, product = CustomerFactory(), ProductFactory()
    body = {"customer": customer.public_id, "product": product.public_id, "rating": 4, **change}

    response = api.post("/reviews", body)

    assert response.status_code == 422
    assert error_fields(response) == [field]
    assert Review.objects.count() == 0


def test_list_filters_and_retrieve(api):
    arabica, robusta = ProductFactory(), ProductFactory()
    ha = CustomerFactory()
    old = ReviewFactory(
        product=arabica, customer=ha, rating=3, reviewed_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    new = ReviewFactory(product=arabica, rating=5, reviewed_at=datetime(2025, 2, 1, tzinfo=UTC))
    other = ReviewFactory(
        product=robusta, customer=ha, rating=4, reviewed_at=datetime(2025, 3, 1, tzinfo=UTC)
    )

    def ids(params):
        response = api.get("/reviews", params)
        assert response.status_code == 200
        return [row["id"] for row in response.json()["data"]]

    assert ids({}) == [other.public_id, new.public_id, old.public_id]
    assert ids({"product": arabica.public_id}) == [new.public_id, old.public_id]
    assert ids({"customer": ha.public_id}) == [other.public_id, old.public_id]
    assert ids({"min_rating": 4}) == [other.public_id, new.public_id]
    bad = api.get("/reviews", {"min_rating": 9})
    assert (bad.status_code, error_fields(bad)) == (422, ["min_rating"])
    found = api.get(f"/reviews/{old.public_id}")
    assert (found.status_code, found.json()["reviewed_at"]) == (200, "2025-01-01T00:00:00Z")
    missing = api.get("/reviews/rev_nothere")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no review with id rev_nothere"


def test_list_query_count_does_not_grow_with_rows(api, django_assert_max_num_queries):
    for _ in range(30):
        ReviewFactory(order=OrderFactory())
    api.get("/reviews")

    with django_assert_max_num_queries(2):
        response = api.get("/reviews", {"limit": 30})

    rows = response.json()["data"]
    assert len(rows) == 30
    assert all(r["order"].startswith("ord_") and r["product"].startswith("prd_") for r in rows)
