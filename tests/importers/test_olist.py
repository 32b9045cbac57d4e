from __future__ import annotations

import gzip
import shutil
import statistics
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from omnicrm.catalog.models import Category, Product
from omnicrm.core.errors import ValidationFailed
from omnicrm.core.models import AuditLog
from omnicrm.customers.models import Address, Customer, Identity
from omnicrm.importers.olist.sample import olist_sample_write
from omnicrm.importers.olist.source import FILES, PAYMENT_MAP, STATUS_MAP
from omnicrm.importers.services import olist_import
from omnicrm.orders.models import Order, OrderLine, OrderStatus, Payment, PaymentMethod
from omnicrm.reviews.models import Review
from tests.importers.conftest import SAMPLE, read_sample

pytestmark = pytest.mark.django_db

LIMIT = 300


def expected_for(orders: list[dict[str, str]], directory: Path = SAMPLE) -> dict[str, int]:
    """Counts the import must reach, computed from the CSV files alone."""
    order_ids = {o["order_id"] for o in orders}
    customer_ids = {o["customer_id"] for o in orders}
    people = {
        c["customer_unique_id"]
        for c in read_sample("olist_customers_dataset", directory)
        if c["customer_id"] in customer_ids
    }
    items = [
        i for i in read_sample("olist_order_items_dataset", directory) if i["order_id"] in order_ids
    ]
    return {
        "orders": len(orders),
        "customers": len(people),
        "lines": len(items),
        "payments": sum(
            1
            for p in read_sample("olist_order_payments_dataset", directory)
            if p["order_id"] in order_ids
        ),
        "reviews": sum(
            1
            for r in read_sample("olist_order_reviews_dataset", directory)
            if r["order_id"] in order_ids
        ),
        "products": len({i["product_id"] for i in items}),
    }


def table_counts() -> dict[str, int]:
    return {
        "orders": Order.objects.count(),
        "customers": Customer.objects.count(),
        "lines": OrderLine.objects.count(),
        "payments": Payment.objects.count(),
        "reviews": Review.objects.count(),
        "products": Product.objects.count(),
    }


def snapshot() -> dict[str, list[tuple]]:
    """Every imported row with all its values, to prove a re-run changed nothing."""
    return {
        model.__name__: sorted(model.objects.values_list(), key=lambda row: row[0])
        for model in (
            Category,
            Product,
            Customer,
            Identity,
            Address,
            Order,
            OrderLine,
            Payment,
            Review,
        )
    }


def test_limit_imports_the_first_orders_and_only_what_they_reference():
    orders = read_sample("olist_orders_dataset")[:LIMIT]
    expected = expected_for(orders)

    result = olist_import(directory=SAMPLE, limit=LIMIT, progress=False)

    assert table_counts() == expected
    assert (
        result.orders,
        result.customers,
        result.order_lines,
        result.payments,
        result.reviews,
    ) == (
        expected["orders"],
        expected["customers"],
        expected["lines"],
        expected["payments"],
        expected["reviews"],
    )
    assert set(Order.objects.values_list("external_id", flat=True)) == {
        f"olist:{o['order_id']}" for o in orders
    }
    assert AuditLog.objects.filter(action="import.olist").count() == 1


def test_a_person_with_several_olist_customer_ids_becomes_one_customer():
    customers = read_sample("olist_customers_dataset")
    per_person = Counter(c["customer_unique_id"] for c in customers)
    person = sorted(uid for uid, n in per_person.items() if n >= 2)[0]
    their_ids = {c["customer_id"] for c in customers if c["customer_unique_id"] == person}
    their_orders = {
        o["order_id"] for o in read_sample("olist_orders_dataset") if o["customer_id"] in their_ids
    }
    assert len(their_ids) >= 2

    olist_import(directory=SAMPLE, progress=False)

    identity = Identity.objects.get(kind="external", value=f"olist:{person}")
    customer = identity.customer
    assert set(customer.orders.values_list("external_id", flat=True)) == {
        f"olist:{o}" for o in their_orders
    }
    assert customer.country == "BR"
    assert Customer.objects.count() == len(per_person)
    assert customer.first_seen_at == min(customer.orders.values_list("placed_at", flat=True))
    assert customer.last_seen_at == max(customer.orders.values_list("placed_at", flat=True))


