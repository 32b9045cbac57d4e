"""Parse and validate Segment-style tracking requests into rows for the event store.

This is the hot path of ingestion, so it is plain code over the dicts orjson returns: no
pydantic model and no ORM object per event. Every refusal names the field, with the event's
position in a batch ("batch.3.userId"), as the API's other errors do.

Field names and rules follow Segment's HTTP Tracking API: ``type``, ``userId``,
``anonymousId``, ``previousId``, ``event``, ``name``, ``properties``, ``traits``,
``context``, ``timestamp``, ``sentAt``, ``messageId``, ``writeKey``; unknown fields
(``integrations``, ``_metadata``...) are accepted and ignored, as Segment does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from django.utils.translation import gettext as _

from omnicrm.core.errors import ApplicationError
from omnicrm.events.models import EventType

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_MESSAGE_ID = 100
MAX_ID = 255
MAX_EVENT_NAME = 200
TYPES = frozenset(EventType.values)
BATCH = "batch"


class TrackingError(ApplicationError):
    """A refused tracking request. Segment answers 400 to what it cannot accept."""

    status = 400
    code = "invalid_event"


class InvalidJson(TrackingError):
    code = "invalid_json"


class PayloadTooLarge(TrackingError):
    status = 413
    code = "payload_too_large"


class EventTooLarge(TrackingError):
    code = "event_too_large"


@dataclass(frozen=True, slots=True)
class Row:
    """One event ready for the store, columns in the store's order."""

    message_id: str
    type: str
    event: str
    user_id: str
    anonymous_id: str
    previous_id: str
    properties: str
    traits: str
    context: str
    timestamp: datetime
    original_timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    write_key: str
    rows: list[Row]


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(
            _("the request body is not valid JSON: %(reason)s") % {"reason": str(exc)}
        ) from None


