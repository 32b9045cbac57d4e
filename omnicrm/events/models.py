"""The event store: sources with their write keys, the append-only events, and a bounded
log of rejected requests (see docs/adr/0005-event-ingestion.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from omnicrm.core.models import TimeStampedModel


class SourceChannel(models.TextChoices):
    WEB = "web", _("Website")
    IOS = "ios", _("iOS app")
    ANDROID = "android", _("Android app")
    POS = "pos", _("Store POS")
    VOICE = "voice", _("Voice assistant")
    PARTNER = "partner", _("Partner store")
    EMAIL = "email", _("Email")
    SUPPORT = "support", _("Support desk")


class EventType(models.TextChoices):
    IDENTIFY = "identify", _("Identify")
    TRACK = "track", _("Track")
    PAGE = "page", _("Page")
    SCREEN = "screen", _("Screen")
    GROUP = "group", _("Group")
    ALIAS = "alias", _("Alias")


class Source(TimeStampedModel):
    """Where events come from (the website, the iOS app, the store POS...).

    Each source has its own write key, which can only write events. Like an API key it is
    ``wk_<prefix>_<secret>``: the prefix is public and names the source, only the SHA-256
    of the whole key is stored, and the key is shown once.
    """

    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=10, choices=SourceChannel.choices)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Refreshed at most once a minute by ingestion, so busy sources do not contend on it.
    last_event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel}, {self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Event(models.Model):
    """One Segment-style message as received: append-only.

    Ingestion only inserts; processing later fills ``customer`` and ``processed_at`` (and
    ``attempts``/``error`` when it fails), and identity merges re-point ``customer``. The
    other columns never change. ``received_at`` plays the part of ``created_at``.

    ``timestamp`` is when it happened, corrected for the sender's clock skew with
    ``sentAt`` as Segment does; ``original_timestamp`` keeps the device's own value.
    ``event`` holds the track event name or the page/screen name.
    """

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="events")
    message_id = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=EventType.choices)
    event = models.CharField(max_length=200, blank=True)
    user_id = models.CharField(max_length=255, blank=True)
    anonymous_id = models.CharField(max_length=255, blank=True)
    previous_id = models.CharField(max_length=255, blank=True)
    channel = models.CharField(max_length=10, choices=SourceChannel.choices)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    properties = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()
    original_timestamp = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="event_source_message_unique"
            ),
            models.CheckConstraint(condition=Q(type__in=EventType.values), name="event_type_known"),
        ]
        # Ascending keys, read backwards for "newest first": new rows land at the right
        # edge of each index, where B-tree page splits are cheap. The customer index skips
        # rows not processed yet (no customer), so ingestion does not pay for it.
        indexes = [
            # The Customer 360 timeline and the per-customer reads of recommendations.
            models.Index(
                fields=["customer", "timestamp"],
                condition=Q(customer__isnull=False),
                name="event_customer_timeline",
            ),
            # The console's live view: the latest events of one source.
            models.Index(fields=["source", "id"], name="event_source_recent"),
            # Processing finds its work here; processed rows leave the index.
            models.Index(
                fields=["id"], condition=Q(processed_at__isnull=True), name="event_unprocessed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event or ''} ({self.message_id})".replace("  ", " ")


class RejectedEvent(models.Model):
    """A request the tracking API refused, kept so staff can see why a site's events fail.

    Bounded: ingestion keeps at most a few hundred rows per source (and for unknown keys)
    and writes at most a few per second per process, so nobody can fill the database by
    sending garbage.
    """

    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.CASCADE, related_name="rejections"
    )
    status = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=40)
    message = models.CharField(max_length=300)
    field = models.CharField(max_length=100, blank=True)
    excerpt = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["source", "-id"], name="rejected_source_latest")]

    def __str__(self) -> str:
        return f"{self.status} {self.code}"