def test_second_run_changes_nothing():
    olist_import(directory=SAMPLE, limit=LIMIT, progress=False)
    before = snapshot()

    again = olist_import(directory=SAMPLE, limit=LIMIT, progress=False)

    assert snapshot() == before
    assert sum(again.created.values()) == 0
    assert sum(again.updated.values()) == 0
    # Nothing changed, so nothing to audit either.
    assert AuditLog.objects.filter(action="import.olist").count() == 1


def test_a_changed_source_value_is_updated_on_the_next_run(olist_copy):
    directory = olist_copy()
    olist_import(directory=directory, limit=LIMIT, progress=False)
    path = directory / "olist_orders_dataset.csv.gz"
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    first = read_sample("olist_orders_dataset")[0]
    assert first["order_status"] == "delivered"
    path.write_bytes(
        gzip.compress(
            text.replace(
                f"{first['order_id']},{first['customer_id']},delivered,",
                f"{first['order_id']},{first['customer_id']},canceled,",
                1,
            ).encode()
        )
    )

    again = olist_import(directory=directory, limit=LIMIT, progress=False)

    assert again.updated["orders"] == 1
    assert sum(again.created.values()) == 0
    assert (
        Order.objects.get(external_id=f"olist:{first['order_id']}").status == OrderStatus.CANCELED
    )


def test_reads_plain_and_compressed_files_alike(olist_copy):
    directory = olist_copy()
    for stem in (
        "olist_orders_dataset",
        "olist_order_reviews_dataset",
        "product_category_name_translation",
    ):
        packed = directory / f"{stem}.csv.gz"
        (directory / f"{stem}.csv").write_bytes(gzip.decompress(packed.read_bytes()))
        packed.unlink()

    olist_import(directory=directory, limit=LIMIT, progress=False)

    assert table_counts() == expected_for(read_sample("olist_orders_dataset")[:LIMIT])
    # The translation file starts with a byte order mark; its first column still matches.
    assert Category.objects.get(slug="beleza_saude").name == "Health beauty"


def test_both_plain_and_compressed_copies_of_a_file_is_an_error(olist_copy):
    directory = olist_copy()
    stem = FILES["payments"]
    (directory / f"{stem}.csv").write_bytes(
        gzip.decompress((directory / f"{stem}.csv.gz").read_bytes())
    )

    with pytest.raises(ValidationFailed) as err:
        olist_import(directory=directory, progress=False)

    assert err.value.message == (f"both {stem}.csv and {stem}.csv.gz exist; keep only one of them")
    assert Order.objects.count() == 0


def test_a_malformed_value_stops_the_import_before_anything_is_written(olist_copy):
    directory = olist_copy()
    path = directory / "olist_order_payments_dataset.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")
    fields = lines[5].split(",")
    fields[4] = "12,50".replace(",", ";")
    lines[5] = ",".join(fields)
    path.write_bytes(gzip.compress("\n".join(lines).encode()))

    with pytest.raises(ValidationFailed) as err:
        olist_import(directory=directory, progress=False)

    assert err.value.message == (
        "olist_order_payments_dataset.csv.gz line 6: field payment_value: '12;50' is not an amount"
    )
    assert (Order.objects.count(), Customer.objects.count(), Product.objects.count()) == (0, 0, 0)


