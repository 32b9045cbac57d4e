"""`--kind orders`: one row per order line, the order's columns repeated on each of its rows.

An order is all-or-nothing: one bad row rejects every row of that order. The rows of an
order need not be adjacent; a first pass notes where each order ends, so an order is
applied as soon as its last row is read and memory holds only unfinished orders.

An order is matched on `order_id` and described completely by its rows: its fields and
lines are set to what the file says (lines it no longer has are removed). Its payment is
set when the payment columns are filled and left alone when they are blank.
"""

from __future__ import annotations

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
# Writers (threads, each on its own connection) when batches are written in the background:
# while one waits for PostgreSQL to check and commit its batch, the other sends the next.
WRITERS = 2

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


# A checked order line: (file line, sku, title, quantity, unit price, shipping, seller ref,
# line total). A plain tuple: one is made per CSV row.
Line = tuple[int, str, str, int, Decimal, Decimal, str, Decimal]


class PaymentColumns(NamedTuple):
    method: str
    amount: Decimal | None
    installments: int
    token: str
    brand: str
    last4: str


class Header(NamedTuple):
    """The order's own columns, checked, as read from its first row."""

    customer_external_id: str
    customer_email: str
    customer_name: str
    placed_at: datetime
    status: str
    channel: str
    currency: str
    discount: Decimal
    confirmed_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    canceled_at: datetime | None
    tracking_number: str
    payment: PaymentColumns | None


class PendingOrder:
    """An order whose rows are being read; `errors` rejects it when its last row arrives.

    `first` is its first row's cells (None when that row was malformed), which later rows
    must repeat in the order columns. A plain class with slots: one is made per order.
    """

    __slots__ = (
        "errors",
        "first",
        "first_line",
        "header",
        "line_numbers",
        "lines",
        "order_id",
        "shipping",
        "subtotal",
        "total",
    )

    def __init__(self, order_id: str, first_line: int, first: list[str] | None):
        self.order_id = order_id
        self.first_line = first_line
        self.first = first
        self.header: Header | None = None
        self.lines: list[Line] = []
        self.line_numbers: list[int] = []
        self.errors: list[tuple[int, str, str]] = []
        self.subtotal = self.shipping = self.total = ZERO


def _remember(cache: dict[str, Any], key: str, value: Any, limit: int) -> Any:
    if len(cache) < limit:
        cache[key] = value
    return value


