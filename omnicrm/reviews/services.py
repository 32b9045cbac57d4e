"""Every write to reviews, ratings and wishlists. Whether a review is a verified purchase
is decided here."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.catalog import selectors as catalog_selectors
from omnicrm.catalog.models import Product
from omnicrm.core.errors import Conflict, NotFound, ValidationFailed
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.customers import selectors as customer_selectors
from omnicrm.customers.models import Customer
from omnicrm.customers.services import customer_ensure_live
from omnicrm.orders import selectors as order_selectors
from omnicrm.reviews.models import Review, WishlistItem


def _text(value: Any, *, field: str, max_length: int | None) -> str:
    text = "" if value is None else str(value).strip()
    if max_length is not None and len(text) > max_length:
        raise ValidationFailed(
            _("%(field)s is at most %(n)s characters") % {"field": field, "n": max_length},
            field=field,
        )
    return text


def _valid_rating(rating: Any) -> int:
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationFailed(_("rating must be a whole number from 1 to 5"), field="rating")
    return rating


def review_create(
    *,
    customer_id: str,
    product_id: str,
    rating: int,
    title: str = "",
    body: str = "",
    actor: Actor = None,
    actor_label: str = "",
) -> Review:
    """A 1-5 star review. It is a verified purchase when the customer has an order with the
    product that was not canceled or unavailable; that order is linked to the review."""
    _valid_rating(rating)
    try:
        customer = customer_selectors.customer_get(public_id=customer_id)
    except NotFound:
        raise ValidationFailed(
            _("no customer with id %(id)s") % {"id": customer_id}, field="customer"
        ) from None
    if customer.erased_at is not None:
        raise ValidationFailed(_("the customer was erased"), field="customer")
    try:
        product = catalog_selectors.product_get(public_id=product_id)
    except NotFound:
        raise ValidationFailed(
            _("no product with id %(id)s") % {"id": product_id}, field="product"
        ) from None
    clean_title = _text(title, field="title", max_length=200)
    clean_body = _text(body, field="body", max_length=None)
    purchase = order_selectors.order_purchase_of(customer=customer, product=product)
    with transaction.atomic():
        review = Review.objects.create(
            customer=customer,
            product=product,
            order=purchase,
            rating=rating,
            title=clean_title,
            body=clean_body,
            verified_purchase=purchase is not None,
            reviewed_at=timezone.now(),
        )
        audit_log_write(
            action="review.create",
            object_type="review",
            object_id=review.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"product": product.public_id, "rating": rating},
        )
    return review


def shopper_get(*, customer_id: str) -> Customer:
    """The customer whose wishlist, ratings or feedback change: 404 when unknown, 409 when
    merged into another profile (its id says which) or erased."""
    try:
        customer = customer_selectors.customer_get(public_id=customer_id)
    except NotFound:
        raise NotFound(
            _("no customer with id %(id)s") % {"id": customer_id}, field="customer"
        ) from None
    customer_ensure_live(customer)
    if customer.erased_at is not None:
        raise Conflict(
            _("customer %(id)s was erased; nothing can be added to the profile")
            % {"id": customer_id},
            field="customer",
        )
    return customer


def shopper_product_get(*, product_id: str) -> Product:
    """The product a wishlist, rating or feedback is about: 404 naming the product."""
    try:
        return catalog_selectors.product_get(public_id=product_id)
    except NotFound:
        raise NotFound(
            _("no product with id %(id)s") % {"id": product_id}, field="product"
        ) from None


def wishlist_add(
    *, customer_id: str, product_id: str, actor: Actor = None, actor_label: str = ""
) -> WishlistItem:
    """Put a product on the customer's wishlist. Adding it again changes nothing and returns
    the existing entry (no second audit row). Products no longer sold cannot be added."""
    customer = shopper_get(customer_id=customer_id)
    product = shopper_product_get(product_id=product_id)
    with transaction.atomic():
        item = WishlistItem.objects.filter(customer=customer, product=product).first()
        if item is not None:
            return item
        if not product.is_active:
            raise ValidationFailed(
                _("product %(id)s is no longer sold") % {"id": product_id}, field="product"
            )
        # get_or_create: a concurrent add of the same product lands on the unique constraint
        # and is read back instead of failing.
        item, created = WishlistItem.objects.get_or_create(customer=customer, product=product)
        if created:
            audit_log_write(
                action="wishlist.add",
                object_type="customer",
                object_id=customer.public_id,
                actor=actor,
                actor_label=actor_label,
                data={"product": product.public_id},
            )
    return item


def wishlist_remove(
    *, customer_id: str, product_id: str, actor: Actor = None, actor_label: str = ""
) -> None:
    """Take a product off the customer's wishlist; 404 when it is not on it."""
    customer = shopper_get(customer_id=customer_id)
    product = shopper_product_get(product_id=product_id)
    with transaction.atomic():
        deleted, _rows = WishlistItem.objects.filter(customer=customer, product=product).delete()
        if not deleted:
            raise NotFound(
                _("product %(product)s is not on the wishlist of %(customer)s")
                % {"product": product_id, "customer": customer_id},
                field="product",
            )
        audit_log_write(
            action="wishlist.remove",
            object_type="customer",
            object_id=customer.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"product": product.public_id},
        )


def rating_set(
    *,
    customer_id: str,
    product_id: str,
    rating: int,
    actor: Actor = None,
    actor_label: str = "",
) -> Review:
    """ "Rate what you bought": 1-5 stars for a product the customer purchased (an order with
    it that was not canceled or unavailable; otherwise 422 on ``product``).

    The rating is the customer's latest review of the product: it is updated in place (and
    becomes a verified purchase linked to the latest such order) or, when there is none, a
    verified review without text is created. Title and body of an existing review stay.
    """
    _valid_rating(rating)
    customer = shopper_get(customer_id=customer_id)
    product = shopper_product_get(product_id=product_id)
    purchase = order_selectors.order_purchase_of(customer=customer, product=product)
    if purchase is None:
        raise ValidationFailed(
            _("only a purchased product can be rated: %(customer)s has no order of %(product)s")
            % {"customer": customer_id, "product": product_id},
            field="product",
        )
    now = timezone.now()
    with transaction.atomic():
        # Lock the customer so two concurrent ratings of one product cannot both create a
        # review (PostgreSQL; SQLite serializes writers anyway).
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        review = (
            Review.objects.filter(customer=customer, product=product)
            .order_by("-reviewed_at", "-id")
            .first()
        )
        previous = review.rating if review is not None else None
        if review is None:
            review = Review.objects.create(
                customer=customer,
                product=product,
                order=purchase,
                rating=rating,
                verified_purchase=True,
                reviewed_at=now,
            )
        else:
            review.rating = rating
            review.order = purchase
            review.verified_purchase = True
            review.reviewed_at = now
            review.save(
                update_fields=["rating", "order", "verified_purchase", "reviewed_at", "updated_at"]
            )
        audit_log_write(
            action="rating.set",
            object_type="review",
            object_id=review.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"product": product.public_id, "rating": rating, "previous": previous},
        )
    return review
