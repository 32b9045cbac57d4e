"""Selectors of the analytics dashboard and API: cohorts, the RFM grid, the CLV distribution,
top customers, the reorder forecast per category and the state of the last refresh.

Each figure is one grouped query (or two) over the stored metrics or the orders; nothing
loops per customer in Python, so the page costs the same for a hundred customers or a
million. Figures built on CustomerMetrics are as of the last refresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from omnicrm.analytics.models import (
    AnalyticsRun,
    CategoryReorder,
    CustomerMetrics,
    RFMSegment,
    RunStatus,
)
from omnicrm.analytics.rfm_segments import SEGMENT_GRID
from omnicrm.analytics.selectors import _add_months, _as_utc, _month_start
from omnicrm.catalog.models import Category
from omnicrm.core.errors import NotFound, ValidationFailed
from omnicrm.orders.models import REVENUE_STATUSES, Order

#: A queued or running refresh older than this is taken to have died with its worker.
RUN_STALE_AFTER = timedelta(hours=3)
#: The horizon the reorder forecast is stored for; other windows are scaled from it.
REORDER_HORIZON_DAYS = 30


# ---------------------------------------------------------------- cohorts


@dataclass(frozen=True)
class CohortRow:
    month: date
    customers: int
    #: Customers of the cohort who ordered in month k after their first, k = 0, 1, ...
    #: (None for months that have not happened yet).
    active: tuple[int | None, ...]

    @property
    def rates(self) -> tuple[float | None, ...]:
        return tuple(
            None if n is None else (n / self.customers if self.customers else 0.0)
            for n in self.active
        )


@dataclass(frozen=True)
class CohortMatrix:
    months: int
    rows: tuple[CohortRow, ...]

    @property
    def offsets(self) -> range:
        return range(self.months)


def cohort_retention(*, months: int = 12, end: date | datetime | None = None) -> CohortMatrix:
    """Monthly cohorts by first-order month (from the stored metrics) over the last
    ``months`` months up to ``end`` (default: the latest revenue order): for each cohort,
    how many of its customers placed a revenue order 0, 1, 2... months after their first
    month. One grouped query over orders joined to the metrics."""
    if months < 1 or months > 36:
        raise ValidationFailed("months must be between 1 and 36", field="months")
    if end is None:
        end = Order.objects.filter(status__in=REVENUE_STATUSES).aggregate(last=Max("placed_at"))[
            "last"
        ]
        if end is None:
            return CohortMatrix(months=months, rows=())
    if isinstance(end, datetime):
        end = end.astimezone(UTC).date()
    last = _month_start(end)
    first = _add_months(last, -(months - 1))
    start, stop = _as_utc(first), _as_utc(_add_months(last, 1))
    grouped = (
        Order.objects.filter(
            status__in=REVENUE_STATUSES,
            placed_at__gte=start,
            placed_at__lt=stop,
            customer__metrics__first_order_at__gte=start,
            customer__metrics__first_order_at__lt=stop,
        )
        .annotate(
            cohort=TruncMonth("customer__metrics__first_order_at", tzinfo=UTC),
            month=TruncMonth("placed_at", tzinfo=UTC),
        )
        .values("cohort", "month")
        .annotate(n=Count("customer_id", distinct=True))
        .order_by()
    )
    cells: dict[tuple[date, int], int] = {}
    for row in grouped:
        cohort, month = _as_date(row["cohort"]), _as_date(row["month"])
        offset = (month.year - cohort.year) * 12 + month.month - cohort.month
        cells[(cohort, offset)] = row["n"]
    rows = []
    for i in range(months):
        cohort = _add_months(first, i)
        size = cells.get((cohort, 0), 0)
        available = months - i
        rows.append(
            CohortRow(
                month=cohort,
                customers=size,
                active=tuple(
                    cells.get((cohort, k), 0) if k < available else None for k in range(months)
                ),
            )
        )
    return CohortMatrix(months=months, rows=tuple(rows))


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


# ---------------------------------------------------------------- RFM grid


@dataclass(frozen=True)
class RFMCell:
    r: int
    f: int
    segment: str
    customers: int
    average_revenue: Decimal | None
    #: customers / the largest cell's count, for the cell's colour intensity.
    share_of_max: float


@dataclass(frozen=True)
class RFMGrid:
    #: rows R = 5 (most recent) down to 1, each with F = 1..5.
    rows: tuple[tuple[RFMCell, ...], ...]
    scored: int
    currency: str
    segments: tuple[tuple[str, str, int], ...]


def rfm_grid() -> RFMGrid:
    """Customers per (R, F) cell with their average revenue, and per named segment: one
    grouped query over the stored metrics."""
    grouped = (
        CustomerMetrics.objects.filter(rfm_r__isnull=False)
        .values("rfm_r", "rfm_f")
        .annotate(n=Count("pk"), avg=Avg("revenue"))
        .order_by()
    )
    found = {(row["rfm_r"], row["rfm_f"]): (row["n"], row["avg"]) for row in grouped}
    top = max((n for n, _avg in found.values()), default=0)
    rows = []
    per_segment: dict[str, int] = {}
    for r in range(5, 0, -1):
        cells = []
        for f in range(1, 6):
            n, avg = found.get((r, f), (0, None))
            segment = str(SEGMENT_GRID[r - 1][f - 1])
            per_segment[segment] = per_segment.get(segment, 0) + n
            cells.append(
                RFMCell(
                    r=r,
                    f=f,
                    segment=segment,
                    customers=n,
                    average_revenue=(
                        Decimal(avg).quantize(Decimal("0.01")) if avg is not None else None
                    ),
                    share_of_max=round(n / top, 3) if top else 0.0,
                )
            )
        rows.append(tuple(cells))
    currency = (
        CustomerMetrics.objects.exclude(currency="").values_list("currency", flat=True).first()
        or ""
    )
    labels = dict(RFMSegment.choices)
    return RFMGrid(
        rows=tuple(rows),
        scored=sum(per_segment.values()),
        currency=currency,
        segments=tuple(
            (slug, str(labels[slug]), per_segment.get(slug, 0)) for slug in RFMSegment.values
        ),
    )


# ---------------------------------------------------------------- CLV distribution


@dataclass(frozen=True)
class Bucket:
    low: Decimal
    high: Decimal | None
    customers: int


def _nice_edges(maximum: float, *, count: int = 10) -> list[Decimal]:
    """The ``count`` largest of the 1-2-5 steps up to the first one above ``maximum``."""
    edges: list[Decimal] = []
    exponent = math.floor(math.log10(maximum)) - 4
    while not edges or edges[-1] <= maximum:
        for mantissa in (1, 2, 5):
            edges.append(Decimal(mantissa) * Decimal(10) ** exponent)
            if edges[-1] > maximum:
                break
        exponent += 1
    return edges[-count:]


def clv_distribution() -> tuple[Bucket, ...]:
    """Customers by predicted 12-month value in 1-2-5 buckets: from 0 to the first edge,
    then edge to edge up to the largest value (the last bucket is open above). Customers
    without a prediction are left out. Two queries."""
    maximum = CustomerMetrics.objects.aggregate(top=Max("clv_12m"))["top"]
    if maximum is None:
        return ()
    if maximum <= 0:
        n = CustomerMetrics.objects.filter(clv_12m__isnull=False).count()
        return (Bucket(low=Decimal(0), high=None, customers=n),)
    edges = _nice_edges(float(maximum))
    bounds: list[tuple[Decimal, Decimal | None]] = [(Decimal(0), edges[0])]
    bounds += [(edges[i], edges[i + 1]) for i in range(len(edges) - 2)]
    bounds.append((edges[-2], None) if len(edges) > 1 else (edges[0], None))
    counts = CustomerMetrics.objects.aggregate(
        **{
            f"b{i}": Count(
                "pk",
                filter=Q(clv_12m__gte=low) & (Q(clv_12m__lt=high) if high is not None else Q()),
            )
            for i, (low, high) in enumerate(bounds)
        }
    )
    return tuple(
        Bucket(low=low, high=high, customers=counts[f"b{i}"])
        for i, (low, high) in enumerate(bounds)
    )


# ---------------------------------------------------------------- customers and reorders


def metrics_top_customers(*, limit: int = 10) -> QuerySet[CustomerMetrics]:
    """The customers with the highest predicted 12-month value, with their customer and
    top category (one query)."""
    return (
        CustomerMetrics.objects.filter(clv_12m__isnull=False)
        .select_related("customer", "top_category")
        .order_by(F("clv_12m").desc(), "-revenue", "customer_id")[:limit]
    )


@dataclass(frozen=True)
class CategoryForecast:
    category_id: int
    slug: str
    name: str
    expected_reorders: float
    buyers: int
    likely_buyers: int


def _window(days: int) -> float:
    if days < 1 or days > 365:
        raise ValidationFailed("days must be between 1 and 365", field="days")
    return days / REORDER_HORIZON_DAYS


def _scaled_probability(probability: float, scale: float) -> float:
    """Chance of at least one reorder in a window ``scale`` times the stored 30 days, as if
    each 30-day stretch were independent."""
    return 1.0 - (1.0 - min(max(probability, 0.0), 1.0)) ** scale


def reorder_forecast(
    *, days: int = REORDER_HORIZON_DAYS, limit: int = 12
) -> list[CategoryForecast]:
    """Expected reorders per category in the next ``days`` (the stored 30-day forecast,
    scaled linearly for other windows), largest first, with how many past buyers each has
    and how many of them are more likely than not to reorder within 30 days. One query."""
    scale = _window(days)
    grouped = (
        CategoryReorder.objects.values("category_id", "category__slug", "category__name")
        .annotate(
            expected=Sum("expected_reorders_30d"),
            buyers=Count("pk"),
            likely=Count("pk", filter=Q(probability__gte=0.5)),
        )
        .order_by("-expected", "category_id")[:limit]
    )
    return [
        CategoryForecast(
            category_id=row["category_id"],
            slug=row["category__slug"],
            name=row["category__name"],
            expected_reorders=float(row["expected"] or 0.0) * scale,
            buyers=row["buyers"],
            likely_buyers=row["likely"],
        )
        for row in grouped
    ]


@dataclass(frozen=True)
class ReorderCustomer:
    public_id: str
    name: str
    email: str
    expected_reorders: float
    probability: float


@dataclass(frozen=True)
class CategoryReorderReport:
    category: Category
    days: int
    expected_reorders: float
    buyers: int
    customers: tuple[ReorderCustomer, ...]


def category_reorders(
    *, slug: str, days: int = REORDER_HORIZON_DAYS, limit: int = 50
) -> CategoryReorderReport:
    """The expected number of reorders of one category in the next ``days`` and its likeliest
    customers, most likely first. Three queries."""
    scale = _window(days)
    if limit < 1 or limit > 500:
        raise ValidationFailed("limit must be between 1 and 500", field="limit")
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise NotFound(f"no category with slug {slug}", field="category")
    rows = CategoryReorder.objects.filter(category=category)
    totals = rows.aggregate(expected=Sum("expected_reorders_30d"), buyers=Count("pk"))
    likeliest = rows.select_related("customer").order_by("-probability", "customer_id")[:limit]
    return CategoryReorderReport(
        category=category,
        days=days,
        expected_reorders=float(totals["expected"] or 0.0) * scale,
        buyers=totals["buyers"],
        customers=tuple(
            ReorderCustomer(
                public_id=row.customer.public_id,
                name=row.customer.name,
                email=row.customer.email,
                expected_reorders=row.expected_reorders_30d * scale,
                probability=_scaled_probability(row.probability, scale),
            )
            for row in likeliest
        ),
    )


def customer_metrics(*, customer_id: int) -> CustomerMetrics | None:
    """One customer's stored metrics with the top category, or None before any refresh."""
    return (
        CustomerMetrics.objects.select_related("top_category")
        .filter(customer_id=customer_id)
        .first()
    )


