"""API key authentication for the Ninja API: `Authorization: Bearer <key>` or `X-API-Key`.

GET and HEAD need the ``read`` scope; every other method needs ``write``. A bad key is a
401, a good key without the scope a 403; both are raised as domain errors so the API's one
error handler renders them. A key verified in the last few seconds is not read again
(``apikey_authenticate_cached``, ADR 0010).
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import APIKeyHeader, HttpBearer

from omnicrm.core.apikeys import (
    READ,
    WRITE,
    InvalidApiKey,
    apikey_authenticate_cached,
    apikey_has_scope,
)
from omnicrm.core.errors import PermissionDenied
from omnicrm.core.models import ApiKey

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_scope(request: HttpRequest) -> str:
    return READ if request.method in READ_METHODS else WRITE


def authorize(request: HttpRequest, raw_key: str | None) -> ApiKey:
    if not raw_key or not raw_key.strip():
        raise InvalidApiKey(_("the API key is empty"))
    key = apikey_authenticate_cached(raw_key=raw_key)
    scope = required_scope(request)
    if not apikey_has_scope(key, scope):
        raise PermissionDenied(
            _("this API key lacks the %(scope)s scope that %(method)s requests need")
            % {"scope": scope, "method": request.method},
            extra={"required_scope": scope},
        )
    return key


class BearerKey(HttpBearer):
    """`Authorization: Bearer ocrm_...`."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        return authorize(request, token)


class HeaderKey(APIKeyHeader):
    """`X-API-Key: ocrm_...`."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        if key is None:
            # No header: let Ninja report the missing key after trying every scheme.
            return None
        return authorize(request, key)


def api_key_auth() -> list[BearerKey | HeaderKey]:
    return [BearerKey(), HeaderKey()]


def actor_label(request: HttpRequest) -> str:
    """How the audit log names an API caller: the key's prefix and name, never the secret."""
    key = getattr(request, "auth", None)
    return f"api_key:{key.prefix} ({key.name})" if isinstance(key, ApiKey) else "api"
