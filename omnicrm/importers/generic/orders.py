"""`--kind orders`: one row per order line, the order's columns repeated on each of its rows.

An order is all-or-nothing: one bad row rejects every row of that order. The rows of an
order need not be adjacent; a first pass notes where each order ends, so an order is
applied as soon as its last row is read and memory holds only unfinished orders.

An order is matched on `order_id` and described completely by its rows: its fields and
lines are set to what the file says (lines it no longer has are removed). Its payment is
set when the payment columns are filled and left alone when they are blank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from django.utils.translation import gettext as _

from omnicrm.catalog.models import Product
from omnicrm.customers.models import Customer, Identity, IdentityKind
from omnicrm.importers.bulk import BulkTable, fetch_by, lookup, sync
from omnicrm.importers.generic import fields as f
from omnicrm.importers.generic.customers import SOURCE
from omnicrm.importers.generic.rows import ROW, BatchRunner, CsvFile, CsvImportResult, progress_bar
from omnicrm.orders.models import Channel, Order, OrderLine, OrderStatus, Payment, PaymentMethod

ORDER_COLUMNS = (
    "order_id",
    "customer_external_id",
    "customer_email",
    "customer_name",
    "placed_at",
    "status",
    "channel",
    "currency",
    "discount",
    "confirmed_at",
    "shipped_at",
    "delivered_at",
    "canceled_at",
    "tracking_number",
    "payment_method",
    "payment_amount",
    "payment_installments",
    "payment_token",
    "payment_brand",
    "payment_last4",
)
LINE_COLUMNS = ("sku", "title", "quantity", "unit_price", "shipping", "seller_ref")
COLUMNS = ORDER_COLUMNS + LINE_COLUMNS
REQUIRED = ("order_id", "placed_at", "status", "currency", "sku", "quantity", "unit_price")
STAGES = ("confirmed_at", "shipped_at", "delivered_at", "canceled_at")
STATUSES = frozenset(OrderStatus.values)
CHANNELS = frozenset(Channel.values)
METHODS = frozenset(PaymentMethod.values)
PAYMENT_DETAILS = (
    "payment_amount",
    "payment_installments",
    "payment_token",
    "payment_brand",
    "payment_last4",
)
ZERO = Decimal("0.00")

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


class Line(NamedTuple):
    line: int
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    shipping: Decimal
    seller_ref: str


@dataclass(slots=True)
class PendingOrder:
    """An order whose rows are being read; `errors` rejects it when its last row arrives."""

    order_id: str
    first_line: int
    raw: tuple[str, ...]
    header: dict[str, Any] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    subtotal: Decimal = ZERO
    shipping: Decimal = ZERO
    total: Decimal = ZERO


def parse_order(cell: list[str], col: dict[str, int]) -> dict[str, Any]:
    """The order's own columns, read from its first row."""
    external = f.text(cell[col["customer_external_id"]], "customer_external_id", 255)
    raw_email = cell[col["customer_email"]].strip()
    email = f.email(raw_email, "customer_email") if raw_email else ""
    if not external and not email:
        raise f.BadCell("customer_email", _("give customer_email or customer_external_id"))
    placed_at = f.moment(cell[col["placed_at"]], "placed_at")
    currency = f.currency(cell[col["currency"]], "currency")
    channel = cell[col["channel"]].strip()
    discount = cell[col["discount"]].strip()
    header: dict[str, Any] = {
        "customer_external_id": external,
        "customer_email": email,
        "customer_name": f.text(cell[col["customer_name"]], "customer_name", 200),
        "placed_at": placed_at,
        "status": f.choice(cell[col["status"]], "status", STATUSES),
        "channel": f.choice(channel, "channel", CHANNELS) if channel else Channel.WEB,
        "currency": currency,
        "discount": f.amount(discount, "discount", currency) if discount else ZERO,
        "tracking_number": f.text(cell[col["tracking_number"]], "tracking_number", 100),
    }
    for stage in STAGES:
        value = cell[col[stage]].strip()
        if not value:
            header[stage] = None
            continue
        when = f.moment(value, stage)
        if when < placed_at:
            raise f.BadCell(stage, _("is before placed_at"))
        header[stage] = when
    header["payment"] = parse_payment(cell, col, currency)
    return header


