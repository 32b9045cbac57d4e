"""The tracking endpoints over HTTP: identify, track, page, screen, group, alias, batch.

The same handler serves /api/v1/<kind> (through the Ninja API, so the schema documents it)
and Segment's own paths /v1/<kind> (plain Django views), so Segment's libraries work when
their host points at omnicrm. It is kept thin for speed: read the body (gzip and chunked
uploads as the mobile libraries send them), validate (messages.py), authenticate the write
key, store (store.py), answer. CORS is open to any origin because write keys are public by
design and can only add events; no cookie is read.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from omnicrm.core.errors import ApplicationError
from omnicrm.events import services
from omnicrm.events.ingest.messages import (
    BATCH,
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    TYPES,
    PayloadTooLarge,
    TrackingError,
    parse_request,
)
from omnicrm.events.ingest.store import events_ingest
from omnicrm.events.models import Source
from omnicrm.events.selectors import InvalidWriteKey, source_authenticate

KINDS = frozenset({*TYPES, BATCH})
# Segment's libraries use short paths: analytics.js /v1/t, /v1/p...; iOS and Android /v1/b.
SHORT_PATHS = {
    "i": "identify",
    "t": "track",
    "p": "page",
    "s": "screen",
    "g": "group",
    "a": "alias",
    "b": BATCH,
}
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


class UnsupportedEncoding(TrackingError):
    status = 415
    code = "unsupported_encoding"


class InvalidGzip(TrackingError):
    code = "invalid_gzip"


def _json_response(body: dict[str, Any], status: int) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    for name, value in CORS_HEADERS.items():
        response[name] = value
    return response


def _too_large(size: int | None, kind: str) -> PayloadTooLarge:
    limit = MAX_BATCH_BYTES if kind == BATCH else MAX_EVENT_BYTES
    what = _("a batch") if kind == BATCH else _("one event")
    message = (
        _("the request is %(size)s bytes; %(what)s is at most %(limit)s KB")
        % {"size": size, "what": what, "limit": limit // 1024}
        if size is not None
        else _("the request is larger than %(limit)s KB, the most %(what)s may be")
        % {"limit": limit // 1024, "what": what}
    )
    return PayloadTooLarge(message, extra={"limit_bytes": limit})


def read_body(request: HttpRequest, kind: str) -> bytes:
    """The request body, never reading more than the limit allows.

    A declared Content-Length over the limit is refused before reading. Chunked uploads
    (Segment's Android library streams its batches) carry no length: gunicorn marks their
    input as terminated, so it is read straight from the WSGI stream, up to the limit.
    gzip bodies are inflated with the same bound, so a small bomb cannot grow unchecked.
    """
    limit = MAX_BATCH_BYTES if kind == BATCH else MAX_EVENT_BYTES
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise UnsupportedEncoding(
            _("Content-Encoding %(encoding)s is not supported; send gzip or plain JSON")
            % {"encoding": encoding[:40]}
        )
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.strip():
        try:
            length = int(declared)
        except ValueError:
            raise TrackingError(_("the Content-Length header is not a number")) from None
        if length > limit:
            raise _too_large(length, kind)
        body = request.body
    elif request.META.get("wsgi.input_terminated"):
        body = request.META["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            raise _too_large(None, kind)
    else:
        body = request.body
    if encoding == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise InvalidGzip(
                _("the body is marked Content-Encoding: gzip but is not gzip data")
            ) from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise _too_large(None, kind)
    return body


def header_write_key(request: HttpRequest) -> str:
    """The write key from ``Authorization: Basic base64(writeKey:)``, or "" without one.

    Like Segment, a key encoded without the trailing colon is accepted too. Other schemes
    (Bearer) are not write keys and are ignored, so the body's writeKey can still apply.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidWriteKey(
            _("the Authorization header is not valid Basic credentials (base64 of writeKey:)")
        ) from None
    return decoded.partition(":")[0].strip()


def _reject(
    request: HttpRequest, error: ApplicationError, *, source: Source | None, body: bytes
) -> HttpResponse:
    services.rejection_record(
        source=source,
        status=error.status,
        code=error.code,
        message=error.message,
        field=error.field or "",
        excerpt=body,
    )
    detail: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field:
        detail["field"] = error.field
    detail.update({k: v for k, v in error.extra.items() if k not in detail})
    response = _json_response({"error": detail}, error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="omnicrm tracking"'
    return response


def handle(request: HttpRequest, kind: str) -> HttpResponse:
    """Answer one tracking request of ``kind`` (a message type or ``batch``)."""
    if request.method == "OPTIONS":
        return _preflight()
    if request.method != "POST":
        response = _json_response(
            {
                "error": {
                    "code": "method_not_allowed",
                    "message": _("the tracking endpoints take POST"),
                }
            },
            405,
        )
        response["Allow"] = "POST, OPTIONS"
        return response
    received_at = timezone.now()
    source: Source | None = None
    body = b""
    try:
        body = read_body(request, kind)
        key = header_write_key(request)
        if key:
            # A key in the header is checked first, so unknown senders cost no parsing.
            source = source_authenticate(raw_key=key)
        parsed = parse_request(body=body, kind=kind, received_at=received_at)
        if source is None:
            source = source_authenticate(raw_key=parsed.write_key)
        elif parsed.write_key and parsed.write_key != key:
            raise InvalidWriteKey(
                _("the write key in the Authorization header and writeKey in the body differ")
            )
        result = events_ingest(source=source, rows=parsed.rows, received_at=received_at)
    except ApplicationError as error:
        return _reject(request, error, source=source, body=body)
    services.source_touch(source=source, now=received_at)
    return _json_response(
        {"success": True, "received": result.received, "duplicates": result.duplicates}, 200
    )


def _preflight() -> HttpResponse:
    response = HttpResponse(status=204)
    for name, value in CORS_HEADERS.items():
        response[name] = value
    return response


@csrf_exempt
def segment_view(request: HttpRequest, kind: str) -> HttpResponse:
    """/v1/<kind>: Segment's paths, long (/v1/track) or short (/v1/t, /v1/b)."""
    resolved = SHORT_PATHS.get(kind, kind)
    if resolved not in KINDS:
        return _json_response(
            {
                "error": {
                    "code": "not_found",
                    "message": _("no tracking endpoint %(kind)s") % {"kind": kind[:40]},
                }
            },
            404,
        )
    return handle(request, resolved)
