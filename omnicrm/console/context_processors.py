"""Template context every console page gets: version, navigation and the user's roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

import omnicrm
from omnicrm.console.access import may_open
from omnicrm.core import roles


@dataclass(frozen=True)
class NavItem:
    url_name: str
    label: Promise
    icon: str
    # Other URL names under this item, so the item stays highlighted on its sub-pages.
    section: tuple[str, ...] = ()


NAVIGATION = (
    NavItem("console:home", _("Dashboard"), "dashboard"),
    NavItem("console:customer_list", _("Customers"), "customers", ("console:customer_detail",)),
    NavItem("tracking:source_list", _("Sources"), "globe", ("tracking:source_detail",)),
    NavItem("analytics:dashboard", _("Analytics"), "chart", ("analytics:category_reorders",)),
    NavItem(
        "segments:segment_list",
        _("Segments"),
        "segments",
        ("segments:segment_detail", "segments:segment_new", "segments:segment_edit"),
    ),
    NavItem(
        "recommendations:model",
        _("Recommendations"),
        "sparkle",
        ("recommendations:product_detail",),
    ),
)

ROLE_NAMES = {
    roles.ADMIN: _("Admin"),
    roles.MARKETER: _("Marketer"),
    roles.SUPPORT_AGENT: _("Support agent"),
    roles.ANALYST: _("Analyst"),
}


def navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """The pages this user may open; a page they may not open is not offered at all."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    return [
        {
            "url": reverse(item.url_name),
            "label": item.label,
            "icon": item.icon,
            "active": current == item.url_name or current in item.section,
        }
        for item in NAVIGATION
        if may_open(user, item.url_name)
    ]


def role_names(request: HttpRequest) -> list[str]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    if user.is_superuser:
        return [str(_("Superuser"))]
    names = user.groups.order_by("name").values_list("name", flat=True)
    return [str(ROLE_NAMES.get(name, name)) for name in names]


def console(request: HttpRequest) -> dict[str, Any]:
    # Callables: templates evaluate them only when a page shows them (the admin never does).
    return {
        "omnicrm_version": omnicrm.__version__,
        "console_nav": lambda: navigation(request),
        "console_roles": lambda: role_names(request),
    }
