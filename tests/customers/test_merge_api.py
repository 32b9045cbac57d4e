"""The merge, preview and split endpoints of /api/v1/customers."""

from __future__ import annotations

import pytest

from omnicrm.core.apikeys import apikey_create
from omnicrm.core.models import AuditLog
from omnicrm.customers.models import Customer, CustomerMerge
from omnicrm.events.models import Event
from omnicrm.orders.models import Order
from tests.api.conftest import ApiClient, error_fields
from tests.customers.identity_world import event, snapshot
from tests.factories import CustomerFactory, IdentityFactory, OrderFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def _client(client, scopes: str) -> ApiClient:
    _key, raw = apikey_create(name=f"merge tests {scopes}", scopes=scopes)
    return ApiClient(client, raw)


@pytest.fixture
def api(client) -> ApiClient:
    return _client(client, "read,write")


@pytest.fixture
def read_only_api(client) -> ApiClient:
    return _client(client, "read")


@pytest.fixture
def pair() -> tuple[Customer, Customer]:
    ha = CustomerFactory(name="Đặng Lưu Hà", phone="")
    IdentityFactory(customer=ha, kind="user_id", value="u-ha")
    web = CustomerFactory(name="", phone="+84912345678")
    IdentityFactory(customer=web, kind="anonymous", value="anon-web")
    OrderFactory.create_batch(2, customer=web)
    ReviewFactory(customer=web)
    event(web, anonymous_id="anon-web")
    return ha, web


def test_preview_answers_what_would_move_and_changes_nothing(api: ApiClient, pair):
    ha, web = pair
    before = snapshot(ha, web)

    response = api.post(f"/customers/{ha.public_id}/merge-preview", {"other": web.public_id})

    assert response.status_code == 200
    body = response.json()
    assert body["primary"] == ha.public_id
    assert body["secondary"] == web.public_id
    assert body["allowed"] is True
    assert body["reasons"] == []
    assert body["counts"] == {
        "identities": 1,
        "addresses": 0,
        "orders": 2,
        "reviews": 1,
        "events": 1,
    }
    assert body["fields_filled"] == [{"field": "phone", "primary": "", "secondary": "+84912345678"}]
    assert [c["field"] for c in body["field_conflicts"]] == ["email"]
    assert snapshot(ha, web) == before


def test_merge_answers_201_with_the_record_and_audits_the_api_key(api: ApiClient, pair):
    ha, web = pair

    response = api.post(
        f"/customers/{ha.public_id}/merge", {"other": web.public_id, "reason": "same person"}
    )

    assert response.status_code == 201
    body = response.json()
    merge = CustomerMerge.objects.get()
    assert body["id"] == merge.public_id
    assert body["id"].startswith("mrg_")
    assert (body["primary"], body["secondary"], body["status"], body["trigger"]) == (
        ha.public_id,
        web.public_id,
        "merged",
        "manual",
    )
    assert body["moved"] == {
        "identities": 1,
        "addresses": 0,
        "orders": 2,
        "reviews": 1,
        "events": 1,
    }
    assert body["returned"] is None
    assert body["merged_by"].startswith("api_key:")
    assert body["reason"] == "same person"
    assert Order.objects.filter(customer=ha).count() == 2
    assert AuditLog.objects.get(action="customer.merge").actor_label == body["merged_by"]


def test_a_merged_profile_answers_409_naming_where_it_went(api: ApiClient, pair):
    ha, web = pair
    api.post(f"/customers/{ha.public_id}/merge", {"other": web.public_id, "reason": "r"})

    got = api.get(f"/customers/{web.public_id}")
    patched = api.patch(f"/customers/{web.public_id}", {"name": "X"})
    listed = api.get("/customers")

    for response in (got, patched):
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "customer_merged"
        assert error["merged_into"] == ha.public_id
    assert [c["id"] for c in listed.json()["data"]] == [ha.public_id]


def test_merging_twice_is_409_already_merged(api: ApiClient, pair):
    ha, web = pair
    api.post(f"/customers/{ha.public_id}/merge", {"other": web.public_id, "reason": "r"})

    again = api.post(f"/customers/{ha.public_id}/merge", {"other": web.public_id, "reason": "r"})

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "customer_merged"


