"""Every write to segments: create, change, delete, refresh membership, static list members.

Membership is refreshed with set operations in SQL, never a Python loop over customers:
the customers who entered (match and are not members) and those who left (members that no
longer match) are written to the history with INSERT ... SELECT, then the membership table
is brought in line from those history rows with one DELETE and one INSERT ... SELECT.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from omnicrm.core.errors import Conflict, ValidationFailed
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.customers.models import Identity, IdentityKind
from omnicrm.customers.normalize import normalize_email
from omnicrm.segments.fields import ACTIVITY_SOURCES
from omnicrm.segments.models import (
    ChangeKind,
    Segment,
    SegmentKind,
    SegmentMembership,
    SegmentMembershipChange,
)
from omnicrm.segments.rules import (
    rules_compile,
    rules_sources,
    rules_validate,
    segment_base_customers,
    segment_query_settings_apply,
)

logger = logging.getLogger(__name__)

MAX_UPLOAD_ROWS = 100_000


def _clean_name(name: str) -> str:
    text = (name or "").strip()
    if not text:
        raise ValidationFailed(_("a segment needs a name"), field="name")
    if len(text) > 200:
        raise ValidationFailed(_("the name is at most 200 characters"), field="name")
    return text


def _slug_taken(slug: str, exclude_pk: int | None) -> bool:
    others = Segment.objects.filter(slug=slug)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


def _clean_slug(slug: str, name: str, *, exclude_pk: int | None = None) -> str:
    value = slugify(slug or "") if slug else slugify(name)
    if not value:
        # Names in Vietnamese or Chinese may slugify to nothing: fall back to a word.
        value = "segment"
    value = value[:100]
    if slug:
        if _slug_taken(value, exclude_pk):
            raise Conflict(
                _("a segment with slug %(slug)s already exists") % {"slug": value}, field="slug"
            )
        return value
    candidate, n = value, 2
    while _slug_taken(candidate, exclude_pk):
        candidate, n = f"{value}-{n}", n + 1
    return candidate


def _enqueue_refresh(segment_id: int) -> None:
    from omnicrm.segments.tasks import segments_refresh_task

    try:
        segments_refresh_task.enqueue(segment_id=segment_id)
    except Exception:
        # The scheduled refresh of all dynamic segments catches up.
        logger.exception("could not queue the refresh of segment %s", segment_id)


def segment_create(
    *,
    name: str,
    kind: str = SegmentKind.DYNAMIC,
    rules: Any = None,
    slug: str = "",
    description: str = "",
    actor: Actor = None,
    actor_label: str = "",
) -> Segment:
    """Create a segment. A dynamic one gets its members by a refresh queued after commit."""
    if kind not in SegmentKind.values:
        raise ValidationFailed(
            _("kind must be one of %(kinds)s") % {"kinds": ", ".join(SegmentKind.values)},
            field="kind",
        )
    name = _clean_name(name)
    clean_rules = rules_validate(rules) if kind == SegmentKind.DYNAMIC else {}
    if kind == SegmentKind.STATIC and rules:
        raise ValidationFailed(_("a static list has no rules"), field="rules")
    with transaction.atomic():
        segment = Segment.objects.create(
            name=name,
            slug=_clean_slug(slug, name),
            kind=kind,
            rules=clean_rules,
            refresh_on_activity=bool(rules_sources(clean_rules) & ACTIVITY_SOURCES),
            description=(description or "").strip(),
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit_log_write(
            action="segment.create",
            object_type="segment",
            object_id=segment.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"name": name, "kind": kind, "rules": clean_rules},
        )
        if segment.is_dynamic:
            transaction.on_commit(lambda: _enqueue_refresh(segment.pk))
    return segment


def segment_update(
    *,
    segment: Segment,
    name: str | None = None,
    description: str | None = None,
    rules: Any = None,
    actor: Actor = None,
    actor_label: str = "",
) -> Segment:
    """Change the name, description or rules; new rules queue a refresh after commit."""
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        changed: dict[str, Any] = {}
        if name is not None:
            locked.name = changed["name"] = _clean_name(name)
        if description is not None:
            locked.description = changed["description"] = description.strip()
        if rules is not None:
            if not locked.is_dynamic:
                raise ValidationFailed(_("a static list has no rules"), field="rules")
            clean = rules_validate(rules)
            if clean != locked.rules:
                locked.rules = changed["rules"] = clean
                locked.refresh_on_activity = bool(rules_sources(clean) & ACTIVITY_SOURCES)
                transaction.on_commit(lambda: _enqueue_refresh(locked.pk))
        if changed:
            locked.save()
            audit_log_write(
                action="segment.update",
                object_type="segment",
                object_id=locked.public_id,
                actor=actor,
                actor_label=actor_label,
                data=changed,
            )
    return locked


def segment_delete(*, segment: Segment, actor: Actor = None, actor_label: str = "") -> None:
    with transaction.atomic():
        audit_log_write(
            action="segment.delete",
            object_type="segment",
            object_id=segment.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"name": segment.name},
        )
        segment.delete()


# --- membership refresh ---------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    entered: int
    left: int
    member_count: int
    refreshed_at: datetime


def _insert_changes(*, segment_id: int, kind: str, at: datetime, customer_ids: QuerySet) -> int:
    """INSERT INTO history SELECT segment, customer, kind, at FROM (customer_ids)."""
    sql, params = customer_ids.order_by().query.sql_with_params()
    table = connection.ops.quote_name(SegmentMembershipChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, kind, at, customer_id) "  # noqa: S608
            f"SELECT %s, %s, %s, sub.* FROM ({sql}) sub",
            [segment_id, kind, connection.ops.adapt_datetimefield_value(at), *params],
        )
        return cursor.rowcount


def _apply_changes(*, segment: Segment, at: datetime) -> None:
    """Bring the membership table in line with the history rows written at ``at``."""
    changes = SegmentMembershipChange.objects.filter(segment=segment, at=at)
    left = changes.filter(kind=ChangeKind.LEFT).values("customer_id")
    SegmentMembership.objects.filter(segment=segment, customer_id__in=left).delete()
    entered = changes.filter(kind=ChangeKind.ENTERED).values_list("customer_id").order_by()
    sql, params = entered.query.sql_with_params()
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, since, customer_id) "  # noqa: S608
            f"SELECT %s, %s, sub.* FROM ({sql}) sub",
            [segment.pk, connection.ops.adapt_datetimefield_value(at), *params],
        )


def segment_refresh(*, segment: Segment, now: datetime | None = None) -> RefreshResult:
    """Recompute a dynamic segment's members and record who entered and who left."""
    moment = now or timezone.now()
    with transaction.atomic():
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        if not locked.is_dynamic:
            raise Conflict(_("a static list is not refreshed; add or remove members"))
        if locked.refreshed_at is not None and moment <= locked.refreshed_at:
            # History rows are keyed by their time: keep refreshes strictly ordered.
            moment = locked.refreshed_at + timedelta(microseconds=1)
        segment_query_settings_apply()
        matching = rules_compile(locked.rules, now=moment).queryset()
        members = SegmentMembership.objects.filter(segment=locked)
        left = _insert_changes(
            segment_id=locked.pk,
            kind=ChangeKind.LEFT,
            at=moment,
            customer_ids=members.exclude(customer_id__in=matching.values("pk")).values_list(
                "customer_id"
            ),
        )
        entered = _insert_changes(
            segment_id=locked.pk,
            kind=ChangeKind.ENTERED,
            at=moment,
            customer_ids=matching.exclude(pk__in=members.values("customer_id")).values_list("pk"),
        )
        if entered or left:
            _apply_changes(segment=locked, at=moment)
        locked.member_count = SegmentMembership.objects.filter(segment=locked).count()
        locked.refreshed_at = moment
        locked.save(update_fields=["member_count", "refreshed_at", "updated_at"])
    return RefreshResult(
        entered=entered, left=left, member_count=locked.member_count, refreshed_at=moment
    )


