"""Writes of the analytics app: the full refresh of every customer's metrics and predictions,
the refresh of one customer after an order changes, and queuing a refresh from the console.

A full refresh reads the orders with one streamed query and the order lines with another,
computes everything with numpy (omnicrm.analytics.metrics_compute), and replaces every row of
CustomerMetrics and CategoryReorder in one transaction (omnicrm.analytics.metrics_write). Its
progress, outcome and fitted parameters are kept on an AnalyticsRun row. Running it twice on
the same data writes the same rows.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.analytics.clv.bgnbd import MIN_REPEAT_BUYERS
from omnicrm.analytics.metrics_compute import (
    SECONDS_PER_DAY,
    Computed,
    LineArrays,
    OrderArrays,
    compute_metrics,
    predict_one,
    summarize_orders,
)
from omnicrm.analytics.metrics_write import (
    datetime_strings,
    metrics_columns,
    metrics_replace,
    reorder_columns,
)
from omnicrm.analytics.models import (
    AnalyticsRun,
    CategoryReorder,
    CustomerMetrics,
    RunStatus,
)
from omnicrm.analytics.reports import RUN_STALE_AFTER
from omnicrm.analytics.rfm_segments import rfm_segment, score_with_edges
from omnicrm.analytics.selectors import order_revenue_by_currency
from omnicrm.core.errors import NotFound
from omnicrm.core.money import MINOR_UNITS
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.customers.models import Customer
from omnicrm.orders.models import REVENUE_STATUSES, Order, OrderLine

CHUNK = 100_000
# PostgreSQL only: whole numbers computed by the database for the streamed reads. Table and
# column names are constants; the currency is a query parameter.
EPOCH_MICROS_SQL = "(EXTRACT(EPOCH FROM orders_order.placed_at) * 1000000)::bigint"
CENTS_SQL = "CASE WHEN orders_order.currency = %s THEN ({table}.total * 100)::bigint ELSE 0 END"

Progress = Callable[[float, str], None]


@dataclass
class RefreshReport:
    """What a full refresh did. ``model`` is "bgnbd" or "rfm_fallback"; when the fallback
    was used, ``model_note`` says why (e.g. too few repeat buyers)."""

    run_id: int
    as_of: datetime
    customers: int
    buyers: int
    orders: int
    order_lines: int
    currency: str
    model: str
    model_note: str
    spend_model: str
    spend_note: str
    interval_note: str
    metrics_rows: int
    reorder_rows: int
    segments: dict[str, int] = field(default_factory=dict)
    #: Values that were not finite (or too large for their column) and were stored as NULL.
    replaced_values: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fallback_used(self) -> bool:
        return self.buyers > 0 and self.model != "bgnbd"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["fallback_used"] = self.fallback_used
        return data


def _run_update(run_id: int, **fields: Any) -> None:
    AnalyticsRun.objects.filter(pk=run_id).update(updated_at=timezone.now(), **fields)


def _chunks(iterator: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        chunk = list(islice(iterator, CHUNK))
        if not chunk:
            return
        yield chunk


def _revenue_orders(as_of: datetime) -> Any:
    return Order.objects.filter(
        customer__isnull=False, status__in=REVENUE_STATUSES, placed_at__lte=as_of
    ).order_by()


def read_orders(
    *,
    as_of: datetime,
    currency: str,
    customer_id: int | None = None,
    tick: Callable[[int], None] | None = None,
) -> OrderArrays:
    """Every revenue order of a customer up to ``as_of``, in one streamed query."""
    qs = _revenue_orders(as_of)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    if connection.vendor == "postgresql":
        # The database hands over plain integers (epoch microseconds, cents in the main
        # currency): no datetime or Decimal object is built per row.
        rows = (
            qs.annotate(
                _us=RawSQL(EPOCH_MICROS_SQL, []),  # noqa: S611
                _cents=RawSQL(CENTS_SQL.format(table="orders_order"), [currency]),  # noqa: S611
            )
            .values_list("customer_id", "_us", "_cents")
            .iterator(chunk_size=CHUNK)
        )
    else:
        rows = qs.values_list("customer_id", "placed_at", "total", "currency").iterator(
            chunk_size=CHUNK
        )
    parts: list[OrderArrays] = []
    done = 0
    for chunk in _chunks(rows):
        n = len(chunk)
        if connection.vendor == "postgresql":
            ids, micros, cents_in = zip(*chunk, strict=True)
            placed = np.fromiter(micros, np.int64, n) / 1e6
            cents = np.fromiter(cents_in, np.int64, n)
        else:
            ids, stamps, totals, currencies = zip(*chunk, strict=True)
            placed = np.fromiter((d.timestamp() for d in stamps), np.float64, n)
            cents = np.rint(np.array(totals, dtype=np.float64) * 100).astype(np.int64)
            cents = np.where(np.array(currencies) == currency, cents, 0)
        parts.append(
            OrderArrays(customer=np.fromiter(ids, np.int64, n), placed=placed, cents=cents)
        )
        done += len(chunk)
        if tick:
            tick(done)
    if not parts:
        return OrderArrays.empty()
    return OrderArrays(
        customer=np.concatenate([p.customer for p in parts]),
        placed=np.concatenate([p.placed for p in parts]),
        cents=np.concatenate([p.cents for p in parts]),
    )


def read_lines(*, as_of: datetime, currency: str, customer_id: int | None = None) -> LineArrays:
    """The categorized lines of those orders, in one streamed query."""
    qs = OrderLine.objects.filter(
        order__customer__isnull=False,
        order__status__in=REVENUE_STATUSES,
        order__placed_at__lte=as_of,
        product__category__isnull=False,
    ).order_by()
    if customer_id is not None:
        qs = qs.filter(order__customer_id=customer_id)
    fields = ["order__customer_id", "order_id", "product__category_id"]
    if connection.vendor == "postgresql":
        cents_sql = CENTS_SQL.format(table="orders_orderline")
        qs = qs.annotate(_cents=RawSQL(cents_sql, [currency]))  # noqa: S611
        rows = qs.values_list(*fields, "_cents").iterator(chunk_size=CHUNK)
    else:
        rows = qs.values_list(*fields, "total", "order__currency").iterator(chunk_size=CHUNK)
    parts: list[LineArrays] = []
    for chunk in _chunks(rows):
        n = len(chunk)
        columns = list(zip(*chunk, strict=True))
        if connection.vendor == "postgresql":
            cents = np.fromiter(columns[3], np.int64, n)
        else:
            cents = np.rint(np.array(columns[3], dtype=np.float64) * 100).astype(np.int64)
            cents = np.where(np.array(columns[4]) == currency, cents, 0)
        parts.append(
            LineArrays(
                customer=np.fromiter(columns[0], np.int64, n),
                order=np.fromiter(columns[1], np.int64, n),
                category=np.fromiter(columns[2], np.int64, n),
                cents=cents,
            )
        )
    if not parts:
        return LineArrays.empty()
    return LineArrays(
        customer=np.concatenate([p.customer for p in parts]),
        order=np.concatenate([p.order for p in parts]),
        category=np.concatenate([p.category for p in parts]),
        cents=np.concatenate([p.cents for p in parts]),
    )


def _main_currency() -> str:
    by_currency = order_revenue_by_currency()
    return by_currency[0].currency if by_currency else ""


def _places(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def analytics_run_queue(*, actor: Actor = None, trigger: str = "console") -> AnalyticsRun:
    """Queue a full refresh (the console's button): one run at a time, so a second click
    while one is queued or running returns that run instead of queuing another."""
    from omnicrm.analytics.tasks import analytics_refresh_task

    with transaction.atomic():
        recent = timezone.now() - RUN_STALE_AFTER
        active = (
            AnalyticsRun.objects.select_for_update()
            .filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING], created_at__gte=recent)
            .first()
        )
        if active is not None:
            return active
        run = AnalyticsRun.objects.create(status=RunStatus.QUEUED, trigger=trigger)
        audit_log_write(
            action="analytics.refresh_queued",
            object_type="analytics_run",
            object_id=str(run.pk),
            actor=actor,
        )
        transaction.on_commit(lambda: analytics_refresh_task.enqueue(run_id=run.pk))
    return run


def analytics_refresh(
    *,
    as_of: datetime | None = None,
    progress: Progress | None = None,
    run_id: int | None = None,
    trigger: str = "cli",
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> RefreshReport:
    """Recompute every customer's metrics and predictions as of ``as_of`` (default now) and
    replace the stored rows. ``progress(fraction, message)`` is called as work advances;
    the AnalyticsRun row (``run_id``, or a new one) shows the same to the console."""
    moment = as_of or timezone.now()
    if run_id is None:
        run_id = AnalyticsRun.objects.create(status=RunStatus.QUEUED, trigger=trigger).pk
    _run_update(
        run_id,
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        as_of=moment,
        progress=0,
        message=_("Reading orders"),
    )
    last_percent = [-1]

    def step(fraction: float, message: str) -> None:
        percent = min(100, max(0, int(fraction * 100)))
        if progress:
            progress(fraction, message)
        if percent != last_percent[0]:
            last_percent[0] = percent
            _run_update(run_id, progress=percent, message=message)

    try:
        report = _refresh(moment, step, run_id, min_repeat_buyers)
    except Exception as exc:
        _run_update(
            run_id,
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            message=str(exc)[:500] or exc.__class__.__name__,
        )
        raise
    return report


def _refresh(
    moment: datetime, step: Progress, run_id: int, min_repeat_buyers: int
) -> RefreshReport:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    currency = _main_currency()
    total_orders = _revenue_orders(moment).count()
    step(0.01, _("Reading orders"))

    def order_tick(done: int) -> None:
        step(0.01 + 0.44 * done / max(total_orders, 1), _("Reading orders"))

    customers = np.fromiter(
        Customer.objects.filter(merged_into__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
        .iterator(chunk_size=CHUNK),
        np.int64,
    )
    orders = read_orders(as_of=moment, currency=currency, tick=order_tick)
    seconds["read_orders"] = time.perf_counter() - started
    known = _known(customers, orders.customer)
    if not known.all():
        orders = OrderArrays(orders.customer[known], orders.placed[known], orders.cents[known])
    step(0.45, _("Reading order lines"))
    mark = time.perf_counter()
    lines = read_lines(as_of=moment, currency=currency)
    seconds["read_lines"] = time.perf_counter() - mark

    step(0.6, _("Fitting the models"))
    mark = time.perf_counter()
    computed = compute_metrics(
        customers=customers,
        orders=orders,
        lines=lines,
        as_of=moment.timestamp(),
        min_repeat_buyers=min_repeat_buyers,
    )
    seconds["compute"] = time.perf_counter() - mark

    step(0.75, _("Writing the results"))
    mark = time.perf_counter()
    replaced = dict(computed.non_finite)
    computed_at = _db_datetime(timezone.now())
    rows = metrics_columns(
        computed,
        currency=currency,
        places=_places(currency),
        computed_at=computed_at,
        report=replaced,
    )
    n = customers.shape[0]

    def write_tick(done: int) -> None:
        step(0.75 + 0.24 * done / max(n, 1), _("Writing the results"))

    written, reordered = metrics_replace(
        rows, reorder_columns(computed, computed_at=computed_at), tick=write_tick
    )
    seconds["write"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started

    segments, counts = np.unique(computed.segment[computed.buyer], return_counts=True)
    report = RefreshReport(
        run_id=run_id,
        as_of=moment,
        customers=n,
        buyers=int(computed.buyer.sum()),
        orders=int(orders.customer.shape[0]),
        order_lines=int(lines.customer.shape[0]),
        currency=currency,
        model=computed.model,
        model_note=computed.model_note,
        spend_model=computed.spend_model,
        spend_note=computed.spend_note,
        interval_note=computed.interval_note,
        metrics_rows=written,
        reorder_rows=reordered,
        segments={str(s): int(c) for s, c in zip(segments, counts, strict=True)},
        replaced_values=replaced,
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )
    _finish(run_id, report, computed)
    step(1.0, _("Done"))
    return report


def _known(customers: Any, ids: Any) -> Any:
    if customers.size == 0:
        return np.zeros(ids.shape[0], bool)
    at = np.minimum(np.searchsorted(customers, ids), customers.shape[0] - 1)
    return customers[at] == ids


def _db_datetime(value: datetime) -> str:
    return str(datetime_strings(np.array([value.timestamp()]))[0])


def _finish(run_id: int, report: RefreshReport, computed: Computed) -> None:
    with transaction.atomic():
        _run_update(
            run_id,
            status=RunStatus.SUCCEEDED,
            finished_at=timezone.now(),
            progress=100,
            message="",
            customers=report.customers,
            orders=report.orders,
            model=report.model,
            model_note=" ".join(note for note in (report.model_note, report.spend_note) if note),
            parameters=computed.parameters,
            report=json.loads(json.dumps(report.as_dict())),
        )
        audit_log_write(
            action="analytics.refresh",
            object_type="analytics_run",
            object_id=str(run_id),
            data={
                "customers": report.customers,
                "orders": report.orders,
                "model": report.model,
            },
        )


def _last_parameters() -> dict[str, Any]:
    run = (
        AnalyticsRun.objects.filter(status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .only("parameters")
        .first()
    )
    return run.parameters if run is not None else {}


def _money(value: float | None, places: int) -> Decimal | None:
    if value is None or not math.isfinite(value) or abs(value) > 10**12 - 1:
        return None
    return Decimal(str(round(value, places))).quantize(Decimal(1).scaleb(-places))


def _probability(value: float | int | str | None) -> float | None:
    if value is None or not isinstance(value, float) or not math.isfinite(value):
        return None
    return min(1.0, max(0.0, value))


def analytics_refresh_customer(
    *, customer_id: int, as_of: datetime | None = None
) -> CustomerMetrics:
    """Recompute one customer's metrics now, with the parameters the last full refresh
    fitted (no model is refitted, so it costs a few small queries). RFM scores use the last
    run's quintile edges; without any finished run the customer gets the RFM fallback and no
    scores. Call it after an order of the customer is created or changes status."""
    if not Customer.objects.filter(pk=customer_id, merged_into__isnull=True).exists():
        raise NotFound(
            _("No customer has the id %(id)s.") % {"id": customer_id}, field="customer_id"
        )
    parameters = _last_parameters()
    now = as_of or timezone.now()
    currency = _main_currency()
    places = _places(currency)
    orders = read_orders(as_of=now, currency=currency, customer_id=customer_id)
    values: dict[str, Any] = {
        "order_count": 0,
        "revenue": Decimal(0),
        "currency": currency,
        "first_order_at": None,
        "last_order_at": None,
        "recency_days": None,
        "rfm_r": None,
        "rfm_f": None,
        "rfm_m": None,
        "rfm_score": "",
        "rfm_segment": "",
        "expected_purchases_30d": 0.0,
        "p_alive": None,
        "p_order_30d": None,
        "expected_order_value": None,
        "clv_12m": None,
        "next_order_at": None,
        "churn_risk": "",
        "model": "",
        "top_category_id": None,
        "computed_at": now,
        "expected_purchases_30d_low": None,
        "expected_purchases_30d_high": None,
        "clv_12m_low": None,
        "clv_12m_high": None,
        "category_affinity": {},
        "seasonality": [],
    }
    reorders: list[CategoryReorder] = []
    if orders.customer.size:
        values.update(_one_customer_values(orders, now, parameters, places))
        reorders, top, affinity = _one_customer_categories(
            customer_id, now, currency, values, parameters
        )
        values["top_category_id"] = top
        values["category_affinity"] = affinity
    with transaction.atomic():
        metrics, _created = CustomerMetrics.objects.update_or_create(
            customer_id=customer_id, defaults=values
        )
        CategoryReorder.objects.filter(customer_id=customer_id).delete()
        CategoryReorder.objects.bulk_create(reorders)
    return metrics


def _one_customer_values(
    orders: OrderArrays, now: datetime, parameters: dict[str, Any], places: int
) -> dict[str, Any]:
    as_of_day = math.floor(now.timestamp() / SECONDS_PER_DAY)
    summary, _index = summarize_orders(orders, as_of_day=as_of_day)
    assert summary is not None
    predicted = predict_one(summary, parameters)
    recency = int(as_of_day - summary.last_purchase[0].astype(np.int64))
    values: dict[str, Any] = {
        "order_count": int(orders.customer.shape[0]),
        "revenue": Decimal(int(orders.cents.sum())).scaleb(-2),
        "first_order_at": datetime.fromtimestamp(float(orders.placed.min()), UTC),
        "last_order_at": datetime.fromtimestamp(float(orders.placed.max()), UTC),
        "recency_days": recency,
        "expected_purchases_30d": _finite_or(predicted["expected_purchases_30d"], 0.0),
        "p_alive": _probability(predicted["p_alive"]),
        "p_order_30d": _probability(predicted["p_order_30d"]),
        "expected_order_value": _money(_as_float(predicted["expected_order_value"]), places),
        "clv_12m": _money(_as_float(predicted["clv_12m"]), places),
        "churn_risk": predicted["churn_risk"],
        "model": predicted["model"],
    }
    gap = _as_float(predicted["next_order_in_days"])
    if gap is not None and math.isfinite(gap) and gap <= 5 * 365:
        day = as_of_day + round(gap)
        values["next_order_at"] = datetime.fromtimestamp(day * SECONDS_PER_DAY, UTC)
    edges = parameters.get("rfm_edges")
    if edges:
        paid = int(summary.paid_days[0])
        aov = float(summary.total_spend[0]) / paid if paid else 0.0
        r = score_with_edges(-float(recency), edges["r"])
        f = score_with_edges(float(summary.frequency[0] + 1), edges["f"])
        m = score_with_edges(aov, edges["m"])
        values.update(
            rfm_r=r, rfm_f=f, rfm_m=m, rfm_score=f"{r}{f}{m}", rfm_segment=rfm_segment(r, f)
        )
    months = np.asarray(orders.placed).astype("datetime64[s]").astype("datetime64[M]")
    values["seasonality"] = np.bincount(months.astype(np.int64) % 12, minlength=12).tolist()
    return values


def _as_float(value: float | int | str | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _finite_or(value: float | int | str | None, default: float) -> float:
    number = _as_float(value)
    return number if number is not None and math.isfinite(number) else default


def _one_customer_categories(
    customer_id: int,
    now: datetime,
    currency: str,
    values: dict[str, Any],
    parameters: dict[str, Any],
) -> tuple[list[CategoryReorder], int | None, dict[str, float]]:
    lines = read_lines(as_of=now, currency=currency, customer_id=customer_id)
    if lines.customer.size == 0:
        return [], None, {}
    order_count = max(int(values["order_count"]), 1)
    expected = float(values["expected_purchases_30d"])
    p_order = values["p_order_30d"]
    spend: dict[int, int] = {}
    orders_with: dict[int, set[int]] = {}
    for order, category, cents in zip(
        lines.order.tolist(), lines.category.tolist(), lines.cents.tolist(), strict=True
    ):
        spend[category] = spend.get(category, 0) + cents
        orders_with.setdefault(category, set()).add(order)
    reorders = []
    for category, with_orders in sorted(orders_with.items()):
        share = min(len(with_orders) / order_count, 1.0)
        category_expected = max(expected * share, 0.0)
        probability = (
            p_order * share
            if values["model"] == "bgnbd" and p_order is not None
            else 1.0 - math.exp(-category_expected)
        )
        reorders.append(
            CategoryReorder(
                customer_id=customer_id,
                category_id=category,
                expected_reorders_30d=category_expected,
                probability=min(1.0, max(0.0, probability)),
                computed_at=now,
            )
        )
    top = min(spend, key=lambda c: (-spend[c], c))
    total = sum(spend.values())
    wanted = parameters.get("top_categories") or sorted(spend)
    affinity = {
        str(c): round(spend[c] / total, 4) if total > 0 else 0.0 for c in wanted if c in spend
    }
    return reorders, top, affinity
