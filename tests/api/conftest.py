"""Fixtures for the HTTP API tests: real API keys and a client that sends them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from omnicrm.core.apikeys import apikey_create


class ApiClient:
    """The Django test client, speaking JSON to /api/v1 with an API key."""

    def __init__(self, client: Client, key: str | None, *, header: str = "bearer"):
        self.client = client
        self.key = key
        self.header = header

    def _headers(self) -> dict[str, str]:
        if self.key is None:
            return {}
        if self.header == "bearer":
            return {"Authorization": f"Bearer {self.key}"}
        return {"X-API-Key": self.key}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(f"/api/v1{path}", params or {}, headers=self._headers())

    def _send(self, method: str, path: str, body: Any) -> Any:
        data = body if isinstance(body, str) else json.dumps(body)
        return getattr(self.client, method)(
            f"/api/v1{path}",
            data=data,
            content_type="application/json",
            headers=self._headers(),
        )

    def post(self, path: str, body: Any = None) -> Any:
        return self._send("post", path, {} if body is None else body)

    def patch(self, path: str, body: Any) -> Any:
        return self._send("patch", path, body)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1{path}", headers=self._headers())


@pytest.fixture
def make_key(db):
    """make_key("read,write") -> the raw key of a new API key with those scopes."""

    def make(scopes: str = "read,write", name: str = "tests") -> str:
        _key, raw = apikey_create(name=name, scopes=scopes)
        return raw

    return make


@pytest.fixture
def api(client, make_key) -> ApiClient:
    """A client holding a read+write key."""
    return ApiClient(client, make_key("read,write"))


@pytest.fixture
def api_as(client, make_key):
    """api_as("read") -> a client whose key has only those scopes; None sends no key."""

    def make(scopes: str | None, *, header: str = "bearer") -> ApiClient:
        return ApiClient(client, make_key(scopes) if scopes else None, header=header)

    return make


def error_fields(response: Any) -> list[str]:
    return [f["field"] for f in response.json()["error"].get("fields", [])]