def test_orders_keep_their_stages_totals_lines_and_payments():
    olist_import(directory=SAMPLE, limit=LIMIT, progress=False)
    items = read_sample("olist_order_items_dataset")
    source = next(
        o
        for o in read_sample("olist_orders_dataset")[:LIMIT]
        if o["order_status"] == "delivered"
        and sum(i["order_id"] == o["order_id"] for i in items) >= 2
    )
    its_items = [i for i in items if i["order_id"] == source["order_id"]]
    its_payments = [
        p
        for p in read_sample("olist_order_payments_dataset")
        if p["order_id"] == source["order_id"]
    ]

    order = Order.objects.get(external_id=f"olist:{source['order_id']}")

    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    assert order.status == OrderStatus.DELIVERED
    assert order.channel == "marketplace"
    assert order.currency == "BRL"
    assert order.placed_at == utc(source["order_purchase_timestamp"])
    assert order.confirmed_at == utc(source["order_approved_at"])
    assert order.shipped_at == utc(source["order_delivered_carrier_date"])
    assert order.delivered_at == utc(source["order_delivered_customer_date"])
    assert order.estimated_delivery_at == utc(source["order_estimated_delivery_date"])
    subtotal = sum(Decimal(i["price"]) for i in its_items)
    freight = sum(Decimal(i["freight_value"]) for i in its_items)
    assert (order.subtotal, order.shipping_total, order.total) == (
        subtotal,
        freight,
        subtotal + freight,
    )
    lines = list(order.lines.order_by("line_number"))
    assert [
        (line.line_number, line.sku, line.unit_price, line.shipping, line.seller_ref)
        for line in lines
    ] == [
        (
            int(i["order_item_id"]),
            i["product_id"],
            Decimal(i["price"]),
            Decimal(i["freight_value"]),
            i["seller_id"],
        )
        for i in sorted(its_items, key=lambda i: int(i["order_item_id"]))
    ]
    assert all(line.product.sku == line.sku for line in lines)
    assert sorted(
        order.payments.values_list("sequence", "method", "installments", "amount")
    ) == sorted(
        (
            int(p["payment_sequential"]),
            PAYMENT_MAP[p["payment_type"]],
            int(p["payment_installments"]),
            Decimal(p["payment_value"]),
        )
        for p in its_payments
    )
    assert not order.payments.exclude(token="", last4="").exists()


def test_products_get_a_readable_title_the_median_price_and_their_measures():
    olist_import(directory=SAMPLE, limit=LIMIT, progress=False)
    source = next(
        p
        for p in read_sample("olist_products_dataset")
        if p["product_category_name"] == "beleza_saude"
        and Product.objects.filter(sku=p["product_id"]).exists()
    )
    prices = [
        Decimal(i["price"])
        for i in read_sample("olist_order_items_dataset")
        if i["product_id"] == source["product_id"]
    ]

    product = Product.objects.get(sku=source["product_id"])

    assert product.title == f"Health beauty #{source['product_id'][:8]}"
    assert product.category.slug == "beleza_saude"
    assert product.price == Decimal(statistics.median(prices)).quantize(Decimal("0.01"))
    assert product.currency == "BRL"
    assert product.attributes["weight_g"] == int(source["product_weight_g"])
    assert product.attributes["photos"] == int(source["product_photos_qty"])
    assert product.attributes["length_cm"] == int(source["product_length_cm"])


def test_reviews_keep_multi_line_comments_and_are_unique_per_review_and_order():
    reviews = read_sample("olist_order_reviews_dataset")
    multi = next(r for r in reviews if "\n" in r["review_comment_message"])
    per_id = Counter(r["review_id"] for r in reviews)
    shared = next(r for r in reviews if per_id[r["review_id"]] > 1)

    olist_import(directory=SAMPLE, progress=False)

    review = Review.objects.get(external_id=f"olist:{multi['review_id']}:{multi['order_id']}")
    assert review.body == multi["review_comment_message"].strip()
    assert "\n" in review.body
    assert review.rating == int(multi["review_score"])
    assert review.verified_purchase is True
    assert review.reviewed_at == datetime.fromisoformat(multi["review_creation_date"]).replace(
        tzinfo=UTC
    )
    assert review.customer_id == review.order.customer_id
    assert (
        Review.objects.filter(external_id__startswith=f"olist:{shared['review_id']}:").count()
        == per_id[shared["review_id"]]
    )
    assert Review.objects.count() == len(reviews)


