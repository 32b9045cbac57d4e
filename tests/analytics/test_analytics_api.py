"""/api/v1/customers/{id}/predictions, /api/v1/analytics/reorders and /api/v1/analytics/rfm."""

from __future__ import annotations

import pytest

from omnicrm.analytics.models import CustomerMetrics
from omnicrm.analytics.services import analytics_refresh
from omnicrm.core.apikeys import apikey_create
from tests.analytics.shop import AS_OF
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_as(client, db):
    def make(scopes: str | None) -> ApiClient:
        raw = apikey_create(name="tests", scopes=scopes)[1] if scopes else None
        return ApiClient(client, raw)

    return make


@pytest.fixture
def refreshed(shop):
    analytics_refresh(as_of=AS_OF)
    return shop


def test_customer_predictions(refreshed, api_as):
    people, _arabica, _robusta = refreshed
    a = people["A"]

    response = api_as("read").get(f"/customers/{a.public_id}/predictions")

    assert response.status_code == 200
    body = response.json()
    m = CustomerMetrics.objects.get(customer=a)
    assert body["customer_id"] == a.public_id
    assert body["model"] == "rfm_fallback"
    assert body["order_count"] == 3
    assert body["revenue"] == "90.00"
    assert body["currency"] == "USD"
    assert (body["rfm_score"], body["rfm_segment"]) == ("553", "champions")
    assert body["expected_purchases_30d"] == pytest.approx(m.expected_purchases_30d)
    assert body["expected_order_value"] == "30.00"
    assert body["p_alive"] is None
    assert body["top_category"] == "arabica"
    assert body["category_affinity"] == [{"category": "arabica", "share": 1.0}]
    assert body["seasonality"] == [0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]
    assert body["category_reorders"][0]["category"] == "arabica"
    assert body["last_order_at"] == "2025-06-30T12:00:00Z"
    assert body["explanation"].startswith("A buys about every 30 days.")


def test_customer_predictions_errors(refreshed, api_as):
    assert api_as("read").get("/customers/cus_nope/predictions").status_code == 404
    assert (
        api_as(None).get(f"/customers/{refreshed[0]['A'].public_id}/predictions").status_code == 401
    )
    assert (
        api_as("write").get(f"/customers/{refreshed[0]['A'].public_id}/predictions").status_code
        == 403
    )


def test_customer_predictions_before_any_refresh(shop, api_as):
    people, *_ = shop

    response = api_as("read").get(f"/customers/{people['A'].public_id}/predictions")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "refresh" in response.json()["error"]["message"]


def test_reorders_of_a_category(refreshed, api_as):
    people, *_ = refreshed
    a = CustomerMetrics.objects.get(customer=people["A"])
    b = CustomerMetrics.objects.get(customer=people["B"])

    response = api_as("read").get("/analytics/reorders", {"category": "arabica", "days": 30})

    assert response.status_code == 200
    body = response.json()
    assert body["category"] == "arabica" and body["category_name"] == "Arabica"
    assert body["days"] == 30 and body["buyers"] == 2
    assert body["expected_reorders"] == pytest.approx(
        a.expected_purchases_30d + b.expected_purchases_30d / 2
    )
    probabilities = [c["probability"] for c in body["customers"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert {c["customer_id"] for c in body["customers"]} == {
        people["A"].public_id,
        people["B"].public_id,
    }


def test_reorders_errors(refreshed, api_as):
    api = api_as("read")
    assert api.get("/analytics/reorders", {"category": "nope"}).status_code == 404
    missing = api.get("/analytics/reorders")
    assert missing.status_code == 422
    bad_days = api.get("/analytics/reorders", {"category": "arabica", "days": 0})
    assert bad_days.status_code == 422
    assert bad_days.json()["error"]["fields"][0]["field"] == "days"


def test_rfm_grid(refreshed, api_as):
    response = api_as("read").get("/analytics/rfm")

    assert response.status_code == 200
    body = response.json()
    assert body["scored_customers"] == 5
    assert len(body["cells"]) == 25
    cells = {(c["r"], c["f"]): c for c in body["cells"]}
    assert cells[(5, 5)] == {
        "r": 5,
        "f": 5,
        "segment": "champions",
        "customers": 1,
        "average_revenue": "90.00",
    }
    assert cells[(1, 1)]["customers"] == 0 and cells[(1, 1)]["average_revenue"] is None
    segments = {s["segment"]: s["customers"] for s in body["segments"]}
    assert segments["at_risk"] == 1 and segments["lost"] == 0