def parse_payment(cell: list[str], col: dict[str, int], currency: str) -> dict[str, Any] | None:
    method = cell[col["payment_method"]].strip()
    token = f.card_safe(cell[col["payment_token"]], "payment_token", 200)
    last4 = f.last4(cell[col["payment_last4"]], "payment_last4")
    if not method:
        given = next((name for name in PAYMENT_DETAILS if cell[col[name]].strip()), None)
        if given:
            raise f.BadCell(
                "payment_method", _("is required when %(column)s is given") % {"column": given}
            )
        return None
    amount = cell[col["payment_amount"]].strip()
    installments = cell[col["payment_installments"]].strip()
    return {
        "method": f.choice(method, "payment_method", METHODS),
        "amount": f.amount(amount, "payment_amount", currency) if amount else None,
        "installments": f.integer(installments, "payment_installments", 1, 1000)
        if installments
        else 1,
        "token": token,
        "brand": f.text(cell[col["payment_brand"]], "payment_brand", 30),
        "last4": last4,
    }


def parse_line(line: int, cell: list[str], col: dict[str, int], currency: str) -> Line:
    shipping = cell[col["shipping"]].strip()
    return Line(
        line,
        f.required(cell[col["sku"]], "sku", 100),
        f.text(cell[col["title"]], "title", 300),
        f.integer(cell[col["quantity"]], "quantity", 1, 1_000_000),
        f.amount(cell[col["unit_price"]], "unit_price", currency),
        f.amount(shipping, "shipping", currency) if shipping else ZERO,
        f.text(cell[col["seller_ref"]], "seller_ref", 100),
    )


def finish(order: PendingOrder) -> None:
    """Totals, once every line is read; a discount cannot exceed what the order charges."""
    subtotal = shipping = ZERO
    for line in order.lines:
        subtotal += line.unit_price * line.quantity
        shipping += line.shipping
    order.subtotal, order.shipping = subtotal, shipping
    order.total = subtotal + shipping - order.header["discount"]
    if order.total < 0:
        order.errors.append(
            (order.first_line, "discount", _("is larger than the order's lines plus shipping"))
        )


