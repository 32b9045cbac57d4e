"""Reads of reviews, ratings and wishlists."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from omnicrm.catalog.models import Product
from omnicrm.core.errors import NotFound
from omnicrm.customers.models import Customer
from omnicrm.reviews.models import Review, WishlistItem

STARS = (1, 2, 3, 4, 5)


def _empty_distribution() -> dict[int, int]:
    return dict.fromkeys(STARS, 0)


@dataclass(frozen=True)
class RatingBar:
    """One row of the distribution chart: how many gave ``star`` stars, and their share."""

    star: int
    count: int
    percent: int


@dataclass(frozen=True)
class RatingSummary:
    """What a product page shows about its ratings.

    ``average`` is the exact mean of every rating (None when there is none yet), ``count``
    the number of ratings and ``distribution`` how many gave each star, all five keys present.
    """

    average: float | None
    count: int
    distribution: dict[int, int] = field(default_factory=_empty_distribution)

    @classmethod
    def from_distribution(cls, distribution: dict[int, int]) -> RatingSummary:
        full = _empty_distribution()
        full.update({star: n for star, n in distribution.items() if star in full})
        count = sum(full.values())
        total = sum(star * n for star, n in full.items())
        return cls(average=total / count if count else None, count=count, distribution=full)

    def bars(self) -> list[RatingBar]:
        """One bar per star, 5 down to 1, for the distribution chart."""
        shares = self.percentages()
        return [RatingBar(star, self.distribution[star], shares[star]) for star in reversed(STARS)]

    def percentages(self) -> dict[int, int]:
        """Share of ratings per star, whole percent, for the distribution bars."""
        if not self.count:
            return _empty_distribution()
        return {star: round(100 * n / self.count) for star, n in self.distribution.items()}


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


def product_rating_summary(*, product: Product) -> RatingSummary:
    """Average, count and star distribution of every rating of ``product`` (one query)."""
    return product_rating_summaries(product_ids=[product.pk])[product.pk]


def product_rating_summaries(*, product_ids: Iterable[int]) -> dict[int, RatingSummary]:
    """Rating summaries of many products in one grouped query; every id asked for gets an
    entry, an empty summary when the product has no rating."""
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    per_product: dict[int, dict[int, int]] = {pk: {} for pk in ids}
    rows = (
        Review.objects.filter(product_id__in=ids)
        .order_by()
        .values_list("product_id", "rating")
        .annotate(n=Count("id"))
    )
    for product_id, rating, n in rows:
        per_product[product_id][rating] = n
    return {pk: RatingSummary.from_distribution(dist) for pk, dist in per_product.items()}


def wishlist_list(*, customer: Customer) -> QuerySet[WishlistItem]:
    """The customer's wishlist, newest first, with each product and its category loaded."""
    return (
        WishlistItem.objects.filter(customer=customer)
        .select_related("customer", "product", "product__category")
        .order_by("-created_at", "-id")
    )


def customer_rating_list(*, customer: Customer) -> QuerySet[Review]:
    """The customer's current rating of each product they rated: their latest review of it.

    Older reviews of the same product are superseded, as a new rating replaces the old one.
    """
    latest = (
        Review.objects.filter(customer=OuterRef("customer"), product=OuterRef("product"))
        .order_by("-reviewed_at", "-id")
        .values("id")[:1]
    )
    return (
        Review.objects.filter(customer=customer, product__isnull=False)
        .filter(id=Subquery(latest))
        .select_related("customer", "product", "order")
        .order_by("-reviewed_at", "-id")
    )


def customer_ratings(*, customer_pk: int) -> dict[int, int]:
    """Product pk -> the customer's latest rating of it (one query). Every review counts,
    verified or not: an unhappy rating says as much about taste either way."""
    rows = (
        Review.objects.filter(customer_id=customer_pk, product__isnull=False)
        .order_by("reviewed_at", "id")
        .values_list("product_id", "rating")
    )
    # Ascending order: a later review of the same product overwrites an earlier one.
    return dict(rows)


def wished_product_ids(*, customer_pk: int) -> list[int]:
    """Product pks on the customer's wishlist, newest first (one query)."""
    return list(
        WishlistItem.objects.filter(customer_id=customer_pk)
        .order_by("-created_at", "-id")
        .values_list("product_id", flat=True)
    )
