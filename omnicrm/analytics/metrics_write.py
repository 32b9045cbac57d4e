"""Bulk writing of the computed metrics: every row replaced in one transaction.

PostgreSQL: TRUNCATE (DELETE inside a caller's transaction), then COPY (the fastest load
PostgreSQL has; readers wait for the commit and then see the new rows, never a half-written
table). SQLite: DELETE, then executemany in
batches, inside the same transaction. Values arrive as Python values or strings already in
the database's text form; NaN never gets this far (see :func:`column_values`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection, transaction

from omnicrm.analytics.metrics_compute import MONEY_MAX, SECONDS_PER_DAY, Computed
from omnicrm.analytics.models import CategoryReorder, CustomerMetrics

METRICS_COLUMNS = (
    "customer_id",
    "order_count",
    "revenue",
    "currency",
    "first_order_at",
    "last_order_at",
    "recency_days",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "rfm_score",
    "rfm_segment",
    "expected_purchases_30d",
    "p_alive",
    "p_order_30d",
    "expected_order_value",
    "clv_12m",
    "next_order_at",
    "churn_risk",
    "model",
    "top_category_id",
    "computed_at",
    "expected_purchases_30d_low",
    "expected_purchases_30d_high",
    "clv_12m_low",
    "clv_12m_high",
    "category_affinity",
    "seasonality",
)
REORDER_COLUMNS = (
    "customer_id",
    "category_id",
    "expected_reorders_30d",
    "probability",
    "computed_at",
)
BATCH = 20_000


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def datetime_strings(seconds: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
    """Database text for UTC instants given as epoch seconds: "2025-01-31 09:30:00.000000"
    (the form Django stores on SQLite), with "+00:00" on PostgreSQL."""
    if seconds.size == 0:
        return np.zeros(0, dtype="<U32")
    micros = np.rint(seconds * 1e6).astype(np.int64).astype("datetime64[us]")
    text = np.char.replace(np.datetime_as_string(micros, unit="us"), "T", " ")
    if is_postgresql():
        return np.char.add(text, "+00:00")
    # Django writes whole seconds without a fraction; SQLite compares these as strings.
    return np.char.replace(text, ".000000", "")


def optional(values: Sequence[Any], present: npt.NDArray[np.bool_]) -> list[Any]:
    return [v if keep else None for v, keep in zip(values, present.tolist(), strict=True)]


def money_strings(
    values: npt.NDArray[np.float64] | None, places: int, n: int, report: dict[str, int], name: str
) -> list[str | None]:
    """Amounts rounded to the currency's minor unit as decimal strings; NULL when unknown,
    not finite or beyond what the column holds (counted in ``report``)."""
    if values is None:
        return [None] * n
    finite = np.isfinite(values)
    fits = finite & (np.abs(np.where(finite, values, 0.0)) <= MONEY_MAX)
    too_big = int((finite & ~fits).sum())
    if too_big:
        report[f"{name}_too_large"] = too_big
    rounded = np.round(np.where(fits, values, 0.0), places)
    text = [f"{v:.{places}f}" for v in rounded.tolist()]
    return optional(text, fits)


def float_values(values: npt.NDArray[np.float64] | None, n: int) -> list[float | None]:
    if values is None:
        return [None] * n
    finite = np.isfinite(values)
    assert finite.dtype == np.bool_
    return optional(np.where(finite, values, 0.0).tolist(), finite)


def metrics_columns(
    computed: Computed, *, currency: str, places: int, computed_at: str, report: dict[str, int]
) -> list[list[Any]]:
    """The values of the metrics table, column by column (METRICS_COLUMNS order)."""
    c = computed
    n = c.customers.shape[0]
    buyer = c.buyer
    first = datetime_strings(np.where(buyer, c.first_order, 0.0)).tolist()
    last = datetime_strings(np.where(buyer, c.last_order, 0.0)).tolist()
    cents = c.revenue_cents.tolist()
    revenue = [str(Decimal(v).scaleb(-2)) for v in cents]
    scored = buyer & (c.rfm_r > 0)
    r, f, m = c.rfm_r.tolist(), c.rfm_f.tolist(), c.rfm_m.tolist()
    codes = [
        f"{a}{b}{d}" if keep else "" for a, b, d, keep in zip(r, f, m, scored.tolist(), strict=True)
    ]
    if c.next_order_day is not None:
        has_next = c.next_order_day >= 0
        next_at = optional(
            datetime_strings(
                np.where(has_next, c.next_order_day, 0).astype(np.float64) * SECONDS_PER_DAY
            ).tolist(),
            has_next,
        )
    else:
        next_at = [None] * n
    exp_interval = c.intervals.get("expected_purchases_30d")
    exp_low = float_values(exp_interval[0] if exp_interval else None, n)
    exp_high = float_values(exp_interval[1] if exp_interval else None, n)
    clv_interval = c.intervals.get("clv_12m")
    clv_low = money_strings(
        clv_interval[0] if clv_interval else None, places, n, report, "clv_12m_low"
    )
    clv_high = money_strings(
        clv_interval[1] if clv_interval else None, places, n, report, "clv_12m_high"
    )
    top = optional(c.top_category.tolist(), c.top_category > 0)
    model = c.model
    columns: list[list[Any]] = [
        c.customers.tolist(),
        c.order_count.tolist(),
        revenue,
        [currency] * n,
        optional(first, buyer),
        optional(last, buyer),
        optional(c.recency_days.tolist(), buyer),
        optional(r, scored),
        optional(f, scored),
        optional(m, scored),
        codes,
        c.segment.tolist(),
        float_values(c.expected_30d, n),
        float_values(c.p_alive, n),
        float_values(c.p_order_30d, n),
        money_strings(c.order_value, places, n, report, "expected_order_value"),
        money_strings(c.clv, places, n, report, "clv_12m"),
        next_at,
        c.churn.tolist(),
        [model if b else "" for b in buyer.tolist()],
        top,
        [computed_at] * n,
        exp_low,
        exp_high,
        clv_low,
        clv_high,
        c.affinity,
        c.seasonality,
    ]
    # Expected purchases are not nullable: 0 for a value that was not finite.
    columns[12] = [0.0 if v is None else v for v in columns[12]]
    return columns


def reorder_columns(computed: Computed, *, computed_at: str) -> list[list[Any]]:
    ro = computed.reorders
    return [
        ro.customer.tolist(),
        ro.category.tolist(),
        ro.expected.tolist(),
        ro.probability.tolist(),
        [computed_at] * ro.customer.shape[0],
    ]


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """A value in COPY's text format: NULL is \\N, text has its specials escaped."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def _copy(table: str, names: Sequence[str], columns: list[list[Any]]) -> int:
    """COPY the columns in text format, a block of rows at a time: formatting the text here
    costs far less than handing psycopg one row tuple at a time."""
    n = len(columns[0]) if columns else 0
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            for start in range(0, n, BATCH):
                block = [[_copy_text(v) for v in c[start : start + BATCH]] for c in columns]
                copy.write("".join("\t".join(row) + "\n" for row in zip(*block, strict=True)))
    return n


