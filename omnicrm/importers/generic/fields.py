"""Parsing one CSV cell: each parser returns a clean value or raises `BadCell` with a reason.

They run once per cell on files of millions of rows, so they are plain functions with no
allocation beyond the value they return.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from omnicrm.core.errors import ValidationFailed
from omnicrm.core.money import MINOR_UNITS
from omnicrm.customers.normalize import normalize_email, normalize_phone


class BadCell(Exception):
    """A cell failed validation; `field` is the column, `reason` says why."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# Money columns hold 12 integer digits and 2 decimals (core.money).
MONEY_LIMIT = Decimal(10) ** 12
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_DIGIT_RUN_RE = re.compile(r"\d(?:[ -]?\d){12,}")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}
_TIMEZONES: set[str] = set()
_STEPS = {0: Decimal(1), 1: Decimal("0.1"), 2: Decimal("0.01")}
_CENT = _STEPS[2]
_PLAIN_AMOUNT = re.compile(r"\d{1,12}(?:\.\d{1,2})?\Z")
_CARD_SHAPED = re.compile(r"\d(?:[ -]?\d){12}")


def text(value: str, field: str, max_length: int) -> str:
    if not value:
        return value
    value = value.strip()
    if len(value) > max_length:
        raise BadCell(field, _("is longer than %(n)d characters") % {"n": max_length})
    return value


def required(value: str, field: str, max_length: int) -> str:
    value = text(value, field, max_length)
    if not value:
        raise BadCell(field, _("is required"))
    return value


def email(value: str, field: str) -> str:
    try:
        return normalize_email(value)
    except ValidationFailed:
        raise BadCell(
            field, _("%(value)r is not a valid email address") % {"value": value}
        ) from None


def phone(value: str, field: str) -> str:
    try:
        return normalize_phone(value)
    except ValidationFailed:
        raise BadCell(
            field, _("%(value)r is not a valid phone number") % {"value": value}
        ) from None


def country(value: str, field: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise BadCell(
            field, _("%(value)r is not a two-letter ISO 3166 country code") % {"value": value}
        )
    return code


def language(value: str, field: str) -> str:
    code = value.strip().lower().replace("_", "-")
    if len(code) > 16 or not _LANGUAGE_RE.match(code):
        raise BadCell(
            field,
            _("%(value)r is not a language code such as vi, en or zh-hans") % {"value": value},
        )
    return code


def timezone_name(value: str, field: str) -> str:
    if not _TIMEZONES:
        _TIMEZONES.update(zoneinfo.available_timezones())
    name = value.strip()
    if name not in _TIMEZONES:
        raise BadCell(
            field, _("%(value)r is not a time zone such as Asia/Ho_Chi_Minh") % {"value": value}
        )
    return name


def currency(value: str, field: str) -> str:
    code = value.strip().upper()
    if not _CURRENCY_RE.match(code):
        raise BadCell(field, _("%(value)r is not an ISO 4217 currency code") % {"value": value})
    return code


def moment(value: str, field: str) -> datetime:
    """An ISO-8601 date and time with its offset (`2024-05-01T09:30:00+07:00` or `...Z`)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadCell(
            field, _("%(value)r is not an ISO-8601 date and time") % {"value": value}
        ) from None
    if parsed.tzinfo is None:
        # Guessing a zone would shift every order of a shop in another zone by hours.
        raise BadCell(
            field,
            _("%(value)r has no time zone; add Z or an offset such as +07:00") % {"value": value},
        )
    # Kept in its own offset: equal instants compare equal, and the writer converts.
    return parsed


def amount(value: str, field: str, currency_code: str) -> Decimal:
    """A money amount of zero or more, with no more decimals than the currency has."""
    # Fast path for the usual shape ("12", "12.5", "12.50"); anything else gets the full
    # checks below, which also word the error.
    if _PLAIN_AMOUNT.match(value) and (
        "." not in value
        or MINOR_UNITS.get(currency_code, 2) >= 2
        or value.rstrip("0").endswith(".")
    ):
        return Decimal(value).quantize(_CENT)
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise BadCell(field, _("%(value)r is not a number") % {"value": value}) from None
    if not number.is_finite():
        raise BadCell(field, _("%(value)r is not a number") % {"value": value})
    if number < 0:
        raise BadCell(field, _("must be zero or more"))
    if number >= MONEY_LIMIT:
        raise BadCell(field, _("is too large"))
    places = min(MINOR_UNITS.get(currency_code, 2), 2)
    if number != number.quantize(_STEPS[places]):
        raise BadCell(
            field,
            _("%(value)s has more decimals than %(currency)s allows (%(places)d)")
            % {"value": value.strip(), "currency": currency_code, "places": places},
        )
    return number.quantize(_STEPS[2])


def integer(value: str, field: str, minimum: int, maximum: int = 2**31 - 1) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise BadCell(field, _("%(value)r is not a whole number") % {"value": value}) from None
    if number < minimum:
        raise BadCell(field, _("must be %(n)d or more") % {"n": minimum})
    if number > maximum:
        raise BadCell(field, _("must be %(n)d or less") % {"n": maximum})
    return number


def boolean(value: str, field: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise BadCell(field, _("%(value)r is not true or false") % {"value": value})


def choice(value: str, field: str, choices: frozenset[str] | set[str]) -> str:
    word = value.strip().lower()
    if word not in choices:
        raise BadCell(
            field,
            _("%(value)r is not one of %(choices)s")
            % {"value": value, "choices": ", ".join(sorted(choices))},
        )
    return word


def slug(value: str, field: str) -> str:
    word = value.strip()
    if len(word) > 120 or not _SLUG_RE.match(word):
        raise BadCell(
            field, _("%(value)r is not a slug (letters, digits, - and _)") % {"value": value}
        )
    return word


def json_object(value: str, field: str) -> dict:
    try:
        data = json.loads(value)
    except ValueError:
        raise BadCell(field, _("is not valid JSON")) from None
    if not isinstance(data, dict):
        raise BadCell(field, _('must be a JSON object such as {"origin": "Dalat"}'))
    return data


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        number = ord(char) - 48
        if position % 2:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0


def contains_card_number(value: str) -> bool:
    """True when `value` holds a run of 13-19 digits (spaces or dashes between them
    allowed) that passes the Luhn check, the shape of a payment card number (PAN)."""
    for match in _DIGIT_RUN_RE.finditer(value):
        digits = match.group().replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def card_safe(value: str, field: str, max_length: int) -> str:
    """A payment token or reference that must not carry a card number (PAN)."""
    if not value:
        return value
    value = text(value, field, max_length)
    if _CARD_SHAPED.search(value) and contains_card_number(value):
        raise BadCell(
            field,
            _(
                "looks like a full card number; card numbers are never stored, give the "
                "payment provider's token and the last 4 digits instead"
            ),
        )
    return value


def last4(value: str, field: str) -> str:
    digits = value.strip()
    if not digits:
        return ""
    if len(digits) > 12 and contains_card_number(digits):
        raise BadCell(
            field,
            _("looks like a full card number; give only the last 4 digits"),
        )
    if len(digits) != 4 or not digits.isdigit():
        raise BadCell(field, _("must be exactly 4 digits"))
    return digits
