"""Normalizing identifiers so the same person always yields the same identity value."""

from __future__ import annotations

import re

from omnicrm.core.errors import ValidationFailed

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_STRIP = re.compile(r"[\s().\-/]")


def normalize_email(value: str) -> str:
    email = (value or "").strip().lower()
    if not _EMAIL_RE.match(email):
        raise ValidationFailed(f"{value!r} is not a valid email address", field="email")
    return email


def normalize_phone(value: str) -> str:
    """Digits with an optional leading +; separators dropped. '00' prefixes become '+'."""
    raw = _PHONE_STRIP.sub("", (value or "").strip())
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    digits = raw[1:] if raw.startswith("+") else raw
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise ValidationFailed(f"{value!r} is not a valid phone number", field="phone")
    return raw


def normalize_identity(kind: str, value: str) -> str:
    if kind == "email":
        return normalize_email(value)
    if kind == "phone":
        return normalize_phone(value)
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValidationFailed(f"an identity of kind {kind} needs a value", field="value")
    if len(cleaned) > 255:
        raise ValidationFailed("identity values are at most 255 characters", field="value")
    return cleaned
