"""Signals: what customers did with products, turned into one signed weight per pair.

Training and serving read the same signals through this module, so a for-you list served
one second after a rating uses exactly the weights the model was trained on:

- ``signal_sources`` reads the raw touches with a few set-based ``values_list`` queries
  (every customer at once for training, or one customer for serving), as numpy arrays;
- ``signals_combine`` turns them into one row per (customer, product) with a signed,
  recency-decayed weight (pure numpy, no Python loop over rows);
- ``customer_signals`` gives serving one customer's signals as ``Signal`` objects that also
  say how the customer touched each product, for the explanation ("you rated it 5 stars").

Weights (docs/recommendations.md explains them): a purchase counts 1.0, repeat purchases
1 + ln(n) for n orders; a rating of 4 or 5 adds 0.5; a rating of 1 or 2 makes the product's
weight -1.0 whatever else happened (its neighbours are pushed down, it is never a cause);
a wishlist entry 0.5; an add-to-cart event 0.3; each product view 0.1, at most 0.5. Each part
fades with the age of its latest touch: weight x 0.5 ** (age_days / 180). A product the
customer excluded ("don't use for recommendations") or marked "not interested" contributes
nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import numpy as np
from django.db import connection, models
from django.db.models.expressions import RawSQL

from omnicrm.catalog.models import Product
from omnicrm.customers.models import Customer
from omnicrm.events.models import Event, EventType
from omnicrm.importers.bulk import concrete_field
from omnicrm.orders.models import Order, OrderLine, OrderStatus
from omnicrm.recommendations.models import RecommendationFeedback
from omnicrm.reviews.models import Review, WishlistItem

PURCHASE_WEIGHT = 1.0
RATING_BONUS = 0.5
POSITIVE_RATING = 4  # this rating and above add RATING_BONUS
NEGATIVE_RATING = 2  # this rating and below make the weight NEGATIVE_WEIGHT
NEGATIVE_WEIGHT = -1.0
WISHLIST_WEIGHT = 0.5
CART_WEIGHT = 0.3
VIEW_WEIGHT = 0.1
VIEW_CAP = 0.5
HALF_LIFE_DAYS = 180.0
# Views and add-to-cart events older than this are not read at all: after a year a view
# weighs 0.1 x 0.25, and a heavy browser's history would make every request slower.
EVENT_WINDOW_DAYS = 365

PRODUCT_VIEWED = "Product Viewed"
PRODUCT_ADDED = "Product Added"
# Orders that never reached the customer say nothing about their taste.
NOT_PURCHASED_STATUSES = (OrderStatus.CANCELED, OrderStatus.UNAVAILABLE)

SECONDS_PER_DAY = 86_400.0
CHUNK = 100_000

# How a customer touched a product, strongest first: the first that applies names the signal.
KINDS = ("rated", "bought", "wished", "carted", "viewed")


def signal_params() -> dict[str, Any]:
    """The weights in force, recorded on every training run."""
    return {
        "purchase": PURCHASE_WEIGHT,
        "rating_bonus": RATING_BONUS,
        "positive_rating": POSITIVE_RATING,
        "negative_rating": NEGATIVE_RATING,
        "negative_weight": NEGATIVE_WEIGHT,
        "wishlist": WISHLIST_WEIGHT,
        "cart": CART_WEIGHT,
        "view": VIEW_WEIGHT,
        "view_cap": VIEW_CAP,
        "half_life_days": HALF_LIFE_DAYS,
        "event_window_days": EVENT_WINDOW_DAYS,
    }


def decay(age_seconds: np.ndarray) -> np.ndarray:
    """Recency factor: 1 today, 0.5 after HALF_LIFE_DAYS, 0.25 after twice that. Touches
    in the future (clock skew) count as today."""
    age_days = np.maximum(np.asarray(age_seconds, dtype=np.float64), 0.0) / SECONDS_PER_DAY
    return np.power(0.5, age_days / HALF_LIFE_DAYS)


# ---------------------------------------------------------------------------------------
# Raw touches


def _i64(values: Iterable[Any] = ()) -> np.ndarray:
    return np.fromiter(values, np.int64)


def _f64(values: Iterable[Any] = ()) -> np.ndarray:
    return np.fromiter(values, np.float64)


@dataclass(frozen=True)
class PurchaseRows:
    """One row per order line of a purchase: parallel arrays (epoch seconds in ``at``)."""

    customer: np.ndarray
    product: np.ndarray
    order: np.ndarray
    at: np.ndarray
    quantity: np.ndarray

    @classmethod
    def empty(cls) -> PurchaseRows:
        return cls(_i64(), _i64(), _i64(), _f64(), _i64())

    def __len__(self) -> int:
        return int(self.customer.shape[0])

    def take(self, keep: np.ndarray) -> PurchaseRows:
        return PurchaseRows(
            self.customer[keep], self.product[keep], self.order[keep], self.at[keep],
            self.quantity[keep],
        )  # fmt: skip


@dataclass(frozen=True)
class TouchRows:
    """One row per touch (rating, wishlist entry, view, add-to-cart): parallel arrays.
    ``value`` is the rating for ratings and 1 otherwise."""

    customer: np.ndarray
    product: np.ndarray
    at: np.ndarray
    value: np.ndarray

    @classmethod
    def empty(cls) -> TouchRows:
        return cls(_i64(), _i64(), _f64(), _i64())

    def __len__(self) -> int:
        return int(self.customer.shape[0])

    def take(self, keep: np.ndarray) -> TouchRows:
        return TouchRows(self.customer[keep], self.product[keep], self.at[keep], self.value[keep])


@dataclass(frozen=True)
class SignalSources:
    """Everything the signals are made of, as read from the database.

    ``excluded`` holds the (customer, product) pairs of "don't use for recommendations" and
    "not interested" feedback, as two parallel arrays.
    """

    purchases: PurchaseRows
    ratings: TouchRows
    wishes: TouchRows
    carts: TouchRows
    views: TouchRows
    excluded: tuple[np.ndarray, np.ndarray]
    now: float
    #: Read counts per source, for the training run's record of what it saw.
    counts: dict[str, int] = field(default_factory=dict)


def _epoch_sql(model: type[models.Model], field_name: str) -> str:
    """SQL for a datetime column as epoch seconds, computed by the database so that no
    datetime object is built per row (SQLite stores naive UTC text)."""
    quote = connection.ops.quote_name
    column = concrete_field(model, field_name).column or field_name
    sql = f"{quote(model._meta.db_table)}.{quote(column)}"
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {sql})::float8"
    return f"((julianday({sql}) - 2440587.5) * 86400.0)"


def _with_epoch(qs: models.QuerySet[Any], sql: str) -> models.QuerySet[Any]:
    return qs.annotate(_at=RawSQL(sql, [], output_field=models.FloatField()))  # noqa: S611


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        chunk = list(islice(rows, CHUNK))
        if not chunk:
            return
        yield chunk


def _read_columns(qs: models.QuerySet[Any], fields: list[str], kinds: str) -> list[np.ndarray]:
    """Stream ``values_list(*fields)`` into one numpy array per field (``kinds``: one letter
    per field, i = int64, f = float64), in chunks so a million rows never become a million
    Python tuples at once."""
    parts: list[list[np.ndarray]] = [[] for _ in fields]
    for chunk in _chunks(qs.values_list(*fields).iterator(chunk_size=CHUNK)):
        columns = list(zip(*chunk, strict=True))
        for index, kind in enumerate(kinds):
            dtype = np.int64 if kind == "i" else np.float64
            parts[index].append(np.fromiter(columns[index], dtype, len(chunk)))
    return [
        np.concatenate(p) if p else np.zeros(0, np.int64 if k == "i" else np.float64)
        for p, k in zip(parts, kinds, strict=True)
    ]


def read_purchases(*, until: datetime, customer_pk: int | None = None) -> PurchaseRows:
    """Order lines of orders that were not canceled or unavailable, placed up to ``until``."""
    qs = OrderLine.objects.filter(
        order__customer__isnull=False, product__isnull=False, order__placed_at__lte=until
    ).exclude(order__status__in=NOT_PURCHASED_STATUSES)
    if customer_pk is not None:
        qs = qs.filter(order__customer_id=customer_pk)
    qs = _with_epoch(qs.order_by(), _epoch_sql(Order, "placed_at"))
    customer, product, order, at, quantity = _read_columns(
        qs, ["order__customer_id", "product_id", "order_id", "_at", "quantity"], "iiifi"
    )
    return PurchaseRows(customer, product, order, at, quantity)


def read_ratings(*, until: datetime, customer_pk: int | None = None) -> TouchRows:
    """Every rating a known customer gave a product, up to ``until``."""
    qs = Review.objects.filter(
        customer__isnull=False, product__isnull=False, reviewed_at__lte=until
    )
    if customer_pk is not None:
        qs = qs.filter(customer_id=customer_pk)
    qs = _with_epoch(qs.order_by(), _epoch_sql(Review, "reviewed_at"))
    customer, product, at, rating = _read_columns(
        qs, ["customer_id", "product_id", "_at", "rating"], "iifi"
    )
    return TouchRows(customer, product, at, rating)


def read_wishes(*, until: datetime, customer_pk: int | None = None) -> TouchRows:
    """Products on customers' wishlists, added up to ``until``."""
    qs = WishlistItem.objects.filter(created_at__lte=until)
    if customer_pk is not None:
        qs = qs.filter(customer_id=customer_pk)
    qs = _with_epoch(qs.order_by(), _epoch_sql(WishlistItem, "created_at"))
    customer, product, at = _read_columns(qs, ["customer_id", "product_id", "_at"], "iif")
    return TouchRows(customer, product, at, np.ones(customer.shape[0], np.int64))