def _insert(
    table: str,
    columns: Sequence[str],
    values: list[list[Any]],
    tick: Callable[[int], None] | None = None,
) -> int:
    # Table and column names are this module's constants, never input.
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
    count = 0
    batch: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for row in zip(*values, strict=True):
            batch.append(row)
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
                if tick:
                    tick(count)
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def metrics_replace(
    metrics: list[list[Any]],
    reorders: list[list[Any]],
    *,
    tick: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Replace every metrics and category-reorder row in one transaction."""
    m_table = CustomerMetrics._meta.db_table
    r_table = CategoryReorder._meta.db_table
    # TRUNCATE is refused while the caller's own transaction has pending foreign-key checks
    # on these tables (a test, or a refresh run inside a larger transaction): DELETE then.
    nested = connection.in_atomic_block
    with transaction.atomic():
        if is_postgresql():
            with connection.cursor() as cursor:
                if nested:
                    cursor.execute(f"DELETE FROM {r_table}")  # noqa: S608
                    cursor.execute(f"DELETE FROM {m_table}")  # noqa: S608
                else:
                    cursor.execute(f"TRUNCATE {m_table}, {r_table}")
            written = _copy(m_table, METRICS_COLUMNS, metrics)
            reordered = _copy(r_table, REORDER_COLUMNS, reorders)
        else:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {r_table}")  # noqa: S608
                cursor.execute(f"DELETE FROM {m_table}")  # noqa: S608
            written = _insert(m_table, METRICS_COLUMNS, metrics, tick)
            reordered = _insert(r_table, REORDER_COLUMNS, reorders)
    return written, reordered
