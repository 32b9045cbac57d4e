"""Formatting filters of the console: money, counts, percentages, initials, time ago."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django import template
from django.utils import numberformat, timezone
from django.utils.formats import get_format
from django.utils.translation import gettext, ngettext, pgettext

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


@register.filter
def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the console's own words ("3 hours ago", "2 months ago").

    Django's humanize has this, but its Vietnamese catalog lacks most of the strings, which
    left English fragments in Vietnamese pages.
    """
    if value is None:
        return ""
    seconds = ((now or timezone.now()) - value).total_seconds()
    if seconds < 0:
        days = int(-seconds // 86400)
        if days < 1:
            return gettext("within a day")
        return ngettext("in %(count)s day", "in %(count)s days", days) % {"count": days}
    minutes, hours, days = int(seconds // 60), int(seconds // 3600), int(seconds // 86400)
    if minutes < 1:
        return pgettext("time ago", "just now")
    if hours < 1:
        return ngettext("%(count)s minute ago", "%(count)s minutes ago", minutes) % {
            "count": minutes
        }
    if days < 1:
        return ngettext("%(count)s hour ago", "%(count)s hours ago", hours) % {"count": hours}
    if days < 2:
        return pgettext("time ago", "yesterday")
    if days < 45:
        return ngettext("%(count)s day ago", "%(count)s days ago", days) % {"count": days}
    if days < 365:
        months = round(days / 30.44)
        return ngettext("%(count)s month ago", "%(count)s months ago", months) % {"count": months}
    years = days // 365
    return ngettext("%(count)s year ago", "%(count)s years ago", years) % {"count": years}
