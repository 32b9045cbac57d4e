"""API schemas of the serving endpoints under /api/v1/recommendations."""

from __future__ import annotations

from ninja import Field, Schema

from omnicrm.core.api_types import DecimalStr, UtcDatetime

REASON_KINDS = (
    "bought, rated, wished, viewed, carted (the customer's own items: see causes); "
    "similar, together, content (a product's neighbours); trending, best_seller, top_rated, "
    "most_wished, popular_country, popular_language, popular (lists)"
)


class RecommendationQuery(Schema):
    limit: int = Field(10, ge=1, le=100, description="How many items, 1 to 100.")
    in_stock: bool = Field(False, description="Only products with stock.")
    category: str = Field(
        "", max_length=120, description="Category slug: only this category and those below it."
    )


class BestSellersQuery(RecommendationQuery):
    pass


class ProductOut(Schema):
    id: str = Field(..., description="Product id (prd_...).")
    title: str
    price: DecimalStr
    currency: str
    category: str | None = Field(..., description="Category slug.")
    in_stock: bool


class ReasonOut(Schema):
    kind: str = Field(..., description=REASON_KINDS)
    text: str = Field(
        ...,
        description="The sentence shown to the customer, in the request's language.",
        examples=["Because you bought Arabica Beans 1kg and rated Moka Pot 5 stars"],
    )


class CauseOut(Schema):
    product: str = Field(..., description="Product id (prd_...) of the customer's item.")
    title: str
    signal: str = Field(
        ..., description="How the customer touched it: bought, rated, wished, carted or viewed."
    )
    rating: int | None = Field(..., description="The stars given, for signal rated.")
    text: str = Field(..., examples=["rated 5 stars"])
    contribution: float = Field(..., description="Its share of the item's score.")


class RecommendationOut(Schema):
    product: ProductOut
    score: float
    reason: ReasonOut
    causes: list[CauseOut]


class TogetherOut(RecommendationOut):
    support: int | None = Field(..., description="Orders that contained both products.")
    confidence: float | None = Field(
        ..., description="Share of the orders with this product that also had the other."
    )
    lift: float | None = Field(
        ..., description="Confidence divided by how often the other product is bought at all."
    )


class RecommendationsOut(Schema):
    model: str | None = Field(
        ..., description="The training run that served the list (rmd_...); null before any."
    )
    trained_at: UtcDatetime | None
    customer: str | None = Field(None, description="The customer the list is for (cus_...).")
    items: list[RecommendationOut]


class TogetherListOut(Schema):
    model: str | None
    trained_at: UtcDatetime | None
    product: str
    items: list[TogetherOut]


class WhyOut(Schema):
    customer: str
    model: str | None
    product: ProductOut
    score: float
    reason: ReasonOut
    causes: list[CauseOut]