def _product_keys(keys: set[str]) -> dict[str, int]:
    """Product pk by public id and by SKU, for the ids the site put in its events."""
    if not keys:
        return {}
    found: dict[str, int] = {}
    listed = list(keys)
    for start in range(0, len(listed), 5000):
        part = listed[start : start + 5000]
        rows = Product.objects.filter(models.Q(public_id__in=part) | models.Q(sku__in=part))
        for pk, public_id, sku in rows.order_by().values_list("pk", "public_id", "sku"):
            # A public id wins over a SKU that happens to spell the same text.
            found.setdefault(sku, pk)
            found[public_id] = pk
    return found


def read_product_events(
    *, until: datetime, customer_pk: int | None = None
) -> tuple[TouchRows, TouchRows]:
    """Add-to-cart and product-view events of known customers in the last EVENT_WINDOW_DAYS
    up to ``until``, as (carts, views). The product is ``properties.product_id`` (public id
    or SKU) or else ``properties.sku``; events naming no known product are left out."""
    qs = Event.objects.filter(
        customer__isnull=False,
        type=EventType.TRACK,
        event__in=[PRODUCT_ADDED, PRODUCT_VIEWED],
        timestamp__lte=until,
        timestamp__gt=until - timedelta(days=EVENT_WINDOW_DAYS),
    )
    if customer_pk is not None:
        qs = qs.filter(customer_id=customer_pk)
    timed: Any = _with_epoch(qs.order_by(), _epoch_sql(Event, "timestamp"))
    rows = timed.values_list(
        "customer_id", "_at", "event", "properties__product_id", "properties__sku"
    ).iterator(chunk_size=CHUNK)
    customers: list[int] = []
    stamps: list[float] = []
    added: list[bool] = []
    keys: list[str] = []
    for customer, at, name, product_id, sku in rows:
        key = product_id if product_id not in (None, "") else sku
        if key in (None, ""):
            continue
        customers.append(customer)
        stamps.append(at)
        added.append(name == PRODUCT_ADDED)
        keys.append(str(key))
    by_key = _product_keys(set(keys))
    product = np.fromiter((by_key.get(k, -1) for k in keys), np.int64, len(keys))
    known = product >= 0
    customer_arr = np.asarray(customers, np.int64)[known]
    at_arr = np.asarray(stamps, np.float64)[known]
    is_cart = np.asarray(added, bool)[known]
    product = product[known]
    ones = np.ones(product.shape[0], np.int64)
    carts = TouchRows(customer_arr[is_cart], product[is_cart], at_arr[is_cart], ones[is_cart])
    views = TouchRows(customer_arr[~is_cart], product[~is_cart], at_arr[~is_cart], ones[~is_cart])
    return carts, views