class OrderWriter:
    """Applies batches of complete, valid orders: customers, orders, lines, payments."""

    def __init__(self, result: CsvImportResult):
        self.result = result
        self.customers = BulkTable(Customer, ["name", "email", "first_seen_at", "last_seen_at"])
        self.identities = BulkTable(
            Identity, ["customer_id", "kind", "value", "verified", "source"]
        )
        self.orders = BulkTable(Order, ORDER_FIELDS)
        self.lines = BulkTable(OrderLine, LINE_FIELDS)
        self.payments = BulkTable(Payment, PAYMENT_FIELDS)
        self.unknown_skus: dict[str, int] = {}

    def _customers(self, orders: list[PendingOrder]) -> list[tuple[PendingOrder, int]]:
        """Each order with its customer's pk; unknown customers are created."""
        externals = {o.header["customer_external_id"] for o in orders} - {""}
        emails = {o.header["customer_email"] for o in orders} - {""}
        fields = ("value", "customer_id")
        by_external: dict[str, Any] = dict(
            lookup(Identity, "value", externals, fields, kind=IdentityKind.EXTERNAL)
        )
        by_email: dict[str, Any] = dict(
            lookup(Identity, "value", emails, fields, kind=IdentityKind.EMAIL)
        )
        planned: list[tuple[str, str, datetime]] = []
        resolved: list[tuple[PendingOrder, Any]] = []
        for order in orders:
            external = order.header["customer_external_id"]
            email = order.header["customer_email"]
            one = by_external.get(external) if external else None
            other = by_email.get(email) if email else None
            if one is not None and other is not None and one != other:
                self.reject(
                    order,
                    order.first_line,
                    "customer_email",
                    _(
                        "%(email)s belongs to another customer than "
                        "customer_external_id %(external)s"
                    )
                    % {"email": email, "external": external},
                )
                continue
            owner = one if one is not None else other
            if owner is None:
                # A placeholder until the new customers get their ids, so later orders of
                # the same person in this batch find the same new customer.
                owner = ("new", len(planned))
                planned.append((order.header["customer_name"], email, order.header["placed_at"]))
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
            for kind, known in (
                (IdentityKind.EXTERNAL, by_external),
                (IdentityKind.EMAIL, by_email),
            )
            for value, owner in known.items()
            if isinstance(owner, tuple)
        ]
        self.identities.insert(identities)
        self.result.count("customers", created=len(ids))
        self.result.count("identities", created=len(identities))
        return [
            (order, ids[owner[1]] if isinstance(owner, tuple) else owner)
            for order, owner in resolved
        ]

    def apply(self, orders: list[PendingOrder]) -> None:
        resolved = self._customers(orders)
        # In customer order, so the indexes keyed by customer take the batch in key order
        # (neighbouring pages) instead of at random places.
        resolved.sort(key=lambda pair: pair[1])
        skus = {line.sku for order, _pk in resolved for line in order.lines}
        products = {
            sku: (pk, title)
            for sku, pk, title in lookup(Product, "sku", skus, ("sku", "pk", "title"))
        }
        desired: dict[str, tuple[Any, ...]] = {}
        for order, customer_pk in resolved:
            h = order.header
            desired[order.order_id] = (
                order.order_id,
                customer_pk,
                h["channel"],
                h["status"],
                h["placed_at"],
                h["confirmed_at"],
                h["shipped_at"],
                h["delivered_at"],
                h["canceled_at"],
                h["tracking_number"],
                h["currency"],
                order.subtotal,
                order.shipping,
                h["discount"],
                order.total,
            )
        known = lookup(Order, "external_id", desired.keys(), ("pk",))
        stored = {
            r[1]: (r[0], r[1:])
            for r in fetch_by(Order, "pk", [r[0] for r in known], ("pk", *ORDER_FIELDS))
        }
        order_pks, counts = sync(self.orders, desired, stored)
        self.result.count("orders", created=counts.created, updated=counts.updated)

        lines: list[tuple[Any, ...]] = []
        payments: list[tuple[Any, ...]] = []
        unknown = self.unknown_skus
        for order, _customer in resolved:
            order_pk = order_pks[order.order_id]
            for number, line in enumerate(order.lines, start=1):
                product = products.get(line.sku)
                if product is None:
                    unknown[line.sku] = unknown.get(line.sku, 0) + 1
                lines.append(
                    (
                        order_pk,
                        number,
                        product[0] if product else None,
                        line.sku,
                        line.title or (product[1] if product else line.sku),
                        line.quantity,
                        line.unit_price,
                        line.shipping,
                        line.unit_price * line.quantity,
                        line.seller_ref,
                    )
                )
            payment = order.header["payment"]
            if payment is not None:
                payments.append(
                    (
                        order_pk,
                        1,
                        payment["method"],
                        payment["amount"] if payment["amount"] is not None else order.total,
                        order.header["currency"],
                        payment["installments"],
                        payment["token"],
                        payment["brand"],
                        payment["last4"],
                    )
                )
            self.result.applied += len(order.lines)
        if not stored:
            # Every order of the batch is new, so are its lines and payments.
            self.lines.insert(lines)
            self.payments.insert(payments)
            self.result.count("order_lines", created=len(lines))
            self.result.count("payments", created=len(payments))
            return
        old = [pk for pk, _row in stored.values()]
        stored_lines = {
            (r[1], r[2]): (r[0], r[1:])
            for r in fetch_by(OrderLine, "order_id", old, ("pk", *LINE_FIELDS))
        }
        _pks, counts = sync(
            self.lines, {row[:2]: row for row in lines}, stored_lines, delete_missing=True
        )
        self.result.count(
            "order_lines", created=counts.created, updated=counts.updated + counts.deleted
        )
        stored_payments = {
            (r[1], r[2]): (r[0], r[1:])
            for r in fetch_by(Payment, "order_id", old, ("pk", *PAYMENT_FIELDS), sequence=1)
        }
        _pks, counts = sync(self.payments, {row[:2]: row for row in payments}, stored_payments)
        self.result.count("payments", created=counts.created, updated=counts.updated)

    def reject(self, order: PendingOrder, line: int, field_name: str, reason: str) -> None:
        order.errors.append((line, field_name, reason))
        report_rejected(self.result, order)


