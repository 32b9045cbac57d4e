"""API schemas of the catalog: products and categories."""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema

from omnicrm.core.api_types import STRICT_INPUT, AmountIn, DecimalStr, UtcDatetime
from omnicrm.core.pagination import CursorQuery
from omnicrm.reviews.schemas import RatingSummaryOut


class ProductListQuery(CursorQuery):
    q: str = Field("", max_length=200, description="Search the title, or match the SKU exactly.")
    category: str = Field("", max_length=120, description="Category slug.")
    in_stock: bool | None = Field(None, description="true: stock > 0; false: stock <= 0.")


class ProductOut(Schema):
    id: str
    sku: str
    title: str
    content: str
    category: str | None = Field(..., description="Category slug.")
    price: DecimalStr
    currency: str
    stock: int
    attributes: dict[str, Any]
    is_active: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return obj.public_id

    @staticmethod
    def resolve_category(obj: Any) -> str | None:
        return obj.category.slug if obj.category_id else None


class ProductDetailOut(ProductOut):
    """One product with the summary of its ratings.

    Build it with ``ProductDetailOut.from_orm(product, context={"rating": summary})``.
    """

    rating: RatingSummaryOut

    @staticmethod
    def resolve_rating(obj: Any, context: dict[str, Any]) -> Any:
        return context["rating"]


class ProductCreateIn(Schema):
    model_config = STRICT_INPUT

    sku: str = Field(..., min_length=1, max_length=100, examples=["ARABICA-10"])
    title: str = Field(..., min_length=1, max_length=300, examples=["Arabica, 10 packs"])
    price: AmountIn = Field(..., examples=["19.90"])
    currency: str = Field(..., min_length=3, max_length=3, examples=["USD"])
    content: str = ""
    category: str | None = Field(None, max_length=120, description="Category slug.")
    stock: int = 0
    attributes: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class ProductUpdateIn(Schema):
    """Only the fields sent change."""

    model_config = STRICT_INPUT

    sku: str | None = Field(None, min_length=1, max_length=100)
    title: str | None = Field(None, min_length=1, max_length=300)
    price: AmountIn | None = None
    currency: str | None = Field(None, min_length=3, max_length=3)
    content: str | None = None
    category: str | None = Field(None, max_length=120, description="Category slug; null clears.")
    stock: int | None = None
    attributes: dict[str, Any] | None = None
    is_active: bool | None = None


class CategoryListQuery(CursorQuery):
    pass


class CategoryOut(Schema):
    slug: str
    name: str
    parent: str | None = Field(..., description="Slug of the parent category.")

    @staticmethod
    def resolve_parent(obj: Any) -> str | None:
        return obj.parent.slug if obj.parent_id else None
