"""Formatting filters of the console: money, percentages, initials."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils import numberformat
from django.utils.formats import get_format

from omnicrm.core.money import MINOR_UNITS

register = template.Library()


def format_number(value: Decimal | int | float, decimal_pos: int | None = None) -> str:
    """A number with the active language's separators, always grouped in thousands.

    Django's Vietnamese and Chinese formats turn grouping off, but money and counts in a
    staff console read better grouped, so those fall back to 3-digit groups (with "," when
    the language defines no thousand separator).
    """
    separator = get_format("THOUSAND_SEPARATOR") or ","
    grouping = get_format("NUMBER_GROUPING") if get_format("THOUSAND_SEPARATOR") else 3
    return numberformat.format(
        value,
        get_format("DECIMAL_SEPARATOR"),
        decimal_pos=decimal_pos,
        grouping=grouping or 3,
        thousand_sep=separator,
        force_grouping=True,
        use_l10n=True,
    )


@register.filter
def grouped(value: int | Decimal | None) -> str:
    """``99441|grouped`` -> ``99,441`` (``99.441`` in Vietnamese)."""
    if value is None or value == "":
        return "0"
    return format_number(value)


@register.filter
def money_amount(amount: Decimal | int | None, currency: str = "") -> str:
    """``1234.5|money_amount:"USD"`` -> ``1,234.50``: the currency's minor units, grouped
    and with the active language's separators."""
    if amount is None or amount == "":
        return "—"
    places = MINOR_UNITS.get((currency or "").upper(), 2)
    return format_number(Decimal(amount), decimal_pos=places)


@register.filter
def money(amount: Decimal | int | None, currency: str = "") -> str:
    """``1234.5|money:"USD"`` -> ``1,234.50 USD``."""
    if amount is None or amount == "":
        return "—"
    return f"{money_amount(amount, currency)} {currency}".strip()


@register.filter
def percent(fraction: Decimal | float | None, places: int = 1) -> str:
    """``0.3333|percent`` -> ``33.3%``."""
    if fraction is None:
        return "—"
    value = Decimal(str(fraction)) * 100
    return format_number(value, decimal_pos=places) + "%"


@register.filter
def initials(name: str) -> str:
    """Up to two initials for an avatar: ``Đặng Lưu Hà`` -> ``ĐH``."""
    words = [w for w in (name or "").split() if w[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()
