"""Reads of reviews and ratings."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from omnicrm.core.errors import NotFound
from omnicrm.reviews.models import Review


def review_list(
    *, product_public_id: str = "", customer_public_id: str = "", min_rating: int | None = None
) -> QuerySet[Review]:
    """Reviews newest first with their customer, product and order loaded."""
    qs = Review.objects.select_related("customer", "product", "order")
    if product_public_id:
        qs = qs.filter(product__public_id=product_public_id)
    if customer_public_id:
        qs = qs.filter(customer__public_id=customer_public_id)
    if min_rating is not None:
        qs = qs.filter(rating__gte=min_rating)
    return qs.order_by("-reviewed_at", "-id")


def review_get(*, public_id: str) -> Review:
    try:
        return Review.objects.select_related("customer", "product", "order").get(
            public_id=public_id
        )
    except Review.DoesNotExist:
        raise NotFound(_("no review with id %(id)s") % {"id": public_id}, field="id") from None
