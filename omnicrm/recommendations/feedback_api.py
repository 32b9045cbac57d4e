"""Customers' feedback on recommendations under /api/v1/recommendations/feedback.

"Not interested" hides a product from the customer's recommendations; "don't use for
recommendations" (exclude_purchase) stops a purchase, a gift say, from shaping them. Both
apply to the next request: serving reads feedback live.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from omnicrm.core.api_auth import actor_label
from omnicrm.core.api_errors import error_responses
from omnicrm.core.api_types import STRICT_INPUT, UtcDatetime
from omnicrm.core.pagination import CursorQuery, Page, paginate
from omnicrm.recommendations import feedback
from omnicrm.recommendations.models import RecommendationFeedback
from omnicrm.reviews.wishlist_api import live_customer

router = Router(tags=["recommendations"])

FeedbackKindName = Literal["not_interested", "exclude_purchase"]


class FeedbackSetIn(Schema):
    model_config = STRICT_INPUT

    kind: FeedbackKindName = Field(
        ...,
        description="not_interested: never recommend it; exclude_purchase: a purchase that "
        "must not shape the customer's recommendations (a gift).",
    )


class FeedbackClearQuery(Schema):
    kind: FeedbackKindName = Field(..., description="Which feedback to withdraw.")


class FeedbackListQuery(CursorQuery):
    pass


class FeedbackOut(Schema):
    product: str = Field(..., description="Product id (prd_...).")
    title: str = Field(..., description="The product's title.")
    kind: FeedbackKindName
    created_at: UtcDatetime

    @staticmethod
    def resolve_product(obj: Any) -> str:
        return obj.product.public_id

    @staticmethod
    def resolve_title(obj: Any) -> str:
        return obj.product.title


@router.get("/{customer_id}", response={200: Page[FeedbackOut], **error_responses(404, 409, 422)})
def feedback_list(request: HttpRequest, customer_id: str, query: Query[FeedbackListQuery]) -> dict:
    """The customer's feedback, newest first."""
    qs = feedback.feedback_list(customer=live_customer(customer_id))
    page = paginate(
        qs,
        cursor=query.cursor,
        limit=query.limit,
        ordering=("-created_at", "-id"),
        namespace="recommendation_feedback",
    )
    return page.as_response()


@router.put(
    "/{customer_id}/{product_id}", response={200: FeedbackOut, **error_responses(404, 409, 422)}
)
def feedback_set(
    request: HttpRequest, customer_id: str, product_id: str, payload: FeedbackSetIn
) -> RecommendationFeedback:
    """Give feedback on a product; giving it again changes nothing. `exclude_purchase` needs
    a purchase of the product (422 on `product` otherwise)."""
    return feedback.feedback_set(
        customer_id=customer_id,
        product_id=product_id,
        kind=payload.kind,
        actor_label=actor_label(request),
    )


@router.delete(
    "/{customer_id}/{product_id}", response={204: None, **error_responses(404, 409, 422)}
)
def feedback_clear(
    request: HttpRequest, customer_id: str, product_id: str, query: Query[FeedbackClearQuery]
) -> Status[None]:
    """Withdraw feedback (`?kind=not_interested` or `?kind=exclude_purchase`); 404 when the
    customer had not given it."""
    feedback.feedback_clear(
        customer_id=customer_id,
        product_id=product_id,
        kind=query.kind,
        actor_label=actor_label(request),
    )
    return Status(204, None)
