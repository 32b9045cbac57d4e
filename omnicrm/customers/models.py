"""The single customer view: profiles, identities, addresses and consent."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from omnicrm.core.ids import new_customer_id
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

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["country", "city"])]

    def __str__(self) -> str:
        return self.name or self.email or self.public_id

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


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
