"""Reads of customer profiles: lists, lookups and the Customer 360 summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Max, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from omnicrm.core.errors import NotFound
from omnicrm.customers.models import Customer
from omnicrm.orders.models import REVENUE_STATUSES, Order


def customer_get(*, public_id: str) -> Customer:
    try:
        return Customer.objects.get(public_id=public_id)
    except Customer.DoesNotExist:
        raise NotFound(f"no customer with id {public_id}", field="id") from None


def customer_list(
    *,
    search: str = "",
    country: str = "",
    has_orders: bool | None = None,
    include_erased: bool = False,
) -> QuerySet[Customer]:
    """Customers newest first, each annotated with its order count and last order time.

    The annotations are correlated subqueries, so a paginated page computes them only for
    the rows it shows.
    """
    # Merged profiles are tombstones: their data lives on the profile they were merged into.
    qs = Customer.objects.filter(merged_into__isnull=True)
    if not include_erased:
        qs = qs.filter(erased_at__isnull=True)
    term = search.strip()
    if term:
        condition = (
            Q(name__icontains=term)
            | Q(email__icontains=term)
            | Q(phone__contains=term)
            | Q(public_id=term)
            | Q(identities__value__iexact=term)
        )
        # The identity join can repeat a customer; filter on ids to keep one row each.
        qs = qs.filter(pk__in=Customer.objects.filter(condition).values("pk"))
    if country:
        qs = qs.filter(country=country.upper())
    orders = Order.objects.filter(customer=OuterRef("pk"))
    if has_orders is True:
        qs = qs.filter(pk__in=Order.objects.values("customer_id"))
    elif has_orders is False:
        qs = qs.exclude(pk__in=Order.objects.filter(customer__isnull=False).values("customer_id"))
    return qs.annotate(
        order_count=Subquery(
            orders.order_by().values("customer").annotate(c=Count("pk")).values("c")[:1]
        ),
        last_order_at=Subquery(orders.order_by("-placed_at").values("placed_at")[:1]),
    ).order_by("-id")


@dataclass(frozen=True)
class CustomerSummary:
    """The Customer 360 headline figures. Revenue counts orders that were not canceled."""

    order_count: int
    revenue_order_count: int
    lifetime_revenue: Decimal
    currency: str
    average_order_value: Decimal
    first_order_at: datetime | None
    last_order_at: datetime | None


def customer_summary(*, customer: Customer) -> CustomerSummary:
    totals = customer.orders.aggregate(
        order_count=Count("pk"),
        first_order_at=Min("placed_at"),
        last_order_at=Max("placed_at"),
    )
    by_currency = list(
        customer.orders.filter(status__in=REVENUE_STATUSES)
        .values("currency")
        .annotate(revenue=Coalesce(Sum("total"), Decimal(0)), n=Count("pk"))
        .order_by("-revenue")
    )
    # A shop sells in one main currency; the largest one is the headline figure.
    main = by_currency[0] if by_currency else {"currency": "", "revenue": Decimal(0), "n": 0}
    revenue = Decimal(main["revenue"]).quantize(Decimal("0.01"))
    aov = (revenue / main["n"]).quantize(Decimal("0.01")) if main["n"] else Decimal("0.00")
    return CustomerSummary(
        order_count=totals["order_count"],
        revenue_order_count=main["n"],
        lifetime_revenue=revenue,
        currency=main["currency"],
        average_order_value=aov,
        first_order_at=totals["first_order_at"],
        last_order_at=totals["last_order_at"],
    )


def customer_orders(*, customer: Customer) -> QuerySet[Order]:
    from omnicrm.orders.models import OrderLine, Payment

    return customer.orders.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.select_related("product")),
        Prefetch("payments", queryset=Payment.objects.order_by("sequence")),
    ).order_by("-placed_at")


def customer_profile(*, public_id: str) -> Customer:
    """A customer with identities, addresses and consents loaded for the 360 view."""
    try:
        return Customer.objects.prefetch_related("identities", "addresses", "consents").get(
            public_id=public_id
        )
    except Customer.DoesNotExist:
        raise NotFound(f"no customer with id {public_id}", field="id") from None


def customer_reviews(*, customer: Customer, limit: int = 20) -> QuerySet:
    """A customer's latest reviews with their products, for the Customer 360 page."""
    from omnicrm.reviews.models import Review

    return (
        Review.objects.filter(customer=customer)
        .select_related("product")
        .order_by("-reviewed_at", "-id")[:limit]
    )


def customer_countries() -> list[str]:
    """The countries customers live in (ISO codes, sorted), for the console's filter."""
    return list(
        Customer.objects.exclude(country="")
        .order_by("country")
        .values_list("country", flat=True)
        .distinct()
    )
