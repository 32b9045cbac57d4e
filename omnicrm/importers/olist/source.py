"""Reading and checking the Olist files before anything is written.

Every table is parsed into plain tuples; a malformed value or a key that does not resolve
stops the import here, naming the file, line and field, with nothing applied.
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

from django.utils.translation import gettext as _

from omnicrm.core.errors import ValidationFailed
from omnicrm.importers.files import locate_table, open_text

FILES = {
    "orders": "olist_orders_dataset",
    "customers": "olist_customers_dataset",
    "items": "olist_order_items_dataset",
    "payments": "olist_order_payments_dataset",
    "reviews": "olist_order_reviews_dataset",
    "products": "olist_products_dataset",
    "translation": "product_category_name_translation",
}
# Part of the data set but not imported: sellers are kept as `seller_ref` on order lines,
# and geolocation (zip prefix to lat/lng) has no home in the customer model.
UNUSED_FILES = {"sellers": "olist_sellers_dataset", "geolocation": "olist_geolocation_dataset"}

CURRENCY = "BRL"
COUNTRY = "BR"
LANGUAGE = "pt"
SOURCE = "olist"
CENT = Decimal("0.01")

# Olist's values -> OrderStatus and PaymentMethod values (plain strings, so this module
# loads without Django's app registry; a test checks them against the enums).
STATUS_MAP = {
    "created": "pending",
    "approved": "confirmed",
    "invoiced": "processing",
    "processing": "processing",
    "shipped": "shipped",
    "delivered": "delivered",
    "canceled": "canceled",
    "unavailable": "unavailable",
}
PAYMENT_MAP = {
    "credit_card": "credit_card",
    "debit_card": "debit_card",
    "boleto": "bank_slip",
    "voucher": "voucher",
    "not_defined": "other",
}


class OlistOrder(NamedTuple):
    order_id: str
    customer_id: str
    status: str
    placed_at: datetime
    approved_at: datetime | None
    carrier_at: datetime | None
    delivered_at: datetime | None
    estimated_at: datetime | None


class OlistItem(NamedTuple):
    number: int
    product_id: str
    seller_id: str
    price: Decimal
    freight: Decimal


class OlistPayment(NamedTuple):
    sequence: int
    method: str
    installments: int
    amount: Decimal


class OlistReview(NamedTuple):
    review_id: str
    order_id: str
    rating: int
    title: str
    body: str
    created_at: datetime


class OlistProduct(NamedTuple):
    category: str
    attributes: dict[str, int]


@dataclass
class OlistPerson:
    uid: str
    first_seen: datetime
    last_seen: datetime
    # (zip prefix, city, state) -> last time an order shipped there
    places: dict[tuple[str, str, str], datetime]


@dataclass
class OlistSource:
    orders: list[OlistOrder]
    customers: dict[str, tuple[str, str, str, str]]
    items: dict[str, list[OlistItem]]
    payments: dict[str, list[OlistPayment]]
    reviews: list[OlistReview]
    products: dict[str, OlistProduct]
    prices: dict[str, Decimal]
    translation: dict[str, str]
    rows_read: int = 0


class _Reader:
    """Reads one Olist table, naming file, line and field in every error."""

    def __init__(self, path: Path, columns: tuple[str, ...]):
        self.path = path
        self.columns = columns
        self.line = 1
        self.column = ""

    def rows(self) -> Iterator[list[str]]:
        with open_text(self.path) as handle:
            reader = csv.reader(handle)
            header = [c.strip() for c in next(reader, [])]
            missing = [c for c in self.columns if c not in header]
            if missing:
                raise ValidationFailed(
                    _("%(file)s: missing column %(column)s")
                    % {"file": self.path.name, "column": missing[0]},
                    field=missing[0],
                )
            index = [header.index(c) for c in self.columns]
            width = len(header)
            previous_end = 1
            for record in reader:
                self.line = previous_end + 1
                previous_end = reader.line_num
                if len(record) != width:
                    self.fail(
                        "", _("expected %(n)d fields, found %(m)d") % {"n": width, "m": len(record)}
                    )
                yield [record[i] for i in index]

    def fail(self, column: str, reason: str) -> None:
        where = f"{self.path.name} line {self.line}"
        message = f"{where}: field {column}: {reason}" if column else f"{where}: {reason}"
        raise ValidationFailed(message, field=column or None)

    def when(self, column: str, value: str, *, required: bool = False) -> datetime | None:
        if not value:
            if required:
                self.fail(column, _("is required"))
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(column, _("%(value)r is not a date and time") % {"value": value})
        # Olist does not state a time zone; its timestamps are kept as they are, read as UTC.
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def money(self, column: str, value: str) -> Decimal:
        try:
            amount = Decimal(value).quantize(CENT)
        except InvalidOperation:
            self.fail(column, _("%(value)r is not an amount") % {"value": value})
        if not amount.is_finite() or amount < 0:
            self.fail(column, _("%(value)r is not an amount of zero or more") % {"value": value})
        return amount

    def integer(self, column: str, value: str, *, required: bool = True) -> int | None:
        if not value and not required:
            return None
        try:
            # The full data set writes some counts as "40.0".
            number = Decimal(value)
            if number != number.to_integral_value():
                raise InvalidOperation
            return int(number)
        except InvalidOperation:
            self.fail(column, _("%(value)r is not a whole number") % {"value": value})
        return None


def read_source(directory: Path, limit: int | None) -> OlistSource:
    if not directory.is_dir():
        raise ValidationFailed(
            _("%(path)s is not a directory") % {"path": directory}, field="directory"
        )
    if limit is not None and limit < 1:
        raise ValidationFailed(_("--limit must be 1 or more"), field="limit")
    paths = {name: locate_table(directory, stem) for name, stem in FILES.items()}
    rows_read = 0

    reader = _Reader(
        paths["orders"],
        (
            "order_id",
            "customer_id",
            "order_status",
            "order_purchase_timestamp",
            "order_approved_at",
            "order_delivered_carrier_date",
            "order_delivered_customer_date",
            "order_estimated_delivery_date",
        ),
    )
    orders: list[OlistOrder] = []
    seen_orders: set[str] = set()
    for oid, cid, status, placed, approved, carrier, delivered, estimated in reader.rows():
        if limit is not None and len(orders) >= limit:
            break
        rows_read += 1
        if status not in STATUS_MAP:
            reader.fail("order_status", _("unknown status %(value)r") % {"value": status})
        if oid in seen_orders:
            reader.fail("order_id", _("order %(id)s appears twice") % {"id": oid})
        seen_orders.add(oid)
        orders.append(
            OlistOrder(
                oid,
                cid,
                STATUS_MAP[status],
                reader.when("order_purchase_timestamp", placed, required=True),  # type: ignore[arg-type]
                reader.when("order_approved_at", approved),
                reader.when("order_delivered_carrier_date", carrier),
                reader.when("order_delivered_customer_date", delivered),
                reader.when("order_estimated_delivery_date", estimated),
            )
        )
    wanted_customers = {o.customer_id for o in orders}

    reader = _Reader(
        paths["customers"],
        (
            "customer_id",
            "customer_unique_id",
            "customer_zip_code_prefix",
            "customer_city",
            "customer_state",
        ),
    )
    customers: dict[str, tuple[str, str, str, str]] = {}
    for cid, uid, zip_prefix, city, state in reader.rows():
        if cid in wanted_customers:
            rows_read += 1
            if not uid:
                reader.fail("customer_unique_id", _("is required"))
            customers[cid] = (uid, zip_prefix.strip(), city.strip(), state.strip().upper())
    for order in orders:
        if order.customer_id not in customers:
            raise ValidationFailed(
                _("order %(order)s: customer %(customer)s is not in %(file)s")
                % {
                    "order": order.order_id,
                    "customer": order.customer_id,
                    "file": paths["customers"].name,
                },
                field="customer_id",
            )

    reader = _Reader(
        paths["items"],
        ("order_id", "order_item_id", "product_id", "seller_id", "price", "freight_value"),
    )
    items: dict[str, list[OlistItem]] = defaultdict(list)
    all_prices: dict[str, list[Decimal]] = defaultdict(list)
    for oid, number, pid, seller, price, freight in reader.rows():
        amount = reader.money("price", price)
        # The catalog price is the median over every sale in the file, so it does not
        # depend on --limit.
        all_prices[pid].append(amount)
        if oid in seen_orders:
            rows_read += 1
            line_number = reader.integer("order_item_id", number)
            assert line_number is not None
            items[oid].append(
                OlistItem(line_number, pid, seller, amount, reader.money("freight_value", freight))
            )

    reader = _Reader(
        paths["payments"],
        ("order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"),
    )
    payments: dict[str, list[OlistPayment]] = defaultdict(list)
    for oid, sequence, kind, installments, value in reader.rows():
        if oid not in seen_orders:
            continue
        rows_read += 1
        if kind not in PAYMENT_MAP:
            reader.fail("payment_type", _("unknown payment type %(value)r") % {"value": kind})
        payments[oid].append(
            OlistPayment(
                reader.integer("payment_sequential", sequence),  # type: ignore[arg-type]
                PAYMENT_MAP[kind],
                reader.integer("payment_installments", installments),  # type: ignore[arg-type]
                reader.money("payment_value", value),
            )
        )

    reader = _Reader(
        paths["reviews"],
        (
            "review_id",
            "order_id",
            "review_score",
            "review_comment_title",
            "review_comment_message",
            "review_creation_date",
        ),
    )
    reviews: list[OlistReview] = []
    for rid, oid, score, title, message, created in reader.rows():
        if oid not in seen_orders:
            continue
        rows_read += 1
        rating = reader.integer("review_score", score)
        if rating is None or not 1 <= rating <= 5:
            reader.fail(
                "review_score", _("%(value)r is not a score from 1 to 5") % {"value": score}
            )
        reviews.append(
            OlistReview(
                rid,
                oid,
                rating,  # type: ignore[arg-type]
                title.strip()[:200],
                message.strip(),
                reader.when("review_creation_date", created, required=True),  # type: ignore[arg-type]
            )
        )

    wanted_products = {item.product_id for lines in items.values() for item in lines}
    measures = (
        ("product_name_lenght", "name_length"),
        ("product_description_lenght", "description_length"),
        ("product_photos_qty", "photos"),
        ("product_weight_g", "weight_g"),
        ("product_length_cm", "length_cm"),
        ("product_height_cm", "height_cm"),
        ("product_width_cm", "width_cm"),
    )
    reader = _Reader(
        paths["products"], ("product_id", "product_category_name", *(m[0] for m in measures))
    )
    products: dict[str, OlistProduct] = {}
    for pid, category, *values in reader.rows():
        if pid not in wanted_products:
            continue
        rows_read += 1
        attributes: dict[str, int] = {}
        for (measure, attribute), raw in zip(measures, values, strict=True):
            measured = reader.integer(measure, raw, required=False)
            if measured is not None:
                attributes[attribute] = measured
        products[pid] = OlistProduct(category.strip(), attributes)
    unknown = sorted(wanted_products - products.keys())
    if unknown:
        pid = unknown[0]
        raise ValidationFailed(
            _("product %(id)s is sold in %(items)s but not in %(file)s")
            % {"id": pid, "items": paths["items"].name, "file": paths["products"].name},
            field="product_id",
        )

    reader = _Reader(
        paths["translation"], ("product_category_name", "product_category_name_english")
    )
    translation: dict[str, str] = {}
    for pt, en in reader.rows():
        rows_read += 1
        translation[pt.strip()] = en.strip()

    prices = {
        pid: Decimal(statistics.median(all_prices[pid])).quantize(CENT) for pid in wanted_products
    }
    return OlistSource(
        orders, customers, items, payments, reviews, products, prices, translation, rows_read
    )
