"""Every write to customer profiles: create, update, erase, identities, addresses, consent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from omnicrm.core.errors import Conflict, ValidationFailed
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.customers.errors import CustomerMerged
from omnicrm.customers.models import (
    Address,
    Consent,
    ConsentChannel,
    ConsentEvent,
    ConsentStatus,
    Customer,
    Identity,
    IdentityKind,
)
from omnicrm.customers.normalize import normalize_email, normalize_identity, normalize_phone

PROFILE_FIELDS = ("name", "email", "phone", "language", "timezone", "country", "city")
# Following merged_into from a tombstone: chains are short and cannot loop by
# construction; the bound only stops a corrupted row from looping forever.
MAX_MERGE_CHAIN = 50


def customer_live(customer: Customer) -> Customer:
    """The profile a merged one's data now lives on (the customer itself when not merged)."""
    current = customer
    for _step in range(MAX_MERGE_CHAIN):
        if current.merged_into_id is None:
            return current
        current = Customer.objects.get(pk=current.merged_into_id)
    raise RuntimeError(f"merge chain of {customer.public_id} is longer than {MAX_MERGE_CHAIN}")


def customer_ensure_live(customer: Customer) -> None:
    """Refuse to change a merged profile (409), naming the profile its data went to."""
    if customer.merged_into_id is not None:
        raise CustomerMerged(
            public_id=customer.public_id, merged_into=customer_live(customer).public_id
        )


def _clean_profile(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = {k: ("" if v is None else str(v).strip()) for k, v in fields.items()}
    if cleaned.get("email"):
        cleaned["email"] = normalize_email(cleaned["email"])
    if cleaned.get("phone"):
        cleaned["phone"] = normalize_phone(cleaned["phone"])
    if cleaned.get("country"):
        country = cleaned["country"].upper()
        if len(country) != 2 or not country.isalpha():
            raise ValidationFailed("country must be a two-letter ISO 3166 code", field="country")
        cleaned["country"] = country
    if len(cleaned.get("name", "")) > 200:
        raise ValidationFailed("name is at most 200 characters", field="name")
    return cleaned


def _claim_identity(*, customer: Customer, kind: str, value: str, source: str) -> None:
    existing = Identity.objects.filter(kind=kind, value=value).first()
    if existing is None:
        Identity.objects.create(customer=customer, kind=kind, value=value, source=source)
    elif existing.customer_id != customer.pk:
        raise Conflict(
            f"{kind} {value} already belongs to customer {existing.customer.public_id}",
            field=kind,
            extra={"customer": existing.customer.public_id},
        )


def customer_create(
    *,
    name: str = "",
    email: str = "",
    phone: str = "",
    language: str = "",
    timezone_name: str = "",
    country: str = "",
    city: str = "",
    source: str = "api",
    actor: Actor = None,
    actor_label: str = "",
) -> Customer:
    """Create a profile; its email and phone become identities, which must be free."""
    fields = _clean_profile(
        {
            "name": name,
            "email": email,
            "phone": phone,
            "language": language,
            "timezone": timezone_name,
            "country": country,
            "city": city,
        }
    )
    now = timezone.now()
    with transaction.atomic():
        customer = Customer.objects.create(**fields, first_seen_at=now, last_seen_at=now)
        for kind in (IdentityKind.EMAIL, IdentityKind.PHONE):
            if fields[kind]:
                _claim_identity(customer=customer, kind=kind, value=fields[kind], source=source)
        audit_log_write(
            action="customer.create",
            object_type="customer",
            object_id=customer.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"source": source},
        )
    return customer


def customer_update(
    *, customer: Customer, data: dict[str, Any], actor: Actor = None, actor_label: str = ""
) -> Customer:
    """Change profile fields; a new email or phone is claimed as an identity."""
    unknown = set(data) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown field {sorted(unknown)[0]}", field=sorted(unknown)[0])
    if customer.erased_at:
        raise Conflict("an erased customer cannot be changed")
    customer_ensure_live(customer)
    fields = _clean_profile(data)
    with transaction.atomic():
        for kind in (IdentityKind.EMAIL, IdentityKind.PHONE):
            if fields.get(kind) and fields[kind] != getattr(customer, kind):
                _claim_identity(customer=customer, kind=kind, value=fields[kind], source="update")
        changed = {k: v for k, v in fields.items() if getattr(customer, k) != v}
        for key, value in changed.items():
            setattr(customer, key, value)
        if changed:
            customer.save(update_fields=[*changed, "updated_at"])
            audit_log_write(
                action="customer.update",
                object_type="customer",
                object_id=customer.public_id,
                actor=actor,
                actor_label=actor_label,
                data={"fields": sorted(changed)},
            )
    return customer


