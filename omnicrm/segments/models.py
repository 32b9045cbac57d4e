"""Segments, their current members and the history of who entered and left."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from omnicrm.core.ids import new_public_id
from omnicrm.core.models import TimeStampedModel


def new_segment_id() -> str:
    return new_public_id("seg")


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", _("Dynamic (rules)")
    STATIC = "static", _("Static list")


class Segment(TimeStampedModel):
    """A group of customers: a rule tree (dynamic) or a hand-kept list (static).

    ``rules`` is the validated tree of omnicrm.segments.rules; ``refresh_on_activity``
    says whether the rules read data that orders and events change (profile, consent,
    orders, events), so that a changed customer is re-evaluated within seconds.
    """

    public_id = models.CharField(max_length=40, unique=True, default=new_segment_id, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=120, unique=True)
    kind = models.CharField(max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    description = models.TextField(blank=True)
    rules = models.JSONField(default=dict, blank=True)
    refresh_on_activity = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    refreshed_at = models.DateTimeField(null=True, blank=True)
    member_count = models.IntegerField(default=0)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["dynamic", "static"]), name="segment_kind_known"
            ),
            models.CheckConstraint(
                condition=Q(member_count__gte=0), name="segment_member_count_not_negative"
            ),
        ]
        permissions = [("refresh_segment", "Can refresh and export segments")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dynamic(self) -> bool:
        return self.kind == SegmentKind.DYNAMIC


class SegmentMembership(models.Model):
    """A customer currently in a segment, since when. Rows are written in bulk by
    INSERT ... SELECT, so the table keeps only ``since`` rather than the usual timestamps."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="segment_memberships"
    )
    since = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "customer"], name="segmentmembership_unique"
            ),
        ]
        # The unique index serves "members of a segment"; this one "segments of a customer".
        indexes = [models.Index(fields=["customer"], name="segmentmembership_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class ChangeKind(models.TextChoices):
    ENTERED = "entered", _("Entered")
    LEFT = "left", _("Left")


class SegmentMembershipChange(models.Model):
    """Append-only history: a customer entered or left a segment at a moment."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="changes")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="segment_changes"
    )
    kind = models.CharField(max_length=7, choices=ChangeKind.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["entered", "left"]), name="segmentchange_kind_known"
            ),
        ]
        indexes = [
            models.Index(fields=["segment", "at"], name="segmentchange_segment_at"),
            models.Index(fields=["customer", "at"], name="segmentchange_customer_at"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.segment_id} at {self.at:%Y-%m-%d}"
