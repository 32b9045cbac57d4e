"""The products a served list shows, read fresh, and the live cold-start list used before
any training run exists."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count

from omnicrm.catalog.models import Product
from omnicrm.importers.bulk import concrete_field
from omnicrm.orders.models import OrderLine
from omnicrm.recommendations.serving_cache import category_tree
from omnicrm.recommendations.signals import NOT_PURCHASED_STATUSES

# The live "popular" list is an aggregate over every order line: computed at most this
# often per process, and only while no training run exists.
LIVE_POPULAR_SECONDS = 60.0
LIVE_POPULAR_SIZE = 200


@dataclass(frozen=True)
class ProductCard:
    """A product as a recommendation shows it, read fresh for the response."""

    pk: int
    public_id: str
    title: str
    price: Decimal
    currency: str
    category_pk: int | None
    category: str | None
    category_name: str | None
    in_stock: bool
    is_active: bool


def _product_sql(count: int) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(
        quote(str(concrete_field(Product, name).column))
        for name in ("id", "public_id", "title", "price", "currency", "category", "stock",
                     "is_active")
    )  # fmt: skip
    table = quote(Product._meta.db_table)
    marks = ", ".join(["%s"] * count)
    return f"SELECT {columns} FROM {table} WHERE {quote('id')} IN ({marks})"  # noqa: S608


_PRICE = Product._meta.get_field("price")
_CENTS = Decimal(10) ** -(getattr(_PRICE, "decimal_places", 2) or 0)


def _price(value: Decimal | float | str) -> Decimal:
    # SQLite hands decimals back as numbers: str() keeps what was stored ("69.9" -> 69.90).
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(_CENTS)


def product_cards(pks: Iterable[int]) -> dict[int, ProductCard]:
    """The products with these pks, by pk: one query on the primary key, no model objects
    and no queryset to compile (this runs on every served list)."""
    wanted = sorted(set(pks))
    if not wanted:
        return {}
    tree = category_tree()
    with connection.cursor() as cursor:
        cursor.execute(_product_sql(len(wanted)), wanted)
        rows = cursor.fetchall()
    cards = {}
    for pk, public_id, title, price, currency, category_pk, stock, is_active in rows:
        category = tree.get(category_pk) if category_pk is not None else None
        cards[pk] = ProductCard(
            pk=pk,
            public_id=public_id,
            title=title,
            price=_price(price),
            currency=currency,
            category_pk=category_pk,
            category=category[0] if category else None,
            category_name=category[1] if category else None,
            in_stock=stock > 0,
            is_active=bool(is_active),
        )
    return cards


class _LivePopular:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[tuple[int, float]] = []
        self.at = -1e18

    def get(self) -> list[tuple[int, float]]:
        if time.monotonic() - self.at < LIVE_POPULAR_SECONDS:
            return self.rows
        rows = (
            OrderLine.objects.filter(product__isnull=False, order__customer__isnull=False)
            .exclude(order__status__in=NOT_PURCHASED_STATUSES)
            .values("product_id")
            .annotate(buyers=Count("order__customer", distinct=True))
            .order_by("-buyers", "product_id")
            .values_list("product_id", "buyers")[:LIVE_POPULAR_SIZE]
        )
        result = [(int(pk), float(n)) for pk, n in rows]
        with self.lock:
            self.rows, self.at = result, time.monotonic()
        return result

    def clear(self) -> None:
        with self.lock:
            self.rows, self.at = [], -1e18


_LIVE = _LivePopular()


def live_popular(*, limit: int) -> list[tuple[int, float]]:
    """(product pk, number of buyers) of the most bought products, computed from orders:
    the answer before the first training run."""
    return _LIVE.get()[:limit]


def live_popular_clear() -> None:
    _LIVE.clear()