def customer_erase(*, customer: Customer, actor: Actor = None, actor_label: str = "") -> Customer:
    """Right to erasure: personal data goes; orders stay (anonymous) for the books."""
    from omnicrm.customers.merge import customer_merges_erase

    if customer.erased_at:
        return customer
    with transaction.atomic():
        # Profiles merged into this one hold the same person's data: they go too.
        customer_merges_erase(customer=customer)
        customer.identities.all().delete()
        customer.addresses.all().delete()
        customer.consent_events.all().delete()
        customer.consents.all().delete()
        customer.reviews.update(title="", body="")
        # What they wished for and told recommendations is about them, not the books.
        customer.wishlist_items.all().delete()
        customer.recommendation_feedback.all().delete()
        for key in PROFILE_FIELDS:
            setattr(customer, key, "")
        customer.erased_at = timezone.now()
        customer.save()
        audit_log_write(
            action="customer.erase",
            object_type="customer",
            object_id=customer.public_id,
            actor=actor,
            actor_label=actor_label,
        )
    return customer


def identity_add(
    *,
    customer: Customer,
    kind: str,
    value: str,
    verified: bool = False,
    source: str = "api",
    actor: Actor = None,
    actor_label: str = "",
) -> Identity:
    if kind not in IdentityKind.values:
        raise ValidationFailed(f"unknown identity kind {kind!r}", field="kind")
    customer_ensure_live(customer)
    normalized = normalize_identity(kind, value)
    with transaction.atomic():
        _claim_identity(customer=customer, kind=kind, value=normalized, source=source)
        identity = Identity.objects.get(kind=kind, value=normalized)
        if verified and not identity.verified:
            identity.verified = True
            identity.save(update_fields=["verified", "updated_at"])
        audit_log_write(
            action="identity.add",
            object_type="customer",
            object_id=customer.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"kind": kind},
        )
    return identity


def address_add(
    *, customer: Customer, data: dict[str, Any], actor: Actor = None, actor_label: str = ""
) -> Address:
    allowed = {"kind", "line1", "line2", "city", "region", "postal_code", "country", "is_default"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed(f"unknown field {sorted(unknown)[0]}", field=sorted(unknown)[0])
    customer_ensure_live(customer)
    with transaction.atomic():
        if data.get("is_default"):
            customer.addresses.filter(kind=data.get("kind", "shipping"), is_default=True).update(
                is_default=False
            )
        try:
            address = Address.objects.create(customer=customer, **data)
        except IntegrityError as exc:
            raise Conflict("the customer already has a default address of that kind") from exc
        audit_log_write(
            action="address.add",
            object_type="customer",
            object_id=customer.public_id,
            actor=actor,
            actor_label=actor_label,
        )
    return address


def consent_set(
    *,
    customer: Customer,
    channel: str,
    status: str,
    source: str = "",
    occurred_at: datetime | None = None,
    actor: Actor = None,
    actor_label: str = "",
) -> Consent:
    """Record a consent decision; the history keeps every change with its source."""
    if channel not in ConsentChannel.values:
        raise ValidationFailed(f"unknown consent channel {channel!r}", field="channel")
    if status not in ConsentStatus.values:
        raise ValidationFailed(f"unknown consent status {status!r}", field="status")
    customer_ensure_live(customer)
    when = occurred_at or timezone.now()
    with transaction.atomic():
        consent, _ = Consent.objects.select_for_update().get_or_create(
            customer=customer, channel=channel, defaults={"status": status, "changed_at": when}
        )
        if consent.status != status or consent.changed_at != when:
            consent.status = status
            consent.changed_at = when
            consent.save(update_fields=["status", "changed_at", "updated_at"])
        ConsentEvent.objects.create(
            customer=customer, channel=channel, status=status, source=source, occurred_at=when
        )
        audit_log_write(
            action="consent.set",
            object_type="customer",
            object_id=customer.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"channel": channel, "status": status},
        )
    return consent
