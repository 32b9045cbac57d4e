"""Serving API under /api/v1/recommendations (lists with score, reason and cause items).

Every item carries its product, a score, a reason (kind and the sentence a shop shows) and,
for the customer's own recommendations, the customer's items that caused it. Before the
first training run every endpoint still answers: with the shop's most bought products,
computed live from orders (similar and together are then empty).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from ninja import Query, Router

from omnicrm.catalog.models import Product
from omnicrm.core.api_errors import error_responses
from omnicrm.core.errors import NotFound, ValidationFailed
from omnicrm.recommendations import serving, serving_anonymous, serving_lists, serving_why
from omnicrm.recommendations.schemas import (
    RecommendationQuery,
    RecommendationsOut,
    TogetherListOut,
    WhyOut,
)
from omnicrm.recommendations.serving import Filters, Recommendation, RecommendationList
from omnicrm.recommendations.serving_products import ProductCard

router = Router(tags=["recommendations"])

MAX_ANONYMOUS_ID = 255


def _filters(query: RecommendationQuery) -> Filters:
    return Filters(
        limit=query.limit,
        in_stock=query.in_stock,
        category_pk=serving.category_for_filter(query.category),
    )


def _product(card: ProductCard) -> dict[str, Any]:
    return {
        "id": card.public_id,
        "title": card.title,
        "price": card.price,
        "currency": card.currency,
        "category": card.category,
        "in_stock": card.in_stock,
    }


def _item(item: Recommendation, *, together: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "product": _product(item.product),
        "score": item.score,
        "reason": {"kind": item.reason_kind, "text": item.reason_text},
        "causes": [
            {
                "product": c.product,
                "title": c.title,
                "signal": c.signal,
                "rating": c.rating,
                "text": c.text,
                "contribution": c.contribution,
            }
            for c in item.causes
        ],
    }
    if together:
        out.update(support=item.support, confidence=item.confidence, lift=item.lift)
    return out


def _list(result: RecommendationList) -> dict[str, Any]:
    return {
        "model": result.model,
        "trained_at": result.trained_at,
        "customer": result.customer,
        "items": [_item(item) for item in result.items],
    }


def _utc(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _fast_list(result: RecommendationList) -> JsonResponse:
    """The "for you" answer, already in RecommendationsOut's JSON form.

    These two endpoints are the hot path a shop's site calls on every page view; validating
    the nested answer through the schema again costs a fifth of the request, so the body is
    built here in the schema's exact form (money as decimal strings, times as UTC with Z) and
    tests/recommendations/test_api.py checks it against RecommendationsOut.
    """
    body = _list(result)
    body["trained_at"] = _utc(result.trained_at)
    for item in body["items"]:
        item["product"]["price"] = format(item["product"]["price"], "f")
    return JsonResponse(body)


def _product_ref(product_id: str) -> tuple[int, str]:
    found = Product.objects.filter(public_id=product_id).values_list("pk", "title").first()
    if found is None:
        raise NotFound(_("no product with id %(id)s") % {"id": product_id}, field="product_id")
    return int(found[0]), str(found[1])


@router.get(
    "/customers/{customer_id}",
    response={200: RecommendationsOut, **error_responses(404, 409, 422)},
)
def for_customer(
    request: HttpRequest, customer_id: str, query: Query[RecommendationQuery]
) -> JsonResponse:
    """The customer's "for you" list: scored from their purchases, ratings, wishlist, cart
    and views (read at request time, so feedback counts at once), never what they bought
    (unless bought again and again) or said no to; filled from popular-in-their-country,
    -language, trending and popular lists when short."""
    customer = serving.customer_for_serving(public_id=customer_id)
    return _fast_list(serving.recommend_for_customer(customer=customer, filters=_filters(query)))


@router.get(
    "/anonymous/{anonymous_id}",
    response={200: RecommendationsOut, **error_responses(422)},
)
def for_anonymous(
    request: HttpRequest, anonymous_id: str, query: Query[RecommendationQuery]
) -> JsonResponse:
    """A visitor known by an anonymous id (first-party cookie): the profile's list when the
    id belongs to one; else scored from the visitor's recent product views and add-to-cart
    events; else the popular lists."""
    anonymous_id = anonymous_id.strip()
    if not anonymous_id or len(anonymous_id) > MAX_ANONYMOUS_ID:
        raise ValidationFailed(
            _("the anonymous id must be 1 to %(max)d characters") % {"max": MAX_ANONYMOUS_ID},
            field="anonymous_id",
        )
    filters = _filters(query)
    return _fast_list(
        serving_anonymous.recommend_for_anonymous(anonymous_id=anonymous_id, filters=filters)
    )


@router.get(
    "/customers/{customer_id}/why/{product_id}",
    response={200: WhyOut, **error_responses(404, 409)},
)
def why(request: HttpRequest, customer_id: str, product_id: str) -> dict[str, Any]:
    """ "Why was I recommended this?": the reason, the customer's items behind it and the
    sentence. 404 `not_found` when the product is not among the customer's
    recommendations right now, with `why_not` saying why: bought, not_interested,
    rated_low, not_sold or not_in_top."""
    customer = serving.customer_for_serving(public_id=customer_id)
    product_pk, _title = _product_ref(product_id)
    item = serving_why.recommendation_why(
        customer=customer, product_pk=product_pk, product_id=product_id
    )
    body = _item(item)
    body.update(customer=customer.public_id, model=serving.snapshot_current().model_public_id)
    return body


@router.get(
    "/products/{product_id}/similar",
    response={200: RecommendationsOut, **error_responses(404, 422)},
)
def similar(
    request: HttpRequest, product_id: str, query: Query[RecommendationQuery]
) -> dict[str, Any]:
    """Customers who bought this also bought: item-to-item neighbours from co-purchases and
    co-views; for a product too new to have any, products alike by title and category."""
    pk, title = _product_ref(product_id)
    result = serving_lists.recommend_similar(
        product_pk=pk, product_title=title, filters=_filters(query)
    )
    return _list(result)


@router.get(
    "/products/{product_id}/together",
    response={200: TogetherListOut, **error_responses(404, 422)},
)
def together(
    request: HttpRequest, product_id: str, query: Query[RecommendationQuery]
) -> dict[str, Any]:
    """Frequently bought together: products in the same orders, with support (orders with
    both), confidence (share of this product's orders with the other) and lift."""
    pk, title = _product_ref(product_id)
    result = serving_lists.recommend_together(
        product_pk=pk, product_title=title, filters=_filters(query)
    )
    return {
        "model": result.model,
        "trained_at": result.trained_at,
        "product": product_id,
        "items": [_item(item, together=True) for item in result.items],
    }


def _named_list(name: str, query: RecommendationQuery) -> dict[str, Any]:
    result = serving_lists.recommend_list(
        name=name, filters=_filters(query), category_slug=query.category.strip()
    )
    return _list(result)


@router.get("/trending", response={200: RecommendationsOut, **error_responses(404, 422)})
def trending(request: HttpRequest, query: Query[RecommendationQuery]) -> dict[str, Any]:
    """Products selling faster in the last 7 days than in the 28 before."""
    return _named_list("trending", query)


@router.get("/best-sellers", response={200: RecommendationsOut, **error_responses(404, 422)})
def best_sellers(request: HttpRequest, query: Query[RecommendationQuery]) -> dict[str, Any]:
    """The most sold products, of the whole shop or of a category (`category`)."""
    return _named_list("best_sellers", query)


@router.get("/top-rated", response={200: RecommendationsOut, **error_responses(404, 422)})
def top_rated(request: HttpRequest, query: Query[RecommendationQuery]) -> dict[str, Any]:
    """Products rated 4 stars and up (Bayesian average, at least 3 ratings)."""
    return _named_list("top_rated", query)


@router.get("/most-wished", response={200: RecommendationsOut, **error_responses(404, 422)})
def most_wished(request: HttpRequest, query: Query[RecommendationQuery]) -> dict[str, Any]:
    """Products on the most wishlists."""
    return _named_list("most_wished", query)