def test_a_merge_blocked_by_a_rule_is_409_with_the_reasons(api: ApiClient, pair):
    ha, web = pair
    IdentityFactory(customer=web, kind="user_id", value="u-other")

    preview = api.post(f"/customers/{ha.public_id}/merge-preview", {"other": web.public_id})
    merge = api.post(f"/customers/{ha.public_id}/merge", {"other": web.public_id, "reason": "r"})

    assert preview.status_code == 200
    assert preview.json()["allowed"] is False
    reasons = [
        {
            "code": "two_user_ids",
            "message": "blocked: both profiles have a userId (u-ha and u-other)",
        }
    ]
    assert preview.json()["reasons"] == reasons
    assert merge.status_code == 409
    error = merge.json()["error"]
    assert error["code"] == "merge_blocked"
    assert error["reasons"] == reasons
    assert "both profiles have a userId" in error["message"]
    assert not CustomerMerge.objects.exists()


def test_self_merge_is_422_and_unknown_ids_are_404(api: ApiClient, pair):
    ha, _web = pair

    itself = api.post(f"/customers/{ha.public_id}/merge", {"other": ha.public_id, "reason": "r"})
    unknown_other = api.post(
        f"/customers/{ha.public_id}/merge", {"other": "cus_nobody", "reason": "r"}
    )
    unknown_primary = api.post("/customers/cus_nobody/merge-preview", {"other": ha.public_id})
    unknown_merge = api.post("/customers/merges/mrg_nothing/split")

    assert itself.status_code == 422
    assert itself.json()["error"]["code"] == "self_merge"
    assert error_fields(itself) == ["other"]
    for response in (unknown_other, unknown_primary, unknown_merge):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_merge_needs_a_reason_and_the_write_scope(api: ApiClient, read_only_api, pair):
    ha, web = pair

    no_reason = api.post(f"/customers/{ha.public_id}/merge", {"other": web.public_id})
    read_only = read_only_api.post(
        f"/customers/{ha.public_id}/merge", {"other": web.public_id, "reason": "r"}
    )

    assert no_reason.status_code == 422
    assert error_fields(no_reason) == ["reason"]
    assert read_only.status_code == 403
    assert not CustomerMerge.objects.exists()


def test_split_gives_everything_back_and_twice_is_409(api: ApiClient, pair):
    ha, web = pair
    before = snapshot(ha, web)
    merge_id = api.post(
        f"/customers/{ha.public_id}/merge", {"other": web.public_id, "reason": "r"}
    ).json()["id"]

    split = api.post(f"/customers/merges/{merge_id}/split")
    twice = api.post(f"/customers/merges/{merge_id}/split")

    assert split.status_code == 200
    body = split.json()
    assert body["status"] == "split"
    assert body["returned"] == body["moved"]
    assert body["split_at"].endswith("Z")
    assert snapshot(ha, web) == before
    assert api.get(f"/customers/{web.public_id}").status_code == 200
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "already_split"


def test_merge_history_lists_merges_of_either_side_newest_first(api: ApiClient, pair):
    ha, web = pair
    third = CustomerFactory()
    first = api.post(f"/customers/{ha.public_id}/merge", {"other": web.public_id, "reason": "1"})
    second = api.post(f"/customers/{ha.public_id}/merge", {"other": third.public_id, "reason": "2"})
    api.post(f"/customers/merges/{first.json()['id']}/split")

    of_ha = api.get(f"/customers/{ha.public_id}/merges")
    of_web = api.get(f"/customers/{web.public_id}/merges", {"limit": 1})
    missing = api.get("/customers/cus_nobody/merges")

    assert [(m["id"], m["status"]) for m in of_ha.json()["data"]] == [
        (second.json()["id"], "merged"),
        (first.json()["id"], "split"),
    ]
    assert [m["id"] for m in of_web.json()["data"]] == [first.json()["id"]]
    assert of_web.json()["next_cursor"] is None
    assert missing.status_code == 404


def test_events_of_the_secondary_follow_the_merge_through_the_api(api: ApiClient, pair):
    ha, web = pair
    event_ids = sorted(Event.objects.filter(customer=web).values_list("pk", flat=True))

    api.post(f"/customers/{ha.public_id}/merge", {"other": web.public_id, "reason": "r"})

    assert sorted(Event.objects.filter(customer=ha).values_list("pk", flat=True)) == event_ids
