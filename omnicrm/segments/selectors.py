"""Reads of segments: lists, members, history, the live count preview and the export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from omnicrm.core.errors import NotFound
from omnicrm.customers.models import Customer
from omnicrm.segments.models import Segment, SegmentMembership, SegmentMembershipChange
from omnicrm.segments.rules import rules_compile, segment_query_settings

SAMPLE_SIZE = 10
EXPORT_BATCH = 2000


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.order_by("name", "id")


def segment_get(*, public_id: str) -> Segment:
    try:
        return Segment.objects.get(public_id=public_id)
    except Segment.DoesNotExist:
        raise NotFound(_("no segment with id %(id)s") % {"id": public_id}, field="id") from None


def segment_members(*, segment: Segment) -> QuerySet[SegmentMembership]:
    return SegmentMembership.objects.filter(segment=segment).select_related("customer")


def segment_changes(*, segment: Segment, limit: int = 50) -> list[SegmentMembershipChange]:
    return list(
        SegmentMembershipChange.objects.filter(segment=segment)
        .select_related("customer")
        .order_by("-at", "-id")[:limit]
    )


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Customer]
    rules: dict[str, Any]


def segment_preview(*, rules: Any, sample_size: int = SAMPLE_SIZE) -> Preview:
    """How many customers the rules select right now, and a few of them (newest first)."""
    compiled = rules_compile(rules)
    qs = compiled.queryset()
    with segment_query_settings():
        return Preview(
            count=qs.count(),
            sample=list(qs.order_by("-id")[:sample_size]) if sample_size else [],
            rules=compiled.rules,
        )


EXPORT_COLUMNS = ("customer_id", "name", "email", "phone", "country", "city", "language", "since")


def segment_export_rows(*, segment: Segment) -> Iterator[list[str]]:
    """The header then one row per member, read in keyset batches so memory stays flat."""
    yield list(EXPORT_COLUMNS)
    last_id = 0
    while True:
        batch = list(
            SegmentMembership.objects.filter(segment=segment, pk__gt=last_id)
            .order_by("pk")
            .values_list(
                "pk",
                "customer__public_id",
                "customer__name",
                "customer__email",
                "customer__phone",
                "customer__country",
                "customer__city",
                "customer__language",
                "since",
            )[:EXPORT_BATCH]
        )
        if not batch:
            return
        for row in batch:
            yield [*row[1:8], row[8].isoformat()]
        last_id = batch[-1][0]