def _moment(value: str, field_name: str) -> datetime:
    """`f.moment` with the usual case (a clean ISO string with an offset) inline."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f.moment(value, field_name)  # surrounding spaces, or the error
    if parsed.tzinfo is None:
        return f.moment(value, field_name)  # words the error
    return parsed


class RowParser:
    """Checks rows of one file. Column positions are read once; values that repeat across
    millions of rows (statuses, channels, currencies, prices) are checked once each and
    remembered by their exact cell text, so the usual row costs dictionary lookups."""

    # Distinct cell texts remembered per column (prices: per currency); beyond that,
    # values are still checked, just not remembered.
    LIMIT = 100_000

    def __init__(self, col: dict[str, int]):
        self.col = col
        self.choices: dict[str, dict[str, str]] = {
            name: {} for name in ("status", "channel", "currency", "payment_method")
        }
        self.prices: dict[str, dict[str, Decimal]] = {}
        self.shipping: dict[str, dict[str, Decimal]] = {}

    def _choice(self, name: str, value: str, choices: frozenset[str]) -> str:
        known = self.choices[name]
        word = known.get(value)
        if word is None:
            word = _remember(known, value, f.choice(value, name, choices), 1000)
        return word

    def header(self, cell: list[str]) -> Header:
        """The order's own columns, read from its first row (raises `f.BadCell`).

        Cells are checked in a fixed order (the one this importer always used), so a row
        with several bad cells reports the same one as before.
        """
        col = self.col
        external = cell[col["customer_external_id"]].strip()
        if len(external) > 255:
            f.text(external, "customer_external_id", 255)
        raw_email = cell[col["customer_email"]].strip()
        email = f.email(raw_email, "customer_email") if raw_email else ""
        if not external and not email:
            raise f.BadCell("customer_email", _("give customer_email or customer_external_id"))
        placed_at = _moment(cell[col["placed_at"]], "placed_at")
        value = cell[col["currency"]]
        currencies = self.choices["currency"]
        currency = currencies.get(value) or _remember(
            currencies, value, f.currency(value, "currency"), 1000
        )
        name = cell[col["customer_name"]].strip()
        if len(name) > 200:
            f.text(name, "customer_name", 200)
        status = self._choice("status", cell[col["status"]], STATUSES)
        value = cell[col["channel"]].strip()
        channel = self._choice("channel", value, CHANNELS) if value else Channel.WEB.value
        value = cell[col["discount"]].strip()
        discount = f.amount(value, "discount", currency) if value else ZERO
        tracking = cell[col["tracking_number"]].strip()
        if len(tracking) > 100:
            f.text(tracking, "tracking_number", 100)
        stages: list[datetime | None] = []
        for stage in STAGES:
            value = cell[col[stage]].strip()
            if not value:
                stages.append(None)
                continue
            when = _moment(value, stage)
            if when < placed_at:
                raise f.BadCell(stage, _("is before placed_at"))
            stages.append(when)
        return Header(
            external,
            email,
            name,
            placed_at,
            status,
            channel,
            currency,
            discount,
            stages[0],
            stages[1],
            stages[2],
            stages[3],
            tracking,
            self.payment(cell, currency),
        )

    def payment(self, cell: list[str], currency: str) -> PaymentColumns | None:
        col = self.col
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
        method = self._choice("payment_method", method, METHODS)
        amount = cell[col["payment_amount"]].strip()
        paid = f.amount(amount, "payment_amount", currency) if amount else None
        installments = cell[col["payment_installments"]].strip()
        brand = cell[col["payment_brand"]].strip()
        return PaymentColumns(
            method,
            paid,
            1
            if installments in ("", "1")
            else f.integer(installments, "payment_installments", 1, 1000),
            token,
            brand if len(brand) <= 30 else f.text(brand, "payment_brand", 30),
            last4,
        )

    def line(self, line: int, cell: list[str], currency: str) -> Line:
        col = self.col
        sku = cell[col["sku"]].strip()
        if not sku or len(sku) > 100:
            f.required(sku, "sku", 100)
        title = cell[col["title"]].strip()
        if len(title) > 300:
            f.text(title, "title", 300)
        value = cell[col["quantity"]]
        try:
            quantity = int(value)
        except ValueError:
            quantity = 0
        if not 1 <= quantity <= 1_000_000:
            quantity = f.integer(value, "quantity", 1, 1_000_000)
        prices = self.prices.get(currency)
        if prices is None:
            prices = self.prices[currency] = {}
        value = cell[col["unit_price"]]
        price = prices.get(value)
        if price is None:
            price = _remember(prices, value, f.amount(value, "unit_price", currency), self.LIMIT)
        shippings = self.shipping.get(currency)
        if shippings is None:
            shippings = self.shipping[currency] = {}
        value = cell[col["shipping"]].strip()
        shipping = shippings.get(value)
        if shipping is None:
            shipping = _remember(
                shippings,
                value,
                f.amount(value, "shipping", currency) if value else ZERO,
                self.LIMIT,
            )
        seller_ref = cell[col["seller_ref"]].strip()
        if len(seller_ref) > 100:
            f.text(seller_ref, "seller_ref", 100)
        return (line, sku, title, quantity, price, shipping, seller_ref, price * quantity)


def finish(order: PendingOrder) -> None:
    """Totals, once every line is read; a discount cannot exceed what the order charges."""
    assert order.header is not None
    subtotal = shipping = ZERO
    for line in order.lines:
        subtotal += line[7]
        shipping += line[5]
    order.subtotal, order.shipping = subtotal, shipping
    order.total = subtotal + shipping - order.header.discount
    if order.total < 0:
        order.errors.append(
            (order.first_line, "discount", _("is larger than the order's lines plus shipping"))
        )


class CustomerResolver:
    """Finds (or creates) the customer of each order of a batch.

    Run by the thread that reads the file, one batch at a time, before the batch goes to a
    writer: customers an order creates must exist (committed) before a later batch, maybe
    written by another writer at the same moment, looks for the same person.
    """

    def __init__(self, result: CsvImportResult):
        self.result = result
        self.customers = BulkTable(Customer, ["name", "email", "first_seen_at", "last_seen_at"])
        self.identities = BulkTable(
            Identity, ["customer_id", "kind", "value", "verified", "source"]
        )

    def __call__(self, orders: list[PendingOrder]) -> list[tuple[PendingOrder, int]]:
        """Each order with its customer's pk; unknown customers are created."""
        headers = [o.header for o in orders]
        externals = {h.customer_external_id for h in headers if h} - {""}
        emails = {h.customer_email for h in headers if h} - {""}
        fields = ("value", "customer_id")
        by_external: dict[str, Any] = dict(
            lookup(Identity, "value", externals, fields, kind=IdentityKind.EXTERNAL)
        )
        by_email: dict[str, Any] = dict(
            lookup(Identity, "value", emails, fields, kind=IdentityKind.EMAIL)
        )
        planned: list[tuple[str, str, datetime]] = []
        resolved: list[tuple[PendingOrder, Any]] = []
        for order, header in zip(orders, headers, strict=True):
            assert header is not None
            external = header.customer_external_id
            email = header.customer_email
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
                planned.append((header.customer_name, email, header.placed_at))
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

    def reject(self, order: PendingOrder, line: int, field_name: str, reason: str) -> None:
        order.errors.append((line, field_name, reason))
        report_rejected(self.result, order)