def read_excluded(*, customer_pk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(customer, product) pairs the customers asked us not to use or not to show."""
    qs = RecommendationFeedback.objects.all()
    if customer_pk is not None:
        qs = qs.filter(customer_id=customer_pk)
    customer, product = _read_columns(qs.order_by(), ["customer_id", "product_id"], "ii")
    return customer, product


def _inactive_customers() -> np.ndarray:
    """Erased and merged-away customers: their history no longer belongs to a person."""
    qs = Customer.objects.filter(
        models.Q(erased_at__isnull=False) | models.Q(merged_into__isnull=False)
    )
    return np.sort(_i64(qs.order_by().values_list("pk", flat=True)))


def signal_sources(*, now: datetime, customer_pk: int | None = None) -> SignalSources:
    """Read every touch of every customer (or of ``customer_pk``) up to ``now``: six
    queries, whatever the number of customers."""
    purchases = read_purchases(until=now, customer_pk=customer_pk)
    ratings = read_ratings(until=now, customer_pk=customer_pk)
    wishes = read_wishes(until=now, customer_pk=customer_pk)
    carts, views = read_product_events(until=now, customer_pk=customer_pk)
    excluded = read_excluded(customer_pk=customer_pk)
    if customer_pk is None:
        inactive = _inactive_customers()
        if inactive.size:
            purchases = purchases.take(~np.isin(purchases.customer, inactive))
            ratings = ratings.take(~np.isin(ratings.customer, inactive))
            wishes = wishes.take(~np.isin(wishes.customer, inactive))
            carts = carts.take(~np.isin(carts.customer, inactive))
            views = views.take(~np.isin(views.customer, inactive))
    counts = {
        "order_lines": len(purchases),
        "ratings": len(ratings),
        "wishlist_items": len(wishes),
        "cart_events": len(carts),
        "view_events": len(views),
        "feedback": int(excluded[0].shape[0]),
    }
    return SignalSources(
        purchases=purchases,
        ratings=ratings,
        wishes=wishes,
        carts=carts,
        views=views,
        excluded=excluded,
        now=now.timestamp(),
        counts=counts,
    )


# ---------------------------------------------------------------------------------------
# Combining touches into weights


@dataclass(frozen=True)
class SignalArrays:
    """One row per (customer, product) with a non-zero weight, sorted by customer then
    product. ``weight`` is signed and recency-decayed; ``at`` is the latest touch (epoch
    seconds); the other columns say how the customer touched the product (``rating`` 0 when
    not rated)."""

    customer: np.ndarray
    product: np.ndarray
    weight: np.ndarray
    at: np.ndarray
    purchases: np.ndarray
    rating: np.ndarray
    wished: np.ndarray
    carts: np.ndarray
    views: np.ndarray

    def __len__(self) -> int:
        return int(self.customer.shape[0])


def distinct_rows(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Indices of one row per distinct (first, second) pair: a sort, where
    ``np.unique(axis=...)`` would compare the rows as bytes and take several times longer."""
    if first.shape[0] == 0:
        return _i64()
    order = np.lexsort((second, first))
    a, b = first[order], second[order]
    new = np.ones(a.shape[0], bool)
    new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return order[new]


def _group(
    customer: np.ndarray, product: np.ndarray, at: np.ndarray, base: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique pair keys, the number of rows of each and the latest ``at`` of each."""
    if customer.shape[0] == 0:
        return _i64(), _i64(), _f64()
    keys = customer * base + product
    order = np.lexsort((at, keys))
    keys, at = keys[order], at[order]
    last = np.ones(keys.shape[0], bool)
    last[:-1] = keys[1:] != keys[:-1]
    first = np.ones(keys.shape[0], bool)
    first[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(first)
    ends = np.flatnonzero(last)
    return keys[last], (ends - starts + 1).astype(np.int64), at[last]


def signals_combine(sources: SignalSources) -> SignalArrays:
    """The weight of every (customer, product) pair, as the module docstring defines it."""
    now = sources.now
    p = sources.purchases
    products = [p.product, sources.ratings.product, sources.wishes.product]
    products += [sources.carts.product, sources.views.product, sources.excluded[1]]
    highest = max((int(a.max()) for a in products if a.shape[0]), default=0)
    base = highest + 1

    # Purchases count orders, not lines: two lines of one product in one order are one
    # purchase. The latest order dates the purchase.
    if len(p):
        order_keys = distinct_rows(p.customer * base + p.product, p.order)
        bought_keys, bought_n, bought_at = _group(
            p.customer[order_keys], p.product[order_keys], p.at[order_keys], base
        )
    else:
        bought_keys, bought_n, bought_at = _i64(), _i64(), _f64()

    r = sources.ratings
    rated_keys, _, rated_at = _group(r.customer, r.product, r.at, base)
    # The latest rating of each pair: _group sorts by time within a pair, so the value at
    # the same position of a stable sort by (key, at) is the newest one.
    if len(r):
        keys = r.customer * base + r.product
        order = np.lexsort((r.at, keys))
        keys_sorted = keys[order]
        last = np.ones(keys_sorted.shape[0], bool)
        last[:-1] = keys_sorted[1:] != keys_sorted[:-1]
        rated_value = r.value[order][last]
    else:
        rated_value = _i64()

    w = sources.wishes
    wish_keys, _, wish_at = _group(w.customer, w.product, w.at, base)
    c = sources.carts
    cart_keys, cart_n, cart_at = _group(c.customer, c.product, c.at, base)
    v = sources.views
    view_keys, view_n, view_at = _group(v.customer, v.product, v.at, base)

    keys = np.unique(np.concatenate([bought_keys, rated_keys, wish_keys, cart_keys, view_keys]))
    excluded = sources.excluded[0] * base + sources.excluded[1]
    if excluded.shape[0]:
        keys = keys[~np.isin(keys, excluded)]
    n = keys.shape[0]

    def place(part_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``keys`` of the part's pairs still present."""
        at = np.searchsorted(keys, part_keys)
        ok = at < n
        ok[ok] = keys[at[ok]] == part_keys[ok]
        return at[ok], ok

    weight = np.zeros(n)
    latest = np.full(n, -np.inf)
    purchases = np.zeros(n, np.int64)
    rating = np.zeros(n, np.int64)
    wished = np.zeros(n, bool)
    carts = np.zeros(n, np.int64)
    views = np.zeros(n, np.int64)

    at, ok = place(bought_keys)
    purchases[at] = bought_n[ok]
    weight[at] += PURCHASE_WEIGHT * (1.0 + np.log(bought_n[ok])) * decay(now - bought_at[ok])
    latest[at] = np.maximum(latest[at], bought_at[ok])

    at, ok = place(wish_keys)
    wished[at] = True
    weight[at] += WISHLIST_WEIGHT * decay(now - wish_at[ok])
    latest[at] = np.maximum(latest[at], wish_at[ok])

    at, ok = place(cart_keys)
    carts[at] = cart_n[ok]
    weight[at] += CART_WEIGHT * decay(now - cart_at[ok])
    latest[at] = np.maximum(latest[at], cart_at[ok])

    at, ok = place(view_keys)
    views[at] = view_n[ok]
    weight[at] += np.minimum(VIEW_WEIGHT * view_n[ok], VIEW_CAP) * decay(now - view_at[ok])
    latest[at] = np.maximum(latest[at], view_at[ok])

    at, ok = place(rated_keys)
    value, when = rated_value[ok], rated_at[ok]
    rating[at] = value
    latest[at] = np.maximum(latest[at], when)
    good = value >= POSITIVE_RATING
    weight[at[good]] += RATING_BONUS * decay(now - when[good])
    # A low rating overrides everything else the customer did with the product.
    bad = value <= NEGATIVE_RATING
    weight[at[bad]] = NEGATIVE_WEIGHT * decay(now - when[bad])

    # A lone rating of 3 carries no weight: it is no signal at all.
    keep = weight != 0
    return SignalArrays(
        customer=keys[keep] // base,
        product=keys[keep] % base,
        weight=weight[keep],
        at=latest[keep],
        purchases=purchases[keep],
        rating=rating[keep],
        wished=wished[keep],
        carts=carts[keep],
        views=views[keep],
    )


def signal_arrays(*, now: datetime, customer_pk: int | None = None) -> SignalArrays:
    """Every customer's (or one customer's) signals as parallel arrays, for training."""
    return signals_combine(signal_sources(now=now, customer_pk=customer_pk))


# ---------------------------------------------------------------------------------------
# One customer, for serving and explanations


@dataclass(frozen=True)
class Signal:
    """How one customer touched one product, and what it weighs now.

    ``weight`` is signed and recency-decayed: only products with a positive weight may be
    the cause of a recommendation. ``kind`` is the strongest way the customer touched it
    (rated > bought > wished > carted > viewed; a rating counts only when it is not 3),
    ``kinds`` every way, strongest first. ``rating`` is None when the customer never rated
    it; ``purchases`` counts orders.
    """

    product_pk: int
    weight: float
    kind: str
    kinds: tuple[str, ...]
    at: datetime
    rating: int | None = None
    purchases: int = 0
    wished: bool = False
    carts: int = 0
    views: int = 0

    @property
    def details(self) -> dict[str, Any]:
        """The facts behind the signal, for an explanation or an API answer."""
        facts: dict[str, Any] = {}
        if self.rating is not None:
            facts["rating"] = self.rating
        if self.purchases:
            facts["purchases"] = self.purchases
        if self.wished:
            facts["wished"] = True
        if self.carts:
            facts["carts"] = self.carts
        if self.views:
            facts["views"] = self.views
        return facts


def _kinds(rating: int, purchases: int, wished: bool, carts: int, views: int) -> tuple[str, ...]:
    present = {
        "rated": rating >= POSITIVE_RATING or 0 < rating <= NEGATIVE_RATING,
        "bought": purchases > 0,
        "wished": wished,
        "carted": carts > 0,
        "viewed": views > 0,
    }
    found = tuple(kind for kind in KINDS if present[kind])
    # A rating of 3 alone is not a signal; a rated-3 purchase is named by the purchase.
    return found or ("rated",)


def signals_for(arrays: SignalArrays) -> list[Signal]:
    """Signal objects for the rows of ``arrays``, strongest weight first."""
    signals = []
    for index in np.argsort(-arrays.weight, kind="stable"):
        rating = int(arrays.rating[index])
        purchases = int(arrays.purchases[index])
        wished = bool(arrays.wished[index])
        carts = int(arrays.carts[index])
        views = int(arrays.views[index])
        kinds = _kinds(rating, purchases, wished, carts, views)
        at = float(arrays.at[index])
        signals.append(
            Signal(
                product_pk=int(arrays.product[index]),
                weight=float(arrays.weight[index]),
                kind=kinds[0],
                kinds=kinds,
                at=datetime.fromtimestamp(at if math.isfinite(at) else 0.0, tz=UTC),
                rating=rating or None,
                purchases=purchases,
                wished=wished,
                carts=carts,
                views=views,
            )
        )
    return signals


def customer_signals(*, customer_pk: int, now: datetime) -> list[Signal]:
    """One customer's signals, strongest first: six indexed queries, computed exactly as
    training computes them. Feedback applies at once (excluded and not-interested products
    are absent)."""
    return signals_for(signal_arrays(now=now, customer_pk=customer_pk))


def purchased_products(*, customer_pk: int) -> set[int]:
    """Every product the customer ever received in an order, excluded or not: serving never
    recommends these again unless they are repeat-purchase products."""
    return set(
        OrderLine.objects.filter(order__customer_id=customer_pk, product__isnull=False)
        .exclude(order__status__in=NOT_PURCHASED_STATUSES)
        .order_by()
        .values_list("product_id", flat=True)
        .distinct()
    )
