"""The API's one error handler: every failure becomes {"error": {"code", "message", ...}}.

Domain errors (ApplicationError) keep their status and code; request validation becomes
422 naming each bad field with a dotted path ("lines.0.quantity"); a missing key is 401.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from omnicrm.core.errors import ApplicationError

# Where Ninja found the bad value; the first element of a pydantic "loc".
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


def error_body(
    code: str,
    message: str,
    *,
    field: str | None = None,
    fields: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    if fields is not None:
        error["fields"] = fields
    if extra:
        error.update({k: v for k, v in extra.items() if k not in error})
    return {"error": error}


def field_path(loc: tuple[Any, ...] | list[Any], *, single_body_param: bool = True) -> str:
    """("body", "payload", "lines", 0, "quantity") -> "lines.0.quantity"."""
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        source = parts.pop(0)
        # Ninja nests a body under the handler's parameter name; clients never see it.
        if source == "body" and single_body_param and len(parts) > 1:
            parts.pop(0)
    return ".".join(str(p) for p in parts) or "body"


def _validation_fields(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    fields = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", _("invalid value")))
        if error.get("type") == "extra_forbidden":
            message = _("unknown field")
        elif error.get("type") == "missing":
            message = _("this field is required")
        fields.append({"field": field_path(loc), "message": message})
    return fields


def install_error_handlers(api: NinjaAPI) -> None:
    """Register the handlers on `api`; called once where the NinjaAPI is built."""

    def render(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
        return api.create_response(request, body, status=status)

    def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
        fields = None
        if exc.status == 422 and exc.field:
            fields = [{"field": exc.field, "message": exc.message}]
        response = render(
            request,
            exc.status,
            error_body(exc.code, exc.message, field=exc.field, fields=fields, extra=exc.extra),
        )
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="omnicrm", error="invalid_token"'
        return response

    def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        fields = _validation_fields(exc.errors)
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        message = _("the request is invalid: %(summary)s") % {"summary": summary}
        return render(request, 422, error_body("validation_error", message, fields=fields))

    def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        message = _(
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
        response = render(request, 401, error_body("missing_api_key", message))
        response["WWW-Authenticate"] = 'Bearer realm="omnicrm"'
        return response

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {
            400: "bad_request",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            429: "throttled",
        }
        code = codes.get(exc.status_code, "error")
        message = str(exc)
        if exc.status_code == 400 and message.startswith("Cannot parse request body"):
            code, message = "invalid_json", _("the request body is not valid JSON")
        return render(request, exc.status_code, error_body(code, message))

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return render(request, 404, error_body("not_found", _("not found")))

    handlers: list[tuple[type[Exception], Any]] = [
        (ApplicationError, on_application_error),
        (NinjaValidationError, on_validation_error),
        (AuthenticationError, on_authentication_error),
        (HttpError, on_http_error),
        (Http404, on_not_found),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)


class ErrorFieldOut(Schema):
    field: str
    message: str


class ErrorDetailOut(Schema):
    code: str = Field(..., examples=["validation_error"])
    message: str
    field: str | None = None
    fields: list[ErrorFieldOut] | None = None


class ErrorOut(Schema):
    """The body of every 4xx answer."""

    error: ErrorDetailOut


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    """OpenAPI entries for the errors an endpoint can answer; 401 and 403 always apply."""
    return {status: ErrorOut for status in sorted({401, 403, *statuses})}
