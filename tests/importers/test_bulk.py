from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import transaction

from omnicrm.catalog.models import Product
from omnicrm.importers.bulk import BulkTable, fetch_by, lookup, sync
from omnicrm.orders.models import Order
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

HANOI = timezone(timedelta(hours=7))


def test_insert_fills_ids_public_ids_timestamps_and_defaults():
    table = BulkTable(Product, ["sku", "title", "price", "currency", "attributes"])

    with transaction.atomic():
        ids = table.insert(
            [
                ("A", "Arabica", Decimal("6.50"), "USD", {"origin": "Cầu Đất"}),
                ("B", "Robusta", Decimal("4.00"), "USD", {}),
            ]
        )

    assert ids[1] == ids[0] + 1
    a, b = Product.objects.get(pk=ids[0]), Product.objects.get(pk=ids[1])
    assert (a.sku, a.price, a.attributes, a.stock, a.is_active) == (
        "A",
        Decimal("6.50"),
        {"origin": "Cầu Đất"},
        0,
        True,
    )
    assert a.public_id.startswith("prd_") and len(a.public_id) == 20
    assert a.public_id != b.public_id
    assert a.created_at is not None and a.updated_at == a.created_at


def test_datetimes_with_any_offset_are_stored_as_the_orm_stores_them():
    customer = CustomerFactory()
    by_orm = OrderFactory(customer=customer, placed_at=datetime(2024, 5, 1, 3, 0, tzinfo=UTC))
    table = BulkTable(Order, ["external_id", "customer_id", "placed_at", "currency"])

    with transaction.atomic():
        (pk,) = table.insert(
            [("X-1", customer.pk, datetime(2024, 5, 1, 9, 30, tzinfo=HANOI), "USD")]
        )

    assert Order.objects.get(pk=pk).placed_at == datetime(2024, 5, 1, 2, 30, tzinfo=UTC)
    # Range filters and ordering compare the stored values: both writers must agree.
    window = Order.objects.filter(placed_at__gte=datetime(2024, 5, 1, 2, 0, tzinfo=UTC))
    assert list(window.order_by("placed_at").values_list("pk", flat=True)) == [pk, by_orm.pk]


def test_sync_inserts_new_updates_changed_and_leaves_identical_rows_alone():
    table = BulkTable(Product, ["sku", "title", "price", "currency"])
    with transaction.atomic():
        pks, _counts = sync(
            table,
            {
                "A": ("A", "Arabica", Decimal("6.50"), "USD"),
                "B": ("B", "Robusta", Decimal("4.00"), "USD"),
            },
            {},
        )
    stamps = dict(Product.objects.values_list("sku", "updated_at"))
    stored = {
        r[1]: (r[0], r[1:])
        for r in fetch_by(Product, "sku", ["A", "B"], ("pk", "sku", "title", "price", "currency"))
    }

    with transaction.atomic():
        again, counts = sync(
            table,
            {
                "A": ("A", "Arabica", Decimal("6.5"), "USD"),
                "B": ("B", "Robusta 500 g", Decimal("4.00"), "USD"),
                "C": ("C", "Culi", Decimal("5.00"), "USD"),
            },
            stored,
        )

    assert (counts.created, counts.updated, counts.deleted) == (1, 1, 0)
    assert again["A"] == pks["A"] and again["B"] == pks["B"]
    after = dict(Product.objects.values_list("sku", "updated_at"))
    assert after["A"] == stamps["A"]
    assert after["B"] > stamps["B"]
    assert Product.objects.get(sku="B").title == "Robusta 500 g"


def test_lookup_matches_many_keys_with_one_parameter():
    table = BulkTable(Product, ["sku", "title", "price", "currency"])
    with transaction.atomic():
        pks = table.insert([(f"S-{i}", f"P {i}", Decimal(1), "USD") for i in range(7000)])

    found = dict(
        lookup(Product, "sku", [f"S-{i}" for i in range(0, 7000, 2)] + ["missing"], ("sku", "pk"))
    )

    assert len(found) == 3500
    assert found["S-6998"] == pks[6998]


def test_text_with_tabs_newlines_and_backslashes_and_nulls_round_trips():
    table = BulkTable(
        Product, ["sku", "title", "content", "price", "currency", "is_active", "attributes"]
    )
    title = "Tab\there, back\\slash, \\N, carriage\rreturn"
    content = "line one\nline two\n\\t is not a tab"
    attributes = {"note": 'quote " and tab \t', "nested": {"n": None, "ok": True}}

    with transaction.atomic():
        (pk,) = table.insert([("ESC", title, content, Decimal("0.00"), "USD", False, attributes)])

    product = Product.objects.get(pk=pk)
    assert (product.title, product.content, product.is_active, product.attributes) == (
        title,
        content,
        False,
        attributes,
    )
    assert product.category_id is None