def _where(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def _wrong_type(field: str, expected: str) -> TrackingError:
    return TrackingError(
        _("%(field)s must be %(expected)s") % {"field": field, "expected": expected},
        field=field,
    )


def _identifier(message: dict[str, Any], key: str, prefix: str) -> str:
    value = message.get(key)
    if value is None:
        return ""
    # Segment's libraries send ids as strings; numeric user ids are common and unambiguous.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    elif not isinstance(value, str):
        raise _wrong_type(_where(prefix, key), _("a string"))
    if "\x00" in value:
        raise _nul(_where(prefix, key))
    if len(value) > MAX_ID:
        raise TrackingError(
            _("%(field)s is at most %(n)s characters")
            % {"field": _where(prefix, key), "n": MAX_ID},
            field=_where(prefix, key),
        )
    return value.strip()


def _object(message: dict[str, Any], key: str, prefix: str) -> dict[str, Any]:
    value = message.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong_type(_where(prefix, key), _("an object"))
    return value


def parse_timestamp(value: Any, prefix: str, key: str) -> datetime | None:
    """ISO-8601 text to an aware datetime; a value without an offset is taken as UTC."""
    if value is None:
        return None
    field = prefix + key
    if not isinstance(value, str):
        raise _wrong_type(field, _("an ISO-8601 date-time string"))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TrackingError(
            _("%(field)s is not an ISO-8601 date-time: %(value)s")
            % {"field": field, "value": value[:40]},
            field=field,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def corrected_timestamp(
    *, timestamp: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """When the event happened, on the server's clock.

    As Segment does: a device whose clock is off stamps both ``timestamp`` and ``sentAt``
    with the same error, so ``timestamp + (receivedAt - sentAt)`` removes it (network time
    is counted as skew, a few hundred milliseconds at most). Without ``sentAt`` the
    timestamp is trusted; without a timestamp the event happened when it was received.
    Raises OverflowError when the correction leaves the representable range.
    """
    if timestamp is None:
        return received_at
    if sent_at is None:
        return timestamp
    return timestamp + (received_at - sent_at)


def _nul(field: str) -> TrackingError:
    # PostgreSQL's text and jsonb cannot hold U+0000; refusing it here keeps both databases
    # equal and turns what would be a 500 into a 400 naming the field.
    return TrackingError(
        _("%(field)s contains the NUL character (U+0000), which cannot be stored")
        % {"field": field},
        field=field,
    )


def _json(value: dict[str, Any], prefix: str, key: str) -> str:
    if not value:
        return "{}"
    text = orjson.dumps(value).decode()
    # The cheap test can be fooled by an escaped backslash before "u0000"; the walk decides.
    if "\\u0000" in text and _holds_nul(value):
        raise _nul(prefix + key)
    return text


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def clean_message(
    message: Any,
    *,
    kind: str | None,
    prefix: str,
    received_at: datetime,
    batch_context: dict[str, Any] | None = None,
    batch_sent_at: datetime | None = None,
) -> Row:
    """One message to a Row. ``kind`` is the endpoint's type, None inside a batch."""
    if not isinstance(message, dict):
        raise _wrong_type(prefix.rstrip(".") or "body", _("a JSON object"))
    given_type = message.get("type")
    if kind is None:
        if given_type is None:
            raise TrackingError(
                _("%(field)s is required: one of %(types)s")
                % {"field": _where(prefix, "type"), "types": ", ".join(sorted(TYPES))},
                field=_where(prefix, "type"),
            )
        if given_type not in TYPES:
            raise TrackingError(
                _("%(field)s must be one of %(types)s, not %(value)s")
                % {
                    "field": _where(prefix, "type"),
                    "types": ", ".join(sorted(TYPES)),
                    "value": str(given_type)[:40],
                },
                field=_where(prefix, "type"),
            )
        event_type = given_type
    else:
        if given_type is not None and given_type != kind:
            raise TrackingError(
                _("type is %(value)s but this endpoint takes %(kind)s")
                % {"value": str(given_type)[:40], "kind": kind},
                field="type",
            )
        event_type = kind

    user_id = _identifier(message, "userId", prefix)
    anonymous_id = _identifier(message, "anonymousId", prefix)
    previous_id = ""
    if event_type == EventType.ALIAS:
        previous_id = _identifier(message, "previousId", prefix)
        for key, value in (("previousId", previous_id), ("userId", user_id)):
            if not value:
                raise TrackingError(
                    _("%(field)s is required for alias") % {"field": _where(prefix, key)},
                    field=_where(prefix, key),
                )
    elif not user_id and not anonymous_id:
        raise TrackingError(
            _("%(field)s or anonymousId is required") % {"field": _where(prefix, "userId")},
            field=_where(prefix, "userId"),
        )

    properties = _object(message, "properties", prefix)
    traits = _object(message, "traits", prefix)
    context = _object(message, "context", prefix)
    if batch_context:
        # The batch's context applies to every event; an event's own keys win.
        context = {**batch_context, **context}

    name = ""
    if event_type == EventType.TRACK:
        raw = message.get("event")
        if not isinstance(raw, str) or not raw.strip():
            field = _where(prefix, "event")
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                raise TrackingError(
                    _("%(field)s is required for track") % {"field": field}, field=field
                )
            raise _wrong_type(field, _("a string"))
        name = raw.strip()
    elif event_type in (EventType.PAGE, EventType.SCREEN):
        raw = message.get("name")
        if raw is not None and not isinstance(raw, str):
            raise _wrong_type(_where(prefix, "name"), _("a string"))
        name = (raw or "").strip()
        category = message.get("category")
        if category is not None:
            if not isinstance(category, str):
                raise _wrong_type(_where(prefix, "category"), _("a string"))
            properties = {"category": category, **properties}
    elif event_type == EventType.GROUP:
        group_id = _identifier(message, "groupId", prefix)
        if not group_id:
            field = _where(prefix, "groupId")
            raise TrackingError(
                _("%(field)s is required for group") % {"field": field}, field=field
            )
        properties = {"groupId": group_id, **properties}
    if "\x00" in name:
        raise _nul(_where(prefix, "event" if event_type == EventType.TRACK else "name"))
    if len(name) > MAX_EVENT_NAME:
        field = _where(prefix, "event" if event_type == EventType.TRACK else "name")
        raise TrackingError(
            _("%(field)s is at most %(n)s characters") % {"field": field, "n": MAX_EVENT_NAME},
            field=field,
        )

    message_id = message.get("messageId")
    if message_id is None or message_id == "":
        # Segment's libraries always send one; without it a retry cannot be recognised.
        message_id = f"omnicrm-{uuid.uuid4()}"
    elif not isinstance(message_id, str):
        raise _wrong_type(_where(prefix, "messageId"), _("a string"))
    elif "\x00" in message_id:
        raise _nul(_where(prefix, "messageId"))
    elif len(message_id) > MAX_MESSAGE_ID:
        field = _where(prefix, "messageId")
        raise TrackingError(
            _("%(field)s is at most %(n)s characters") % {"field": field, "n": MAX_MESSAGE_ID},
            field=field,
        )

    ts_field = "timestamp" if "timestamp" in message else "originalTimestamp"
    timestamp = parse_timestamp(message.get(ts_field), prefix, ts_field)
    sent_at = parse_timestamp(message.get("sentAt"), prefix, "sentAt") or batch_sent_at
    try:
        corrected = corrected_timestamp(
            timestamp=timestamp, sent_at=sent_at, received_at=received_at
        )
    except OverflowError:
        raise TrackingError(
            _("%(field)s is out of range once corrected with sentAt")
            % {"field": prefix + ts_field},
            field=prefix + ts_field,
        ) from None
    return Row(
        message_id=message_id,
        type=event_type,
        event=name,
        user_id=user_id,
        anonymous_id=anonymous_id,
        previous_id=previous_id,
        properties=_json(properties, prefix, "properties"),
        traits=_json(traits, prefix, "traits"),
        context=_json(context, prefix, "context"),
        timestamp=corrected,
        original_timestamp=timestamp if timestamp != corrected else None,
    )


def _write_key(payload: dict[str, Any]) -> str:
    key = payload.get("writeKey")
    if key is None:
        return ""
    if not isinstance(key, str):
        raise _wrong_type("writeKey", _("a string"))
    return key.strip()


def parse_request(*, body: bytes, kind: str, received_at: datetime) -> ParsedRequest:
    """Validate a whole request; the first problem refuses it, nothing half-applies.

    ``kind`` is the endpoint: a message type, or ``batch``. Raises TrackingError.
    """
    limit = MAX_BATCH_BYTES if kind == BATCH else MAX_EVENT_BYTES
    if len(body) > limit:
        raise PayloadTooLarge(
            _("the request is %(size)s bytes; %(what)s takes at most %(limit)s KB")
            % {
                "size": len(body),
                "what": kind,
                "limit": limit // 1024,
            },
            extra={"limit_bytes": limit},
        )
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise TrackingError(_("the request body must be a JSON object"), field="body")
    write_key = _write_key(payload)
    if kind != BATCH:
        return ParsedRequest(
            write_key=write_key,
            rows=[clean_message(payload, kind=kind, prefix="", received_at=received_at)],
        )

    items = payload.get("batch")
    if items is None:
        raise TrackingError(_("batch is required: a list of messages"), field="batch")
    if not isinstance(items, list):
        raise _wrong_type("batch", _("a list of messages"))
    if not items:
        raise TrackingError(_("batch is empty"), field="batch")
    batch_context = _object(payload, "context", "")
    batch_sent_at = parse_timestamp(payload.get("sentAt"), "", "sentAt")
    check_sizes = len(body) > MAX_EVENT_BYTES
    rows = []
    for index, item in enumerate(items):
        prefix = f"batch.{index}."
        # A batch under 32 KB cannot hold an event over 32 KB: skip the re-serialisation.
        if check_sizes:
            size = len(orjson.dumps(item))
            if size > MAX_EVENT_BYTES:
                raise EventTooLarge(
                    _("event batch.%(index)s is %(size)s bytes; an event is at most 32 KB")
                    % {"index": index, "size": size},
                    field=f"batch.{index}",
                    extra={"limit_bytes": MAX_EVENT_BYTES},
                )
        rows.append(
            clean_message(
                item,
                kind=None,
                prefix=prefix,
                received_at=received_at,
                batch_context=batch_context,
                batch_sent_at=batch_sent_at,
            )
        )
    return ParsedRequest(write_key=write_key, rows=rows)
