"""/api/v1/reviews: ratings and reviews; verified purchase is decided by the server."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from omnicrm.catalog import selectors as catalog_selectors
from omnicrm.core.api_auth import actor_label
from omnicrm.core.api_errors import error_responses
from omnicrm.core.pagination import Page, paginate
from omnicrm.reviews import selectors, services
from omnicrm.reviews.models import Review
from omnicrm.reviews.schemas import (
    ProductRatingSummaryOut,
    ReviewCreateIn,
    ReviewListQuery,
    ReviewOut,
)

router = Router(tags=["reviews"])


@router.get("", response={200: Page[ReviewOut], **error_responses(422)})
def review_list(request: HttpRequest, query: Query[ReviewListQuery]) -> dict:
    """Reviews newest first; filter by product, customer and minimum rating."""
    qs = selectors.review_list(
        product_public_id=query.product,
        customer_public_id=query.customer,
        min_rating=query.min_rating,
    )
    page = paginate(
        qs,
        cursor=query.cursor,
        limit=query.limit,
        ordering=("-reviewed_at", "-id"),
        namespace="reviews",
    )
    return page.as_response()


@router.get(
    "/summary/{product_id}", response={200: ProductRatingSummaryOut, **error_responses(404)}
)
def rating_summary(request: HttpRequest, product_id: str) -> dict:
    """A product's ratings: average (2 decimals), count and how many gave each star."""
    product = catalog_selectors.product_get(public_id=product_id)
    return {
        "product": product.public_id,
        "rating": selectors.product_rating_summary(product=product),
    }


@router.get("/{review_id}", response={200: ReviewOut, **error_responses(404)})
def review_retrieve(request: HttpRequest, review_id: str) -> Review:
    return selectors.review_get(public_id=review_id)


@router.post("", response={201: ReviewOut, **error_responses(422)})
def review_create(request: HttpRequest, payload: ReviewCreateIn) -> Status[Review]:
    """Create a review; `verified_purchase` is true when the customer bought the product."""
    review = services.review_create(
        customer_id=payload.customer,
        product_id=payload.product,
        rating=payload.rating,
        title=payload.title,
        body=payload.body,
        actor_label=actor_label(request),
    )
    return Status(201, selectors.review_get(public_id=review.public_id))
