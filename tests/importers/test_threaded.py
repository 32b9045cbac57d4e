"""The CSV importer outside any transaction: on PostgreSQL batches are written by a second
thread on its own database connection (SQLite writes inline), so these tests commit for real
(transactional_db)."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.db.models import Count

from omnicrm.core.models import AuditLog
from omnicrm.customers.models import Customer
from omnicrm.importers.generic import orders
from omnicrm.importers.generic.rows import BatchRunner, CsvImportResult
from omnicrm.importers.services import csv_import, demo_shop_generate
from omnicrm.orders.models import Order, OrderLine, Payment

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_threaded_import_writes_everything_and_a_rerun_nothing(tmp_path):
    shop = demo_shop_generate(customers=300, out=tmp_path, seed=9, progress=False)

    first = [
        csv_import(kind=kind, path=shop.files[kind], progress=False, batch_size=200)
        for kind in ("customers", "products", "orders")
    ]
    again = csv_import(kind="orders", path=shop.files["orders"], progress=False, batch_size=200)

    assert [r.rejected for r in first] == [0, 0, 0]
    assert first[2].applied == shop.order_lines
    assert first[2].created["orders"] == shop.orders
    assert (Customer.objects.count(), Order.objects.count(), OrderLine.objects.count()) == (
        300,
        shop.orders,
        shop.order_lines,
    )
    assert Payment.objects.count() == shop.orders
    assert sum(again.created.values()) == sum(again.updated.values()) == 0
    assert AuditLog.objects.filter(action="import.csv.orders").count() == 1


@pytest.mark.parametrize("writers", [1, 2])
def test_a_failing_writer_stops_the_import_with_its_error(writers):
    class Failing:
        def __init__(self, result: CsvImportResult):
            self.result = result

        def apply(self, batch: list[int]) -> None:
            raise RuntimeError(f"cannot write batch {batch}")

    result = CsvImportResult(kind="orders", path="x.csv", dry_run=False)

    with (
        pytest.raises(RuntimeError) as err,
        BatchRunner(Failing, result, threaded=True, writers=writers) as runner,
    ):
        assert runner.threaded is (connection.vendor == "postgresql")
        runner.submit([1])
        for _ in range(50):
            runner.submit([2])

    # With two writers the second may fail on its own batch first; one error is raised.
    expected = (
        {"cannot write batch [1]"}
        if writers == 1
        else {"cannot write batch [1]", "cannot write batch [2]"}
    )
    assert str(err.value) in expected


def test_customers_new_to_the_shop_are_created_once_whichever_writer_takes_their_orders(
    tmp_path,
):
    # No customers.csv: the orders create their customers. A person's orders fall into
    # different batches, which two writers apply at the same time.
    shop = demo_shop_generate(customers=300, out=tmp_path, seed=11, progress=False)
    csv_import(kind="products", path=shop.files["products"], progress=False)

    result = csv_import(kind="orders", path=shop.files["orders"], progress=False, batch_size=40)

    assert result.rejected == 0
    assert result.created["orders"] == Order.objects.count() == shop.orders
    assert Customer.objects.count() == result.created["customers"] == shop.buyers
    # Every order of one person points at the same profile.
    assert (
        not Order.objects.values("customer__email")
        .annotate(n=Count("customer", distinct=True))
        .filter(n__gt=1)
        .exists()
    )


def test_an_import_outside_a_transaction_leaves_its_tables_vacuumed(tmp_path):
    """All-visible pages make the next import's identity lookups index-only scans."""
    if connection.vendor != "postgresql":
        pytest.skip("the visibility map is PostgreSQL's")
    path = tmp_path / "many.csv"
    path.write_text(
        "external_id,email,name\n"
        + "".join(f"shop:{i},c{i}@example.com,C {i}\n" for i in range(500)),
        encoding="utf-8",
    )

    csv_import(kind="customers", path=path, progress=False)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'customers_identity'"
        )
        pages, visible = cursor.fetchone()
    assert pages > 1
    assert visible == pages


