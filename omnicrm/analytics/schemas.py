"""API schemas of the analytics endpoints: predictions of a customer, the reorder forecast
of a category, the RFM grid. Money is a decimal string, times ISO 8601 UTC."""

from __future__ import annotations

from ninja import Field, Schema

from omnicrm.core.api_types import DecimalStr, UtcDatetime


class IntervalOut(Schema):
    low: float
    high: float


class MoneyIntervalOut(Schema):
    low: DecimalStr
    high: DecimalStr


class CategoryShareOut(Schema):
    category: str = Field(description="Category slug.")
    share: float


class CategoryReorderOut(Schema):
    category: str = Field(description="Category slug.")
    expected_reorders_30d: float
    probability: float = Field(description="Chance of at least one reorder in 30 days.")


class CustomerPredictionsOut(Schema):
    customer_id: str
    computed_at: UtcDatetime
    model: str = Field(description='"bgnbd", "rfm_fallback", or "" for a customer without orders.')
    order_count: int
    revenue: DecimalStr
    currency: str
    first_order_at: UtcDatetime | None
    last_order_at: UtcDatetime | None
    recency_days: int | None
    rfm_r: int | None
    rfm_f: int | None
    rfm_m: int | None
    rfm_score: str
    rfm_segment: str
    expected_purchases_30d: float
    expected_purchases_30d_interval: IntervalOut | None
    p_alive: float | None
    p_order_30d: float | None
    expected_order_value: DecimalStr | None
    clv_12m: DecimalStr | None
    clv_12m_interval: MoneyIntervalOut | None
    next_order_at: UtcDatetime | None
    churn_risk: str
    top_category: str | None = Field(description="Slug of the category with the most spend.")
    category_affinity: list[CategoryShareOut]
    seasonality: list[int] = Field(description="Orders by month of year, January first.")
    category_reorders: list[CategoryReorderOut]
    explanation: str


class ReorderQuery(Schema):
    category: str = Field(..., min_length=1, max_length=120, description="Category slug.")
    days: int = Field(30, ge=1, le=365, description="Window in days (stored for 30, scaled).")
    limit: int = Field(50, ge=1, le=500, description="How many of the likeliest customers.")


class ReorderCustomerOut(Schema):
    customer_id: str
    name: str
    email: str
    probability: float
    expected_reorders: float


class ReordersOut(Schema):
    category: str
    category_name: str
    days: int
    expected_reorders: float
    buyers: int = Field(description="Past buyers of the category with a forecast.")
    customers: list[ReorderCustomerOut]


class RFMCellOut(Schema):
    r: int
    f: int
    segment: str
    customers: int
    average_revenue: DecimalStr | None


class RFMSegmentOut(Schema):
    segment: str
    label: str
    customers: int


class RFMGridOut(Schema):
    scored_customers: int
    currency: str
    cells: list[RFMCellOut]
    segments: list[RFMSegmentOut]
