"""/api/v1 tracking endpoints (identify, track, page, screen, group, alias, batch) and the
personalization greeting.

The tracking operations are routed through Ninja so the OpenAPI schema documents them,
but their handler is omnicrm.events.ingest.http.handle, which reads and validates the body
itself (orjson, plain code): Ninja adds no per-event cost. Segment's own paths (/v1/...)
reach the same handler without Ninja (omnicrm/events/urls.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.security import HttpBasicAuth

from omnicrm.core.api_errors import ErrorOut
from omnicrm.core.apikeys import READ, apikey_authenticate, apikey_has_scope
from omnicrm.core.errors import PermissionDenied
from omnicrm.events import personalize
from omnicrm.events.ingest import http
from omnicrm.events.ingest.messages import BATCH
from omnicrm.events.selectors import InvalidWriteKey, source_authenticate


class WriteKey(HttpBasicAuth):
    """A source's write key as the HTTP Basic username, as Segment's libraries send it.

    This class puts the scheme in the OpenAPI schema and lets every request through: the
    handlers authenticate themselves, since Segment also allows the key in the JSON body
    (and the greeting in the query string), which an auth class cannot read first.
    """

    def __call__(self, request: HttpRequest) -> bool:
        return True

    def authenticate(self, request: HttpRequest, username: str, password: str) -> bool:
        return True


router = Router(tags=["tracking"], auth=None)

_ID = {"type": "string", "maxLength": 255}
_OBJECT = {"type": "object", "additionalProperties": True}
_TIME = {"type": "string", "format": "date-time"}
_COMMON = {
    "messageId": {
        "type": "string",
        "maxLength": 100,
        "description": "Unique per source; a message sent twice is stored once.",
    },
    "userId": _ID,
    "anonymousId": _ID,
    "context": {
        **_OBJECT,
        "description": "Segment's context (page, userAgent, locale...). "
        "context.consent.categoryPreferences.tracking (boolean) records tracking consent.",
    },
    "timestamp": {**_TIME, "description": "When it happened (ISO-8601)."},
    "sentAt": {**_TIME, "description": "When the device sent it; corrects clock skew."},
    "integrations": _OBJECT,
    "writeKey": {
        "type": "string",
        "description": "The source's write key, when it is not sent as HTTP Basic username.",
    },
}
MESSAGE_FIELDS: dict[str, dict[str, Any]] = {
    "identify": {"traits": _OBJECT},
    "track": {"event": {"type": "string", "maxLength": 200}, "properties": _OBJECT},
    "page": {"name": {"type": "string"}, "category": {"type": "string"}, "properties": _OBJECT},
    "screen": {"name": {"type": "string"}, "category": {"type": "string"}, "properties": _OBJECT},
    "group": {"groupId": _ID, "traits": _OBJECT},
    "alias": {"previousId": _ID},
}
REQUIRED = {"track": ["event"], "alias": ["previousId", "userId"], "group": ["groupId"]}
SUMMARIES = {
    "identify": "Identify a user and record their traits",
    "track": "Record an action (Product Viewed, Order Completed...)",
    "page": "Record a page view",
    "screen": "Record an app screen view",
    "group": "Associate a user with a group",
    "alias": "Join a previous id to a user id",
    "batch": "Send up to 500 KB of messages of any type at once",
}
DESCRIPTION = """Segment HTTP Tracking API compatible; the same endpoint is served at
Segment's path /v1/{kind} (and /v1/b, /v1/t... as Segment's libraries use). Authenticate
with a source's write key as HTTP Basic username (`Authorization: Basic base64(writeKey:)`)
or as `writeKey` in the body. Answers 200 only once the events are durably stored. Limits:
32 KB per event, 500 KB per batch. Cross-origin POSTs are allowed (CORS, no cookies).
userId or anonymousId is required (alias: previousId and userId). See docs/tracking.md."""


def _message_schema(kind: str | None) -> dict[str, Any]:
    properties = dict(_COMMON)
    if kind is None:
        properties["type"] = {"type": "string", "enum": sorted(MESSAGE_FIELDS)}
        for fields in MESSAGE_FIELDS.values():
            properties.update(fields)
        return {"type": "object", "properties": properties, "required": ["type"]}
    properties.update(MESSAGE_FIELDS[kind])
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if kind in REQUIRED:
        schema["required"] = REQUIRED[kind]
    return schema


def _body_schema(kind: str) -> dict[str, Any]:
    if kind != BATCH:
        return _message_schema(kind)
    return {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array", "items": _message_schema(None), "minItems": 1},
            "context": {**_OBJECT, "description": "Merged into each message's context."},
            "sentAt": _TIME,
            "writeKey": _COMMON["writeKey"],
        },
    }


class TrackOut(Schema):
    success: bool = Field(..., examples=[True])
    received: int = Field(..., description="Messages in the request.")
    duplicates: int = Field(..., description="Messages already stored (a retry); not stored again.")


def _operation(kind: str) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        return http.handle(request, kind)

    view.__name__ = f"tracking_{kind}"
    view.__doc__ = SUMMARIES[kind]
    return view


for _kind in (*MESSAGE_FIELDS, BATCH):
    _view = _operation(_kind)
    router.add_api_operation(
        f"/{_kind}",
        ["POST"],
        _view,
        auth=WriteKey(),
        response={200: TrackOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut, 415: ErrorOut},
        operation_id=f"tracking_{_kind}",
        summary=SUMMARIES[_kind],
        description=DESCRIPTION,
        url_name=f"tracking_{_kind}",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _body_schema(_kind)}},
            },
        },
    )
    # Browsers ask before a cross-origin POST with a JSON body or an Authorization header.
    router.add_api_operation(f"/{_kind}", ["OPTIONS"], _view, auth=None, include_in_schema=False)


class GreetingQuery(Schema):
    anonymousId: str = Field("", max_length=255, description="The visitor's anonymous id.")
    userId: str = Field(
        "",
        max_length=255,
        description="With a write key, only together with the visitor's anonymousId.",
    )
    language: str = Field("", max_length=20, description="The page's language (en, vi, zh-hans).")
    writeKey: str = Field("", max_length=200, description="A source's write key.")


class GreetingOut(Schema):
    greeting: str = Field(..., examples=["Welcome back, Hà"])
    known: bool
    language: str = Field(..., examples=["vi"])


def _trusted(request: HttpRequest, write_key: str) -> bool:
    """True for an API key with the read scope, False for a valid write key; else 401."""
    bearer = request.META.get("HTTP_AUTHORIZATION", "")
    raw_api_key = request.META.get("HTTP_X_API_KEY", "")
    if bearer.lower().startswith("bearer "):
        raw_api_key = bearer[7:]
    if raw_api_key.strip():
        api_key = apikey_authenticate(raw_key=raw_api_key)
        if not apikey_has_scope(api_key, READ):
            raise PermissionDenied(_("this API key lacks the read scope the greeting needs"))
        return True
    raw_write_key = http.header_write_key(request) or write_key
    if not raw_write_key:
        raise InvalidWriteKey(
            _("send a write key (writeKey query parameter or HTTP Basic) or an API key")
        )
    source_authenticate(raw_key=raw_write_key)
    return False


@router.get(
    "/personalize/greeting",
    auth=WriteKey(),
    tags=["personalization"],
    response={200: GreetingOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    summary="The greeting for a visitor: 'Welcome back, Hà' or a neutral one",
)
def personalize_greeting(
    request: HttpRequest, response: HttpResponse, query: Query[GreetingQuery]
) -> GreetingOut:
    """Greets a returning visitor by first name in their language; an unknown visitor, or
    one who withdrew tracking consent, gets a neutral greeting. With a write key (from the
    page, `writeKey` in the query) the visitor is named by `anonymousId`; with an API key
    (`read` scope, from the shop's server) a `userId` alone is enough. Cross-origin GETs
    are allowed."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Vary"] = "Accept-Language"
    response["Cache-Control"] = "private, no-store"
    trusted = _trusted(request, query.writeKey)
    result = personalize.greeting_for(
        anonymous_id=query.anonymousId.strip(),
        user_id=query.userId.strip(),
        trusted=trusted,
        language=query.language,
        fallback_language=getattr(request, "LANGUAGE_CODE", ""),
    )
    return GreetingOut(greeting=result.greeting, known=result.known, language=result.language)
