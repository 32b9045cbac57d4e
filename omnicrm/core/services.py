"""Shared-kernel writes: the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User

from omnicrm.core.models import AuditLog

# Who performs a service call: a staff user, nobody logged in, or the system (None).
Actor = User | AnonymousUser | None


def audit_log_write(
    *,
    action: str,
    object_type: str,
    object_id: str,
    actor: Actor = None,
    actor_label: str = "",
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Record who did what. Call inside the caller's transaction so both commit together."""
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditLog.objects.create(
        actor=user,
        actor_label=actor_label or (str(user) if user else "system"),
        action=action,
        object_type=object_type,
        object_id=object_id,
        data=data or {},
    )
