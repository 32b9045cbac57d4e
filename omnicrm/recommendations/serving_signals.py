"""One customer's raw touches for serving, in one round trip to the database.

omnicrm.recommendations.signals reads the same touches with one ORM query per source (six),
which suits training (every customer at once) but costs a "for you" request most of its
time: building and compiling six querysets takes longer than running them. Here the five
sources become one ``UNION ALL`` statement, built once per process and database, run with
the customer's pk and the time bounds as parameters. What is read, and every rule about it,
is exactly ``signals.signal_sources(customer_pk=...)`` (tests/recommendations/
test_serving_signals.py compares the two); the weighting stays in ``signals_combine``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Model

from omnicrm.events.models import Event, EventType
from omnicrm.importers.bulk import concrete_field
from omnicrm.orders.models import Order, OrderLine
from omnicrm.recommendations.models import RecommendationFeedback
from omnicrm.recommendations.signals import (
    EVENT_WINDOW_DAYS,
    NOT_PURCHASED_STATUSES,
    PRODUCT_ADDED,
    PRODUCT_VIEWED,
    PurchaseRows,
    SignalSources,
    TouchRows,
    _epoch_sql,
    _product_keys,
)
from omnicrm.reviews.models import Review, WishlistItem

PURCHASE, RATING, WISH, EVENT, FEEDBACK = 1, 2, 3, 4, 5

_SQL: dict[str, str] = {}


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type[Model], field: str) -> str:
    return f"{_table(model)}.{connection.ops.quote_name(str(concrete_field(model, field).column))}"


def _json_text(model: type[Model], field: str, key: str) -> str:
    column = _column(model, field)
    if connection.vendor == "postgresql":
        return f"({column} ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


def _statement() -> str:
    """The UNION ALL of the five sources; columns: source, product, order, at (epoch
    seconds), value (quantity, rating, 1 = add-to-cart), event product_id, event sku."""
    cached = _SQL.get(connection.vendor)
    if cached is not None:
        return cached
    # Only identifiers from the models' metadata and this module's constants are spliced
    # into the text; the customer and the times are parameters.
    statuses = ", ".join(f"'{status.value}'" for status in NOT_PURCHASED_STATUSES)
    line, order = _table(OrderLine), _table(Order)
    line_order, line_product = _column(OrderLine, "order"), _column(OrderLine, "product")
    purchases = (
        f"SELECT {PURCHASE} AS src, {line_product} AS product, "  # noqa: S608
        f"{line_order} AS ord, {_epoch_sql(Order, 'placed_at')} AS at, "
        f"{_column(OrderLine, 'quantity')} AS value, NULL AS key1, NULL AS key2 "
        f"FROM {line} INNER JOIN {order} ON {_column(Order, 'id')} = {line_order} "
        f"WHERE {_column(Order, 'customer')} = %s AND {line_product} IS NOT NULL "
        f"AND {_column(Order, 'placed_at')} <= %s "
        f"AND {_column(Order, 'status')} NOT IN ({statuses})"
    )
    ratings = (
        f"SELECT {RATING}, {_column(Review, 'product')}, NULL, "  # noqa: S608
        f"{_epoch_sql(Review, 'reviewed_at')}, "
        f"{_column(Review, 'rating')}, NULL, NULL FROM {_table(Review)} "
        f"WHERE {_column(Review, 'customer')} = %s AND {_column(Review, 'product')} IS NOT NULL "
        f"AND {_column(Review, 'reviewed_at')} <= %s"
    )
    wishes = (
        f"SELECT {WISH}, {_column(WishlistItem, 'product')}, NULL, "  # noqa: S608
        f"{_epoch_sql(WishlistItem, 'created_at')}, 1, NULL, NULL FROM {_table(WishlistItem)} "
        f"WHERE {_column(WishlistItem, 'customer')} = %s "
        f"AND {_column(WishlistItem, 'created_at')} <= %s"
    )
    events = (
        f"SELECT {EVENT}, NULL, NULL, {_epoch_sql(Event, 'timestamp')}, "  # noqa: S608
        f"CASE WHEN {_column(Event, 'event')} = '{PRODUCT_ADDED}' THEN 1 ELSE 0 END, "
        f"{_json_text(Event, 'properties', 'product_id')}, "
        f"{_json_text(Event, 'properties', 'sku')} "
        f"FROM {_table(Event)} WHERE {_column(Event, 'customer')} = %s "
        f"AND {_column(Event, 'type')} = '{EventType.TRACK.value}' "
        f"AND {_column(Event, 'event')} IN ('{PRODUCT_ADDED}', '{PRODUCT_VIEWED}') "
        f"AND {_column(Event, 'timestamp')} <= %s AND {_column(Event, 'timestamp')} > %s"
    )
    feedback = (
        f"SELECT {FEEDBACK}, {_column(RecommendationFeedback, 'product')}, NULL, NULL, NULL, "  # noqa: S608
        f"NULL, NULL FROM {_table(RecommendationFeedback)} "
        f"WHERE {_column(RecommendationFeedback, 'customer')} = %s"
    )
    sql = " UNION ALL ".join([purchases, ratings, wishes, events, feedback])
    _SQL[connection.vendor] = sql
    return sql


def _touches(rows: list[tuple[Any, ...]]) -> TouchRows:
    n = len(rows)
    return TouchRows(
        customer=np.zeros(n, np.int64),
        product=np.fromiter((r[0] for r in rows), np.int64, n),
        at=np.fromiter((r[1] for r in rows), np.float64, n),
        value=np.fromiter((r[2] for r in rows), np.int64, n),
    )


def customer_signal_sources(*, customer_pk: int, now: datetime) -> SignalSources:
    """``signals.signal_sources(now=now, customer_pk=customer_pk)``, in one query (two when
    the customer has product events: their product ids are looked up)."""
    until = connection.ops.adapt_datetimefield_value(now)
    since = connection.ops.adapt_datetimefield_value(now - timedelta(days=EVENT_WINDOW_DAYS))
    params = [customer_pk, until, customer_pk, until, customer_pk, until]
    params += [customer_pk, until, since, customer_pk]
    with connection.cursor() as cursor:
        cursor.execute(_statement(), params)
        rows = cursor.fetchall()
    purchases: list[tuple[int, int, float, int]] = []
    ratings: list[tuple[int, float, int]] = []
    wishes: list[tuple[int, float, int]] = []
    events: list[tuple[str, float, bool]] = []
    feedback: list[int] = []
    for src, product, order, at, value, key1, key2 in rows:
        if src == PURCHASE:
            purchases.append((product, order, float(at), value))
        elif src == RATING:
            ratings.append((product, float(at), value))
        elif src == WISH:
            wishes.append((product, float(at), 1))
        elif src == EVENT:
            key = key1 if key1 not in (None, "") else key2
            if key not in (None, ""):
                events.append((str(key), float(at), value == 1))
        else:
            feedback.append(product)
    by_key = _product_keys({key for key, _at, _added in events}) if events else {}
    carts = [(by_key[k], at, 1) for k, at, added in events if added and k in by_key]
    views = [(by_key[k], at, 1) for k, at, added in events if not added and k in by_key]
    n = len(purchases)
    purchase_rows = PurchaseRows(
        customer=np.zeros(n, np.int64),
        product=np.fromiter((p[0] for p in purchases), np.int64, n),
        order=np.fromiter((p[1] for p in purchases), np.int64, n),
        at=np.fromiter((p[2] for p in purchases), np.float64, n),
        quantity=np.fromiter((p[3] for p in purchases), np.int64, n),
    )
    excluded = (np.zeros(len(feedback), np.int64), np.asarray(feedback, dtype=np.int64))
    return SignalSources(
        purchases=purchase_rows,
        ratings=_touches(ratings),
        wishes=_touches(wishes),
        carts=_touches(carts),
        views=_touches(views),
        excluded=excluded,
        now=now.timestamp(),
    )
