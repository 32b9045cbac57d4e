"""/api/v1/segments over HTTP with real API keys."""

from __future__ import annotations

import pytest

from omnicrm.core.models import ApiKey, AuditLog
from omnicrm.segments import services
from omnicrm.segments.models import Segment
from tests.api.conftest import ApiClient
from tests.segments.conftest import Shop

VN = {"all": [{"field": "country", "op": "eq", "value": "VN"}]}


def test_create_list_read_and_update_a_segment(shop: Shop, api: ApiClient):
    created = api.post("/segments", {"name": "Vietnam", "rules": VN, "description": "VN"})

    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("seg_")
    assert (body["slug"], body["kind"], body["member_count"]) == ("vietnam", "dynamic", 0)
    assert body["rules"] == VN
    listed = api.get("/segments").json()
    assert [s["id"] for s in listed] == [body["id"]]
    assert api.get(f"/segments/{body['id']}").json()["name"] == "Vietnam"
    patched = api.patch(f"/segments/{body['id']}", {"name": "Việt Nam"})
    assert (patched.status_code, patched.json()["name"]) == (200, "Việt Nam")


def test_invalid_rules_answer_422_naming_the_condition(shop: Shop, api: ApiClient):
    response = api.post(
        "/segments",
        {
            "name": "Bad",
            "rules": {
                "all": [VN["all"][0], {"any": [{"field": "order_count", "op": "gtt", "value": 2}]}]
            },
        },
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_rule"
    assert error["field"] == "rules.all[1].any[0]"
    assert error["message"].startswith(
        "rules.all[1].any[0]: unknown operator 'gtt' for field order_count"
    )
    assert Segment.objects.count() == 0


def test_preview_counts_and_samples(shop: Shop, api: ApiClient):
    response = api.post(
        "/segments/preview",
        {"rules": {"all": [VN["all"][0], {"field": "order_count", "op": "gte", "value": 2}]}},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["sample"] == [
        {"id": shop.ha.public_id, "name": "Đặng Lưu Hà", "email": "ha@example.com", "country": "VN"}
    ]
    bad = api.post("/segments/preview", {"rules": {"all": [{"field": "x", "op": "eq"}]}})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "rules.all[0]")
    extra = api.post("/segments/preview", {"rules": VN, "surprise": 1})
    assert extra.status_code == 422


def test_refresh_and_page_through_members(shop: Shop, api: ApiClient):
    segment = services.segment_create(name="Everyone", rules={"all": []})

    refreshed = api.post(f"/segments/{segment.public_id}/refresh")
    first = api.get(f"/segments/{segment.public_id}/members", {"limit": 3}).json()
    second = api.get(
        f"/segments/{segment.public_id}/members", {"limit": 3, "cursor": first["next_cursor"]}
    ).json()

    assert refreshed.status_code == 200
    assert (refreshed.json()["entered"], refreshed.json()["member_count"]) == (4, 4)
    ids = [m["customer"]["id"] for m in first["data"] + second["data"]]
    assert sorted(ids) == sorted(c.public_id for c in (shop.ha, shop.binh, shop.chen, shop.dana))
    assert second["next_cursor"] is None
    assert api.get("/segments/seg_missing/members").status_code == 404


def test_static_list_members_are_added_and_removed(shop: Shop, api: ApiClient):
    static = api.post("/segments", {"name": "VIP", "kind": "static"}).json()
    dynamic = services.segment_create(name="Vietnam", rules=VN)

    added = api.post(
        f"/segments/{static['id']}/members", {"customers": [shop.ha.public_id, "cus_x"]}
    )
    removed = api.post(
        f"/segments/{static['id']}/members/remove", {"customers": [shop.ha.public_id]}
    )
    refused = api.post(f"/segments/{dynamic.public_id}/members", {"customers": ["cus_x"]})
    not_refreshable = api.post(f"/segments/{static['id']}/refresh")

    assert added.status_code == 200
    assert added.json() == {
        "added": 1,
        "removed": 0,
        "unchanged": 0,
        "member_count": 1,
        "unknown": [{"customer": "cus_x", "line": None, "email": None, "reason": None}],
    }
    assert (removed.json()["removed"], removed.json()["member_count"]) == (1, 0)
    assert refused.status_code == 409
    assert not_refreshable.status_code == 409


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        (None, "get", "/segments", 401),
        ("read", "post", "/segments/preview", 403),
        ("read", "get", "/segments", 200),
    ],
)
def test_api_keys_and_scopes_are_required(shop: Shop, api_as, scopes, method, path, status):
    client = api_as(scopes)
    response = client.get(path) if method == "get" else client.post(path, {"rules": VN})
    assert response.status_code == status


def test_delete_and_unknown_ids(shop: Shop, api: ApiClient):
    segment = services.segment_create(name="Gone", rules=VN)

    assert api.delete(f"/segments/{segment.public_id}").status_code == 204
    assert api.get(f"/segments/{segment.public_id}").status_code == 404
    assert api.get("/segments/seg_nope").json()["error"]["code"] == "not_found"


def test_segment_changes_through_the_api_are_audited_under_the_key(shop: Shop, api: ApiClient):
    static = api.post("/segments", {"name": "VIP", "kind": "static"}).json()
    path = f"/segments/{static['id']}"
    api.patch(path, {"description": "Best customers"})
    api.post(f"{path}/members", {"customers": [shop.ha.public_id]})
    api.post(f"{path}/members/remove", {"customers": [shop.ha.public_id]})
    api.delete(path)

    key = ApiKey.objects.get()
    labels = dict(
        AuditLog.objects.filter(object_id=static["id"]).values_list("action", "actor_label")
    )
    assert labels == dict.fromkeys(
        [
            "segment.create",
            "segment.update",
            "segment.members_add",
            "segment.members_remove",
            "segment.delete",
        ],
        f"api_key:{key.prefix} ({key.name})",
    )
