"""`omnicrm source create|list|revoke`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from omnicrm.core.models import AuditLog
from omnicrm.events.models import Source
from omnicrm.events.selectors import source_authenticate

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("source", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_write_key_once_and_stores_only_its_hash():
    output = run("create", "--channel", "web", "--name", "Website")

    key = next(line for line in output.splitlines() if line.startswith("wk_"))
    source = Source.objects.get()
    assert (source.name, source.channel) == ("Website", "web")
    assert f"key prefix {source.prefix}" in output
    assert key not in source.key_hash and source.key_hash != key
    assert source_authenticate(raw_key=key) == source
    assert AuditLog.objects.filter(action="source.create", object_id=source.prefix).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channel", "fax", "--name", "Old"], "--channel: unknown channel fax"),
        (["--channel", "web", "--name", "  "], "--name: a source needs a name"),
    ],
)
def test_create_names_the_bad_option(args, message):
    with pytest.raises(CommandError, match=message):
        run("create", *args)
    assert Source.objects.count() == 0


def test_list_shows_channel_prefix_and_status():
    run("create", "--channel", "pos", "--name", "Store till")
    web = run("create", "--channel", "web", "--name", "Website")
    prefix = next(line for line in web.splitlines() if line.startswith("wk_")).split("_")[1]
    run("revoke", prefix)

    listing = run("list").splitlines()
    active_only = run("list", "--active")

    assert listing[0].split()[:3] == ["PREFIX", "CHANNEL", "NAME"]
    rows = {line.split()[0]: line for line in listing[1:]}
    assert "revoked" in rows[prefix]
    assert any("pos" in row and "Store till" in row and "active" in row for row in rows.values())
    assert prefix not in active_only


def test_list_without_sources_says_how_to_create_one():
    assert "omnicrm source create" in run("list")


def test_revoke_makes_the_key_fail_and_twice_is_harmless():
    output = run("create", "--channel", "voice", "--name", "Voice reorders")
    key = next(line for line in output.splitlines() if line.startswith("wk_"))
    prefix = key.split("_")[1]

    first = run("revoke", prefix)
    second = run("revoke", prefix)

    assert "requests now get 401" in first
    assert "already revoked" in second
    with pytest.raises(Exception, match="revoked"):
        source_authenticate(raw_key=key)


def test_revoke_an_unknown_prefix_is_an_error():
    with pytest.raises(CommandError, match="no source with key prefix nope"):
        run("revoke", "nope")
