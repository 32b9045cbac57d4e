"""/api/v1/products and /api/v1/categories."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from omnicrm.catalog import selectors, services
from omnicrm.catalog.models import Product
from omnicrm.catalog.schemas import (
    CategoryListQuery,
    CategoryOut,
    ProductCreateIn,
    ProductDetailOut,
    ProductListQuery,
    ProductOut,
    ProductUpdateIn,
)
from omnicrm.core.api_auth import actor_label
from omnicrm.core.api_errors import error_responses
from omnicrm.core.pagination import Page, paginate
from omnicrm.reviews import selectors as review_selectors

products_router = Router(tags=["products"])
categories_router = Router(tags=["categories"])


@products_router.get("", response={200: Page[ProductOut], **error_responses(422)})
def product_list(request: HttpRequest, query: Query[ProductListQuery]) -> dict:
    """Products by title; filter by search term, category slug and stock."""
    qs = selectors.product_list(
        search=query.q, category_slug=query.category, in_stock=query.in_stock
    )
    page = paginate(
        qs, cursor=query.cursor, limit=query.limit, ordering=("title", "id"), namespace="products"
    )
    return page.as_response()


@products_router.get("/{product_id}", response={200: ProductDetailOut, **error_responses(404)})
def product_retrieve(request: HttpRequest, product_id: str) -> ProductDetailOut:
    """One product with its rating summary (average, count, distribution)."""
    product = selectors.product_get(public_id=product_id)
    summary = review_selectors.product_rating_summary(product=product)
    return ProductDetailOut.from_orm(product, context={"rating": summary})


@products_router.post("", response={201: ProductOut, **error_responses(409, 422)})
def product_create(request: HttpRequest, payload: ProductCreateIn) -> Status[Product]:
    """Create a product; a SKU already in use is a 409."""
    data = payload.model_dump()
    data["category_slug"] = data.pop("category")
    product = services.product_create(**data, actor_label=actor_label(request))
    return Status(201, selectors.product_get(public_id=product.public_id))


@products_router.patch(
    "/{product_id}", response={200: ProductOut, **error_responses(404, 409, 422)}
)
def product_update(request: HttpRequest, product_id: str, payload: ProductUpdateIn) -> Product:
    """Change the fields sent."""
    product = selectors.product_get(public_id=product_id)
    services.product_update(
        product=product,
        data=payload.model_dump(exclude_unset=True),
        actor_label=actor_label(request),
    )
    return selectors.product_get(public_id=product_id)


@categories_router.get("", response={200: Page[CategoryOut], **error_responses(422)})
def category_list(request: HttpRequest, query: Query[CategoryListQuery]) -> dict:
    """Categories by name, each with its parent's slug."""
    page = paginate(
        selectors.category_list(),
        cursor=query.cursor,
        limit=query.limit,
        ordering=("name", "id"),
        namespace="categories",
    )
    return page.as_response()
