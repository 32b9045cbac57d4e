"""The single customer view: profiles, identities, addresses and consent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from omnicrm.core.ids import new_customer_id, new_public_id
from omnicrm.core.models import TimeStampedModel


class Customer(TimeStampedModel):
    """One person, whatever channels and identifiers they reach the shop through."""

    public_id = models.CharField(
        max_length=40, unique=True, default=new_customer_id, editable=False
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True, db_index=True)
    language = models.CharField(max_length=16, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    country = models.CharField(max_length=2, blank=True)
    city = models.CharField(max_length=120, blank=True)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    # A merged profile stays as a tombstone pointing at the profile that absorbed it, so
    # its old public id can still be answered and the merge can be split back apart.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_profiles",
    )
    merged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["country", "city"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | ~Q(merged_into=F("id")),
                name="customer_not_merged_into_itself",
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True, merged_at__isnull=True)
                | Q(merged_into__isnull=False, merged_at__isnull=False),
                name="customer_merged_at_with_merged_into",
            ),
        ]
        permissions = [("merge_customer", "Can merge and split customer profiles")]

    def __str__(self) -> str:
        return self.name or self.email or self.public_id

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class IdentityKind(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    USER_ID = "user_id", _("User id")
    ANONYMOUS = "anonymous", _("Anonymous id")
    DEVICE = "device", _("Device")
    LOYALTY_CARD = "loyalty_card", _("Loyalty card")
    EXTERNAL = "external", _("External id")


class Identity(TimeStampedModel):
    """An identifier that points at a customer. (kind, value) is unique across the shop."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=20, choices=IdentityKind.choices)
    value = models.CharField(max_length=255)
    verified = models.BooleanField(default=False)
    source = models.CharField(max_length=50, blank=True)
    # A device or anonymous id used by many people (a store terminal, a family tablet):
    # it never links or merges profiles (see docs/identity.md).
    shared = models.BooleanField(default=False)

    class Meta:
        ordering = ["kind", "value"]
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identity_kind_value_unique"),
            models.CheckConstraint(condition=~Q(value=""), name="identity_value_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class AddressKind(models.TextChoices):
    SHIPPING = "shipping", _("Shipping")
    BILLING = "billing", _("Billing")


class Address(TimeStampedModel):
    """A postal address of a customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(
        max_length=10, choices=AddressKind.choices, default=AddressKind.SHIPPING
    )
    line1 = models.CharField(max_length=200, blank=True)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=120, blank=True)
    region = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "id"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind"],
                condition=Q(is_default=True),
                name="address_one_default_per_kind",
            )
        ]

    def __str__(self) -> str:
        return ", ".join(p for p in [self.line1, self.city, self.region, self.country] if p)


class ConsentChannel(models.TextChoices):
    EMAIL = "email", _("Email marketing")
    SMS = "sms", _("SMS")
    PUSH = "push", _("Push notifications")
    PHONE = "phone", _("Phone calls")
    TRACKING = "tracking", _("Tracking and personalization")


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    UNKNOWN = "unknown", _("Not asked")


class Consent(TimeStampedModel):
    """The current consent of a customer for one channel; history in ConsentEvent."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=10, choices=ConsentChannel.choices)
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["channel"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "channel"], name="consent_customer_channel")
        ]

    def __str__(self) -> str:
        return f"{self.channel}={self.status}"