def test_a_review_names_the_product_only_when_its_order_has_one():
    items = read_sample("olist_order_items_dataset")
    products_of = {}
    for item in items:
        products_of.setdefault(item["order_id"], set()).add(item["product_id"])
    reviews = read_sample("olist_order_reviews_dataset")
    single = next(r for r in reviews if len(products_of.get(r["order_id"], ())) == 1)
    several = next(r for r in reviews if len(products_of.get(r["order_id"], ())) > 1)

    olist_import(directory=SAMPLE, progress=False)

    assert Review.objects.get(
        external_id=f"olist:{single['review_id']}:{single['order_id']}"
    ).product.sku == next(iter(products_of[single["order_id"]]))
    assert (
        Review.objects.get(
            external_id=f"olist:{several['review_id']}:{several['order_id']}"
        ).product
        is None
    )


def test_customers_get_their_addresses_with_the_state_as_region():
    olist_import(directory=SAMPLE, limit=LIMIT, progress=False)
    first = read_sample("olist_orders_dataset")[0]
    row = next(
        c
        for c in read_sample("olist_customers_dataset")
        if c["customer_id"] == first["customer_id"]
    )

    customer = Identity.objects.get(value=f"olist:{row['customer_unique_id']}").customer

    assert customer.city == row["customer_city"]
    address = customer.addresses.get()
    assert (
        address.postal_code,
        address.city,
        address.region,
        address.country,
        address.is_default,
    ) == (row["customer_zip_code_prefix"], row["customer_city"], row["customer_state"], "BR", True)


def test_status_and_payment_maps_name_real_choices():
    assert set(STATUS_MAP.values()) <= set(OrderStatus.values)
    assert set(PAYMENT_MAP.values()) <= set(PaymentMethod.values)
    assert STATUS_MAP["approved"] == OrderStatus.CONFIRMED
    assert STATUS_MAP["created"] == OrderStatus.PENDING


def test_command_prints_what_it_imported():
    out = StringIO()

    call_command("import", "olist", str(SAMPLE), "--limit", "20", "--no-progress", stdout=out)

    assert Order.objects.count() == 20
    assert "  orders: 20 in the import, 20 created, 0 updated" in out.getvalue().splitlines()


def test_bundled_sample_is_consistent_small_and_credited():
    orders = read_sample("olist_orders_dataset")
    order_ids = {o["order_id"] for o in orders}
    customers = {c["customer_id"] for c in read_sample("olist_customers_dataset")}
    items = read_sample("olist_order_items_dataset")
    products = {p["product_id"] for p in read_sample("olist_products_dataset")}
    sellers = {s["seller_id"] for s in read_sample("olist_sellers_dataset")}

    assert len(orders) == 3000
    assert {o["customer_id"] for o in orders} == customers
    assert {i["order_id"] for i in items} <= order_ids
    assert {i["product_id"] for i in items} == products
    assert {i["seller_id"] for i in items} == sellers
    for stem in ("olist_order_payments_dataset", "olist_order_reviews_dataset"):
        assert {r["order_id"] for r in read_sample(stem)} <= order_ids
    assert sum(f.stat().st_size for f in SAMPLE.iterdir()) < 1_500_000
    assert "MIT License" in (SAMPLE / "LICENSE").read_text()
    assert "Olist" in (SAMPLE / "ABOUT.md").read_text()


def test_sample_builder_is_deterministic_and_keeps_repeat_buyers(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"

    counts = olist_sample_write(source=SAMPLE, destination=first, orders=200)
    olist_sample_write(source=SAMPLE, destination=second, orders=200)

    assert counts["orders"] == 200
    assert sorted(p.name for p in first.iterdir()) == sorted(
        p.name for p in SAMPLE.glob("*.csv.gz")
    )
    assert all(
        (first / p.name).read_bytes() == (second / p.name).read_bytes() for p in first.iterdir()
    )
    people = Counter(c["customer_unique_id"] for c in read_sample("olist_customers_dataset", first))
    assert sum(1 for n in people.values() if n > 1) == 73
    shutil.rmtree(second)
    result = olist_import(directory=first, progress=False)
    assert result.orders == 200
