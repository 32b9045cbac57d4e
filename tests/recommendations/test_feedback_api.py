"""/api/v1/recommendations/feedback: give, list and withdraw feedback."""

from __future__ import annotations

import pytest

from omnicrm.core.models import AuditLog
from omnicrm.recommendations.models import RecommendationFeedback
from tests.api import conftest as api_fixtures
from tests.api.conftest import error_fields
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

# The HTTP API fixtures (real API keys, a JSON client), shared with tests/api.
api, api_as, make_key = api_fixtures.api, api_fixtures.api_as, api_fixtures.make_key


def put(client, path, body):
    return client._send("put", path, body)


def test_give_list_and_withdraw_feedback(api):
    ha = CustomerFactory()
    gift, grinder = ProductFactory(title="Gift box"), ProductFactory(title="Grinder")
    OrderLineFactory(order=OrderFactory(customer=ha), product=gift)
    base = f"/recommendations/feedback/{ha.public_id}"

    excluded = put(api, f"{base}/{gift.public_id}", {"kind": "exclude_purchase"})
    hidden = put(api, f"{base}/{grinder.public_id}", {"kind": "not_interested"})
    again = put(api, f"{base}/{grinder.public_id}", {"kind": "not_interested"})

    assert [r.status_code for r in (excluded, hidden, again)] == [200, 200, 200]
    body = excluded.json()
    assert body.pop("created_at").endswith("Z")
    assert body == {"product": gift.public_id, "title": "Gift box", "kind": "exclude_purchase"}
    listed = api.get(base)
    assert listed.status_code == 200
    assert [(r["product"], r["kind"]) for r in listed.json()["data"]] == [
        (grinder.public_id, "not_interested"),
        (gift.public_id, "exclude_purchase"),
    ]
    assert AuditLog.objects.filter(action="recommendation_feedback.set").count() == 2

    withdrawn = api.delete(f"{base}/{grinder.public_id}?kind=not_interested")
    twice = api.delete(f"{base}/{grinder.public_id}?kind=not_interested")

    assert withdrawn.status_code == 204
    assert twice.status_code == 404
    assert twice.json()["error"]["message"] == (
        f"{ha.public_id} has no not_interested feedback on {grinder.public_id}"
    )
    assert list(RecommendationFeedback.objects.values_list("product_id", "kind")) == [
        (gift.pk, "exclude_purchase")
    ]


def test_errors_name_the_field(api):
    ha, grinder = CustomerFactory(), ProductFactory()
    base = f"/recommendations/feedback/{ha.public_id}"

    bad_kind = put(api, f"{base}/{grinder.public_id}", {"kind": "meh"})
    no_kind = put(api, f"{base}/{grinder.public_id}", {})
    not_bought = put(api, f"{base}/{grinder.public_id}", {"kind": "exclude_purchase"})
    delete_without_kind = api.delete(f"{base}/{grinder.public_id}")
    delete_bad_kind = api.delete(f"{base}/{grinder.public_id}?kind=meh")
    no_product = put(api, f"{base}/prd_nothing", {"kind": "not_interested"})
    no_customer = put(
        api, f"/recommendations/feedback/cus_nobody/{grinder.public_id}", {"kind": "not_interested"}
    )
    list_no_customer = api.get("/recommendations/feedback/cus_nobody")

    for response, field in [
        (bad_kind, "kind"),
        (no_kind, "kind"),
        (not_bought, "product"),
        (delete_without_kind, "kind"),
        (delete_bad_kind, "kind"),
    ]:
        assert (response.status_code, error_fields(response)) == (422, [field])
    assert (no_product.status_code, no_product.json()["error"]["field"]) == (404, "product")
    assert (no_customer.status_code, no_customer.json()["error"]["field"]) == (404, "customer")
    assert list_no_customer.status_code == 404
    assert RecommendationFeedback.objects.count() == 0


def test_keys_and_scopes(api_as):
    ha, grinder = CustomerFactory(), ProductFactory()
    path = f"/recommendations/feedback/{ha.public_id}"
    reader, nobody = api_as("read"), api_as(None)

    assert nobody.get(path).status_code == 401
    assert reader.get(path).status_code == 200
    assert put(reader, f"{path}/{grinder.public_id}", {"kind": "not_interested"}).status_code == 403
    assert reader.delete(f"{path}/{grinder.public_id}?kind=not_interested").status_code == 403
    assert RecommendationFeedback.objects.count() == 0
