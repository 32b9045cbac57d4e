"""Dashboard figures: shop-wide counts, revenue, repeat rate and monthly totals.

Every figure is computed from the source of truth (customers and orders) in a handful of
grouped queries, so it works the same on SQLite and PostgreSQL and never loops per month
or per customer in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from omnicrm.core.money import MINOR_UNITS
from omnicrm.customers.models import Customer
from omnicrm.orders.models import REVENUE_STATUSES, Order

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")


def _quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2)))


@dataclass(frozen=True)
class CurrencyRevenue:
    currency: str
    revenue: Decimal
    order_count: int


@dataclass(frozen=True)
class DashboardMetrics:
    """The headline figures of the home dashboard.

    - ``customer_count``: profiles that were not erased or merged into another.
    - ``order_count``: every order ever placed, whatever its status.
    - ``revenue_order_count``: orders whose status is in ``REVENUE_STATUSES`` (confirmed up
      to delivered; pending, canceled, unavailable and returned orders bring no revenue).
    - ``revenue``: the sum of those orders' totals in the shop's main currency, the one with
      the largest revenue; ``other_currencies`` lists the rest so the page can say so.
    - ``average_order_value``: ``revenue`` divided by the revenue orders in that currency.
    - ``buyer_count``: customers with at least one revenue order (any currency).
    - ``repeat_buyer_count``: buyers with two or more revenue orders.
    - ``repeat_rate``: ``repeat_buyer_count / buyer_count`` as a fraction rounded to four
      places (0.3333 is 33.33 %), 0 when nobody has bought yet. Orders without a customer
      (anonymous checkouts) count in orders and revenue but not in the repeat rate.
    """

    customer_count: int
    order_count: int
    revenue_order_count: int
    revenue: Decimal
    currency: str
    average_order_value: Decimal
    buyer_count: int
    repeat_buyer_count: int
    repeat_rate: Decimal
    first_order_at: datetime | None
    last_order_at: datetime | None
    other_currencies: tuple[CurrencyRevenue, ...]


def order_revenue_by_currency() -> list[CurrencyRevenue]:
    """Revenue and revenue-order count per currency, largest revenue first."""
    rows = (
        Order.objects.filter(status__in=REVENUE_STATUSES)
        .values("currency")
        .annotate(revenue=Sum("total"), n=Count("pk"))
        .order_by("-revenue", "currency")
    )
    return [
        CurrencyRevenue(
            currency=row["currency"],
            revenue=_quantize(Decimal(row["revenue"] or 0), row["currency"]),
            order_count=row["n"],
        )
        for row in rows
    ]


def dashboard_metrics() -> DashboardMetrics:
    """The home dashboard's KPI figures, in four queries (see DashboardMetrics)."""
    customer_count = Customer.objects.filter(
        erased_at__isnull=True, merged_into__isnull=True
    ).count()
    orders = Order.objects.aggregate(n=Count("pk"), first=Min("placed_at"), last=Max("placed_at"))
    by_currency = order_revenue_by_currency()
    main = by_currency[0] if by_currency else CurrencyRevenue("", Decimal("0.00"), 0)
    aov = (
        _quantize(main.revenue / main.order_count, main.currency)
        if main.order_count
        else Decimal("0.00")
    )
    # Aggregating over the per-customer counts makes the database do it in one query.
    buyers = (
        Order.objects.filter(status__in=REVENUE_STATUSES, customer__isnull=False)
        .values("customer_id")
        .annotate(n=Count("pk"))
        .aggregate(buyers=Count("customer_id"), repeaters=Count("customer_id", filter=Q(n__gte=2)))
    )
    buyer_count = buyers["buyers"] or 0
    repeat_count = buyers["repeaters"] or 0
    rate = (
        (Decimal(repeat_count) / Decimal(buyer_count)).quantize(RATE_PLACES)
        if buyer_count
        else Decimal("0.0000")
    )
    return DashboardMetrics(
        customer_count=customer_count,
        order_count=orders["n"],
        revenue_order_count=main.order_count,
        revenue=main.revenue,
        currency=main.currency,
        average_order_value=aov,
        buyer_count=buyer_count,
        repeat_buyer_count=repeat_count,
        repeat_rate=rate,
        first_order_at=orders["first"],
        last_order_at=orders["last"],
        other_currencies=tuple(by_currency[1:]),
    )


@dataclass(frozen=True)
class MonthTotal:
    """One calendar month (UTC) of orders: all orders placed, and revenue in one currency."""

    month: date
    order_count: int
    revenue: Decimal


def _month_start(value: date) -> date:
    return date(value.year, value.month, 1)


def _add_months(value: date, months: int) -> date:
    index = value.year * 12 + (value.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _as_utc(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def order_monthly_totals(
    *, months: int = 12, end: date | datetime | None = None, currency: str = ""
) -> list[MonthTotal]:
    """The last ``months`` calendar months up to ``end`` (default: the latest order's month),
    oldest first, months without orders included as zeros.

    ``order_count`` counts every order placed in the month; ``revenue`` sums the totals of
    revenue-status orders in ``currency`` (no currency: revenue is zero, since adding up
    different currencies means nothing). One grouped query with TruncMonth, so the
    database does the bucketing on SQLite and PostgreSQL alike.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    if end is None:
        end = Order.objects.aggregate(last=Max("placed_at"))["last"] or datetime.now(tz=UTC)
    if isinstance(end, datetime):
        end = end.astimezone(UTC).date()
    last_month = _month_start(end)
    first_month = _add_months(last_month, -(months - 1))
    revenue_filter = Q(status__in=REVENUE_STATUSES, currency=currency)
    rows = (
        Order.objects.filter(
            placed_at__gte=_as_utc(first_month),
            placed_at__lt=_as_utc(_add_months(last_month, 1)),
        )
        .annotate(month=TruncMonth("placed_at", tzinfo=UTC))
        .values("month")
        .annotate(n=Count("pk"), revenue=Sum("total", filter=revenue_filter))
        .order_by("month")
    )
    found: dict[date, tuple[int, Decimal]] = {}
    for row in rows:
        bucket = row["month"]
        key = bucket.date() if isinstance(bucket, datetime) else bucket
        found[key] = (row["n"], Decimal(row["revenue"] or 0))
    result = []
    for offset in range(months):
        month = _add_months(first_month, offset)
        count, revenue = found.get(month, (0, Decimal(0)))
        result.append(
            MonthTotal(month=month, order_count=count, revenue=_quantize(revenue, currency))
        )
    return result


def order_latest(*, limit: int = 8) -> QuerySet[Order]:
    """The most recently placed orders with their customers, for the dashboard feed."""
    return Order.objects.select_related("customer").order_by("-placed_at", "-id")[:limit]
