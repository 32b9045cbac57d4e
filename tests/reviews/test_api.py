"""/api/v1/wishlists, /api/v1/ratings, the rating summary and the product's rating object."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnicrm.core.models import AuditLog
from omnicrm.orders.models import OrderStatus
from omnicrm.reviews.models import Review, WishlistItem
from tests.api.conftest import error_fields
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db


def put(client, path, body):
    """PUT with the API client (it speaks JSON and sends its key)."""
    return client._send("put", path, body)


def bought(customer, product, *, status=OrderStatus.DELIVERED):
    order = OrderFactory(customer=customer, status=status)
    OrderLineFactory(order=order, product=product)
    return order


def test_wishlist_add_list_remove(api):
    ha = CustomerFactory()
    arabica = ProductFactory(title="Arabica 1kg", stock=0)
    moka = ProductFactory(title="Moka Pot")

    added = api.post(f"/wishlists/{ha.public_id}", {"product": arabica.public_id})
    again = api.post(f"/wishlists/{ha.public_id}", {"product": arabica.public_id})
    api.post(f"/wishlists/{ha.public_id}", {"product": moka.public_id})
    listed = api.get(f"/wishlists/{ha.public_id}")

    assert (added.status_code, again.status_code) == (201, 200)
    body = added.json()
    assert body.pop("added_at").endswith("Z")
    assert body == {
        "product": arabica.public_id,
        "title": "Arabica 1kg",
        "price": "10.00",
        "currency": "USD",
        "in_stock": False,
    }
    assert listed.status_code == 200
    assert [row["product"] for row in listed.json()["data"]] == [moka.public_id, arabica.public_id]
    assert listed.json()["next_cursor"] is None

    removed = api.delete(f"/wishlists/{ha.public_id}/{arabica.public_id}")
    twice = api.delete(f"/wishlists/{ha.public_id}/{arabica.public_id}")

    assert removed.status_code == 204
    assert twice.status_code == 404
    assert twice.json()["error"] == {
        "code": "not_found",
        "message": f"product {arabica.public_id} is not on the wishlist of {ha.public_id}",
        "field": "product",
    }
    assert list(WishlistItem.objects.values_list("product_id", flat=True)) == [moka.pk]
    assert AuditLog.objects.get(action="wishlist.remove").actor_label.startswith("api_key:")


def test_wishlist_errors_name_the_field_or_the_missing_resource(api):
    ha, arabica = CustomerFactory(), ProductFactory()

    unknown_product = api.post(f"/wishlists/{ha.public_id}", {"product": "prd_nothing"})
    retired = api.post(
        f"/wishlists/{ha.public_id}", {"product": ProductFactory(is_active=False).public_id}
    )
    missing_field = api.post(f"/wishlists/{ha.public_id}", {})
    extra_field = api.post(f"/wishlists/{ha.public_id}", {"product": arabica.public_id, "x": 1})
    unknown_customer = api.post("/wishlists/cus_nobody", {"product": arabica.public_id})
    list_unknown = api.get("/wishlists/cus_nobody")
    delete_unknown_product = api.delete(f"/wishlists/{ha.public_id}/prd_nothing")

    for response, field in [
        (unknown_product, "product"),
        (retired, "product"),
        (missing_field, "product"),
        (extra_field, "x"),
    ]:
        assert (response.status_code, error_fields(response)) == (422, [field])
    assert unknown_product.json()["error"]["message"] == "no product with id prd_nothing"
    assert unknown_customer.status_code == 404
    assert unknown_customer.json()["error"]["message"] == "no customer with id cus_nobody"
    assert list_unknown.status_code == 404
    assert (
        delete_unknown_product.status_code,
        delete_unknown_product.json()["error"]["field"],
    ) == (
        404,
        "product",
    )
    assert WishlistItem.objects.count() == 0


def test_merged_customers_answer_409_naming_the_profile_to_use(api):
    ha, arabica = CustomerFactory(), ProductFactory()
    old = CustomerFactory(merged_into=ha, merged_at=datetime(2025, 1, 1, tzinfo=UTC))

    for response in (
        api.get(f"/wishlists/{old.public_id}"),
        api.post(f"/wishlists/{old.public_id}", {"product": arabica.public_id}),
        api.get(f"/ratings/{old.public_id}"),
    ):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "customer_merged"
        assert response.json()["error"]["merged_into"] == ha.public_id


def test_rate_a_purchase_then_change_the_rating(api):
    ha, arabica = CustomerFactory(), ProductFactory(title="Arabica 1kg")
    order = bought(ha, arabica)

    first = put(api, f"/ratings/{ha.public_id}/{arabica.public_id}", {"rating": 5})
    second = put(api, f"/ratings/{ha.public_id}/{arabica.public_id}", {"rating": 2})

    assert (first.status_code, second.status_code) == (200, 200)
    review = Review.objects.get()
    body = second.json()
    assert body.pop("rated_at").endswith("Z")
    assert body == {
        "product": arabica.public_id,
        "title": "Arabica 1kg",
        "rating": 2,
        "review": review.public_id,
        "verified_purchase": True,
        "order": order.public_id,
    }
    assert first.json()["review"] == review.public_id
    assert [a.data["rating"] for a in AuditLog.objects.filter(action="rating.set")] == [2, 5]


def test_ratings_list_shows_the_latest_rating_per_product(api):
    ha, arabica, moka = CustomerFactory(), ProductFactory(), ProductFactory()
    ReviewFactory(
        customer=ha, product=arabica, rating=5, reviewed_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    ReviewFactory(customer=ha, product=moka, rating=4, reviewed_at=datetime(2025, 2, 1, tzinfo=UTC))
    ReviewFactory(
        customer=ha, product=arabica, rating=1, reviewed_at=datetime(2025, 3, 1, tzinfo=UTC)
    )

    response = api.get(f"/ratings/{ha.public_id}")

    assert response.status_code == 200
    assert [(r["product"], r["rating"], r["rated_at"]) for r in response.json()["data"]] == [
        (arabica.public_id, 1, "2025-03-01T00:00:00Z"),
        (moka.public_id, 4, "2025-02-01T00:00:00Z"),
    ]
    assert api.get("/ratings/cus_nobody").status_code == 404


@pytest.mark.parametrize("rating", [0, 6, "five", None, 4.5])
def test_a_rating_outside_1_to_5_is_422(api, rating):
    ha, arabica = CustomerFactory(), ProductFactory()
    bought(ha, arabica)

    response = put(api, f"/ratings/{ha.public_id}/{arabica.public_id}", {"rating": rating})

    assert (response.status_code, error_fields(response)) == (422, ["rating"])
    assert Review.objects.count() == 0


def test_rating_what_was_not_bought_is_422_and_unknown_ids_404(api):
    ha, arabica = CustomerFactory(), ProductFactory()
    bought(ha, arabica, status=OrderStatus.CANCELED)

    not_bought = put(api, f"/ratings/{ha.public_id}/{arabica.public_id}", {"rating": 5})
    no_product = put(api, f"/ratings/{ha.public_id}/prd_nothing", {"rating": 5})
    no_customer = put(api, f"/ratings/cus_nobody/{arabica.public_id}", {"rating": 5})

    assert (not_bought.status_code, error_fields(not_bought)) == (422, ["product"])
    assert not_bought.json()["error"]["message"] == (
        f"only a purchased product can be rated: {ha.public_id} has no order of {arabica.public_id}"
    )
    assert (no_product.status_code, no_product.json()["error"]["field"]) == (404, "product")
    assert (no_customer.status_code, no_customer.json()["error"]["field"]) == (404, "customer")
    assert Review.objects.count() == 0


def test_rating_summary_and_product_rating_object(api):
    arabica = ProductFactory()
    for rating in (5, 4, 4):
        ReviewFactory(product=arabica, rating=rating)
    unrated = ProductFactory()

    summary = api.get(f"/reviews/summary/{arabica.public_id}")
    product = api.get(f"/products/{arabica.public_id}")
    empty = api.get(f"/products/{unrated.public_id}")

    expected = {
        "average": 4.33,
        "count": 3,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1},
    }
    assert summary.status_code == 200
    assert summary.json() == {"product": arabica.public_id, "rating": expected}
    assert (product.status_code, product.json()["rating"]) == (200, expected)
    assert empty.json()["rating"] == {
        "average": None,
        "count": 0,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }
    missing = api.get("/reviews/summary/prd_nothing")
    assert (missing.status_code, missing.json()["error"]["message"]) == (
        404,
        "no product with id prd_nothing",
    )


def test_keys_and_scopes(api_as):
    ha, arabica = CustomerFactory(), ProductFactory()
    bought(ha, arabica)
    reader, writer, nobody = api_as("read"), api_as("write"), api_as(None)

    assert nobody.get(f"/wishlists/{ha.public_id}").status_code == 401
    assert nobody.get(f"/reviews/summary/{arabica.public_id}").status_code == 401
    assert reader.get(f"/wishlists/{ha.public_id}").status_code == 200
    assert reader.get(f"/ratings/{ha.public_id}").status_code == 200
    denied = [
        reader.post(f"/wishlists/{ha.public_id}", {"product": arabica.public_id}),
        reader.delete(f"/wishlists/{ha.public_id}/{arabica.public_id}"),
        put(reader, f"/ratings/{ha.public_id}/{arabica.public_id}", {"rating": 5}),
    ]
    assert [r.status_code for r in denied] == [403, 403, 403]
    assert writer.get(f"/wishlists/{ha.public_id}").status_code == 403
    assert (
        writer.post(f"/wishlists/{ha.public_id}", {"product": arabica.public_id}).status_code == 201
    )
    assert Review.objects.count() == 0


def test_list_query_counts_do_not_grow_with_rows(api, django_assert_max_num_queries):
    ha = CustomerFactory()
    for _ in range(20):
        product = ProductFactory()
        WishlistItem.objects.create(customer=ha, product=product)
        ReviewFactory(customer=ha, product=product, order=OrderFactory(customer=ha))
    api.get(f"/wishlists/{ha.public_id}")

    with django_assert_max_num_queries(3):
        wishes = api.get(f"/wishlists/{ha.public_id}", {"limit": 20})
    with django_assert_max_num_queries(3):
        ratings = api.get(f"/ratings/{ha.public_id}", {"limit": 20})

    assert len(wishes.json()["data"]) == 20
    assert len(ratings.json()["data"]) == 20
    assert all(r["order"].startswith("ord_") for r in ratings.json()["data"])
