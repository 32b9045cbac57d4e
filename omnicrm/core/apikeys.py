"""API keys: create, revoke, list and authenticate (see docs/adr/0003-api-keys.md).

A key looks like ``ocrm_<prefix>_<secret>``. The prefix is public (it names the key in
lists, logs and the CLI) and is how a key is found; the secret carries 256 random bits.
Only the SHA-256 of the whole key is stored, so a leaked database does not leak keys, and
the key is shown once, when it is created.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.core.errors import ApplicationError, NotFound, ValidationFailed
from omnicrm.core.models import ApiKey
from omnicrm.core.secret_keys import secret_key_hash, secret_key_issue
from omnicrm.core.services import Actor, audit_log_write

KEY_NAMESPACE = "ocrm"
READ = "read"
WRITE = "write"
# Each scope grants only itself: a write-only key (a webhook sender, say) cannot read.
SCOPES = (READ, WRITE)
SECRET_BYTES = 32
# Remembering every use would be one write per request; a minute is precise enough to
# tell a key in use from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a web process trusts a key it verified against the database (ADR 0010): a key
# revoked, or its scopes changed, in another process is refused there within this time.
VERIFIED_KEY_SECONDS = 5.0
# A process only ever sees a handful of keys; the bound keeps a flood of them harmless.
VERIFIED_KEY_LIMIT = 1000


class InvalidApiKey(ApplicationError):
    """The request carries no usable API key."""

    status = 401
    code = "invalid_api_key"


class RevokedApiKey(InvalidApiKey):
    code = "revoked_api_key"


def apikey_hash(raw_key: str) -> str:
    """The stored form of a key: SHA-256 hex of the whole key string."""
    return secret_key_hash(raw_key)


def apikey_parse_scopes(scopes: str | Iterable[str]) -> list[str]:
    """Scopes from "read,write" or an iterable; unknown or missing scopes are an error."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    cleaned = sorted({str(item).strip().lower() for item in items if str(item).strip()})
    if not cleaned:
        raise ValidationFailed(
            _("give at least one scope: %(scopes)s") % {"scopes": ", ".join(SCOPES)},
            field="scopes",
        )
    unknown = [scope for scope in cleaned if scope not in SCOPES]
    if unknown:
        raise ValidationFailed(
            _("unknown scope %(scope)s; the scopes are %(scopes)s")
            % {"scope": unknown[0], "scopes": ", ".join(SCOPES)},
            field="scopes",
        )
    return cleaned


def apikey_create(
    *, name: str, scopes: str | Iterable[str], actor: Actor = None
) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw key, which is never available again."""
    clean_name = (name or "").strip()
    if not clean_name:
        raise ValidationFailed(_("an API key needs a name"), field="name")
    if len(clean_name) > 100:
        raise ValidationFailed(_("the name is at most 100 characters"), field="name")
    clean_scopes = apikey_parse_scopes(scopes)
    user = actor if actor is not None and actor.is_authenticated else None

    def create(prefix: str, key_hash: str) -> ApiKey:
        key = ApiKey.objects.create(
            name=clean_name, prefix=prefix, key_hash=key_hash, scopes=clean_scopes, created_by=user
        )
        audit_log_write(
            action="apikey.create",
            object_type="api_key",
            object_id=prefix,
            actor=actor,
            data={"name": clean_name, "scopes": clean_scopes},
        )
        return key

    return secret_key_issue(
        namespace=KEY_NAMESPACE, secret_bytes=SECRET_BYTES, create=create, what="API key"
    )


def apikey_revoke(*, prefix: str, actor: Actor = None) -> ApiKey:
    """Revoke a key for good. Revoking a revoked key changes nothing."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(prefix=prefix.strip()).first()
        if key is None:
            raise NotFound(
                _("no API key with prefix %(prefix)s") % {"prefix": prefix}, field="prefix"
            )
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at", "updated_at"])
            audit_log_write(
                action="apikey.revoke", object_type="api_key", object_id=key.prefix, actor=actor
            )
    return key


def apikey_list(*, include_revoked: bool = True) -> QuerySet[ApiKey]:
    qs = ApiKey.objects.select_related("created_by").order_by("-created_at", "-id")
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs


