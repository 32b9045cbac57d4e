"""Issuing secret keys of the form ``<namespace>_<prefix>_<secret>`` (API keys, write keys).

The prefix is public and unique (it names the key and is how it is found); only the SHA-256
of the whole key is stored, and the raw key is returned once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction

T = TypeVar("T")
PREFIX_BYTES = 5  # 8 base32 characters; 40 bits keep accidental collisions rare
PREFIX_ATTEMPTS = 5


def secret_key_hash(raw_key: str) -> str:
    """SHA-256 hex of the whole key. The secret is random (>= 192 bits), so a fast hash is
    enough; a slow password hash would only cost time on every request."""
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def secret_key_issue(
    *, namespace: str, secret_bytes: int, create: Callable[[str, str], T], what: str
) -> tuple[T, str]:
    """Draw a key and store it with ``create(prefix, key_hash)`` inside a transaction.

    ``create`` must write a row whose prefix is unique; on the rare clash another prefix is
    drawn. Returns the created object and the raw key.
    """
    for _attempt in range(PREFIX_ATTEMPTS):
        prefix = base64.b32encode(secrets.token_bytes(PREFIX_BYTES)).decode("ascii").lower()
        raw_key = f"{namespace}_{prefix}_{secrets.token_urlsafe(secret_bytes)}"
        try:
            with transaction.atomic():
                created = create(prefix, secret_key_hash(raw_key))
        except IntegrityError:
            continue
        return created, raw_key
    raise RuntimeError(f"could not draw a free {what} prefix in {PREFIX_ATTEMPTS} attempts")
