"""Fixtures for the events tests: real sources with real write keys, and a client that
speaks the Segment HTTP Tracking API the ways Segment's libraries do."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from django.test import Client

from omnicrm.events import services
from omnicrm.events.models import Source
from omnicrm.events.services import source_create

IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


class Tracker:
    """Posts tracking calls with the write key as HTTP Basic username (Segment's default)
    or in the body (``key_in="body"``, as the snippet and sendBeacon must)."""

    def __init__(self, client: Client, key: str | None, *, key_in: str = "basic"):
        self.client = client
        self.key = key
        self.key_in = key_in

    def post(
        self,
        path: str,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        gzipped: bool = False,
    ) -> Any:
        sent_headers = dict(headers or {})
        if isinstance(body, dict) and self.key and self.key_in == "body":
            body = {**body, "writeKey": self.key}
        elif self.key and self.key_in == "basic":
            sent_headers.setdefault("Authorization", basic(self.key))
        data: bytes | str = body if isinstance(body, str | bytes) else json.dumps(body)
        if gzipped:
            raw = data.encode() if isinstance(data, str) else data
            data = gzip.compress(raw)
            sent_headers["Content-Encoding"] = "gzip"
        return self.client.post(path, data=data, content_type=content_type, headers=sent_headers)


@pytest.fixture(autouse=True)
def fresh_rejection_budget(monkeypatch):
    """Each test starts with the per-process allowance of logged rejections untouched."""
    monkeypatch.setattr(services, "rejection_budget", services.RejectionBudget(5))


@pytest.fixture
def web_source(db) -> tuple[Source, str]:
    return source_create(name="Website", channel="web")


@pytest.fixture
def tracker(client, web_source) -> Tracker:
    return Tracker(client, web_source[1])


@pytest.fixture
def body_tracker(client, web_source) -> Tracker:
    return Tracker(client, web_source[1], key_in="body")


@pytest.fixture
def immediate_tasks(settings):
    """Run queued tasks inline (after the commit), as a worker would right away."""
    settings.TASKS = IMMEDIATE_TASKS


def error_of(response: Any) -> dict[str, Any]:
    return response.json()["error"]


def track(message_id: str, **fields: Any) -> dict[str, Any]:
    """A track message with the fields Segment's libraries always send."""
    return {
        "type": "track",
        "messageId": message_id,
        "anonymousId": "anon-1",
        "event": "Product Viewed",
        "timestamp": "2026-03-01T10:00:00.000Z",
        **fields,
    }
