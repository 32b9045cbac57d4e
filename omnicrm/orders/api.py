"""/api/v1/orders: orders with server-side totals and their status lifecycle."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from omnicrm.core.api_auth import actor_label
from omnicrm.core.api_errors import error_responses
from omnicrm.core.pagination import Page, paginate
from omnicrm.orders import selectors, services
from omnicrm.orders.models import Order
from omnicrm.orders.schemas import (
    OrderCreateIn,
    OrderListOut,
    OrderListQuery,
    OrderOut,
    OrderStatusIn,
)

router = Router(tags=["orders"])


@router.get("", response={200: Page[OrderListOut], **error_responses(422)})
def order_list(request: HttpRequest, query: Query[OrderListQuery]) -> dict:
    """Orders newest first; filter by customer, status and placed_at range."""
    qs = selectors.order_list(
        customer_public_id=query.customer,
        status=query.status or "",
        since=query.since,
        until=query.until,
    )
    page = paginate(
        qs,
        cursor=query.cursor,
        limit=query.limit,
        ordering=("-placed_at", "-id"),
        namespace="orders",
    )
    return page.as_response()


@router.get("/{order_id}", response={200: OrderOut, **error_responses(404)})
def order_retrieve(request: HttpRequest, order_id: str) -> Order:
    """One order with its lines and payments."""
    return selectors.order_get(public_id=order_id)


@router.post("", response={201: OrderOut, **error_responses(409, 422)})
def order_create(request: HttpRequest, payload: OrderCreateIn) -> Status[Order]:
    """Create an order; line totals, subtotal and total are computed from the lines.
    A field that looks like a card number is refused (422)."""
    data = payload.model_dump()
    order = services.order_create(
        customer_id=data.pop("customer"), **data, actor_label=actor_label(request)
    )
    return Status(201, selectors.order_get(public_id=order.public_id))


@router.patch("/{order_id}/status", response={200: OrderOut, **error_responses(404, 409, 422)})
def order_status_change(request: HttpRequest, order_id: str, payload: OrderStatusIn) -> Order:
    """Move the order to a new status and stamp the stage time; an illegal move is a 409."""
    order = selectors.order_get(public_id=order_id)
    services.order_status_change(
        order=order,
        status=payload.status,
        tracking_number=payload.tracking_number,
        occurred_at=payload.occurred_at,
        actor_label=actor_label(request),
    )
    return selectors.order_get(public_id=order_id)
