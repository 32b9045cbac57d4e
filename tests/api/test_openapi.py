"""The API contract: the committed docs/openapi.json must equal the live schema.

When a change to the API is deliberate, refresh the snapshot and commit it with the code:

    omnicrm openapi --write docs/openapi.json
"""

from __future__ import annotations

import difflib
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from omnicrm.api import api
from omnicrm.core.management.commands.openapi import openapi_json

SNAPSHOT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_openapi_snapshot_matches_the_live_schema():
    live = openapi_json()
    committed = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""

    if json.loads(committed or "{}") != json.loads(live):
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    live.splitlines(keepends=True),
                    "docs/openapi.json (committed)",
                    "live schema",
                )
            )[:80]
        )
        pytest.fail(
            "The API contract changed. If that is deliberate, refresh the snapshot with\n"
            "    omnicrm openapi --write docs/openapi.json\n"
            f"and commit it with the code. First lines of the difference:\n{diff}"
        )


def test_the_openapi_command_prints_and_writes_the_same_schema(tmp_path):
    out = StringIO()
    call_command("openapi", stdout=out)
    target = tmp_path / "nested" / "openapi.json"
    call_command("openapi", "--write", str(target), stdout=StringIO())

    assert json.loads(out.getvalue()) == json.loads(target.read_text(encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == openapi_json()


def test_every_operation_needs_a_key_and_lives_under_api_v1():
    schema = json.loads(openapi_json())
    security = {"BearerKey", "HeaderKey"}

    assert schema["paths"]
    for path, operations in schema["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, operation in operations.items():
            schemes = {name for item in operation["security"] for name in item}
            if {"tracking", "personalization"} & set(operation.get("tags", [])):
                # A source's write key, not an API key (docs/tracking.md).
                assert schemes == {"WriteKey"}, (method, path)
                continue
            assert schemes == security, (method, path)
            assert "401" in operation["responses"] and "403" in operation["responses"]


def test_ids_are_strings_and_money_is_a_decimal_string_in_the_schema():
    components = api.get_openapi_schema()["components"]["schemas"]

    for name in ("CustomerOut", "ProductOut", "OrderOut", "ReviewOut"):
        assert components[name]["properties"]["id"]["type"] == "string"
    for name, field in [
        ("ProductOut", "price"),
        ("OrderOut", "total"),
        ("OrderLineOut", "unit_price"),
        ("CustomerSummaryOut", "lifetime_revenue"),
    ]:
        assert components[name]["properties"][field]["type"] == "string"
        assert components[name]["properties"][field]["format"] == "decimal"
