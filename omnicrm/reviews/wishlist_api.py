"""Wishlists and purchase ratings under /api/v1/wishlists and /api/v1/ratings."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from omnicrm.core.api_auth import actor_label
from omnicrm.core.api_errors import error_responses
from omnicrm.core.errors import NotFound, ValidationFailed
from omnicrm.core.pagination import Page, paginate
from omnicrm.customers import selectors as customer_selectors
from omnicrm.customers.models import Customer
from omnicrm.customers.services import customer_ensure_live
from omnicrm.reviews import selectors, services
from omnicrm.reviews.models import Review, WishlistItem
from omnicrm.reviews.schemas import (
    RatingListQuery,
    RatingOut,
    RatingSetIn,
    WishlistAddIn,
    WishlistItemOut,
    WishlistListQuery,
)

wishlists_router = Router(tags=["wishlists"])
ratings_router = Router(tags=["reviews"])


def live_customer(customer_id: str) -> Customer:
    """The customer read by a GET: 404 when unknown, 409 `customer_merged` when merged."""
    customer = customer_selectors.customer_get(public_id=customer_id)
    customer_ensure_live(customer)
    return customer


@wishlists_router.get(
    "/{customer_id}", response={200: Page[WishlistItemOut], **error_responses(404, 409, 422)}
)
def wishlist_list(request: HttpRequest, customer_id: str, query: Query[WishlistListQuery]) -> dict:
    """The customer's wishlist, newest first."""
    qs = selectors.wishlist_list(customer=live_customer(customer_id))
    page = paginate(
        qs,
        cursor=query.cursor,
        limit=query.limit,
        ordering=("-created_at", "-id"),
        namespace="wishlists",
    )
    return page.as_response()


@wishlists_router.post(
    "/{customer_id}",
    response={200: WishlistItemOut, 201: WishlistItemOut, **error_responses(404, 409, 422)},
)
def wishlist_add(
    request: HttpRequest, customer_id: str, payload: WishlistAddIn
) -> Status[WishlistItem]:
    """Put a product on the wishlist: 201 when added, 200 when it was already there.
    An unknown or retired product is a 422 on `product`."""
    before = (
        selectors.wishlist_list(customer=live_customer(customer_id))
        .filter(product__public_id=payload.product)
        .exists()
    )
    try:
        item = services.wishlist_add(
            customer_id=customer_id, product_id=payload.product, actor_label=actor_label(request)
        )
    except NotFound as exc:
        if exc.field != "product":
            raise
        # The product came in the body, so it is a bad field rather than a missing resource.
        raise ValidationFailed(exc.message, field="product") from None
    return Status(200 if before else 201, item)


@wishlists_router.delete(
    "/{customer_id}/{product_id}", response={204: None, **error_responses(404, 409)}
)
def wishlist_remove(request: HttpRequest, customer_id: str, product_id: str) -> Status[None]:
    """Take a product off the wishlist; 404 when it is not on it."""
    services.wishlist_remove(
        customer_id=customer_id, product_id=product_id, actor_label=actor_label(request)
    )
    return Status(204, None)


@ratings_router.get(
    "/{customer_id}", response={200: Page[RatingOut], **error_responses(404, 409, 422)}
)
def rating_list(request: HttpRequest, customer_id: str, query: Query[RatingListQuery]) -> dict:
    """The customer's current rating of each product they rated, latest first."""
    qs = selectors.customer_rating_list(customer=live_customer(customer_id))
    page = paginate(
        qs,
        cursor=query.cursor,
        limit=query.limit,
        ordering=("-reviewed_at", "-id"),
        namespace="ratings",
    )
    return page.as_response()


@ratings_router.put(
    "/{customer_id}/{product_id}", response={200: RatingOut, **error_responses(404, 409, 422)}
)
def rating_set(
    request: HttpRequest, customer_id: str, product_id: str, payload: RatingSetIn
) -> Review:
    """Rate a purchased product 1-5 stars ("improve your recommendations"). The rating is the
    customer's verified review of it, created or updated; recommendations use it at once.
    A product the customer has not bought is a 422 on `product`."""
    review = services.rating_set(
        customer_id=customer_id,
        product_id=product_id,
        rating=payload.rating,
        actor_label=actor_label(request),
    )
    return selectors.review_get(public_id=review.public_id)
