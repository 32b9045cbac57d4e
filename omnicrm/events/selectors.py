"""Reads of the events app: write-key authentication, sources, the live view, the
Customer 360 timeline and the per-customer signals recommendations read."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from omnicrm.core.apikeys import KEY_NAMESPACE as API_KEY_NAMESPACE
from omnicrm.core.errors import ApplicationError, NotFound
from omnicrm.core.secret_keys import secret_key_hash
from omnicrm.events.models import Event, EventType, RejectedEvent, Source

WRITE_KEY_NAMESPACE = "wk"


class InvalidWriteKey(ApplicationError):
    """The request carries no usable write key."""

    status = 401
    code = "invalid_write_key"


class RevokedWriteKey(InvalidWriteKey):
    code = "revoked_write_key"


def source_authenticate(*, raw_key: str) -> Source:
    """The live source whose write key is ``raw_key``, or InvalidWriteKey.

    As with API keys the public prefix finds the row and a constant-time hash comparison
    decides. An API key is refused here, just as a write key is refused by the API.
    """
    key = (raw_key or "").strip()
    if not key:
        raise InvalidWriteKey(
            _(
                "a write key is required: send it as the HTTP Basic username "
                "(Authorization: Basic base64(writeKey:)) or as writeKey in the JSON body"
            )
        )
    parts = key.split("_", 2)
    if parts[0] == API_KEY_NAMESPACE:
        raise InvalidWriteKey(
            _(
                "this is an API key; the tracking endpoints take a source's write key "
                "(wk_...), created with `omnicrm source create`"
            )
        )
    if len(parts) != 3 or parts[0] != WRITE_KEY_NAMESPACE or not parts[1] or not parts[2]:
        raise InvalidWriteKey(
            _("the write key is malformed; write keys look like wk_<prefix>_<secret>")
        )
    source = Source.objects.filter(prefix=parts[1]).first()
    candidate = secret_key_hash(key)
    stored = source.key_hash if source is not None else "0" * len(candidate)
    if not hmac.compare_digest(stored.encode("ascii"), candidate.encode("ascii")) or source is None:
        raise InvalidWriteKey(_("the write key is not valid"))
    if source.revoked_at is not None:
        raise RevokedWriteKey(
            _("the write key of source %(name)s was revoked") % {"name": source.name}
        )
    return source


def source_list(*, include_revoked: bool = True) -> QuerySet[Source]:
    qs = Source.objects.select_related("created_by").order_by("-created_at", "-id")
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs


def source_get(*, prefix: str) -> Source:
    try:
        return Source.objects.get(prefix=prefix)
    except Source.DoesNotExist:
        raise NotFound(
            _("no source with key prefix %(prefix)s") % {"prefix": prefix}, field="prefix"
        ) from None


def source_latest_events(*, source: Source, limit: int = 20) -> list[Event]:
    """The newest events a source sent, for the live view (uses event_source_latest)."""
    return list(
        Event.objects.filter(source=source).select_related("customer").order_by("-id")[:limit]
    )


def source_latest_rejections(*, source: Source | None, limit: int = 20) -> list[RejectedEvent]:
    """The newest refused requests of a source; None gives those with no usable key."""
    if source is None:
        qs = RejectedEvent.objects.filter(source__isnull=True)
    else:
        qs = RejectedEvent.objects.filter(source=source)
    return list(qs.order_by("-id")[:limit])


@dataclass(frozen=True)
class TimelineFilters:
    channel: str = ""
    type: str = ""
    event: str = ""


def event_timeline(*, customer_id: int, filters: TimelineFilters | None = None) -> QuerySet[Event]:
    """A customer's events newest first, across channels, optionally filtered.

    ``type`` is a Segment message type (track, page...); ``event`` an event name.
    """
    qs = Event.objects.filter(customer_id=customer_id).select_related("source")
    chosen = filters or TimelineFilters()
    if chosen.channel:
        qs = qs.filter(channel=chosen.channel)
    if chosen.type:
        qs = qs.filter(type=chosen.type)
    if chosen.event:
        qs = qs.filter(event=chosen.event)
    return qs.order_by("-timestamp", "-id")


def event_timeline_choices(*, customer_id: int) -> dict[str, list[str]]:
    """The channels and types a customer's events actually have, for the filter menus."""
    qs = Event.objects.filter(customer_id=customer_id)
    return {
        "channels": sorted(set(qs.values_list("channel", flat=True).distinct())),
        "types": sorted(set(qs.values_list("type", flat=True).distinct())),
    }


PRODUCT_VIEWED = "Product Viewed"
PRODUCTS_SEARCHED = "Products Searched"


def customer_product_views(
    *, customer_id: int, since: datetime | None = None, limit: int = 50
) -> list[dict[str, object]]:
    """What the customer looked at, newest first: one dict per Product Viewed event with
    ``product_id``, ``sku``, ``name`` (as the site sent them) and ``at``."""
    qs = Event.objects.filter(customer_id=customer_id, type=EventType.TRACK, event=PRODUCT_VIEWED)
    if since is not None:
        qs = qs.filter(timestamp__gte=since)
    views = []
    for properties, at in qs.order_by("-timestamp", "-id").values_list("properties", "timestamp")[
        :limit
    ]:
        props = properties if isinstance(properties, dict) else {}
        views.append(
            {
                "product_id": str(props.get("product_id") or ""),
                "sku": str(props.get("sku") or ""),
                "name": str(props.get("name") or ""),
                "at": at,
            }
        )
    return views


def customer_searches(
    *, customer_id: int, since: datetime | None = None, limit: int = 50
) -> list[dict[str, object]]:
    """What the customer searched for, newest first: ``query`` and ``at``."""
    qs = Event.objects.filter(
        customer_id=customer_id, type=EventType.TRACK, event=PRODUCTS_SEARCHED
    )
    if since is not None:
        qs = qs.filter(timestamp__gte=since)
    return [
        {"query": str((props or {}).get("query") or ""), "at": at}
        for props, at in qs.order_by("-timestamp", "-id").values_list("properties", "timestamp")[
            :limit
        ]
    ]
