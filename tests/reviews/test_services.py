"""Wishlists and "rate what you bought": the services' rules, on the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnicrm.core.errors import Conflict, NotFound, ValidationFailed
from omnicrm.core.models import AuditLog
from omnicrm.customers.errors import CustomerMerged
from omnicrm.customers.services import customer_erase
from omnicrm.orders.models import OrderStatus
from omnicrm.reviews.models import Review, WishlistItem
from omnicrm.reviews.services import rating_set, wishlist_add, wishlist_remove
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db


def bought(customer, product, *, status=OrderStatus.DELIVERED, placed_at=None):
    order = OrderFactory(customer=customer, status=status)
    if placed_at is not None:
        order.placed_at = placed_at
        order.save(update_fields=["placed_at"])
    OrderLineFactory(order=order, product=product)
    return order


# Wishlists


def test_wishlist_add_is_idempotent_and_audited_once():
    ha, arabica = CustomerFactory(), ProductFactory()

    first = wishlist_add(customer_id=ha.public_id, product_id=arabica.public_id, actor_label="t")
    again = wishlist_add(customer_id=ha.public_id, product_id=arabica.public_id)

    assert again.pk == first.pk
    assert list(WishlistItem.objects.values_list("customer_id", "product_id")) == [
        (ha.pk, arabica.pk)
    ]
    audit = AuditLog.objects.get(action="wishlist.add")
    assert (audit.object_id, audit.actor_label, audit.data) == (
        ha.public_id,
        "t",
        {"product": arabica.public_id},
    )


def test_wishlist_remove_deletes_and_a_second_remove_is_404():
    ha, arabica, moka = CustomerFactory(), ProductFactory(), ProductFactory()
    wishlist_add(customer_id=ha.public_id, product_id=arabica.public_id)
    wishlist_add(customer_id=ha.public_id, product_id=moka.public_id)

    wishlist_remove(customer_id=ha.public_id, product_id=arabica.public_id)

    assert list(WishlistItem.objects.values_list("product_id", flat=True)) == [moka.pk]
    assert AuditLog.objects.filter(action="wishlist.remove").count() == 1
    with pytest.raises(NotFound) as err:
        wishlist_remove(customer_id=ha.public_id, product_id=arabica.public_id)
    assert err.value.field == "product"
    assert str(err.value) == (
        f"product {arabica.public_id} is not on the wishlist of {ha.public_id}"
    )


def test_wishlist_unknown_ids_inactive_products_erased_and_merged_customers():
    ha, arabica = CustomerFactory(), ProductFactory()
    retired = ProductFactory(is_active=False)

    with pytest.raises(NotFound) as err:
        wishlist_add(customer_id="cus_nobody", product_id=arabica.public_id)
    assert err.value.field == "customer"
    with pytest.raises(NotFound) as err:
        wishlist_add(customer_id=ha.public_id, product_id="prd_nothing")
    assert err.value.field == "product"
    with pytest.raises(ValidationFailed) as err:
        wishlist_add(customer_id=ha.public_id, product_id=retired.public_id)
    assert err.value.field == "product"

    gone = CustomerFactory()
    customer_erase(customer=gone)
    with pytest.raises(Conflict) as err:
        wishlist_add(customer_id=gone.public_id, product_id=arabica.public_id)
    assert err.value.field == "customer"

    merged = CustomerFactory(merged_into=ha, merged_at=datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(CustomerMerged):
        wishlist_add(customer_id=merged.public_id, product_id=arabica.public_id)
    assert WishlistItem.objects.count() == 0


# Ratings


def test_rating_a_bought_product_creates_a_verified_review_linked_to_the_latest_order():
    ha, arabica = CustomerFactory(), ProductFactory()
    bought(ha, arabica, placed_at=datetime(2025, 1, 1, tzinfo=UTC))
    latest = bought(ha, arabica, placed_at=datetime(2025, 3, 1, tzinfo=UTC))

    review = rating_set(customer_id=ha.public_id, product_id=arabica.public_id, rating=4)

    review.refresh_from_db()
    assert (review.customer_id, review.product_id, review.order_id) == (
        ha.pk,
        arabica.pk,
        latest.pk,
    )
    assert (review.rating, review.verified_purchase, review.title, review.body) == (4, True, "", "")
    assert AuditLog.objects.get(action="rating.set").data == {
        "product": arabica.public_id,
        "rating": 4,
        "previous": None,
    }


def test_rating_again_updates_the_latest_review_and_keeps_its_text():
    ha, arabica = CustomerFactory(), ProductFactory()
    order = bought(ha, arabica)
    older = ReviewFactory(
        customer=ha, product=arabica, rating=5, reviewed_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    written = ReviewFactory(
        customer=ha,
        product=arabica,
        rating=2,
        title="Bitter",
        verified_purchase=False,
        reviewed_at=datetime(2024, 6, 1, tzinfo=UTC),
    )

    review = rating_set(customer_id=ha.public_id, product_id=arabica.public_id, rating=3)

    assert review.pk == written.pk
    written.refresh_from_db()
    older.refresh_from_db()
    assert (written.rating, written.title, written.verified_purchase, written.order_id) == (
        3,
        "Bitter",
        True,
        order.pk,
    )
    assert written.reviewed_at > datetime(2025, 1, 1, tzinfo=UTC)
    assert older.rating == 5
    assert Review.objects.count() == 2
    assert AuditLog.objects.get(action="rating.set").data["previous"] == 2


@pytest.mark.parametrize("status", [None, OrderStatus.CANCELED, OrderStatus.UNAVAILABLE])
def test_only_what_reached_the_customer_can_be_rated(status):
    ha, arabica = CustomerFactory(), ProductFactory()
    if status is not None:
        bought(ha, arabica, status=status)
    # Somebody else's purchase does not count.
    bought(CustomerFactory(), arabica)

    with pytest.raises(ValidationFailed) as err:
        rating_set(customer_id=ha.public_id, product_id=arabica.public_id, rating=5)

    assert err.value.field == "product"
    assert str(err.value) == (
        f"only a purchased product can be rated: {ha.public_id} has no order of {arabica.public_id}"
    )
    assert Review.objects.count() == 0
    assert not AuditLog.objects.filter(action="rating.set").exists()


@pytest.mark.parametrize("rating", [0, 6, -1, True, 4.5, "5", None])
def test_rating_must_be_a_whole_number_from_1_to_5(rating):
    ha, arabica = CustomerFactory(), ProductFactory()
    bought(ha, arabica)

    with pytest.raises(ValidationFailed) as err:
        rating_set(customer_id=ha.public_id, product_id=arabica.public_id, rating=rating)

    assert err.value.field == "rating"
    assert Review.objects.count() == 0


def test_an_erased_customer_cannot_rate():
    ha, arabica = CustomerFactory(), ProductFactory()
    bought(ha, arabica)
    customer_erase(customer=ha)

    with pytest.raises(Conflict) as err:
        rating_set(customer_id=ha.public_id, product_id=arabica.public_id, rating=5)

    assert err.value.field == "customer"
    assert Review.objects.count() == 0