def customer_category_reorders(*, customer_id: int, limit: int = 5) -> list[CategoryReorder]:
    return list(
        CategoryReorder.objects.filter(customer_id=customer_id)
        .select_related("category")
        .order_by("-probability", "category_id")[:limit]
    )


# ---------------------------------------------------------------- refresh state


@dataclass(frozen=True)
class RefreshState:
    last_success: AnalyticsRun | None
    current: AnalyticsRun | None
    last_failure: AnalyticsRun | None

    @property
    def running(self) -> bool:
        return self.current is not None


def analytics_run_state() -> RefreshState:
    """The last finished refresh, the one queued or running (if any) and a failure newer than
    the last success. One query over the latest runs."""
    runs = list(AnalyticsRun.objects.order_by("-created_at", "-id")[:20])
    success = next((r for r in runs if r.status == RunStatus.SUCCEEDED), None)
    # A run whose worker died never finishes: past RUN_STALE_AFTER it no longer counts.
    recent = timezone.now() - RUN_STALE_AFTER
    current = next(
        (
            r
            for r in runs
            if r.status in (RunStatus.QUEUED, RunStatus.RUNNING) and r.created_at >= recent
        ),
        None,
    )
    failure = next((r for r in runs if r.status == RunStatus.FAILED), None)
    if failure and success and failure.created_at < success.created_at:
        failure = None
    return RefreshState(last_success=success, current=current, last_failure=failure)
