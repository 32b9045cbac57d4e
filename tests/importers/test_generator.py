from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime
from io import StringIO

import pytest
from django.core.management import call_command

from omnicrm.customers.models import Customer
from omnicrm.importers.services import csv_import, demo_shop_generate
from omnicrm.orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db


def rows(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """One generated shop shared by the read-only tests of this module."""
    return demo_shop_generate(
        customers=1500, out=tmp_path_factory.mktemp("shop"), seed=11, progress=False
    )


def test_the_same_seed_gives_the_same_files_and_another_seed_others(tmp_path):
    first = demo_shop_generate(customers=300, out=tmp_path / "a", seed=5, progress=False)
    second = demo_shop_generate(customers=300, out=tmp_path / "b", seed=5, progress=False)
    third = demo_shop_generate(customers=300, out=tmp_path / "c", seed=6, progress=False)

    for kind in ("customers", "products", "orders"):
        assert first.files[kind].read_bytes() == second.files[kind].read_bytes()
    assert first.files["orders"].read_bytes() != third.files["orders"].read_bytes()


def test_customers_speak_four_languages_with_real_names(shop):
    customers = rows(shop.files["customers"])

    assert len(customers) == 1500
    assert customers[0]["name"] == "Đặng Lưu Hà"
    assert (customers[0]["language"], customers[0]["country"]) == ("vi", "VN")
    assert {c["language"] for c in customers} == {"vi", "en", "zh-hans", "pt"}
    vietnamese = [c["name"] for c in customers if c["language"] == "vi"]
    assert sum(
        any(ch in name for ch in "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
        for name in vietnamese
    ) > (len(vietnamese) // 2)
    assert any(c["name"][0] in "王李张刘陈杨黄赵吴周" for c in customers)
    assert len({c["email"] for c in customers}) == 1500
    assert len({c["phone"] for c in customers if c["phone"]}) == sum(
        1 for c in customers if c["phone"]
    )


def test_the_catalog_is_a_coffee_shop_among_others(shop):
    products = rows(shop.files["products"])
    titles = {p["title"] for p in products}

    assert {
        "Moka pot 3 cups",
        "Arabica Cầu Đất beans 250 g",
        "Paper filters size 02 (100 pcs)",
    } <= titles
    assert any(t.startswith("Robusta Buôn Ma Thuột beans") for t in titles)
    assert {"coffee-beans", "brewing-equipment", "filters-accessories", "gifts", "books"} <= {
        p["category"] for p in products
    }


def test_orders_show_repeat_buyers_channels_and_a_weekly_rhythm(shop):
    lines = rows(shop.files["orders"])
    orders = {line["order_id"]: line for line in lines}
    per_customer = Counter(o["customer_external_id"] for o in orders.values())

    assert len(orders) == shop.orders
    assert len(lines) == shop.order_lines
    assert {o["channel"] for o in orders.values()} == {"web", "app", "store", "voice", "partner"}
    repeaters = sum(1 for n in per_customer.values() if n >= 2)
    assert 0.15 < repeaters / len(per_customer) < 0.7
    assert max(per_customer.values()) >= 5
    weekdays = Counter(datetime.fromisoformat(o["placed_at"]).weekday() for o in orders.values())
    assert weekdays[5] > 1.15 * weekdays[0]  # Saturdays busier than Mondays


def test_the_running_example_bought_ten_packs_of_arabica_in_three_orders(shop):
    lines = [
        line
        for line in rows(shop.files["orders"])
        if line["customer_external_id"] == "demo:c0000001"
    ]

    assert len({line["order_id"] for line in lines}) == 3
    assert {line["sku"] for line in lines} == {"CF-ARA-CD-250"}
    assert sum(int(line["quantity"]) for line in lines) == 10


def test_generated_files_import_without_a_single_error(tmp_path):
    shop = demo_shop_generate(customers=400, out=tmp_path, seed=3, progress=False)

    results = [
        csv_import(kind=kind, path=shop.files[kind], progress=False)
        for kind in ("customers", "products", "orders")
    ]

    assert [r.errors for r in results] == [[], [], []]
    assert [r.rejected for r in results] == [0, 0, 0]
    assert Customer.objects.count() == 400
    assert Order.objects.count() == shop.orders
    assert OrderLine.objects.count() == shop.order_lines
    assert not OrderLine.objects.filter(product__isnull=True).exists()
    assert results[2].notes == []


def test_prices_follow_the_currency(tmp_path):
    shop = demo_shop_generate(customers=50, out=tmp_path, seed=1, currency="VND", progress=False)

    prices = [p["price"] for p in rows(shop.files["products"])]

    assert all(p.isdigit() and int(p) % 1000 == 0 for p in prices)
    assert {line["currency"] for line in rows(shop.files["orders"])} == {"VND"}


def test_command_writes_the_files_and_says_how_to_import_them(tmp_path):
    out = StringIO()

    call_command(
        "demo", "generate", "--customers", "30", "--out", str(tmp_path), "--no-progress", stdout=out
    )

    assert (tmp_path / "orders.csv").exists()
    assert f"omnicrm import csv --kind orders {tmp_path / 'orders.csv'}" in out.getvalue()