def test_a_reading_process_finds_known_customers_and_this_one_creates_new_ones(
    tmp_path, monkeypatch, forking
):
    """Outside a transaction the reading process looks customers up on its own
    connection; people it does not know yet (new, or created by a batch it read ahead of)
    are settled here, once each."""
    shop = demo_shop_generate(customers=300, out=tmp_path, seed=9, progress=False)
    for kind in ("customers", "products"):
        csv_import(kind=kind, path=shop.files[kind], progress=False)
    path = shop.files["orders"]
    header = path.read_text(encoding="utf-8").splitlines()[0]
    cells = dict.fromkeys(header.split(","), "")
    known = list(Customer.objects.order_by("pk")[:2])
    rows = [
        # A new person whose orders land in different batches.
        {"order_id": "N-1", "customer_email": "new@example.com"},
        *[{"order_id": f"F-{i}", "customer_email": known[0].email} for i in range(300)],
        {"order_id": "N-2", "customer_email": "new@example.com"},
        # Two known people in one order.
        {
            "order_id": "C-1",
            "customer_email": known[0].email,
            "customer_external_id": known[1].identities.get(kind="external").value,
        },
    ]
    common = {
        "placed_at": "2025-01-01T00:00:00Z",
        "status": "delivered",
        "currency": "USD",
        "sku": "GN-000001",
        "quantity": "1",
        "unit_price": "5.00",
    }
    with path.open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(",".join({**cells, **common, **row}[name] for name in cells) + "\n")
    finders = tmp_path / "finders"
    find = orders.customers_find

    def spy(batch):
        with finders.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return find(batch)

    monkeypatch.setattr(orders, "customers_find", spy)

    result = csv_import(kind="orders", path=path, progress=False, batch_size=100)

    assert {int(pid) for pid in finders.read_text().split()} - {os.getpid()}
    assert [str(e) for e in result.errors] == [
        f"line {shop.order_lines + 304}: field customer_email: {known[0].email} belongs to "
        f"another customer than customer_external_id "
        f"{known[1].identities.get(kind='external').value}"
    ]
    assert result.created["customers"] == 1
    new = Customer.objects.get(identities__value="new@example.com")
    assert sorted(new.orders.values_list("external_id", flat=True)) == ["N-1", "N-2"]
    assert known[0].orders.filter(external_id__startswith="F-").count() == 300
    assert Order.objects.count() == shop.orders + 302


def test_an_import_queues_the_segments_refresh_that_brings_its_customers_in(tmp_path):
    """Orders re-check their customer one by one; a bulk import queues one refresh of
    every dynamic segment instead of leaving them to the hourly one."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from omnicrm.segments import services as segment_services

    shop = demo_shop_generate(customers=200, out=tmp_path, seed=3, progress=False)
    for kind in ("customers", "products"):
        csv_import(kind=kind, path=shop.files[kind], progress=False)
    DBTaskResult.objects.all().delete()
    buyers = segment_services.segment_create(
        name="Buyers", rules={"all": [{"field": "order_count", "op": "gte", "value": 1}]}
    )
    segment_services.segment_refresh(segment=buyers)
    DBTaskResult.objects.all().delete()

    csv_import(kind="orders", path=shop.files["orders"], progress=False, dry_run=True)
    assert not DBTaskResult.objects.exists()

    csv_import(kind="orders", path=shop.files["orders"], progress=False)
    queued = DBTaskResult.objects.get()
    assert queued.task_path.endswith("segments_refresh_all_task")
    buyers.refresh_from_db()
    assert buyers.member_count == 0

    call_command("worker", max_tasks=1)

    buyers.refresh_from_db()
    assert buyers.member_count > 50
    # Nothing left for a refresh now: the queued one brought every buyer in.
    again = segment_services.segment_refresh(segment=buyers)
    assert (again.entered, again.left, again.member_count) == (0, 0, buyers.member_count)
