"""`--kind orders`: one row per order line, the order's columns repeated on each of its rows.

An order is all-or-nothing: one bad row rejects every row of that order. The rows of an
order need not be adjacent; a first pass notes where each order ends, so an order is
applied as soon as its last row is read and memory holds only unfinished orders.

An order is matched on `order_id` and described completely by its rows: its fields and
lines are set to what the file says (lines it no longer has are removed). Its payment is
set when the payment columns are filled and left alone when they are blank.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from django.db import connection
from django.utils.translation import gettext as _

from omnicrm.importers.bulk import stored_form
from omnicrm.importers.generic import fields as f
from omnicrm.importers.generic.order_writing import (
    CustomerResolver,
    OrderWriter,
    ReadyOrder,
    customers_find,
    rejections,
)
from omnicrm.importers.generic.reader_process import produced
from omnicrm.importers.generic.rows import (
    ROW,
    BatchRunner,
    CsvFile,
    CsvImportResult,
    others_see_commits,
    progress_bar,
)
from omnicrm.orders.models import Channel, Order, OrderStatus, PaymentMethod

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
# Files from this size on are read and checked by a second process (`reader_process`);
# below it, starting one costs more than it saves.
READER_PROCESS_BYTES = 4 << 20

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


def ready(order: PendingOrder, when: Callable[[datetime], Any]) -> ReadyOrder:
    """A finished order in the writer's terms, datetimes and money in stored form."""
    h = order.header
    assert h is not None
    total = str(order.total)
    payment = h.payment
    return (
        order.order_id,
        order.line_numbers,
        h.customer_external_id,
        h.customer_email,
        h.customer_name,
        (
            h.channel,
            h.status,
            when(h.placed_at),
            None if h.confirmed_at is None else when(h.confirmed_at),
            None if h.shipped_at is None else when(h.shipped_at),
            None if h.delivered_at is None else when(h.delivered_at),
            None if h.canceled_at is None else when(h.canceled_at),
            h.tracking_number,
            h.currency,
            str(order.subtotal),
            str(order.shipping),
            str(h.discount),
            total,
        ),
        [
            (sku, title, quantity, str(price), str(shipping), str(line_total), seller_ref)
            for _line, sku, title, quantity, price, shipping, seller_ref, line_total in order.lines
        ],
        None
        if payment is None
        else (
            payment.method,
            total if payment.amount is None else str(payment.amount),
            h.currency,
            payment.installments,
            payment.token,
            payment.brand,
            payment.last4,
        ),
    )


def _first_difference(raw: tuple[str, ...], first: tuple[str, ...]) -> int | None:
    for index, (a, b) in enumerate(zip(raw, first, strict=True)):
        if a != b and a.strip() != b.strip():
            return index
    return None


# What `read_orders` yields after the record count: records read since the last batch,
# the rejected rows among them as (line, field, reason), and the orders ready to write,
# each with its customer's pk if already known.
Batch = tuple[int, list[tuple[int, str, str]], list[tuple[ReadyOrder, int | None]]]


def read_orders(
    csv_file: CsvFile, batch_size: int, when: Callable[[datetime], Any], *, find: bool
) -> Iterator[int | Batch]:
    """The number of records, then a `Batch` whenever about `batch_size` lines of orders
    are ready, and the rest at the end. Plain values only: it may run in another process
    (`reader_process`). With `find`, the orders' known customers are looked up here too
    (`customers_find`), on this side of the pipeline."""
    col = csv_file.index
    width = csv_file.width + 1
    id_index = col["order_id"]
    order_columns = itemgetter(*(col[name] for name in ORDER_COLUMNS))
    parse = RowParser(col)
    parse_header, parse_line = parse.header, parse.line

    # First pass: the record at which each order ends, so an order is applied as soon
    # as its last row is read, wherever its rows are in the file.
    last_record, total = csv_file.last_records(id_index)
    yield total

    pending: dict[str, PendingOrder] = {}
    batch: list[ReadyOrder] = []
    rejected: list[tuple[int, str, str]] = []
    batch_lines = 0
    number = counted = 0
    for line, cell in csv_file.records():
        number += 1
        well_formed = len(cell) == width
        order_id = cell[id_index].strip() if id_index < len(cell) - 1 else ""
        if not order_id:
            rejected.append((line, "order_id", _("is required")))
            continue
        order = pending.get(order_id)
        if order is None:
            order = pending[order_id] = PendingOrder(order_id, line, cell if well_formed else None)
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
            message = _("differs from line %(line)d of the same order") % {"line": order.first_line}
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
            rejected.extend(rejections(order.order_id, order.line_numbers, order.errors))
            continue
        batch.append(ready(order, when))
        batch_lines += len(order.lines)
        if batch_lines >= batch_size:
            yield (number - counted, rejected, _owned(batch, rejected, find))
            counted = number
            batch, rejected, batch_lines = [], [], 0
    yield (number - counted, rejected, _owned(batch, rejected, find))


def _owned(
    batch: list[ReadyOrder], rejected: list[tuple[int, str, str]], find: bool
) -> list[tuple[ReadyOrder, int | None]]:
    """The batch's orders with their known customers (None: for the writer to settle);
    orders whose email and external id are two people go to `rejected`."""
    if not find or not batch:
        return [(order, None) for order in batch]
    found, conflicts = customers_find(batch)
    rejected.extend(conflicts)
    return found


def import_orders(
    csv_file: CsvFile, result: CsvImportResult, *, batch_size: int, progress: bool, threaded: bool
) -> None:
    when = stored_form(Order._meta.get_field("placed_at"), connection.vendor)
    elsewhere = threaded and csv_file.path.stat().st_size >= READER_PROCESS_BYTES
    # A reading process looks customers up on a connection of its own, which sees only
    # what this one has committed: nothing inside a transaction, nothing in memory.
    find = not elsewhere or others_see_commits()
    with produced(
        lambda: read_orders(csv_file, batch_size, when, find=find), elsewhere=elsewhere
    ) as items:
        total = next(items)
        assert isinstance(total, int)
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
            for item in items:
                assert isinstance(item, tuple)
                rows, rejected, batch = item
                result.rows += rows
                for line, field_name, reason in rejected:
                    result.reject(line, field_name, reason)
                if batch:
                    runner.submit(batch)
                bar.update(rows)
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
