"""API schemas of reviews."""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema

from omnicrm.core.api_types import STRICT_INPUT, UtcDatetime
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
