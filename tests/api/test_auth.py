from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omnicrm.core import apikeys
from omnicrm.core.apikeys import apikey_create, apikey_revoke
from omnicrm.core.models import ApiKey
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

MISSING = {
    "error": {
        "code": "missing_api_key",
        "message": "an API key is required: send 'Authorization: Bearer <key>' or "
        "'X-API-Key: <key>'",
    }
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/customers"),
        ("get", "/api/v1/products"),
        ("get", "/api/v1/categories"),
        ("get", "/api/v1/orders"),
        ("get", "/api/v1/reviews"),
        ("post", "/api/v1/customers"),
        ("get", "/api/v1/customers/cus_unknown"),
    ],
)
def test_every_endpoint_answers_401_without_a_key(client, method, path):
    response = getattr(client, method)(path)

    assert response.status_code == 401
    assert response.json() == MISSING
    assert response["WWW-Authenticate"] == 'Bearer realm="omnicrm"'


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer ocrm_abcdefgh_" + "x" * 43},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Bearer "},
        {"X-API-Key": "ocrm_abcdefgh_" + "x" * 43},
    ],
)
def test_a_wrong_key_is_401_invalid_api_key(client, headers):
    response = client.get("/api/v1/customers", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_a_key_with_a_wrong_secret_is_401_even_with_a_real_prefix(client):
    key, _raw = apikey_create(name="x", scopes="read")
    forged = f"ocrm_{key.prefix}_" + "A" * 43

    response = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "invalid_api_key", "message": "the API key is not valid"}
    }


def test_a_revoked_key_is_401(client):
    key, raw = apikey_create(name="x", scopes="read")
    assert (
        client.get("/api/v1/customers", headers={"Authorization": f"Bearer {raw}"}).status_code
        == 200
    )

    apikey_revoke(prefix=key.prefix)
    response = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {raw}"})

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "revoked_api_key", "message": "the API key was revoked"}
    }


def test_basic_auth_is_not_an_api_key(client):
    response = client.get("/api/v1/customers", headers={"Authorization": "Basic dXNlcjpwdw=="})

    assert response.status_code == 401
    assert response.json() == MISSING


def test_the_key_works_in_either_header(api_as):
    customer = CustomerFactory()

    for header in ("bearer", "x-api-key"):
        response = api_as("read", header=header).get(f"/customers/{customer.public_id}")
        assert response.status_code == 200
        assert response.json()["id"] == customer.public_id


def test_a_read_only_key_cannot_write(api_as):
    customer = CustomerFactory()
    reader = api_as("read")

    responses = [
        reader.post("/customers", {"name": "Hà"}),
        reader.patch(f"/customers/{customer.public_id}", {"name": "Hà"}),
        reader.delete(f"/customers/{customer.public_id}"),
        reader.post("/products", {}),
        reader.post("/orders", {}),
        reader.patch("/orders/ord_x/status", {"status": "shipped"}),
        reader.post("/reviews", {}),
    ]

    for response in responses:
        assert response.status_code == 403
        assert response.json()["error"] == {
            "code": "forbidden",
            "message": f"this API key lacks the write scope that "
            f"{response.request['REQUEST_METHOD']} requests need",
            "required_scope": "write",
        }
    customer.refresh_from_db()
    assert customer.erased_at is None and customer.name != "Hà"


def test_a_write_only_key_cannot_read_but_can_write(api_as):
    writer = api_as("write")

    listing = writer.get("/customers")
    created = writer.post("/customers", {"name": "Đặng Lưu Hà"})

    assert listing.status_code == 403
    assert listing.json()["error"]["required_scope"] == "read"
    assert created.status_code == 201
    assert created.json()["name"] == "Đặng Lưu Hà"


def test_scope_is_checked_before_the_body_is_validated(api_as):
    # A read-only key learns nothing about the write endpoint's validation rules.
    response = api_as("read").post("/customers", {"email": 42, "bogus": True})

    assert response.status_code == 403


def test_docs_and_schema_need_no_key_and_work_offline(client):
    docs = client.get("/api/docs")
    schema = client.get("/api/openapi.json")

    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/api/openapi.json" in html
    assert "swagger-ui-bundle.js" in html
    assert "cdn." not in html and "https://" not in html
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "omnicrm API"
    # WriteKey: the tracking endpoints' source write keys (docs/tracking.md).
    assert set(schema.json()["components"]["securitySchemes"]) == {
        "BearerKey",
        "HeaderKey",
        "WriteKey",
    }


