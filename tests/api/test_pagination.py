from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omnicrm.core.errors import ValidationFailed
from omnicrm.core.pagination import paginate
from omnicrm.customers.models import Customer
from tests.api.conftest import error_fields
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def walk(api, path, params=None, limit=7):
    """Follow next_cursor to the end; return the ids seen and the number of pages."""
    seen, pages, cursor = [], 0, None
    while True:
        query = {**(params or {}), "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = api.get(path, query)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert len(body["data"]) <= limit
        seen += [row.get("id") or row.get("slug") for row in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages


def test_walking_the_customer_list_sees_every_row_once_in_order(api):
    customers = CustomerFactory.create_batch(23)

    seen, pages = walk(api, "/customers", limit=7)

    assert seen == [c.public_id for c in sorted(customers, key=lambda c: -c.pk)]
    assert pages == 4


def test_a_full_last_page_ends_the_walk_without_an_empty_page(api):
    CustomerFactory.create_batch(14)

    seen, pages = walk(api, "/customers", limit=7)

    assert (len(seen), pages) == (14, 2)


def test_rows_inserted_during_a_walk_do_not_shift_pages(api):
    before = CustomerFactory.create_batch(12)
    first = api.get("/customers", {"limit": 5}).json()

    CustomerFactory.create_batch(6)  # newer rows sort first, before the cursor
    rest, _ = walk(api, "/customers", {"cursor": first["next_cursor"]}, limit=5)

    seen = [row["id"] for row in first["data"]] + rest
    assert seen == [c.public_id for c in sorted(before, key=lambda c: -c.pk)]


def test_ties_on_the_sort_key_are_broken_by_id(api):
    # Orders sort by placed_at then id; many share a placed_at.
    moments = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in (0, 1, 2)]
    orders = [OrderFactory(placed_at=moments[i % 3]) for i in range(13)]
    ProductFactory.create_batch(4, title="Arabica")
    ProductFactory.create_batch(3, title="Robusta")

    order_ids, _ = walk(api, "/orders", limit=4)
    product_ids, _ = walk(api, "/products", limit=2)

    expected = sorted(orders, key=lambda o: (o.placed_at, o.pk), reverse=True)
    assert order_ids == [o.public_id for o in expected]
    assert len(product_ids) == len(set(product_ids)) == 7


def test_filters_apply_on_every_page(api):
    wanted = [CustomerFactory(country="VN") for _ in range(9)]
    CustomerFactory.create_batch(9, country="US")

    seen, _ = walk(api, "/customers", {"country": "VN"}, limit=4)

    assert sorted(seen) == sorted(c.public_id for c in wanted)


def test_a_tampered_cursor_is_422_naming_cursor(api):
    CustomerFactory.create_batch(3)
    cursor = api.get("/customers", {"limit": 1}).json()["next_cursor"]
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]

    for bad in (flipped, "garbage", cursor + "x"):
        response = api.get("/customers", {"cursor": bad})
        assert response.status_code == 422
        assert response.json()["error"] == {
            "code": "validation_error",
            "message": "the cursor is invalid; use the next_cursor of the previous page unchanged",
            "field": "cursor",
            "fields": [
                {
                    "field": "cursor",
                    "message": "the cursor is invalid; use the "
                    "next_cursor of the previous page unchanged",
                }
            ],
        }


def test_a_cursor_of_another_list_is_refused(api):
    ProductFactory.create_batch(3)
    CustomerFactory.create_batch(3)
    product_cursor = api.get("/products", {"limit": 1}).json()["next_cursor"]

    response = api.get("/customers", {"cursor": product_cursor})

    assert response.status_code == 422
    assert error_fields(response) == ["cursor"]


@pytest.mark.parametrize(
    ("limit", "status"), [(0, 422), (201, 422), ("ten", 422), (1, 200), (200, 200)]
)
def test_limit_is_1_to_200(api, limit, status):
    CustomerFactory.create_batch(2)

    response = api.get("/customers", {"limit": limit})

    assert response.status_code == status
    if status == 422:
        assert error_fields(response) == ["limit"]
    else:
        assert len(response.json()["data"]) == min(limit, 2)


def test_the_default_page_is_50_rows(api):
    CustomerFactory.create_batch(51)

    body = api.get("/customers").json()

    assert len(body["data"]) == 50
    assert body["next_cursor"] is not None


def test_paginate_needs_an_ordering_that_ends_with_the_primary_key():
    with pytest.raises(ValueError, match="primary key"):
        paginate(Customer.objects.all(), cursor=None, ordering=("name",), namespace="x")
    with pytest.raises(ValidationFailed) as err:
        paginate(Customer.objects.all(), cursor=None, limit=0, ordering=("-id",), namespace="x")
    assert err.value.field == "limit"