def _prefix_of(raw_key: str) -> str:
    parts = (raw_key or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_NAMESPACE or not parts[1] or not parts[2]:
        raise InvalidApiKey(_("the API key is malformed; keys look like ocrm_<prefix>_<secret>"))
    return parts[1]


def apikey_authenticate(*, raw_key: str) -> ApiKey:
    """The live key behind ``raw_key``, or InvalidApiKey, checked against the database.

    The prefix only finds the row; the hash comparison decides, in constant time so the
    response time says nothing about how much of a guessed key was right.
    """
    prefix = _prefix_of(raw_key)
    key = ApiKey.objects.filter(prefix=prefix).first()
    candidate = apikey_hash(raw_key.strip())
    # Compare against a dummy hash when the prefix is unknown so both paths do the same work.
    stored = key.key_hash if key is not None else "0" * len(candidate)
    if not hmac.compare_digest(stored.encode("ascii"), candidate.encode("ascii")) or key is None:
        raise InvalidApiKey(_("the API key is not valid"))
    if key.revoked_at is not None:
        raise RevokedApiKey(_("the API key was revoked"))
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        # The filter repeats the condition so concurrent requests write at most once.
        ApiKey.objects.filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        key.last_used_at = now
    return key


class _VerifiedKeys:
    """Keys this process verified lately, by prefix: (stored hash, key, when verified).

    Only keys that passed the full check are kept; a wrong, malformed or revoked key always
    goes to the database. A hit still compares the presented key's hash with the stored
    one in constant time, so the cache answers exactly what the database would have, as of
    at most VERIFIED_KEY_SECONDS ago."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[str, ApiKey, float]] = {}

    def get(self, prefix: str, candidate: str) -> ApiKey | None:
        entry = self.entries.get(prefix)
        if entry is None:
            return None
        stored, key, verified_at = entry
        if time.monotonic() - verified_at >= VERIFIED_KEY_SECONDS:
            return None
        if not hmac.compare_digest(stored.encode("ascii"), candidate.encode("ascii")):
            return None
        return key

    def put(self, key: ApiKey) -> None:
        with self.lock:
            if len(self.entries) >= VERIFIED_KEY_LIMIT:
                self.entries.clear()
            self.entries[key.prefix] = (key.key_hash, key, time.monotonic())

    def forget(self, prefix: str) -> None:
        with self.lock:
            self.entries.pop(prefix, None)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_VERIFIED = _VerifiedKeys()


def apikey_authenticate_cached(*, raw_key: str) -> ApiKey:
    """``apikey_authenticate`` for the API's every request: a key this process verified
    less than VERIFIED_KEY_SECONDS ago is trusted without a query (the presented key must
    still hash to the stored hash). A revocation or scope change made in this process is
    seen at once (the key's save drops it here); one made in another process within
    VERIFIED_KEY_SECONDS. ``last_used_at`` is written, at most once a minute, when the key
    is checked against the database again."""
    prefix = _prefix_of(raw_key)
    cached = _VERIFIED.get(prefix, apikey_hash(raw_key.strip()))
    if cached is not None:
        return cached
    # A wrong key does not evict the right one: its stale or missing entry is all it sees.
    key = apikey_authenticate(raw_key=raw_key)
    _VERIFIED.put(key)
    return key


def apikey_cache_clear() -> None:
    """Forget every verified key of this process (tests; the next check reads the row)."""
    _VERIFIED.clear()


def _forget_saved_key(sender: type[ApiKey], instance: ApiKey, **kwargs: Any) -> None:
    _VERIFIED.forget(instance.prefix)


# A key revoked, edited or deleted in this process is checked against the database next time.
post_save.connect(_forget_saved_key, sender=ApiKey, dispatch_uid="omnicrm.apikeys.forget_saved")
post_delete.connect(_forget_saved_key, sender=ApiKey, dispatch_uid="omnicrm.apikeys.forget_deleted")


def apikey_has_scope(key: ApiKey, scope: str) -> bool:
    return scope in (key.scopes or [])
