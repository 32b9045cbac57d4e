from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omnicrm.core import apikeys
from omnicrm.core.apikeys import (
    InvalidApiKey,
    RevokedApiKey,
    apikey_authenticate,
    apikey_create,
    apikey_revoke,
)
from omnicrm.core.errors import NotFound, ValidationFailed
from omnicrm.core.models import ApiKey, AuditLog

pytestmark = pytest.mark.django_db

KEY_RE = re.compile(r"^ocrm_([a-z2-7]{8})_([A-Za-z0-9_-]{43})$")


def test_apikey_create_returns_a_key_with_256_secret_bits_and_stores_only_its_sha256():
    key, raw = apikey_create(name="web shop", scopes="read,write")

    match = KEY_RE.match(raw)
    assert match is not None, raw
    assert match.group(1) == key.prefix
    assert len(base64.urlsafe_b64decode(match.group(2) + "=")) == 32
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert stored.scopes == ["read", "write"]
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert not any(match.group(2) in str(value) for value in row.values())
    audit = AuditLog.objects.get(action="apikey.create")
    assert (audit.object_type, audit.object_id) == ("api_key", key.prefix)
    assert audit.data == {"name": "web shop", "scopes": ["read", "write"]}


def test_two_keys_get_different_prefixes_and_secrets():
    _, first = apikey_create(name="a", scopes="read")
    _, second = apikey_create(name="b", scopes="read")

    assert KEY_RE.match(first).groups() != KEY_RE.match(second).groups()
    assert KEY_RE.match(first).group(1) != KEY_RE.match(second).group(1)


def test_scopes_are_normalized_and_unknown_or_missing_scopes_name_the_field():
    key, _ = apikey_create(name="x", scopes=" Write, READ ,write")
    assert key.scopes == ["read", "write"]

    with pytest.raises(ValidationFailed) as err:
        apikey_create(name="x", scopes="read,admin")
    assert err.value.field == "scopes"
    assert "admin" in err.value.message

    with pytest.raises(ValidationFailed) as err:
        apikey_create(name="x", scopes=" , ")
    assert err.value.field == "scopes"

    with pytest.raises(ValidationFailed) as err:
        apikey_create(name="  ", scopes="read")
    assert err.value.field == "name"
    assert ApiKey.objects.count() == 1


def test_authenticate_accepts_the_key_and_refuses_near_misses():
    key, raw = apikey_create(name="x", scopes="read")
    prefix = key.prefix
    other_secret = f"ocrm_{prefix}_" + "A" * 43

    assert apikey_authenticate(raw_key=raw).pk == key.pk
    assert apikey_authenticate(raw_key=f"  {raw}\n").pk == key.pk
    for bad in [
        other_secret,
        raw[:-1],
        raw + "x",
        "ocrm_zzzzzzzz_" + raw.split("_", 2)[2],
        "not-a-key",
        "",
        "ocrm__secret",
        raw.replace("ocrm_", "xxxx_"),
    ]:
        with pytest.raises(InvalidApiKey):
            apikey_authenticate(raw_key=bad)


def test_authenticate_compares_hashes_with_hmac_compare_digest(monkeypatch):
    key, raw = apikey_create(name="x", scopes="read")
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(apikeys.hmac, "compare_digest", spy)

    apikey_authenticate(raw_key=raw)
    with pytest.raises(InvalidApiKey):
        apikey_authenticate(raw_key="ocrm_unknown0_" + "B" * 43)

    expected = hashlib.sha256(raw.encode()).hexdigest().encode()
    assert calls[0] == (key.key_hash.encode(), expected)
    # An unknown prefix still costs one constant-time comparison, against a dummy hash.
    assert len(calls) == 2
    assert calls[1][0] == b"0" * 64


def test_revoked_key_is_refused_with_its_own_code():
    key, raw = apikey_create(name="x", scopes="read")
    apikey_revoke(prefix=key.prefix)

    with pytest.raises(RevokedApiKey) as err:
        apikey_authenticate(raw_key=raw)
    assert err.value.status == 401
    assert err.value.code == "revoked_api_key"


