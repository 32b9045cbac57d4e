"""API schemas of reviews, ratings, rating summaries and wishlists."""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema

from omnicrm.core.api_types import STRICT_INPUT, DecimalStr, UtcDatetime
from omnicrm.core.pagination import CursorQuery


class ReviewListQuery(CursorQuery):
    product: str = Field("", max_length=40, description="Product id (prd_...).")
    customer: str = Field("", max_length=40, description="Customer id (cus_...).")
    min_rating: int | None = Field(None, ge=1, le=5)


class ReviewOut(Schema):
    id: str
    customer: str | None = Field(..., description="Customer id (cus_...).")
    product: str | None = Field(..., description="Product id (prd_...).")
    order: str | None = Field(..., description="The order that makes it a verified purchase.")
    rating: int
    title: str
    body: str
    verified_purchase: bool
    reviewed_at: UtcDatetime
    created_at: UtcDatetime

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return obj.public_id

    @staticmethod
    def resolve_customer(obj: Any) -> str | None:
        return obj.customer.public_id if obj.customer_id else None

    @staticmethod
    def resolve_product(obj: Any) -> str | None:
        return obj.product.public_id if obj.product_id else None

    @staticmethod
    def resolve_order(obj: Any) -> str | None:
        return obj.order.public_id if obj.order_id else None


class ReviewCreateIn(Schema):
    model_config = STRICT_INPUT

    customer: str = Field(..., max_length=40, description="Customer id (cus_...).")
    product: str = Field(..., max_length=40, description="Product id (prd_...).")
    rating: int = Field(..., ge=1, le=5)
    title: str = Field("", max_length=200)
    body: str = Field("", max_length=20000)


class RatingSummaryOut(Schema):
    """Ratings of one product: mean (2 decimals, null without ratings), count and how many
    ratings gave each star ("1" to "5", all present)."""

    average: float | None = Field(..., examples=[4.33])
    count: int
    distribution: dict[str, int] = Field(..., examples=[{"1": 1, "2": 0, "3": 0, "4": 3, "5": 5}])

    @staticmethod
    def resolve_average(obj: Any) -> float | None:
        return round(obj.average, 2) if obj.average is not None else None

    @staticmethod
    def resolve_distribution(obj: Any) -> dict[str, int]:
        return {str(star): n for star, n in sorted(obj.distribution.items())}


class ProductRatingSummaryOut(Schema):
    product: str = Field(..., description="Product id (prd_...).")
    rating: RatingSummaryOut


class WishlistListQuery(CursorQuery):
    pass


class RatingListQuery(CursorQuery):
    pass


class WishlistAddIn(Schema):
    model_config = STRICT_INPUT

    product: str = Field(..., min_length=1, max_length=40, description="Product id (prd_...).")


class WishlistItemOut(Schema):
    product: str = Field(..., description="Product id (prd_...).")
    title: str
    price: DecimalStr
    currency: str
    in_stock: bool
    added_at: UtcDatetime

    @staticmethod
    def resolve_product(obj: Any) -> str:
        return obj.product.public_id

    @staticmethod
    def resolve_title(obj: Any) -> str:
        return obj.product.title

    @staticmethod
    def resolve_price(obj: Any) -> Any:
        return obj.product.price

    @staticmethod
    def resolve_currency(obj: Any) -> str:
        return obj.product.currency

    @staticmethod
    def resolve_in_stock(obj: Any) -> bool:
        return obj.product.stock > 0

    @staticmethod
    def resolve_added_at(obj: Any) -> Any:
        return obj.created_at


class RatingSetIn(Schema):
    model_config = STRICT_INPUT

    rating: int = Field(..., ge=1, le=5, description="Stars, 1 to 5.")


class RatingOut(Schema):
    """The customer's current rating of one product (their latest review of it)."""

    product: str = Field(..., description="Product id (prd_...).")
    title: str = Field(..., description="The product's title.")
    rating: int
    review: str = Field(..., description="The review that holds the rating (rev_...).")
    verified_purchase: bool
    order: str | None = Field(..., description="The order that makes it a verified purchase.")
    rated_at: UtcDatetime

    @staticmethod
    def resolve_product(obj: Any) -> str:
        return obj.product.public_id

    @staticmethod
    def resolve_title(obj: Any) -> str:
        return obj.product.title

    @staticmethod
    def resolve_review(obj: Any) -> str:
        return obj.public_id

    @staticmethod
    def resolve_order(obj: Any) -> str | None:
        return obj.order.public_id if obj.order_id else None

    @staticmethod
    def resolve_rated_at(obj: Any) -> Any:
        return obj.reviewed_at
