"""Writes of the events app: sources and their write keys, re-pointing events between
profiles, and the bounded log of rejected requests.

Storing events (the hot path) lives in omnicrm.events.ingest.store; processing them in
omnicrm.events.processing.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.core.errors import NotFound, ValidationFailed
from omnicrm.core.secret_keys import secret_key_issue
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.events.models import Event, RejectedEvent, Source, SourceChannel

WRITE_KEY_NAMESPACE = "wk"
SECRET_BYTES = 24
# The live view needs the latest few; keeping more would only let garbage fill the table.
REJECTIONS_KEPT = 200
# Rejected requests one process records per second and source; the rest are only counted.
REJECTIONS_PER_SECOND = 5
LAST_EVENT_RESOLUTION = timedelta(minutes=1)
_WRITE_KEY_IN_BODY = re.compile(r'("writeKey"\s*:\s*)"[^"]*"?')


def source_create(*, name: str, channel: str, actor: Actor = None) -> tuple[Source, str]:
    """Create a source and return it with its write key, which is never shown again."""
    clean_name = (name or "").strip()
    if not clean_name:
        raise ValidationFailed(_("a source needs a name"), field="name")
    if len(clean_name) > 100:
        raise ValidationFailed(_("the name is at most 100 characters"), field="name")
    clean_channel = (channel or "").strip().lower()
    if clean_channel not in SourceChannel.values:
        raise ValidationFailed(
            _("unknown channel %(channel)s; the channels are %(channels)s")
            % {"channel": channel, "channels": ", ".join(SourceChannel.values)},
            field="channel",
        )
    user = actor if actor is not None and actor.is_authenticated else None

    def create(prefix: str, key_hash: str) -> Source:
        source = Source.objects.create(
            name=clean_name,
            channel=clean_channel,
            prefix=prefix,
            key_hash=key_hash,
            created_by=user,
        )
        audit_log_write(
            action="source.create",
            object_type="source",
            object_id=prefix,
            actor=actor,
            data={"name": clean_name, "channel": clean_channel},
        )
        return source

    return secret_key_issue(
        namespace=WRITE_KEY_NAMESPACE, secret_bytes=SECRET_BYTES, create=create, what="write key"
    )


def source_revoke(*, prefix: str, actor: Actor = None) -> Source:
    """Revoke a source's write key for good; its events stay. Revoking twice is harmless."""
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(prefix=(prefix or "").strip()).first()
        if source is None:
            raise NotFound(
                _("no source with key prefix %(prefix)s") % {"prefix": prefix}, field="prefix"
            )
        if source.revoked_at is None:
            source.revoked_at = timezone.now()
            source.save(update_fields=["revoked_at", "updated_at"])
            audit_log_write(
                action="source.revoke", object_type="source", object_id=source.prefix, actor=actor
            )
    return source


def source_touch(*, source: Source, now: datetime) -> None:
    """Remember that ``source`` just sent events, at most once a minute per source."""
    if source.last_event_at is not None and now - source.last_event_at < LAST_EVENT_RESOLUTION:
        return
    # The filter repeats the condition so concurrent workers write at most once.
    Source.objects.filter(pk=source.pk).exclude(
        last_event_at__gt=now - LAST_EVENT_RESOLUTION
    ).update(last_event_at=now)
    source.last_event_at = now


def events_repoint(*, from_customer_id: int, to_customer_id: int) -> list[int]:
    """Move every event of one profile to another (a merge); returns the moved event ids."""
    with transaction.atomic():
        ids = list(
            Event.objects.select_for_update()
            .filter(customer_id=from_customer_id)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if ids:
            Event.objects.filter(id__in=ids).update(customer_id=to_customer_id)
    return ids


def events_assign(*, event_ids: list[int], customer_id: int) -> int:
    """Point the given events at a profile (a split gives events back); returns how many."""
    if not event_ids:
        return 0
    with transaction.atomic():
        return Event.objects.filter(id__in=list(event_ids)).update(customer_id=customer_id)


class RejectionBudget:
    """Per process and source: how many rejections may be written this second, and how
    many were written in all (every TRIM_EVERY-th write trims the log)."""

    TRIM_EVERY = 20

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.lock = threading.Lock()
        self.windows: dict[int | None, tuple[int, int]] = {}
        self.written: dict[int | None, int] = {}

    def take(self, source_id: int | None) -> bool:
        second = int(time.monotonic())
        with self.lock:
            window, used = self.windows.get(source_id, (second, 0))
            if window != second:
                window, used = second, 0
            if used >= self.per_second:
                return False
            self.windows[source_id] = (window, used + 1)
            self.written[source_id] = self.written.get(source_id, 0) + 1
            return True

    def trim_due(self, source_id: int | None) -> bool:
        return self.written.get(source_id, 0) % self.TRIM_EVERY == 1


rejection_budget = RejectionBudget(REJECTIONS_PER_SECOND)


def rejection_record(
    *,
    source: Source | None,
    status: int,
    code: str,
    message: str,
    field: str = "",
    excerpt: bytes = b"",
) -> RejectedEvent | None:
    """Log a refused request for the console's live view, cheaply and within bounds.

    Returns None when this process already wrote its share for the source this second.
    A process's first row for a source, and every 20th after it, also trims the source's
    log to the newest REJECTIONS_KEPT, so the table stays bounded whatever is sent.
    """
    source_id = source.pk if source is not None else None
    if not rejection_budget.take(source_id):
        return None
    # The key's secret never goes into the log, even when a client sent it in the body.
    text = _WRITE_KEY_IN_BODY.sub(r'\1"wk_…"', excerpt[:600].decode("utf-8", errors="replace"))
    row = RejectedEvent.objects.create(
        source_id=source_id,
        status=status,
        code=code[:40],
        message=message[:300],
        field=(field or "")[:100],
        excerpt=text[:300],
        received_at=timezone.now(),
    )
    if rejection_budget.trim_due(source_id):
        same_source = RejectedEvent.objects.filter(source=source)
        cutoff = same_source.order_by("-id").values_list("id", flat=True)[
            REJECTIONS_KEPT : REJECTIONS_KEPT + 1
        ]
        oldest_kept = list(cutoff)
        if oldest_kept:
            same_source.filter(id__lte=oldest_kept[0]).delete()
    return row
