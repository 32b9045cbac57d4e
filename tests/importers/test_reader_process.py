"""Orders files read and checked in a second process (`reader_process`) while this one
writes: the same result as reading them here, and failures that surface in the importer."""

from __future__ import annotations

import csv
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnicrm.customers.models import Customer
from omnicrm.importers.generic import orders, reader_process
from omnicrm.importers.generic.rows import CsvImportResult
from omnicrm.importers.services import csv_import, demo_shop_generate
from omnicrm.orders.models import Order, OrderLine, Payment

pytestmark = pytest.mark.django_db

GOOD = {
    "customer_external_id": "demo:nobody",
    "placed_at": "2024-05-01T09:30:00+07:00",
    "status": "delivered",
    "currency": "USD",
    "sku": "GN-001136",
    "quantity": "1",
    "unit_price": "15.47",
}
# Appended to the generated orders: a bad quantity, a time without zone, and an order
# whose second row disagrees with its first.
BAD_ROWS = [
    {**GOOD, "order_id": "X-1", "quantity": "0"},
    {**GOOD, "order_id": "X-2", "placed_at": "2024-05-01T09:30:00"},
    {**GOOD, "order_id": "X-3"},
    {**GOOD, "order_id": "X-3", "status": "shipped"},
]


def written() -> dict[str, list[tuple]]:
    """What the orders import wrote, by natural keys (primary keys differ between runs)."""
    return {
        "orders": sorted(
            Order.objects.values_list(
                "external_id",
                "customer__email",
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
        ),
        "lines": sorted(
            OrderLine.objects.values_list(
                "order__external_id",
                "line_number",
                "product__sku",
                "sku",
                "title",
                "quantity",
                "unit_price",
                "shipping",
                "total",
            )
        ),
        "payments": sorted(
            Payment.objects.values_list(
                "order__external_id", "method", "amount", "installments", "token", "last4"
            )
        ),
        "customers": [Customer.objects.count()],
    }


@pytest.fixture
def shop_orders(tmp_path: Path) -> Path:
    """A generated shop's customers and products imported; its orders file with bad rows."""
    shop = demo_shop_generate(customers=200, out=tmp_path, seed=4, progress=False)
    for kind in ("customers", "products"):
        csv_import(kind=kind, path=shop.files[kind], progress=False)
    path = shop.files["orders"]
    with path.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, header).writerows(BAD_ROWS)
    return path


def import_orders(path: Path, *, elsewhere: bool, monkeypatch) -> tuple[CsvImportResult, int]:
    """Import `path`, read in a second process or not; the result and the reader's pid."""
    monkeypatch.setattr(reader_process, "fork_available", lambda: True)
    monkeypatch.setattr(orders, "READER_PROCESS_BYTES", 0 if elsewhere else 1 << 62)
    read = orders.read_orders
    pid_file = path.with_suffix(".reader")

    def spy(*args, **options):
        pid_file.write_text(str(os.getpid()))  # a file: the reader may be another process
        yield from read(*args, **options)

    monkeypatch.setattr(orders, "read_orders", spy)
    result = csv_import(kind="orders", path=path, progress=False, batch_size=150)
    return result, int(pid_file.read_text())


def test_orders_read_in_a_second_process_are_written_as_if_read_here(
    shop_orders, monkeypatch, tmp_path
):
    here, reader = import_orders(shop_orders, elsewhere=False, monkeypatch=monkeypatch)
    assert reader == os.getpid()
    written_here = written()
    Order.objects.all().delete()

    there, reader = import_orders(shop_orders, elsewhere=True, monkeypatch=monkeypatch)
    again, _reader = import_orders(shop_orders, elsewhere=True, monkeypatch=monkeypatch)

    assert reader != os.getpid()
    assert [e.field for e in there.errors] == ["quantity", "placed_at", "order_id", "status"]
    assert [str(e) for e in there.errors] == [str(e) for e in here.errors]
    assert (there.rows, there.applied, there.rejected) == (here.rows, here.applied, 4)
    assert there.created == here.created
    assert there.created["orders"] > 100
    assert written() == written_here
    # Stored rows compare equal to the checked ones: nothing to change on a re-run.
    assert sum(again.created.values()) == sum(again.updated.values()) == 0


def test_a_failure_while_reading_is_raised_by_the_importer(forking):
    def produce() -> Iterator[int]:
        yield 1
        raise ValueError("line 7 could not be read")

    with (
        pytest.raises(ValueError, match="line 7 could not be read"),
        reader_process.produced(produce, elsewhere=True) as items,
    ):
        assert next(items) == 1
        next(items)


def test_leaving_early_ends_the_reading_process(forking, monkeypatch):
    started = []
    start = reader_process.multiprocessing.context.ForkProcess.start

    def remember(process):
        start(process)
        started.append(process)

    monkeypatch.setattr(reader_process.multiprocessing.context.ForkProcess, "start", remember)

    with reader_process.produced(lambda: itertools.count(), elsewhere=True) as items:
        assert [next(items) for _ in range(3)] == [0, 1, 2]

    assert len(started) == 1
    assert started[0]._closed or not started[0].is_alive()


class Odd(Exception):
    """Pickles, but does not load: its arguments are not what `__init__` takes."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")


def test_a_failure_that_cannot_be_rebuilt_here_still_names_its_type_and_message(forking):
    def produce() -> Iterator[int]:
        raise Odd("sku", "is required")
        yield 0  # pragma: no cover - a generator

    with (
        pytest.raises(RuntimeError, match="Odd: sku: is required"),
        reader_process.produced(produce, elsewhere=True) as items,
    ):
        next(items)


def test_with_another_thread_running_the_items_are_made_in_this_process():
    """A forked child would inherit that thread's locks in whatever state they are."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="busy")
    other.start()
    try:
        assert not reader_process.fork_available()
        with reader_process.produced(lambda: iter([os.getpid()]), elsewhere=True) as items:
            assert list(items) == [os.getpid()]
    finally:
        stop.set()
        other.join()
