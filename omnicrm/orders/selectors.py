"""Reads of orders: lists, one order with its lines and payments, purchase checks."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from omnicrm.catalog.models import Product
from omnicrm.core.errors import NotFound
from omnicrm.customers.models import Customer
from omnicrm.orders.models import Order, OrderLine, OrderStatus, Payment

# Orders that never reached the customer do not make a purchase.
NOT_PURCHASED_STATUSES = (OrderStatus.CANCELED, OrderStatus.UNAVAILABLE)


def order_list(
    *,
    customer_public_id: str = "",
    status: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Order]:
    """Orders newest first with their customer loaded; `since` <= placed_at < `until`."""
    qs = Order.objects.select_related("customer")
    if customer_public_id:
        qs = qs.filter(customer__public_id=customer_public_id)
    if status:
        qs = qs.filter(status=status)
    if since is not None:
        qs = qs.filter(placed_at__gte=since)
    if until is not None:
        qs = qs.filter(placed_at__lt=until)
    return qs.order_by("-placed_at", "-id")


def order_get(*, public_id: str) -> Order:
    """One order with its customer, lines (and their products) and payments loaded."""
    try:
        return (
            Order.objects.select_related("customer")
            .prefetch_related(
                Prefetch(
                    "lines",
                    queryset=OrderLine.objects.select_related("product").order_by("line_number"),
                ),
                Prefetch("payments", queryset=Payment.objects.order_by("sequence")),
            )
            .get(public_id=public_id)
        )
    except Order.DoesNotExist:
        raise NotFound(_("no order with id %(id)s") % {"id": public_id}, field="id") from None


def order_purchase_of(*, customer: Customer, product: Product) -> Order | None:
    """The latest order in which `customer` bought `product`, if one reached them."""
    return (
        Order.objects.filter(customer=customer, lines__product=product)
        .exclude(status__in=NOT_PURCHASED_STATUSES)
        .order_by("-placed_at", "-id")
        .first()
    )


def order_by_external_id(*, external_id: str) -> Order | None:
    """The order the shop knows by ``external_id`` (its own order number), if any."""
    return Order.objects.select_related("customer").filter(external_id=external_id).first()