class OrderWriter:
    """Applies batches of complete, valid orders with their customers found: orders,
    lines, payments."""

    def __init__(self, result: CsvImportResult):
        self.result = result
        self.orders = BulkTable(Order, ORDER_FIELDS)
        self.lines = BulkTable(OrderLine, LINE_FIELDS)
        self.payments = BulkTable(Payment, PAYMENT_FIELDS)
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

    def apply(self, resolved: list[tuple[PendingOrder, int]]) -> None:
        # In customer order, so the indexes keyed by customer take the batch in key order
        # (neighbouring pages) instead of at random places.
        resolved.sort(key=itemgetter(1))
        products = self._products({line[1] for order, _pk in resolved for line in order.lines})
        desired: dict[str, tuple[Any, ...]] = {}
        for order, customer_pk in resolved:
            h = order.header
            assert h is not None
            desired[order.order_id] = (
                order.order_id,
                customer_pk,
                h.channel,
                h.status,
                h.placed_at,
                h.confirmed_at,
                h.shipped_at,
                h.delivered_at,
                h.canceled_at,
                h.tracking_number,
                h.currency,
                order.subtotal,
                order.shipping,
                h.discount,
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
        add_line = lines.append
        applied = 0
        for order, _customer in resolved:
            order_pk = order_pks[order.order_id]
            number = 0
            for _line, sku, title, quantity, price, shipping, seller_ref, total in order.lines:
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
            header = order.header
            assert header is not None
            payment = header.payment
            if payment is not None:
                payments.append(
                    (
                        order_pk,
                        1,
                        payment.method,
                        payment.amount if payment.amount is not None else order.total,
                        header.currency,
                        payment.installments,
                        payment.token,
                        payment.brand,
                        payment.last4,
                    )
                )
        self.result.applied += applied
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
    parse = RowParser(col)
    parse_header, parse_line = parse.header, parse.line

    # First pass: the record at which each order ends, so an order is applied as soon
    # as its last row is read, wherever its rows are in the file.
    last_record, total = csv_file.last_records(id_index)

    pending: dict[str, PendingOrder] = {}
    ready: list[PendingOrder] = []
    ready_lines = 0
    number = 0
    with (
        BatchRunner(
            OrderWriter,
            result,
            threaded=threaded,
            writers=WRITERS,
            prepare=CustomerResolver(result),
        ) as runner,
        progress_bar(_("order lines"), total, progress) as bar,
    ):
        for line, cell in csv_file.records():
            number += 1
            well_formed = len(cell) == width
            order_id = cell[id_index].strip() if id_index < len(cell) - 1 else ""
            if not order_id:
                result.reject(line, "order_id", _("is required"))
                continue
            order = pending.get(order_id)
            if order is None:
                order = pending[order_id] = PendingOrder(
                    order_id, line, cell if well_formed else None
                )
                if len(order_id) > 100:
                    order.errors.append((line, "order_id", _("is longer than 100 characters")))
                elif well_formed:
                    try:
                        order.header = parse_header(cell)
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
                order.first is not None
                and order.first is not cell
                and (raw := order_columns(cell)) != (first := order_columns(order.first))
                and (index := _first_difference(raw, first)) is not None
            ):
                message = _("differs from line %(line)d of the same order") % {
                    "line": order.first_line
                }
                order.errors.append((line, ORDER_COLUMNS[index], message))
            elif order.header is not None:
                try:
                    order.lines.append(parse_line(line, cell, order.header.currency))
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
            order.first = None
            ready.append(order)
            ready_lines += len(order.lines)
            if ready_lines >= batch_size:
                runner.submit(ready)
                bar.update(ready_lines)
                ready, ready_lines = [], 0
        if ready:
            runner.submit(ready)
        bar.update(bar.total - bar.n)
    result.rows += number
    unknown: dict[str, int] = {}
    for writer in runner.writers:
        for sku, count in writer.unknown_skus.items():
            unknown[sku] = unknown.get(sku, 0) + count
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
