"""`--kind orders`, the writing side: each checked order's customer found (or created),
then its order, lines and payment written.

Orders arrive as `ReadyOrder` tuples from the reading side (`orders.read_orders`), maybe
made in another process, with datetimes and money already in `bulk.stored_form`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from django.utils.translation import gettext as _

from omnicrm.catalog.models import Product
from omnicrm.customers.models import Customer, Identity, IdentityKind
from omnicrm.importers.bulk import BulkTable, fetch_by, lookup, sync
from omnicrm.importers.generic.customers import SOURCE
from omnicrm.importers.generic.rows import CsvImportResult
from omnicrm.orders.models import Order, OrderLine, Payment

ORDER_FIELDS = (
    "external_id",
    "customer_id",
    "channel",
    "status",
    "placed_at",
    "confirmed_at",
    "shipped_at",
    "delivered_at",
    "canceled_at",
    "tracking_number",
    "currency",
    "subtotal",
    "shipping_total",
    "discount_total",
    "total",
)
LINE_FIELDS = (
    "order_id",
    "line_number",
    "product_id",
    "sku",
    "title",
    "quantity",
    "unit_price",
    "shipping",
    "total",
    "seller_ref",
)
PAYMENT_FIELDS = (
    "order_id",
    "sequence",
    "method",
    "amount",
    "currency",
    "installments",
    "token",
    "brand",
    "last4",
)

# A checked order ready to write, as plain values (marshal-able), in this order:
# order id, file lines of its rows, customer external id, customer email, customer name,
# the values of ORDER_FIELDS[2:], its lines as (sku, title, quantity, unit price,
# shipping, line total, seller ref), its payment as PAYMENT_FIELDS[2:] or None.
ReadyOrder = tuple[
    str,
    list[int],
    str,
    str,
    str,
    tuple[Any, ...],
    list[tuple[Any, ...]],
    tuple[Any, ...] | None,
]
PLACED_AT = 2  # position of placed_at in an order's values


def rejections(
    order_id: str, line_numbers: list[int], errors: list[tuple[int, str, str]]
) -> list[tuple[int, str, str]]:
    """Every row of a rejected order: its own error, or why it was not applied."""
    failed = {line for line, _field, _reason in errors}
    first_bad = min(failed)
    reasons = list(errors)
    for line in line_numbers:
        if line not in failed:
            reasons.append(
                (
                    line,
                    "order_id",
                    _("not applied: line %(line)d of order %(order)s has an error")
                    % {"line": first_bad, "order": order_id},
                )
            )
    return reasons


def stored_moment(text: str) -> datetime:
    """A datetime back from its stored form (UTC text; naive on SQLite)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _owners(orders: list[ReadyOrder]) -> tuple[dict[str, Any], dict[str, Any]]:
    """{external id: customer pk} and {email: customer pk} of the orders' known people."""
    externals = {order[2] for order in orders} - {""}
    emails = {order[3] for order in orders} - {""}
    fields = ("value", "customer_id")
    return (
        dict(lookup(Identity, "value", externals, fields, kind=IdentityKind.EXTERNAL)),
        dict(lookup(Identity, "value", emails, fields, kind=IdentityKind.EMAIL)),
    )


def _conflict(order: ReadyOrder) -> list[tuple[int, str, str]]:
    reason = _("%(email)s belongs to another customer than customer_external_id %(external)s") % {
        "email": order[3],
        "external": order[2],
    }
    return rejections(order[0], order[1], [(order[1][0], "customer_email", reason)])


def customers_find(
    orders: list[ReadyOrder],
) -> tuple[list[tuple[ReadyOrder, int | None]], list[tuple[int, str, str]]]:
    """Each order with the pk of its customer if already known (None if not), and the
    rows of orders whose email and external id belong to two people. Reads only, so the
    reading side can run it ahead of the writer (`CustomerResolver` settles the Nones)."""
    by_external, by_email = _owners(orders)
    found: list[tuple[ReadyOrder, int | None]] = []
    rejected: list[tuple[int, str, str]] = []
    for order in orders:
        one = by_external.get(order[2]) if order[2] else None
        other = by_email.get(order[3]) if order[3] else None
        if one is not None and other is not None and one != other:
            rejected.extend(_conflict(order))
            continue
        found.append((order, one if one is not None else other))
    return found, rejected