def test_api_clients_need_no_csrf_token():
    # Servers calling the API have no CSRF cookie; the key is the credential.
    _, raw = apikey_create(name="x", scopes="write")
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(
        "/api/v1/customers",
        data=json.dumps({"name": "Hà"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )

    assert response.status_code == 201


def test_docs_assets_are_served_by_omnicrm_itself(client):
    html = client.get("/api/docs").content.decode()
    scripts = re.findall(r'src="([^"]+\.js)"', html)

    assert scripts
    for src in scripts:
        response = client.get(src)
        assert response.status_code == 200, src


# A key verified lately is trusted by this process for VERIFIED_KEY_SECONDS (ADR 0010).


@pytest.fixture
def fresh_key_cache():
    apikeys.apikey_cache_clear()
    yield
    apikeys.apikey_cache_clear()


def _get(client, raw):
    return client.get("/api/v1/customers", headers={"Authorization": f"Bearer {raw}"})


def _key_queries(queries):
    return [q for q in queries.captured_queries if "core_apikey" in q["sql"]]


def test_a_verified_key_is_not_read_again_within_the_cache_time(client, fresh_key_cache):
    _key, raw = apikey_create(name="x", scopes="read")
    assert _get(client, raw).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        response = _get(client, raw)

    assert response.status_code == 200
    assert _key_queries(queries) == []


def test_a_key_revoked_in_this_process_is_refused_at_once(client, fresh_key_cache):
    key, raw = apikey_create(name="x", scopes="read")
    assert _get(client, raw).status_code == 200

    apikey_revoke(prefix=key.prefix)

    assert _get(client, raw).json()["error"]["code"] == "revoked_api_key"


def test_a_key_revoked_elsewhere_is_refused_once_the_cache_time_is_over(
    client, fresh_key_cache, monkeypatch
):
    key, raw = apikey_create(name="x", scopes="read")
    assert _get(client, raw).status_code == 200
    # Another process revokes it: no signal reaches this one.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    clock = apikeys._VERIFIED.entries[key.prefix][2]  # when this process verified it

    monkeypatch.setattr(apikeys.time, "monotonic", lambda: clock + 1)
    assert _get(client, raw).status_code == 200
    monkeypatch.setattr(
        apikeys.time, "monotonic", lambda: clock + apikeys.VERIFIED_KEY_SECONDS + 0.1
    )
    response = _get(client, raw)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "revoked_api_key"


def test_a_cached_prefix_with_a_wrong_secret_is_still_401(client, fresh_key_cache):
    key, raw = apikey_create(name="x", scopes="read")
    assert _get(client, raw).status_code == 200

    forged = f"ocrm_{key.prefix}_" + "A" * 43
    response = _get(client, forged)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    # The wrong key did not evict the right one.
    with CaptureQueriesContext(connection) as queries:
        assert _get(client, raw).status_code == 200
    assert _key_queries(queries) == []


def test_a_cached_key_is_still_checked_for_its_scope_and_a_missing_key_is_401(
    client, fresh_key_cache
):
    _key, raw = apikey_create(name="x", scopes="read")
    assert _get(client, raw).status_code == 200

    write = client.post(
        "/api/v1/customers",
        data=json.dumps({"name": "Hà"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    missing = client.get("/api/v1/customers")

    assert write.status_code == 403
    assert write.json()["error"]["required_scope"] == "write"
    assert missing.status_code == 401
    assert missing.json() == MISSING


def test_a_scope_change_in_this_process_counts_at_once(client, fresh_key_cache):
    key, raw = apikey_create(name="x", scopes="read")
    assert _get(client, raw).status_code == 200

    key.scopes = ["write"]
    key.save()

    assert _get(client, raw).status_code == 403


def test_last_used_at_is_still_written_through_the_cache(client, fresh_key_cache):
    key, raw = apikey_create(name="x", scopes="read")

    assert _get(client, raw).status_code == 200

    key.refresh_from_db()
    assert key.last_used_at is not None