def segment_refresh_all(*, now: datetime | None = None) -> dict[str, RefreshResult]:
    """Refresh every dynamic segment (the scheduled job), one transaction each."""
    results = {}
    for segment in Segment.objects.filter(kind=SegmentKind.DYNAMIC).order_by("pk"):
        results[segment.slug] = segment_refresh(segment=segment, now=now)
    return results


def _enter(segment: Segment, customer_id: int, at: datetime) -> None:
    SegmentMembership.objects.create(segment=segment, customer_id=customer_id, since=at)
    SegmentMembershipChange.objects.create(
        segment=segment, customer_id=customer_id, kind=ChangeKind.ENTERED, at=at
    )
    Segment.objects.filter(pk=segment.pk).update(member_count=F("member_count") + 1)


def _leave(segment: Segment, customer_id: int, at: datetime) -> None:
    SegmentMembership.objects.filter(segment=segment, customer_id=customer_id).delete()
    SegmentMembershipChange.objects.create(
        segment=segment, customer_id=customer_id, kind=ChangeKind.LEFT, at=at
    )
    Segment.objects.filter(pk=segment.pk).update(member_count=F("member_count") - 1)


def segment_refresh_customer(*, customer_id: int) -> list[tuple[str, str]]:
    """Re-evaluate one customer against the dynamic segments whose rules read data that
    orders and events change; returns [(segment slug, "entered" | "left")]."""
    changes: list[tuple[str, str]] = []
    segment_ids = list(
        Segment.objects.filter(kind=SegmentKind.DYNAMIC, refresh_on_activity=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for segment_id in segment_ids:
        with transaction.atomic():
            # The same lock as a full refresh: the two never interleave on one segment.
            segment = Segment.objects.select_for_update().filter(pk=segment_id).first()
            if segment is None:
                continue
            now = timezone.now()
            compiled = rules_compile(segment.rules, now=now, customer_id=customer_id)
            matches = compiled.queryset().exists()
            is_member = SegmentMembership.objects.filter(
                segment=segment, customer_id=customer_id
            ).exists()
            if matches and not is_member:
                _enter(segment, customer_id, now)
                changes.append((segment.slug, ChangeKind.ENTERED))
            elif is_member and not matches:
                _leave(segment, customer_id, now)
                changes.append((segment.slug, ChangeKind.LEFT))
    return changes


# --- static lists -----------------------------------------------------------------------------


def _static(segment: Segment) -> Segment:
    locked = Segment.objects.select_for_update().get(pk=segment.pk)
    if locked.is_dynamic:
        raise Conflict(
            _("members of a dynamic segment come from its rules; only static lists take members")
        )
    return locked


@dataclass
class MembersResult:
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    unknown: list[dict[str, Any]] = field(default_factory=list)


def _add_customers(
    segment: Segment, customer_ids: list[int], actor: Actor, actor_label: str = ""
) -> MembersResult:
    result = MembersResult()
    now = timezone.now()
    existing = set(
        SegmentMembership.objects.filter(segment=segment, customer_id__in=customer_ids).values_list(
            "customer_id", flat=True
        )
    )
    new = [pk for pk in dict.fromkeys(customer_ids) if pk not in existing]
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, customer_id=pk, since=now) for pk in new]
    )
    SegmentMembershipChange.objects.bulk_create(
        [
            SegmentMembershipChange(
                segment=segment, customer_id=pk, kind=ChangeKind.ENTERED, at=now
            )
            for pk in new
        ]
    )
    result.added = len(new)
    result.unchanged = len(set(customer_ids)) - len(new)
    Segment.objects.filter(pk=segment.pk).update(member_count=F("member_count") + len(new))
    audit_log_write(
        action="segment.members_add",
        object_type="segment",
        object_id=segment.public_id,
        actor=actor,
        actor_label=actor_label,
        data={"added": len(new)},
    )
    return result