class ConsentEvent(models.Model):
    """Append-only history of consent changes: what, when, and through which source."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(max_length=10, choices=ConsentChannel.choices)
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel}={self.status} at {self.occurred_at:%Y-%m-%d}"


def new_merge_id() -> str:
    return new_public_id("mrg")


class MergeTrigger(models.TextChoices):
    MANUAL = "manual", _("Staff")
    IDENTIFY = "identify", _("Identify (anonymous visitor logged in)")
    ALIAS = "alias", _("Alias")
    RULE = "rule", _("Shared identifier rule")


class MergeStatus(models.TextChoices):
    MERGED = "merged", _("Merged")
    SPLIT = "split", _("Split")


class CustomerMerge(TimeStampedModel):
    """One merge of a secondary profile into a primary, with everything needed to undo it.

    ``moved`` holds the ids of the rows that changed owner, per table
    (``{"identities": [...], "addresses": [...], "orders": [...], "reviews": [...],
    "wishlist_items": [...], "recommendation_feedback": [...],
    "events": [...]}``); ``primary_changes`` the primary's fields the merge filled in
    (``{field: [before, after]}``); ``secondary_snapshot`` the secondary's profile fields;
    ``consent_changes`` the primary's consents the merge made stricter
    (``{channel: {"before": {...} | null, "after": {...}}}``); ``secondary_consents`` the
    secondary's own consents, which never leave it. Split fills ``split_*`` and
    ``returned`` (the ids that went back, including rows created after the merge).
    """

    public_id = models.CharField(max_length=40, unique=True, default=new_merge_id, editable=False)
    primary = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="merges_as_primary"
    )
    secondary = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="merges_as_secondary"
    )
    status = models.CharField(
        max_length=10, choices=MergeStatus.choices, default=MergeStatus.MERGED
    )
    trigger = models.CharField(max_length=10, choices=MergeTrigger.choices)
    reason = models.CharField(max_length=500, blank=True)
    matched_kind = models.CharField(max_length=20, choices=IdentityKind.choices, blank=True)
    matched_value = models.CharField(max_length=255, blank=True)
    moved = models.JSONField(default=dict)
    address_defaults_cleared = models.JSONField(default=list)
    primary_changes = models.JSONField(default=dict)
    secondary_snapshot = models.JSONField(default=dict)
    consent_changes = models.JSONField(default=dict)
    secondary_consents = models.JSONField(default=list)
    merged_at = models.DateTimeField()
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_by_label = models.CharField(max_length=200, blank=True)
    split_at = models.DateTimeField(null=True, blank=True)
    split_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    split_by_label = models.CharField(max_length=200, blank=True)
    returned = models.JSONField(default=dict)

    class Meta:
        ordering = ["-merged_at", "-id"]
        indexes = [
            models.Index(fields=["primary", "-merged_at"], name="merge_primary_time"),
            models.Index(fields=["secondary", "-merged_at"], name="merge_secondary_time"),
            models.Index(
                fields=["matched_kind", "matched_value"],
                condition=Q(status="merged") & ~Q(matched_value=""),
                name="merge_matched_identifier",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(primary=F("secondary")), name="merge_primary_is_not_secondary"
            ),
            # A profile can be merged away once at a time; splitting frees it again.
            models.UniqueConstraint(
                fields=["secondary"],
                condition=Q(status="merged"),
                name="merge_one_live_merge_per_secondary",
            ),
            models.CheckConstraint(
                condition=Q(status="merged", split_at__isnull=True)
                | Q(status="split", split_at__isnull=False),
                name="merge_split_at_with_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"


class IdentityBlocklist(TimeStampedModel):
    """A value pattern that never identifies anyone: a placeholder such as a shop's own
    "khach@thecoffee.vn" typed for walk-in buyers. Added by admins on top of the built-in
    placeholders and the OMNICRM_IDENTITY_RULES setting (see docs/identity.md).

    ``pattern`` is a case-insensitive glob: ``*`` any run of characters, ``?`` one.
    """

    kind = models.CharField(max_length=20, choices=IdentityKind.choices)
    pattern = models.CharField(max_length=255)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["kind", "pattern"]
        verbose_name = "identity blocklist entry"
        verbose_name_plural = "identity blocklist"
        constraints = [
            models.UniqueConstraint(fields=["kind", "pattern"], name="blocklist_kind_pattern"),
            models.CheckConstraint(condition=~Q(pattern=""), name="blocklist_pattern_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.pattern}"