class CustomerResolver:
    """Finds (or creates) the customer of each order of a batch whose customer was not
    known when the batch was read.

    Run by the thread that reads batches, one at a time, before the batch goes to a
    writer: customers an order creates must exist (committed) before a later batch, maybe
    written by another writer at the same moment, looks for the same person.
    """

    def __init__(self, result: CsvImportResult):
        self.result = result
        self.customers = BulkTable(Customer, ["name", "email", "first_seen_at", "last_seen_at"])
        self.identities = BulkTable(
            Identity, ["customer_id", "kind", "value", "verified", "source"]
        )

    def __call__(self, orders: list[tuple[ReadyOrder, int | None]]) -> list[tuple[ReadyOrder, int]]:
        """Each order with its customer's pk; unknown customers are looked up again (an
        earlier batch may have created them since) and created if still unknown."""
        unknown = [order for order, pk in orders if pk is None]
        if not unknown:
            return orders  # type: ignore[return-value]  # no None left
        by_external, by_email = _owners(unknown)
        planned: list[tuple[str, str, datetime]] = []
        resolved: list[tuple[ReadyOrder, Any]] = []
        for order, known in orders:
            if known is not None:
                resolved.append((order, known))
                continue
            external, email = order[2], order[3]
            one = by_external.get(external) if external else None
            other = by_email.get(email) if email else None
            if one is not None and other is not None and one != other:
                for line, field_name, message in _conflict(order):
                    self.result.reject(line, field_name, message)
                continue
            owner = one if one is not None else other
            if owner is None:
                # A placeholder until the new customers get their ids, so later orders of
                # the same person in this batch find the same new customer.
                owner = ("new", len(planned))
                planned.append((order[4], email, stored_moment(order[5][PLACED_AT])))
                if external:
                    by_external[external] = owner
                if email:
                    by_email[email] = owner
            resolved.append((order, owner))
        if not planned:
            return resolved
        ids = self.customers.insert([(name, email, when, when) for name, email, when in planned])
        identities = [
            (ids[owner[1]], kind, value, False, SOURCE)
            for kind, known_values in (
                (IdentityKind.EXTERNAL, by_external),
                (IdentityKind.EMAIL, by_email),
            )
            for value, owner in known_values.items()
            if isinstance(owner, tuple)
        ]
        self.identities.insert(identities)
        self.result.count("customers", created=len(ids))
        self.result.count("identities", created=len(identities))
        return [
            (order, ids[owner[1]] if isinstance(owner, tuple) else owner)
            for order, owner in resolved
        ]


class OrderWriter:
    """Applies batches of complete, valid orders with their customers found: orders,
    lines, payments."""

    def __init__(self, result: CsvImportResult):
        self.result = result
        self.orders = BulkTable(Order, ORDER_FIELDS, stored=True)
        self.lines = BulkTable(OrderLine, LINE_FIELDS, stored=True)
        self.payments = BulkTable(Payment, PAYMENT_FIELDS, stored=True)
        self.unknown_skus: dict[str, int] = {}
        self.products: dict[str, tuple[int, str]] = {}

    def _products(self, skus: set[str]) -> dict[str, tuple[int, str]]:
        """(pk, title) of each known SKU. Found products are remembered for the rest of the
        import (the catalog is imported before the orders); SKUs not found are asked for
        again in the next batch."""
        known = self.products
        missing = skus.difference(known)
        if missing:
            for sku, pk, title in lookup(Product, "sku", missing, ("sku", "pk", "title")):
                known[sku] = (pk, title)
        return known

    def apply(self, resolved: list[tuple[ReadyOrder, int]]) -> None:
        # In customer order, so the indexes keyed by customer take the batch in key order
        # (neighbouring pages) instead of at random places.
        resolved.sort(key=itemgetter(1))
        products = self._products({line[0] for order, _pk in resolved for line in order[6]})
        desired = {order[0]: (order[0], customer_pk, *order[5]) for order, customer_pk in resolved}
        known = lookup(Order, "external_id", desired.keys(), ("pk",))
        to_stored = self.orders.to_stored
        stored = {
            r[1]: (r[0], to_stored(r[1:]))
            for r in fetch_by(Order, "pk", [r[0] for r in known], ("pk", *ORDER_FIELDS))
        }
        order_pks, counts = sync(self.orders, desired, stored)
        self.result.count("orders", created=counts.created, updated=counts.updated)

        lines: list[tuple[Any, ...]] = []
        payments: list[tuple[Any, ...]] = []
        unknown = self.unknown_skus
        add_line = lines.append
        applied = 0
        for order, _customer in resolved:
            order_pk = order_pks[order[0]]
            number = 0
            for sku, title, quantity, price, shipping, total, seller_ref in order[6]:
                number += 1
                product = products.get(sku)
                if product is None:
                    unknown[sku] = unknown.get(sku, 0) + 1
                    product_pk = None
                    title = title or sku
                else:
                    product_pk = product[0]
                    title = title or product[1]
                add_line(
                    (
                        order_pk,
                        number,
                        product_pk,
                        sku,
                        title,
                        quantity,
                        price,
                        shipping,
                        total,
                        seller_ref,
                    )
                )
            applied += number
            payment = order[7]
            if payment is not None:
                payments.append((order_pk, 1, *payment))
        self.result.applied += applied
        if not stored:
            # Every order of the batch is new, so are its lines and payments.
            self.lines.insert(lines)
            self.payments.insert(payments)
            self.result.count("order_lines", created=len(lines))
            self.result.count("payments", created=len(payments))
            return
        old = [pk for pk, _row in stored.values()]
        line_form = self.lines.to_stored
        stored_lines = {
            (r[1], r[2]): (r[0], line_form(r[1:]))
            for r in fetch_by(OrderLine, "order_id", old, ("pk", *LINE_FIELDS))
        }
        _pks, counts = sync(
            self.lines, {row[:2]: row for row in lines}, stored_lines, delete_missing=True
        )
        self.result.count(
            "order_lines", created=counts.created, updated=counts.updated + counts.deleted
        )
        payment_form = self.payments.to_stored
        stored_payments = {
            (r[1], r[2]): (r[0], payment_form(r[1:]))
            for r in fetch_by(Payment, "order_id", old, ("pk", *PAYMENT_FIELDS), sequence=1)
        }
        _pks, counts = sync(self.payments, {row[:2]: row for row in payments}, stored_payments)
        self.result.count("payments", created=counts.created, updated=counts.updated)