def test_last_used_at_is_written_at_most_once_a_minute():
    key, raw = apikey_create(name="x", scopes="read")
    assert key.last_used_at is None

    before = timezone.now()
    apikey_authenticate(raw_key=raw)
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None and first >= before

    with CaptureQueriesContext(connection) as queries:
        apikey_authenticate(raw_key=raw)
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT"]
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(seconds=61))
    apikey_authenticate(raw_key=raw)
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_revoke_is_audited_once_and_unknown_prefixes_are_not_found():
    key, _ = apikey_create(name="x", scopes="read")

    revoked = apikey_revoke(prefix=key.prefix)
    first_revoked_at = revoked.revoked_at
    again = apikey_revoke(prefix=key.prefix)

    assert first_revoked_at is not None
    assert again.revoked_at == first_revoked_at
    assert AuditLog.objects.filter(action="apikey.revoke", object_id=key.prefix).count() == 1
    with pytest.raises(NotFound) as err:
        apikey_revoke(prefix="nope")
    assert err.value.field == "prefix"


def _create_with_cli(name: str, scopes: str) -> tuple[str, str]:
    out = StringIO()
    call_command("apikey", "create", "--name", name, "--scopes", scopes, stdout=out)
    text = out.getvalue()
    keys = [line for line in text.splitlines() if line.startswith("ocrm_")]
    assert len(keys) == 1, text
    return keys[0], text


def test_cli_create_prints_a_working_key_once_and_stores_only_its_hash(client):
    raw, text = _create_with_cli("web shop", "read,write")

    assert "not shown again" in text
    key = ApiKey.objects.get()
    assert key.name == "web shop"
    assert key.scopes == ["read", "write"]
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in json.dumps(list(ApiKey.objects.values()), default=str)
    response = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json() == {"data": [], "next_cursor": None}


def test_cli_list_shows_prefix_name_scopes_and_status_but_no_secret():
    raw, _ = _create_with_cli("web shop", "read")
    _create_with_cli("reporting", "read,write")
    prefix = raw.split("_")[1]
    call_command("apikey", "revoke", prefix, stdout=StringIO())

    out = StringIO()
    call_command("apikey", "list", stdout=out)
    lines = out.getvalue().splitlines()

    assert lines[0].split() == ["PREFIX", "NAME", "SCOPES", "CREATED", "LAST", "USED", "STATUS"]
    assert len(lines) == 3
    web = next(line for line in lines if line.startswith(prefix))
    assert "web shop" in web and " read " in web and "revoked" in web
    reporting = next(line for line in lines[1:] if not line.startswith(prefix))
    assert "reporting" in reporting and "read,write" in reporting
    assert reporting.endswith("active")
    assert raw.split("_", 2)[2] not in out.getvalue()
    assert ApiKey.objects.get(prefix=prefix).key_hash not in out.getvalue()

    active = StringIO()
    call_command("apikey", "list", "--active", stdout=active)
    assert prefix not in active.getvalue()
    assert "reporting" in active.getvalue()


def test_cli_revoke_makes_the_api_answer_401(client):
    raw, _ = _create_with_cli("web shop", "read")
    prefix = raw.split("_")[1]
    assert client.get("/api/v1/customers", headers={"X-API-Key": raw}).status_code == 200

    out = StringIO()
    call_command("apikey", "revoke", prefix, stdout=out)

    assert f"Revoked API key {prefix}" in out.getvalue()
    response = client.get("/api/v1/customers", headers={"X-API-Key": raw})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "revoked_api_key"
    again = StringIO()
    call_command("apikey", "revoke", prefix, stdout=again)
    assert "already revoked" in again.getvalue()


def test_cli_errors_name_the_problem():
    with pytest.raises(CommandError, match="--scopes: unknown scope admin"):
        call_command("apikey", "create", "--name", "x", "--scopes", "admin", stdout=StringIO())
    with pytest.raises(CommandError, match="no API key with prefix nope"):
        call_command("apikey", "revoke", "nope", stdout=StringIO())
    assert ApiKey.objects.count() == 0