def report_rejected(result: CsvImportResult, order: PendingOrder) -> None:
    """Every row of a rejected order is reported: its own error, or why it was not applied."""
    failed = {line for line, _field, _reason in order.errors}
    first_bad = min(failed)
    for line, field_name, reason in order.errors:
        result.reject(line, field_name, reason)
    for line in order.line_numbers:
        if line not in failed:
            result.reject(
                line,
                "order_id",
                _("not applied: line %(line)d of order %(order)s has an error")
                % {"line": first_bad, "order": order.order_id},
            )


def _first_difference(raw: tuple[str, ...], first: tuple[str, ...]) -> int | None:
    for index, (a, b) in enumerate(zip(raw, first, strict=True)):
        if a != b and a.strip() != b.strip():
            return index
    return None


def import_orders(
    csv_file: CsvFile, result: CsvImportResult, *, batch_size: int, progress: bool, threaded: bool
) -> None:
    col = csv_file.index
    width = csv_file.width + 1
    id_index = col["order_id"]
    order_columns = itemgetter(*(col[name] for name in ORDER_COLUMNS))

    # First pass: the record at which each order ends, so an order is applied as soon
    # as its last row is read, wherever its rows are in the file.
    last_record: dict[str, int] = {}
    total = 0
    for total, order_id in enumerate(csv_file.column(id_index), start=1):
        last_record[order_id.strip()] = total

    pending: dict[str, PendingOrder] = {}
    ready: list[PendingOrder] = []
    ready_lines = 0
    with (
        BatchRunner(OrderWriter, result, threaded=threaded) as runner,
        progress_bar(_("order lines"), total, progress) as bar,
    ):
        for number, (line, cell) in enumerate(csv_file.records(), start=1):
            result.rows += 1
            well_formed = len(cell) == width
            order_id = cell[id_index].strip() if id_index < len(cell) - 1 else ""
            if not order_id:
                result.reject(line, "order_id", _("is required"))
                continue
            raw = order_columns(cell) if well_formed else ()
            order = pending.get(order_id)
            if order is None:
                order = pending[order_id] = PendingOrder(order_id, line, raw)
                if len(order_id) > 100:
                    order.errors.append((line, "order_id", _("is longer than 100 characters")))
                elif raw:
                    try:
                        order.header = parse_order(cell, col)
                    except f.BadCell as bad:
                        order.errors.append((line, bad.field, bad.reason))
            order.line_numbers.append(line)
            if not well_formed:
                message = _("expected %(n)d fields, found %(m)d") % {
                    "n": width - 1,
                    "m": len(cell) - 1,
                }
                order.errors.append((line, ROW, message))
            elif (
                raw != order.raw
                and order.raw
                and (index := _first_difference(raw, order.raw)) is not None
            ):
                message = _("differs from line %(line)d of the same order") % {
                    "line": order.first_line
                }
                order.errors.append((line, ORDER_COLUMNS[index], message))
            elif order.header:
                try:
                    order.lines.append(parse_line(line, cell, col, order.header["currency"]))
                except f.BadCell as bad:
                    order.errors.append((line, bad.field, bad.reason))
            if last_record.get(order_id) != number:
                continue
            del pending[order_id]
            if not order.errors:
                finish(order)
            if order.errors:
                report_rejected(result, order)
                continue
            order.raw = ()
            ready.append(order)
            ready_lines += len(order.lines)
            if ready_lines >= batch_size:
                runner.submit(ready)
                bar.update(ready_lines)
                ready, ready_lines = [], 0
        if ready:
            runner.submit(ready)
        bar.update(bar.total - bar.n)
    unknown = runner.writer.unknown_skus
    if unknown:
        result.notes.append(
            _(
                "%(lines)d lines name %(skus)d SKUs not in the catalog (%(examples)s); "
                "they are kept without a product"
            )
            % {
                "lines": sum(unknown.values()),
                "skus": len(unknown),
                "examples": ", ".join(sorted(unknown)[:5]),
            }
        )