def _customers_by_public_id(public_ids: list[str]) -> tuple[dict[str, int], list[str]]:
    found = dict(
        segment_base_customers().filter(public_id__in=public_ids).values_list("public_id", "pk")
    )
    return found, [pid for pid in public_ids if pid not in found]


def segment_members_add(
    *, segment: Segment, customer_ids: list[str], actor: Actor = None, actor_label: str = ""
) -> MembersResult:
    """Add customers (public ids) to a static list; unknown ids are reported, not added."""
    with transaction.atomic():
        locked = _static(segment)
        found, missing = _customers_by_public_id(customer_ids)
        result = _add_customers(locked, list(found.values()), actor, actor_label)
        result.unknown = [{"customer": pid} for pid in missing]
    return result


def segment_members_remove(
    *, segment: Segment, customer_ids: list[str], actor: Actor = None, actor_label: str = ""
) -> MembersResult:
    """Remove customers (public ids) from a static list."""
    with transaction.atomic():
        locked = _static(segment)
        found, missing = _customers_by_public_id(customer_ids)
        now = timezone.now()
        present = list(
            SegmentMembership.objects.filter(
                segment=locked, customer_id__in=list(found.values())
            ).values_list("customer_id", flat=True)
        )
        SegmentMembership.objects.filter(segment=locked, customer_id__in=present).delete()
        SegmentMembershipChange.objects.bulk_create(
            [
                SegmentMembershipChange(
                    segment=locked, customer_id=pk, kind=ChangeKind.LEFT, at=now
                )
                for pk in present
            ]
        )
        Segment.objects.filter(pk=locked.pk).update(member_count=F("member_count") - len(present))
        audit_log_write(
            action="segment.members_remove",
            object_type="segment",
            object_id=locked.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"removed": len(present)},
        )
    return MembersResult(
        removed=len(present),
        unchanged=len(found) - len(present),
        unknown=[{"customer": pid} for pid in missing],
    )


