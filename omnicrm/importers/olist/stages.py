"""Writing the Olist data set in stages, each batch in its own transaction.

Stages run in dependency order: categories and products, customers (with their identity
and addresses), orders (each with its lines and payments, all-or-nothing), reviews. Rows
are matched on stable keys, so a second run finds everything in place and changes nothing,
and an interrupted run is completed by running it again.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from tqdm import tqdm

from omnicrm.catalog.models import Category, Product
from omnicrm.core.services import audit_log_write
from omnicrm.customers.models import Address, AddressKind, Customer, Identity, IdentityKind
from omnicrm.importers.bulk import (
    BulkTable,
    SyncCounts,
    chunked,
    fetch_by,
    import_session,
    statistics_refresh,
    sync,
)
from omnicrm.importers.followups import segments_catch_up
from omnicrm.importers.generic.order_writing import LINE_FIELDS
from omnicrm.importers.olist.source import (
    COUNTRY,
    CURRENCY,
    LANGUAGE,
    SOURCE,
    OlistOrder,
    OlistPerson,
    OlistSource,
    read_source,
)
from omnicrm.orders.models import Channel, Order, OrderLine, Payment
from omnicrm.reviews.models import Review


def customer_identity(customer_unique_id: str) -> str:
    """The external identity value that ties an Olist person to one omnicrm customer."""
    return f"olist:{customer_unique_id}"


def order_external_id(order_id: str) -> str:
    return f"olist:{order_id}"


def review_external_id(review_id: str, order_id: str) -> str:
    # Olist reuses a review_id across orders bought together; the pair is unique.
    return f"olist:{review_id}:{order_id}"


def category_label(slug: str, english: str | None) -> str:
    """'health_beauty' -> 'Health beauty'; untranslated categories keep the Portuguese name."""
    text = (english or slug).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def product_title(product_id: str, category: str | None) -> str:
    # Olist publishes no product names; category plus a short id reads well and stays unique.
    label = category or _("Product")
    return f"{label} #{product_id[:8]}"


@dataclass
class OlistImportResult:
    """Rows of each table the import covers (created + updated + unchanged)."""

    categories: int = 0
    products: int = 0
    customers: int = 0
    addresses: int = 0
    orders: int = 0
    order_lines: int = 0
    payments: int = 0
    reviews: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    rows_read: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def __str__(self) -> str:
        tables = ", ".join(
            f"{getattr(self, name):,} {name.replace('_', ' ')}"
            for name in (
                "customers",
                "orders",
                "order_lines",
                "payments",
                "reviews",
                "products",
                "categories",
            )
        )
        created = sum(self.created.values())
        updated = sum(self.updated.values())
        return f"{tables} ({created:,} rows created, {updated:,} updated, {self.seconds:.1f} s)"

    def record(self, table: str, counts: SyncCounts) -> None:
        self.created[table] = self.created.get(table, 0) + counts.created
        self.updated[table] = self.updated.get(table, 0) + counts.updated + counts.deleted


class _Importer:
    def __init__(self, source: OlistSource, *, batch_size: int, progress: bool):
        self.source = source
        self.batch_size = batch_size
        self.progress = progress
        self.result = OlistImportResult(rows_read=source.rows_read)
        self.category_pks: dict[str, int] = {}
        self.product_pks: dict[str, int] = {}
        self.product_titles: dict[str, str] = {}
        self.customer_pks: dict[str, int] = {}
        self.order_pks: dict[str, int] = {}
        self.order_customers: dict[str, int] = {}

    def bar(self, label: str, total: int) -> tqdm:
        return tqdm(
            total=total,
            desc=label,
            unit="row",
            disable=not self.progress,
            file=sys.stderr,
            leave=True,
        )

    def run(self) -> OlistImportResult:
        self.catalog()
        self.customers()
        self.orders()
        self.reviews()
        return self.result

    def catalog(self) -> None:
        source = self.source
        slugs = sorted({p.category for p in source.products.values() if p.category})
        labels = {slug: category_label(slug, source.translation.get(slug)) for slug in slugs}
        with self.bar(_("categories and products"), len(slugs) + len(source.products)) as bar:
            with transaction.atomic():
                table = BulkTable(Category, ["slug", "name"])
                existing = {
                    slug: (pk, (slug, name))
                    for pk, slug, name in fetch_by(Category, "slug", slugs, ("pk", "slug", "name"))
                }
                categories: dict[str, tuple[Any, ...]] = {
                    slug: (slug, labels[slug]) for slug in slugs
                }
                self.category_pks, counts = sync(table, categories, existing)
                self.result.record("categories", counts)
            self.result.categories = len(slugs)
            bar.update(len(slugs))

            columns = ["sku", "title", "content", "category_id", "price", "currency", "attributes"]
            table = BulkTable(Product, columns)
            skus = list(source.products)
            for part in chunked(skus, self.batch_size):
                desired: dict[str, tuple[Any, ...]] = {}
                for sku in part:
                    product = source.products[sku]
                    label = labels.get(product.category) if product.category else None
                    title = product_title(sku, label)
                    self.product_titles[sku] = title
                    content = f"{label} ({product.category})" if label else ""
                    attributes = {"source": SOURCE, **product.attributes}
                    category_pk = self.category_pks.get(product.category)
                    desired[sku] = (
                        sku,
                        title,
                        content,
                        category_pk,
                        source.prices[sku],
                        CURRENCY,
                        attributes,
                    )
                with transaction.atomic():
                    existing = {
                        row[1]: (row[0], row[1:])
                        for row in fetch_by(Product, "sku", part, ("pk", *columns))
                    }
                    pks, counts = sync(table, desired, existing)
                self.product_pks.update(pks)
                self.result.record("products", counts)
                bar.update(len(part))
            self.result.products = len(skus)

    def customers(self) -> None:
        people: dict[str, OlistPerson] = {}
        for order in self.source.orders:
            uid, zip_prefix, city, state = self.source.customers[order.customer_id]
            place = (zip_prefix, city, state)
            person = people.get(uid)
            if person is None:
                people[uid] = OlistPerson(
                    uid, order.placed_at, order.placed_at, {place: order.placed_at}
                )
                continue
            person.first_seen = min(person.first_seen, order.placed_at)
            person.last_seen = max(person.last_seen, order.placed_at)
            person.places[place] = max(person.places.get(place, order.placed_at), order.placed_at)

        customer_columns = ["country", "city", "language", "first_seen_at", "last_seen_at"]
        customers = BulkTable(Customer, customer_columns)
        identities = BulkTable(Identity, ["customer_id", "kind", "value", "verified", "source"])
        address_columns = [
            "customer_id",
            "kind",
            "postal_code",
            "city",
            "region",
            "country",
            "is_default",
        ]
        addresses = BulkTable(Address, address_columns)
        uids = list(people)
        with self.bar(_("customers"), len(uids)) as bar:
            for part in chunked(uids, self.batch_size):
                with transaction.atomic():
                    self._customer_batch(part, people, customers, identities, addresses)
                bar.update(len(part))
        self.result.customers = len(uids)

    def _customer_batch(
        self,
        uids: Sequence[str],
        people: dict[str, OlistPerson],
        customers: BulkTable,
        identities: BulkTable,
        addresses: BulkTable,
    ) -> None:
        known: dict[Any, Any] = dict(
            fetch_by(
                Identity,
                "value",
                [customer_identity(u) for u in uids],
                ("value", "customer_id"),
                kind=IdentityKind.EXTERNAL,
            )
        )
        current = {
            row[0]: row[1:]
            for row in fetch_by(
                Customer,
                "pk",
                known.values(),
                ("pk", "country", "city", "language", "first_seen_at", "last_seen_at", "erased_at"),
            )
        }
        desired: dict[str, tuple[Any, ...]] = {}
        existing: dict[str, tuple[int, tuple[Any, ...]]] = {}
        for uid in uids:
            person = people[uid]
            city = max(person.places.items(), key=lambda kv: kv[1])[0][1]
            pk = known.get(customer_identity(uid))
            if pk is None:
                desired[uid] = (COUNTRY, city, LANGUAGE, person.first_seen, person.last_seen)
                continue
            country, old_city, language, first_seen, last_seen, erased_at = current[pk]
            existing[uid] = (pk, (country, old_city, language, first_seen, last_seen))
            if erased_at is not None:
                # An erased profile keeps no personal data; re-importing must not refill it.
                desired[uid] = existing[uid][1]
                continue
            desired[uid] = (
                COUNTRY,
                city,
                language or LANGUAGE,
                min(first_seen, person.first_seen) if first_seen else person.first_seen,
                max(last_seen, person.last_seen) if last_seen else person.last_seen,
            )
        pks, counts = sync(customers, desired, existing)
        self.result.record("customers", counts)
        self.customer_pks.update(pks)

        new_identities = [
            (pks[uid], IdentityKind.EXTERNAL, customer_identity(uid), False, SOURCE)
            for uid in uids
            if uid not in existing
        ]
        identities.insert(new_identities)
        self.result.record("identities", SyncCounts(created=len(new_identities)))

        erased = {pks[uid] for uid in existing if current[existing[uid][0]][5] is not None}
        have: dict[int, set[tuple[str, str, str, str]]] = defaultdict(set)
        has_default: set[int] = set()
        for customer_pk, kind, postal, city, region, country, is_default in fetch_by(
            Address,
            "customer_id",
            [pk for pk, _row in existing.values()],
            ("customer_id", *addresses.columns[1:]),
        ):
            if kind == AddressKind.SHIPPING:
                have[customer_pk].add((postal, city, region, country))
                if is_default:
                    has_default.add(customer_pk)
        new_addresses = []
        for uid in uids:
            customer_pk = pks[uid]
            if customer_pk in erased:
                continue
            places = sorted(people[uid].places.items(), key=lambda kv: kv[1], reverse=True)
            self.result.addresses += len(places)
            for rank, ((postal, city, region), _when) in enumerate(places):
                if (postal, city, region, COUNTRY) in have[customer_pk]:
                    continue
                # The latest address becomes the default unless the customer already chose one.
                default = rank == 0 and customer_pk not in has_default
                new_addresses.append(
                    (customer_pk, AddressKind.SHIPPING, postal, city, region, COUNTRY, default)
                )
        addresses.insert(new_addresses)
        self.result.record("addresses", SyncCounts(created=len(new_addresses)))

    def orders(self) -> None:
        order_columns = [
            "external_id",
            "customer_id",
            "channel",
            "status",
            "placed_at",
            "confirmed_at",
            "shipped_at",
            "delivered_at",
            "estimated_delivery_at",
            "currency",
            "subtotal",
            "shipping_total",
            "total",
        ]
        payment_columns = ["order_id", "sequence", "method", "amount", "currency", "installments"]
        tables = (
            BulkTable(Order, order_columns),
            BulkTable(OrderLine, LINE_FIELDS),
            BulkTable(Payment, payment_columns),
        )
        orders = self.source.orders
        with self.bar(_("orders"), len(orders)) as bar:
            for part in chunked(orders, self.batch_size):
                # One transaction per batch: an order, its lines and payments land together.
                with transaction.atomic():
                    self._order_batch(
                        part, tables, order_columns, list(LINE_FIELDS), payment_columns
                    )
                bar.update(len(part))
        self.result.orders = len(orders)

    def _order_batch(
        self,
        orders: Sequence[OlistOrder],
        tables: tuple[BulkTable, BulkTable, BulkTable],
        order_columns: list[str],
        line_columns: list[str],
        payment_columns: list[str],
    ) -> None:
        order_table, line_table, payment_table = tables
        source = self.source
        desired: dict[str, tuple[Any, ...]] = {}
        for order in orders:
            items = source.items.get(order.order_id, [])
            subtotal = sum((i.price for i in items), Decimal("0.00"))
            shipping = sum((i.freight for i in items), Decimal("0.00"))
            customer_pk = self.customer_pks[source.customers[order.customer_id][0]]
            self.order_customers[order.order_id] = customer_pk
            external_id = order_external_id(order.order_id)
            desired[external_id] = (
                external_id,
                customer_pk,
                Channel.MARKETPLACE,
                order.status,
                order.placed_at,
                order.approved_at,
                order.carrier_at,
                order.delivered_at,
                order.estimated_at,
                CURRENCY,
                subtotal,
                shipping,
                subtotal + shipping,
            )
        existing = {
            row[1]: (row[0], row[1:])
            for row in fetch_by(Order, "external_id", desired.keys(), ("pk", *order_columns))
        }
        pks, counts = sync(order_table, desired, existing)
        self.result.record("orders", counts)
        for order in orders:
            self.order_pks[order.order_id] = pks[order_external_id(order.order_id)]

        old_orders = [pk for pk, _row in existing.values()]
        lines: dict[tuple[int, int], tuple[Any, ...]] = {}
        payments: dict[tuple[int, int], tuple[Any, ...]] = {}
        for order in orders:
            order_pk = self.order_pks[order.order_id]
            for item in source.items.get(order.order_id, []):
                lines[(order_pk, item.number)] = (
                    order_pk,
                    item.number,
                    self.product_pks[item.product_id],
                    item.product_id,
                    self.product_titles[item.product_id],
                    1,
                    item.price,
                    item.freight,
                    item.price,
                    item.seller_id,
                )
            for payment in source.payments.get(order.order_id, []):
                payments[(order_pk, payment.sequence)] = (
                    order_pk,
                    payment.sequence,
                    payment.method,
                    payment.amount,
                    CURRENCY,
                    payment.installments,
                )
        current_lines = {
            (row[1], row[2]): (row[0], row[1:])
            for row in fetch_by(OrderLine, "order_id", old_orders, ("pk", *line_columns))
        }
        _pks, counts = sync(line_table, lines, current_lines, delete_missing=True)
        self.result.record("order_lines", counts)
        self.result.order_lines += len(lines)
        current_payments = {
            (row[1], row[2]): (row[0], row[1:])
            for row in fetch_by(Payment, "order_id", old_orders, ("pk", *payment_columns))
        }
        _pks, counts = sync(payment_table, payments, current_payments, delete_missing=True)
        self.result.record("payments", counts)
        self.result.payments += len(payments)

    def reviews(self) -> None:
        columns = [
            "external_id",
            "customer_id",
            "product_id",
            "order_id",
            "rating",
            "title",
            "body",
            "verified_purchase",
            "reviewed_at",
        ]
        table = BulkTable(Review, columns)
        source = self.source
        reviews = source.reviews
        with self.bar(_("reviews"), len(reviews)) as bar:
            for part in chunked(reviews, self.batch_size):
                desired: dict[str, tuple[Any, ...]] = {}
                for review in part:
                    products = {i.product_id for i in source.items.get(review.order_id, [])}
                    # A review is about an order; it can only be pinned to a product when
                    # the order holds exactly one.
                    product_pk = self.product_pks[products.pop()] if len(products) == 1 else None
                    key = review_external_id(review.review_id, review.order_id)
                    desired[key] = (
                        key,
                        self.order_customers[review.order_id],
                        product_pk,
                        self.order_pks[review.order_id],
                        review.rating,
                        review.title,
                        review.body,
                        True,
                        review.created_at,
                    )
                with transaction.atomic():
                    existing = {
                        row[1]: (row[0], row[1:])
                        for row in fetch_by(Review, "external_id", desired.keys(), ("pk", *columns))
                    }
                    _pks, counts = sync(table, desired, existing)
                self.result.record("reviews", counts)
                bar.update(len(part))
        self.result.reviews = len(reviews)


def olist_import(
    *,
    directory: str | Path,
    limit: int | None = None,
    progress: bool = True,
    batch_size: int = 10_000,
) -> OlistImportResult:
    """Import the Olist data set found in `directory` (see docs/importing.md).

    `limit` imports the first N orders of olist_orders_dataset and only the customers,
    products, categories, payments and reviews they reference.
    """
    started = time.perf_counter()
    path = Path(directory).expanduser()
    source = read_source(path, limit)
    with import_session():
        result = _Importer(source, batch_size=batch_size, progress=progress).run()
    if result.changed:
        # After the import session: a synchronous commit, so the batches' asynchronous
        # ones are flushed before `statistics_refresh` vacuums their rows.
        with transaction.atomic():
            audit_log_write(
                action="import.olist",
                object_type="import",
                object_id=path.name[:64] or "olist",
                data={"created": result.created, "updated": result.updated, "limit": limit},
            )
        statistics_refresh()
        segments_catch_up()
    result.seconds = time.perf_counter() - started
    return result
