"""Sources and the bounded log of rejected requests."""

from __future__ import annotations

import math
import time

import pytest

from omnicrm.core.errors import NotFound, ValidationFailed
from omnicrm.core.models import AuditLog
from omnicrm.events import services
from omnicrm.events.models import RejectedEvent
from omnicrm.events.selectors import RevokedWriteKey, source_authenticate
from omnicrm.events.services import rejection_record, source_create, source_revoke
from tests.events.conftest import Tracker

pytestmark = pytest.mark.django_db


def test_a_source_key_is_shown_once_and_stored_as_a_hash(django_user_model):
    staff = django_user_model.objects.create_user("ops")

    source, key = source_create(name="  Store till ", channel="POS", actor=staff)

    assert (source.name, source.channel, source.created_by) == ("Store till", "pos", staff)
    assert key.startswith(f"wk_{source.prefix}_") and len(key) > 40
    assert key not in source.key_hash
    assert AuditLog.objects.get(action="source.create").actor == staff


@pytest.mark.parametrize(
    ("name", "channel", "field"),
    [("", "web", "name"), ("x" * 101, "web", "name"), ("Fax", "fax", "channel")],
)
def test_source_create_refuses_bad_input_naming_the_field(name, channel, field):
    with pytest.raises(ValidationFailed) as error:
        source_create(name=name, channel=channel)
    assert error.value.field == field


def test_revoking_keeps_the_source_and_refuses_its_key():
    source, key = source_create(name="Website", channel="web")

    source_revoke(prefix=source.prefix)

    source.refresh_from_db()
    assert source.revoked_at is not None
    with pytest.raises(RevokedWriteKey):
        source_authenticate(raw_key=key)
    with pytest.raises(NotFound):
        source_revoke(prefix="nope")


def test_one_process_writes_at_most_five_rejections_per_source_per_second():
    budget = services.RejectionBudget(5)

    allowed = [budget.take(1) for _ in range(8)]

    assert allowed == [True] * 5 + [False] * 3
    assert budget.take(2) is True


def test_the_rejection_log_is_trimmed_to_the_newest_rows_per_source(monkeypatch, web_source):
    monkeypatch.setattr(services, "rejection_budget", services.RejectionBudget(1000))
    monkeypatch.setattr(services, "REJECTIONS_KEPT", 5)
    source = web_source[0]
    for i in range(21):
        rejection_record(source=source, status=400, code="invalid_event", message=f"bad {i}")
    rejection_record(source=None, status=401, code="invalid_write_key", message="who?")

    kept = list(RejectedEvent.objects.filter(source=source).values_list("message", flat=True))
    assert kept == [f"bad {i}" for i in range(20, 15, -1)]
    assert RejectedEvent.objects.filter(source__isnull=True).count() == 1


def test_a_flood_of_garbage_writes_only_a_few_rows(client, web_source):
    tracker = Tracker(client, web_source[1])
    started = time.monotonic()

    for _ in range(40):
        assert tracker.post("/v1/batch", "{garbage").status_code == 400

    # Five per second per process, in each second the loop touched.
    seconds_touched = math.ceil(time.monotonic() - started) + 1
    assert 5 <= RejectedEvent.objects.count() <= min(40, 5 * seconds_touched)
