"""`omnicrm demo generate --orders N`: a busier shop at a requested volume."""

from __future__ import annotations

import csv
from datetime import datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from omnicrm.importers.generator import shop as shop_module
from omnicrm.importers.generator.shop import rate_scale_for
from omnicrm.importers.services import DemoShopResult, csv_import, demo_shop_generate
from omnicrm.orders.models import Order, OrderLine


def order_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["order_id"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize(("customers", "orders"), [(400, 2000), (1000, 800), (2000, 10000)])
def test_the_orders_option_reaches_the_requested_volume(tmp_path, customers, orders):
    shop = demo_shop_generate(
        customers=customers, orders=orders, out=tmp_path, seed=4, progress=False
    )

    assert abs(shop.orders - orders) <= 0.05 * orders
    assert len(order_rows(shop.files["orders"])) == shop.orders
    assert shop.customers == customers


def test_a_busier_shop_buys_more_often_and_keeps_its_customers_longer(tmp_path):
    natural = demo_shop_generate(customers=3000, out=tmp_path / "a", seed=8, progress=False)
    busy = demo_shop_generate(
        customers=3000, orders=15000, out=tmp_path / "b", seed=8, progress=False
    )

    def per_buyer(shop) -> tuple[float, float]:
        rows = order_rows(shop.files["orders"]).values()
        placed: dict[str, list[datetime]] = {}
        for row in rows:
            placed.setdefault(row["customer_external_id"], []).append(
                datetime.fromisoformat(row["placed_at"])
            )
        repeaters = [sorted(days) for days in placed.values() if len(days) >= 2]
        spans = sorted((d[-1] - d[0]).days for d in repeaters)
        return len(rows) / len(placed), spans[len(spans) // 2]

    natural_orders, _natural_span = per_buyer(natural)
    busy_orders, busy_span = per_buyer(busy)

    assert natural.rate_scale == 1.0
    assert busy.rate_scale > 3
    assert busy_orders > 3 * natural_orders
    # Not a burst of purchases and gone: repeat buyers stay for months.
    assert busy_span > 90
    # Still about the same share of customers buys at all.
    assert abs(busy.buyers - natural.buyers) < 0.05 * natural.buyers


def test_the_same_arguments_give_the_same_files_and_no_orders_option_the_usual_shop(tmp_path):
    def make(name: str, orders: int | None) -> DemoShopResult:
        return demo_shop_generate(
            customers=300, orders=orders, out=tmp_path / name, seed=5, progress=False
        )

    first, second, usual, again = make("a", 1500), make("b", 1500), make("c", None), make("d", None)

    for kind in ("customers", "products", "orders"):
        assert first.files[kind].read_bytes() == second.files[kind].read_bytes()
        assert usual.files[kind].read_bytes() == again.files[kind].read_bytes()

    # The same people and catalog at another volume; only the orders change.
    def who(shop: DemoShopResult) -> list[tuple[str, ...]]:
        with shop.files["customers"].open(encoding="utf-8", newline="") as handle:
            return [(r["external_id"], r["name"], r["email"]) for r in csv.DictReader(handle)]

    def skus(shop: DemoShopResult) -> list[tuple[str, ...]]:
        with shop.files["products"].open(encoding="utf-8", newline="") as handle:
            return [(r["sku"], r["title"], r["price"]) for r in csv.DictReader(handle)]

    assert who(first) == who(usual)
    assert skus(first) == skus(usual)
    assert first.orders > 3 * usual.orders


def test_a_large_shop_is_calibrated_on_a_pilot_and_the_answer_is_deterministic(
    tmp_path, monkeypatch
):
    # A shop larger than the pilot: the scale comes from the pilot's own draws.
    monkeypatch.setattr(shop_module, "PILOT_CUSTOMERS", 1000)
    days = (shop_module.DEFAULT_END - shop_module.DEFAULT_START).days + 1

    def scale(orders: int, seed: int = 1) -> float:
        return rate_scale_for(
            orders=orders, customers=3000, days=days, start=shop_module.DEFAULT_START, seed=seed
        )

    assert scale(15000) == scale(15000)
    assert scale(6000) < scale(15000)
    shop = demo_shop_generate(customers=3000, orders=15000, out=tmp_path, seed=1, progress=False)
    assert shop.rate_scale == scale(15000)
    # A pilot of 1,000 customers is a rough estimate (the real one has 40,000).
    assert abs(shop.orders - 15000) <= 0.2 * 15000


def test_an_unreachable_volume_is_refused_naming_the_option(tmp_path):
    with pytest.raises(ValueError, match=r"^orders: 5,000,000 orders from 10 customers"):
        demo_shop_generate(customers=10, orders=5_000_000, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="orders must be 1 or more"):
        demo_shop_generate(customers=10, orders=0, out=tmp_path, progress=False)


def test_the_command_takes_orders(tmp_path):
    out = StringIO()

    call_command(
        "demo",
        "generate",
        "--customers",
        "200",
        "--orders",
        "1000",
        "--out",
        str(tmp_path),
        "--no-progress",
        stdout=out,
    )

    written = len(order_rows(tmp_path / "orders.csv"))
    assert 950 <= written <= 1050
    assert f"{written:,} orders" in out.getvalue()
    with pytest.raises(CommandError, match="--orders: must be 1 or more"):
        call_command("demo", "generate", "--customers", "5", "--orders", "0", stdout=StringIO())


@pytest.mark.django_db
def test_a_busier_shop_imports_without_a_single_error(tmp_path):
    shop = demo_shop_generate(customers=300, orders=2400, out=tmp_path, seed=2, progress=False)

    results = [
        csv_import(kind=kind, path=shop.files[kind], progress=False)
        for kind in ("customers", "products", "orders")
    ]

    assert [r.rejected for r in results] == [0, 0, 0]
    assert Order.objects.count() == shop.orders
    assert OrderLine.objects.count() == shop.order_lines
    assert not OrderLine.objects.filter(product__isnull=True).exists()
