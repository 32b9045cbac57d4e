"""The serving API: answers with reasons and causes, errors naming the field, cold start."""

from __future__ import annotations

import pytest
from django.utils import translation

from omnicrm.recommendations.schemas import RecommendationsOut
from omnicrm.recommendations.serving_cache import serving_cache_clear
from omnicrm.recommendations.serving_products import live_popular_clear
from tests.api import conftest as api_fixtures
from tests.api.conftest import error_fields
from tests.factories import CustomerFactory
from tests.recommendations.serving_helpers import build_shop, buy

pytestmark = pytest.mark.django_db
api, api_as, make_key = api_fixtures.api, api_fixtures.api_as, api_fixtures.make_key


@pytest.fixture(autouse=True)
def fresh_cache():
    serving_cache_clear()
    live_popular_clear()
    with translation.override("en"):
        yield
    serving_cache_clear()
    live_popular_clear()


@pytest.fixture
def shop():
    return build_shop()


def test_for_customer_answers_with_reasons_and_causes(api, shop):
    response = api.get(f"/recommendations/customers/{shop.ha.public_id}", {"limit": 1})

    assert response.status_code == 200
    body = response.json()
    # The hot path builds its JSON itself: it must be exactly the declared schema's form.
    assert RecommendationsOut.model_validate(body).model_dump(mode="json") == body
    assert body["trained_at"] == "2026-06-15T11:59:00Z"
    assert body["model"] == shop.model.public_id
    assert body["customer"] == shop.ha.public_id
    [item] = body["items"]
    assert item["product"] == {
        "id": shop.grinder.public_id,
        "title": "Burr Grinder",
        "price": "10.00",
        "currency": "USD",
        "category": "gear",
        "in_stock": True,
    }
    assert item["reason"]["kind"] == "bought"
    assert item["reason"]["text"] == (
        "Because you bought Arabica Beans 1kg and rated Moka Pot 5 stars"
    )
    assert [(c["product"], c["signal"], c["rating"], c["text"]) for c in item["causes"]] == [
        (shop.beans.public_id, "bought", None, "bought"),
        (shop.moka.public_id, "rated", 5, "rated 5 stars"),
    ]


def test_sentences_follow_the_request_language(api, shop):
    response = api.client.get(
        f"/api/v1/recommendations/customers/{shop.ha.public_id}",
        {"limit": 1},
        headers={"Authorization": f"Bearer {api.key}", "Accept-Language": "vi"},
    )
    assert response.status_code == 200
    # Whatever the catalog holds, the sentence is built in the requested language, never
    # raw placeholders.
    assert "%(" not in response.json()["items"][0]["reason"]["text"]


def test_why_and_why_not(api, shop):
    ok = api.get(f"/recommendations/customers/{shop.ha.public_id}/why/{shop.mug.public_id}")
    assert ok.status_code == 200
    assert ok.json()["reason"] == {"kind": "rated", "text": "Because you rated Moka Pot 5 stars"}
    assert ok.json()["customer"] == shop.ha.public_id

    bought = api.get(f"/recommendations/customers/{shop.ha.public_id}/why/{shop.beans.public_id}")
    assert bought.status_code == 404
    error = bought.json()["error"]
    assert error["why_not"] == "bought"
    assert error["field"] == "product_id"
    assert error["message"] == (
        f"{shop.beans.public_id} is not recommended to {shop.ha.public_id}: they already bought it"
    )


def test_anonymous_similar_together_and_lists(api, shop):
    anonymous = api.get("/recommendations/anonymous/visitor-1", {"limit": 2})
    assert anonymous.status_code == 200
    assert [i["reason"]["kind"] for i in anonymous.json()["items"]] == ["trending", "trending"]

    similar = api.get(f"/recommendations/products/{shop.beans.public_id}/similar")
    assert [i["product"]["title"] for i in similar.json()["items"]] == [
        "Burr Grinder",
        "Paper Filters",
    ]
    together = api.get(f"/recommendations/products/{shop.beans.public_id}/together")
    assert together.status_code == 200
    first = together.json()["items"][0]
    assert (first["product"]["title"], first["support"], first["confidence"], first["lift"]) == (
        "Paper Filters",
        12,
        0.4,
        3.2,
    )
    best = api.get("/recommendations/best-sellers", {"category": "coffee"})
    assert [i["product"]["title"] for i in best.json()["items"]] == [
        "Arabica Beans 1kg",
        "Paper Filters",
    ]
    for path in ("trending", "top-rated", "most-wished"):
        assert api.get(f"/recommendations/{path}").status_code == 200


def test_errors_name_the_field(api, shop):
    unknown = api.get("/recommendations/customers/cus_nobody")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "customer_id"

    product = api.get("/recommendations/products/prd_nothing/similar")
    assert product.status_code == 404
    assert product.json()["error"]["field"] == "product_id"

    category = api.get(
        f"/recommendations/customers/{shop.ha.public_id}", {"category": "no-such-thing"}
    )
    assert category.status_code == 404
    assert category.json()["error"]["field"] == "category"

    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"in_stock": "perhaps"}):
        response = api.get(f"/recommendations/customers/{shop.ha.public_id}", bad)
        assert response.status_code == 422, bad
        assert error_fields(response) == [next(iter(bad))]

    too_long = api.get("/recommendations/anonymous/" + "x" * 256)
    assert too_long.status_code == 422
    assert too_long.json()["error"]["field"] == "anonymous_id"


def test_read_scope_is_enough_and_a_key_is_needed(api_as, shop):
    assert api_as("read").get("/recommendations/trending").status_code == 200
    assert api_as(None).get("/recommendations/trending").status_code == 401


def test_no_run_yet_answers_popular_from_orders_never_500(api, db):
    customer = CustomerFactory()
    shop_customer = CustomerFactory()
    from tests.factories import ProductFactory

    tea = ProductFactory(title="Green Tea")
    buy(shop_customer, tea)

    response = api.get(f"/recommendations/customers/{customer.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["model"] is None
    assert [(i["product"]["title"], i["reason"]["kind"]) for i in body["items"]] == [
        ("Green Tea", "popular")
    ]
    similar = api.get(f"/recommendations/products/{tea.public_id}/similar")
    assert similar.status_code == 200
    assert similar.json()["items"] == []
    assert api.get(f"/recommendations/products/{tea.public_id}/together").json()["items"] == []
    assert [
        i["product"]["title"] for i in api.get("/recommendations/top-rated").json()["items"]
    ] == ["Green Tea"]


def test_merged_and_erased_customers(api, shop):
    from django.utils import timezone

    from omnicrm.customers.models import Customer

    survivor = CustomerFactory()
    Customer.objects.filter(pk=shop.ha.pk).update(merged_into=survivor, merged_at=timezone.now())
    merged = api.get(f"/recommendations/customers/{shop.ha.public_id}")
    assert merged.status_code == 409
    assert merged.json()["error"]["code"] == "customer_merged"

    erased = CustomerFactory(country="VN", language="vi", erased_at=timezone.now())
    response = api.get(f"/recommendations/customers/{erased.public_id}", {"limit": 2})
    assert response.status_code == 200
    # No history is kept for an erased profile: cold-start lists only.
    assert {i["reason"]["kind"] for i in response.json()["items"]} == {"popular_country"}
