"""Staff roles are Django groups; this module is the single source of what each may do."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

ADMIN = "admin"
MARKETER = "marketer"
SUPPORT_AGENT = "support_agent"
ANALYST = "analyst"

ROLE_LABELS = {
    ADMIN: "Admin",
    MARKETER: "Marketer",
    SUPPORT_AGENT: "Support agent",
    ANALYST: "Analyst",
}

_VIEW_SHOP = [
    "customers.view_customer",
    "catalog.view_product",
    "catalog.view_category",
    "orders.view_order",
    "reviews.view_review",
]

_SEGMENTS = [
    "segments.view_segment",
    "segments.add_segment",
    "segments.change_segment",
    "segments.refresh_segment",
]

# "app_label.codename" per role; admin gets every permission of every app.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETER: [
        *_VIEW_SHOP,
        "core.view_dashboard",
        *_SEGMENTS,
        "segments.delete_segment",
        "recommendations.view_recommendermodel",
    ],
    SUPPORT_AGENT: [
        *_VIEW_SHOP,
        "customers.change_customer",
        "customers.merge_customer",
        "orders.change_order",
    ],
    ANALYST: [
        *_VIEW_SHOP,
        "core.view_dashboard",
        *_SEGMENTS,
        "analytics.add_analyticsrun",
        "recommendations.view_recommendermodel",
    ],
}


@transaction.atomic
def roles_ensure() -> dict[str, Group]:
    """Create or refresh the role groups so their permissions match ROLE_PERMISSIONS."""
    groups: dict[str, Group] = {}
    all_permissions = list(Permission.objects.all())
    by_key = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
    }
    for role in ROLE_LABELS:
        group, _ = Group.objects.get_or_create(name=role)
        if role == ADMIN:
            group.permissions.set(all_permissions)
        else:
            missing = [key for key in ROLE_PERMISSIONS[role] if key not in by_key]
            if missing:
                raise LookupError(f"role {role} names unknown permissions: {missing}")
            group.permissions.set([by_key[key] for key in ROLE_PERMISSIONS[role]])
        groups[role] = group
    return groups
