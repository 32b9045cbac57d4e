from __future__ import annotations

from decimal import Decimal

import pytest

from omnicrm.catalog.models import Product
from omnicrm.core.models import ApiKey, AuditLog
from tests.api.conftest import error_fields
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

ARABICA = {
    "sku": "ARABICA-10",
    "title": "Arabica, 10 packs",
    "price": "19.90",
    "currency": "usd",
    "content": "Single-origin arabica from Cầu Đất.",
    "category": "coffee",
    "stock": 120,
    "attributes": {"roast": "medium"},
}


def test_create_returns_the_product_with_a_public_id_and_decimal_price(api):
    CategoryFactory(slug="coffee", name="Coffee")

    response = api.post("/products", ARABICA)

    assert response.status_code == 201
    body = response.json()
    product = Product.objects.get()
    assert body["id"] == product.public_id and body["id"].startswith("prd_")
    assert {k: v for k, v in body.items() if k not in {"id", "created_at", "updated_at"}} == {
        "sku": "ARABICA-10",
        "title": "Arabica, 10 packs",
        "price": "19.90",
        "currency": "USD",
        "content": "Single-origin arabica from Cầu Đất.",
        "category": "coffee",
        "stock": 120,
        "attributes": {"roast": "medium"},
        "is_active": True,
    }
    assert product.price == Decimal("19.90")
    key = ApiKey.objects.get()
    audit = AuditLog.objects.get(action="product.create")
    assert audit.actor_label == f"api_key:{key.prefix} (tests)"
    assert audit.data == {"sku": "ARABICA-10"}


def test_a_json_number_price_is_read_exactly(api):
    response = api.post("/products", '{"sku": "A", "title": "A", "price": 0.1, "currency": "USD"}')

    assert response.status_code == 201
    assert response.json()["price"] == "0.10"


def test_a_taken_sku_is_409(api):
    ProductFactory(sku="ARABICA-10")

    response = api.post("/products", {**ARABICA, "category": None})

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": "a product with SKU ARABICA-10 already exists",
        "field": "sku",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": "-1.00"}, "price"),
        ({"price": "1.999"}, "price"),
        ({"price": "abc"}, "price"),
        ({"currency": "US"}, "currency"),
        ({"currency": "U$D"}, "currency"),
        ({"currency": "VND", "price": "10.50"}, "price"),
        ({"category": "tea"}, "category"),
        ({"stock": "many"}, "stock"),
        ({"sku": ""}, "sku"),
        ({"title": None}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_with_a_bad_field_is_422_naming_it(api, change, field):
    CategoryFactory(slug="coffee")

    response = api.post("/products", {**ARABICA, **change})

    assert response.status_code == 422
    assert error_fields(response) == [field]
    assert Product.objects.count() == 0


def test_list_filters_by_search_category_and_stock(api):
    coffee, tea = CategoryFactory(slug="coffee"), CategoryFactory(slug="tea")
    arabica = ProductFactory(title="Arabica 10 packs", sku="AR-10", category=coffee, stock=5)
    robusta = ProductFactory(title="Robusta", sku="RB-1", category=coffee, stock=0)
    oolong = ProductFactory(title="Oolong", sku="OO-1", category=tea, stock=3)

    def ids(params):
        response = api.get("/products", params)
        assert response.status_code == 200
        return [row["id"] for row in response.json()["data"]]

    assert ids({}) == [arabica.public_id, oolong.public_id, robusta.public_id]
    assert ids({"q": "arabica"}) == [arabica.public_id]
    assert ids({"q": "rb-1"}) == [robusta.public_id]
    assert ids({"category": "coffee"}) == [arabica.public_id, robusta.public_id]
    assert ids({"in_stock": "true"}) == [arabica.public_id, oolong.public_id]
    assert ids({"in_stock": "false"}) == [robusta.public_id]
    bad = api.get("/products", {"in_stock": "perhaps"})
    assert (bad.status_code, error_fields(bad)) == (422, ["in_stock"])


def test_retrieve_and_404(api):
    product = ProductFactory(price=Decimal("7.50"), currency="EUR")

    found = api.get(f"/products/{product.public_id}")
    missing = api.get("/products/prd_nothere")

    assert found.status_code == 200
    assert (found.json()["price"], found.json()["currency"]) == ("7.50", "EUR")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "no product with id prd_nothere",
        "field": "id",
    }
    assert api.patch("/products/prd_nothere", {"title": "x"}).status_code == 404


def test_update_changes_the_fields_sent(api):
    product = ProductFactory(sku="AR-10", title="Arabica", price=Decimal("10.00"))

    response = api.patch(
        f"/products/{product.public_id}",
        {"price": "12.50", "category": None, "stock": 0, "is_active": False},
    )

    assert response.status_code == 200
    body = response.json()
    assert (
        body["sku"],
        body["title"],
        body["price"],
        body["category"],
        body["stock"],
        body["is_active"],
    ) == ("AR-10", "Arabica", "12.50", None, 0, False)
    assert AuditLog.objects.get(action="product.update").data == {
        "fields": ["category", "is_active", "price", "stock"]
    }


def test_update_refuses_a_taken_sku_a_negative_price_and_a_null_title(api):
    ProductFactory(sku="TAKEN")
    product = ProductFactory(sku="MINE", price=Decimal("10.00"))

    taken = api.patch(f"/products/{product.public_id}", {"sku": "TAKEN"})
    negative = api.patch(f"/products/{product.public_id}", {"price": "-0.01"})
    null_title = api.patch(f"/products/{product.public_id}", {"title": None})
    vnd = api.patch(f"/products/{product.public_id}", {"currency": "VND", "price": "10.5"})

    assert (taken.status_code, taken.json()["error"]["field"]) == (409, "sku")
    assert (negative.status_code, error_fields(negative)) == (422, ["price"])
    assert (null_title.status_code, error_fields(null_title)) == (422, ["title"])
    assert (vnd.status_code, error_fields(vnd)) == (422, ["price"])
    product.refresh_from_db()
    assert (product.sku, product.price, product.currency) == ("MINE", Decimal("10.00"), "USD")


def test_categories_list_with_parents(api):
    drinks = CategoryFactory(slug="drinks", name="Drinks")
    CategoryFactory(slug="coffee", name="Coffee", parent=drinks)

    response = api.get("/categories")

    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {"slug": "coffee", "name": "Coffee", "parent": "drinks"},
            {"slug": "drinks", "name": "Drinks", "parent": None},
        ],
        "next_cursor": None,
    }


def test_list_query_counts_do_not_grow_with_rows(api, django_assert_max_num_queries):
    parent = CategoryFactory(slug="root")
    for i in range(30):
        ProductFactory(category=CategoryFactory(slug=f"c{i}", parent=parent))
    api.get("/products")

    with django_assert_max_num_queries(2):
        products = api.get("/products", {"limit": 30})
    with django_assert_max_num_queries(2):
        categories = api.get("/categories", {"limit": 31})

    assert len(products.json()["data"]) == 30
    assert len(categories.json()["data"]) == 31
