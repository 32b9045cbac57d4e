"""Every write to reviews. Whether a review is a verified purchase is decided here."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.catalog import selectors as catalog_selectors
from omnicrm.core.errors import NotFound, ValidationFailed
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.customers import selectors as customer_selectors
from omnicrm.orders import selectors as order_selectors
from omnicrm.reviews.models import Review


def _text(value: Any, *, field: str, max_length: int | None) -> str:
    text = "" if value is None else str(value).strip()
    if max_length is not None and len(text) > max_length:
        raise ValidationFailed(
            _("%(field)s is at most %(n)s characters") % {"field": field, "n": max_length},
            field=field,
        )
    return text


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
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationFailed(_("rating must be a whole number from 1 to 5"), field="rating")
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