def _email_key(value: str) -> str:
    """The normalized email, or "" when the cell is not an email address."""
    try:
        return normalize_email(value)
    except ValidationFailed:
        return ""


def _emails_from_csv(text: str) -> list[tuple[int, str]]:
    """(line number, email) for each data row: the column headed "email", or the first
    column when there is no header."""
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > MAX_UPLOAD_ROWS + 1:
        raise ValidationFailed(
            _("a file holds at most %(n)s rows") % {"n": MAX_UPLOAD_ROWS}, field="file"
        )
    column, start = 0, 0
    if rows:
        header = [cell.strip().lower() for cell in rows[0]]
        if "email" in header:
            column, start = header.index("email"), 1
        elif rows[0] and "@" not in rows[0][0]:
            raise ValidationFailed(
                _("line 1: no column named email, and the first cell is not an email address"),
                field="file",
            )
    found = []
    for index in range(start, len(rows)):
        row = rows[index]
        if not any(cell.strip() for cell in row):
            continue
        found.append((index + 1, row[column].strip() if column < len(row) else ""))
    return found


def segment_members_upload(
    *, segment: Segment, content: bytes | str, actor: Actor = None
) -> MembersResult:
    """Add the customers whose emails a CSV lists. Emails that match nobody, and cells that
    are not emails, are reported with their line numbers; the others are added."""
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed(_("the file is not UTF-8 text"), field="file") from None
    else:
        text = content
    lines = _emails_from_csv(text)
    with transaction.atomic():
        locked = _static(segment)
        keys = [(line, email, _email_key(email)) for line, email in lines]
        wanted = {key for _line, _email, key in keys if key}
        by_email: dict[str, int] = dict(
            Identity.objects.filter(
                kind=IdentityKind.EMAIL,
                value__in=wanted,
                customer__merged_into__isnull=True,
                customer__erased_at__isnull=True,
            ).values_list("value", "customer_id")
        )
        for email, pk in (
            segment_base_customers().filter(email__in=wanted).values_list("email", "pk")
        ):
            by_email.setdefault(email.lower(), pk)
        ids: list[int] = []
        unknown: list[dict[str, Any]] = []
        for line, email, key in keys:
            if key in by_email:
                ids.append(by_email[key])
            else:
                reason = _("no customer has this email") if key else _("not an email address")
                unknown.append({"line": line, "email": email, "reason": reason})
        result = _add_customers(locked, ids, actor)
        result.unknown = unknown
    return result
