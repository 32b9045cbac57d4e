"""API schemas of orders, their lines and payments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from omnicrm.core.api_types import (
    STRICT_INPUT,
    AmountIn,
    AwareDatetimeIn,
    DecimalStr,
    UtcDatetime,
)
from omnicrm.core.pagination import CursorQuery
from omnicrm.orders.models import Channel, OrderStatus, PaymentMethod


class OrderListQuery(CursorQuery):
    customer: str = Field("", max_length=40, description="Customer id (cus_...).")
    status: OrderStatus | None = None
    since: AwareDatetimeIn | None = Field(None, description="placed_at at or after this time.")
    until: AwareDatetimeIn | None = Field(None, description="placed_at before this time.")


class OrderListOut(Schema):
    id: str
    external_id: str | None
    customer: str | None = Field(..., description="Customer id (cus_...).")
    channel: Channel
    status: OrderStatus
    placed_at: UtcDatetime
    currency: str
    subtotal: DecimalStr
    shipping_total: DecimalStr
    discount_total: DecimalStr
    total: DecimalStr

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return obj.public_id

    @staticmethod
    def resolve_customer(obj: Any) -> str | None:
        return obj.customer.public_id if obj.customer_id else None


class OrderLineOut(Schema):
    line_number: int
    product: str | None = Field(..., description="Product id (prd_...).")
    sku: str
    title: str
    quantity: int
    unit_price: DecimalStr
    total: DecimalStr

    @staticmethod
    def resolve_product(obj: Any) -> str | None:
        return obj.product.public_id if obj.product_id else None


class PaymentOut(Schema):
    """A payment as stored: the provider token stays write-only."""

    sequence: int
    method: PaymentMethod
    amount: DecimalStr
    currency: str
    installments: int
    brand: str
    last4: str


class OrderOut(OrderListOut):
    confirmed_at: UtcDatetime | None
    packed_at: UtcDatetime | None
    shipped_at: UtcDatetime | None
    delivered_at: UtcDatetime | None
    canceled_at: UtcDatetime | None
    estimated_delivery_at: UtcDatetime | None
    tracking_number: str
    lines: list[OrderLineOut]
    payments: list[PaymentOut]
    created_at: UtcDatetime
    updated_at: UtcDatetime


class OrderLineIn(Schema):
    model_config = STRICT_INPUT

    sku: str = Field(..., min_length=1, max_length=100)
    quantity: int = Field(..., ge=1)
    unit_price: AmountIn


class PaymentIn(Schema):
    """A payment method is a provider token plus brand and last 4; never a card number."""

    model_config = STRICT_INPUT

    method: PaymentMethod
    amount: AmountIn
    installments: int = Field(1, ge=1)
    token: str = Field("", max_length=200, description="Payment provider token, e.g. tok_...")
    brand: str = Field("", max_length=30, examples=["visa"])
    last4: str = Field("", pattern=r"^([0-9]{4})?$")


class OrderCreateIn(Schema):
    model_config = STRICT_INPUT

    customer: str = Field(..., max_length=40, description="Customer id (cus_...).")
    currency: str = Field(..., min_length=3, max_length=3, examples=["USD"])
    lines: list[OrderLineIn] = Field(..., min_length=1)
    payments: list[PaymentIn] = Field(default_factory=list)
    channel: Channel = Channel.WEB
    status: OrderStatus = OrderStatus.PENDING
    placed_at: AwareDatetimeIn | None = Field(None, description="Defaults to now.")
    shipping_total: AmountIn = Field(default=Decimal("0.00"))
    discount_total: AmountIn = Field(default=Decimal("0.00"))
    external_id: str | None = Field(None, max_length=100)


class OrderStatusIn(Schema):
    model_config = STRICT_INPUT

    status: OrderStatus
    tracking_number: str = Field("", max_length=100, description="Needed to ship.")
    occurred_at: AwareDatetimeIn | None = Field(None, description="Defaults to now.")
