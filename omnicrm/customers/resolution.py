"""Identity resolution: the profile an incoming identify/track/page/alias belongs to.

Called by event processing (omnicrm.events) for every event; see docs/identity.md for the
rules in plain words and docs/adr/0006-identity-resolution.md for why they are so.

Order: a known userId names the profile; else the anonymousId's profile (created on first
sight). An identify carrying both links the anonymous id to the user and merges the
anonymous profile in, so the visitor's earlier events join. Identifiers in the traits
(email, phone, loyalty card) join two profiles only when the merge rules allow it.
Nothing is written for a person who withdrew tracking consent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from omnicrm.core.errors import ValidationFailed
from omnicrm.core.models import AuditLog
from omnicrm.core.services import audit_log_write
from omnicrm.customers.errors import CustomerMerged, MergeBlocked
from omnicrm.customers.merge import customer_merge
from omnicrm.customers.models import Customer, Identity, IdentityKind, MergeTrigger
from omnicrm.customers.normalize import normalize_identity
from omnicrm.customers.rules import (
    PERSONAL_KINDS,
    Policy,
    Reason,
    identifier_blockers,
    identity_policy,
    is_shared_device_profile,
    merge_blockers,
    tracking_withdrawn,
)

logger = logging.getLogger(__name__)

ATTEMPTS = 3
# A blocked automatic merge is audited once a day per profile and identifier, not once per
# event: a visitor's whole session would otherwise repeat the same row.
BLOCKED_AUDIT_EVERY = timedelta(days=1)
# Which identifier names the person at a shared terminal, strongest first.
ATTRIBUTION_ORDER = ("loyalty_card", "external", "phone", "email")
SOURCE_MAX = 50

_TRAIT_KEYS = {
    "email": ("email",),
    "phone": ("phone",),
    "loyalty_card": ("loyalty_card", "loyaltyCard"),
    "external": ("external_id", "externalId"),
}
_VERIFIED_KEYS = {
    "email": ("email_verified", "emailVerified"),
    "phone": ("phone_verified", "phoneVerified"),
    # A card is scanned or typed from the card itself; it needs no separate proof.
    "loyalty_card": (),
    "external": (),
}


@dataclass(frozen=True)
class Claim:
    """An identifier the traits present, normalized, with whether the sender vouches for it."""

    kind: str
    value: str
    verified: bool


def _flag(traits: dict[str, Any], *keys: str) -> bool:
    return any(traits.get(k) is True for k in keys)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _clean_id(kind: str, value: Any, policy: Policy) -> str:
    """The id as stored, or "" when it is missing, too long or a placeholder ("undefined")."""
    cleaned = value.strip() if isinstance(value, str) else ""
    if not cleaned or len(cleaned) > 255 or policy.is_placeholder(kind, cleaned):
        return ""
    return cleaned


def _claims(traits: dict[str, Any], policy: Policy) -> list[Claim]:
    claims = []
    for kind, keys in _TRAIT_KEYS.items():
        raw = next((traits[k] for k in keys if k in traits), None)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or not raw.strip():
            continue
        try:
            value = normalize_identity(kind, raw)
        except ValidationFailed:
            logger.info("identity trait %s ignored: %r is not a valid value", kind, raw[:80])
            continue
        if policy.is_placeholder(kind, value):
            continue
        claims.append(Claim(kind, value, _flag(traits, *_VERIFIED_KEYS[kind])))
    return claims


def _language(value: str) -> str:
    code = value.strip().lower().replace("_", "-")
    if not code:
        return ""
    known = {c for c, _name in settings.LANGUAGES}
    if code in known:
        return code
    if code.startswith("zh") and any(t in code for t in ("cn", "sg", "hans")):
        return "zh-hans"
    base = code.split("-")[0]
    return base if base.isalpha() and len(base) <= 8 else ""


def _profile_traits(traits: dict[str, Any]) -> dict[str, str]:
    """Profile fields the traits set; invalid values are skipped, never stored."""
    fields: dict[str, str] = {}
    name = _text(traits.get("name"))
    if not name:
        first = _text(traits.get("firstName") or traits.get("first_name"))
        last = _text(traits.get("lastName") or traits.get("last_name"))
        name = f"{first} {last}".strip()
    if name and len(name) <= 200:
        fields["name"] = name
    language = _language(_text(traits.get("language") or traits.get("locale")))
    if language:
        fields["language"] = language
    tz = _text(traits.get("timezone"))
    if tz and len(tz) <= 64:
        fields["timezone"] = tz
    raw_address = traits.get("address")
    address: dict[str, Any] = raw_address if isinstance(raw_address, dict) else {}
    country = _text(address.get("country") or traits.get("country")).upper()
    if len(country) == 2 and country.isalpha():
        fields["country"] = country
    city = _text(address.get("city") or traits.get("city"))
    if city and len(city) <= 120:
        fields["city"] = city
    return fields


def _identity(kind: str, value: str) -> Identity | None:
    if not value:
        return None
    return Identity.objects.select_related("customer").filter(kind=kind, value=value).first()


def _user_ids(customer: Customer) -> list[str]:
    return list(
        customer.identities.filter(kind=IdentityKind.USER_ID).values_list("value", flat=True)
    )


def _create(*, seen_at: datetime, source: str, channel: str) -> Customer:
    customer = Customer.objects.create(first_seen_at=seen_at, last_seen_at=seen_at)
    audit_log_write(
        action="customer.create",
        object_type="customer",
        object_id=customer.public_id,
        actor_label="identity resolution",
        data={"source": source, "channel": channel},
    )
    return customer


def _claim(
    customer: Customer,
    kind: str,
    value: str,
    *,
    source: str,
    verified: bool = False,
    shared: bool = False,
) -> Identity:
    return Identity.objects.create(
        customer=customer,
        kind=kind,
        value=value,
        verified=verified,
        shared=shared,
        source=source[:SOURCE_MAX],
    )


def _mark_shared(identity: Identity, *, why: str) -> None:
    if identity.shared:
        return
    identity.shared = True
    identity.save(update_fields=["shared", "updated_at"])
    audit_log_write(
        action="identity.shared",
        object_type="customer",
        object_id=identity.customer.public_id,
        actor_label="identity resolution",
        data={"kind": identity.kind, "value": identity.value, "why": why},
    )


def _audit_blocked(
    customer: Customer, other: Customer, kind: str, value: str, reasons: list[Reason]
) -> None:
    data = {
        "kind": kind,
        "value": value,
        "other": other.public_id,
        "reasons": [r.as_dict() for r in reasons],
    }
    recent = AuditLog.objects.filter(
        action="identity.merge_blocked",
        object_type="customer",
        object_id=customer.public_id,
        created_at__gte=timezone.now() - BLOCKED_AUDIT_EVERY,
        data__kind=kind,
        data__value=value,
    )
    if not recent.exists():
        audit_log_write(
            action="identity.merge_blocked",
            object_type="customer",
            object_id=customer.public_id,
            actor_label="identity resolution",
            data=data,
        )


def _primary_of(a: Customer, b: Customer) -> tuple[Customer, Customer]:
    """Which of two profiles survives an automatic merge: the one with a userId, else the
    one that names a person, else the older one."""

    def rank(customer: Customer) -> tuple[int, int, int]:
        kinds = set(customer.identities.values_list("kind", flat=True))
        return (
            0 if IdentityKind.USER_ID in kinds else 1,
            0 if kinds & set(PERSONAL_KINDS) else 1,
            customer.pk,
        )

    first, second = sorted((a, b), key=rank)
    return first, second


def _merge(
    *,
    primary: Customer,
    secondary: Customer,
    trigger: str,
    reason: str,
    matched: Claim | None = None,
) -> Customer:
    """Merge, or leave both apart when a rule refuses; returns the profile to use."""
    try:
        merge = customer_merge(
            primary=primary,
            secondary=secondary,
            reason=reason,
            actor_label="identity resolution",
            trigger=trigger,
            matched_kind=matched.kind if matched else "",
            matched_value=matched.value if matched else "",
        )
    except MergeBlocked as blocked:
        reasons = [Reason(r["code"], r["message"]) for r in blocked.extra["reasons"]]
        _audit_blocked(primary, secondary, matched.kind if matched else "", "", reasons)
        return primary
    primary.refresh_from_db()
    logger.info("merged %s into %s (%s)", secondary.public_id, primary.public_id, merge.public_id)
    return primary


def _apply_claims(
    customer: Customer,
    claims: list[Claim],
    *,
    source: str,
    from_shared_device: bool,
    policy: Policy,
) -> Customer:
    """Attach the traits' identifiers to ``customer``; an identifier another profile holds
    merges the two when the rules allow it. Returns the profile that survived."""
    for claim in claims:
        owner = _identity(claim.kind, claim.value)
        if owner is None:
            _claim(customer, claim.kind, claim.value, source=source, verified=claim.verified)
            continue
        if owner.customer_id == customer.pk:
            if claim.verified and not owner.verified:
                owner.verified = True
                owner.save(update_fields=["verified", "updated_at"])
            continue
        other = owner.customer
        if (
            claim.kind in policy.rules.require_verified
            and claim.verified
            and not owner.verified
            and not from_shared_device
        ):
            # Whoever proves the address owns it: an unverified holder (a typo, a form
            # filled with someone else's email) loses the identifier, and nothing merges.
            owner.customer = customer
            owner.verified = True
            owner.save(update_fields=["customer", "verified", "updated_at"])
            if getattr(other, claim.kind, None) == claim.value:
                setattr(other, claim.kind, "")
                other.save(update_fields=[claim.kind, "updated_at"])
            audit_log_write(
                action="identity.reassign",
                object_type="customer",
                object_id=customer.public_id,
                actor_label="identity resolution",
                data={"kind": claim.kind, "value": claim.value, "from": other.public_id},
            )
            continue
        primary, secondary = _primary_of(customer, other)
        reasons = identifier_blockers(
            kind=claim.kind,
            value=claim.value,
            claim_verified=claim.verified,
            owner=owner,
            claimant=customer,
            from_shared_device=from_shared_device,
            policy=policy,
        ) + merge_blockers(primary=primary, secondary=secondary, trigger=MergeTrigger.RULE)
        if reasons:
            _audit_blocked(customer, other, claim.kind, claim.value, reasons)
            continue
        customer = _merge(
            primary=primary,
            secondary=secondary,
            trigger=MergeTrigger.RULE,
            reason=f"shared {claim.kind} {claim.value}",
            matched=claim,
        )
    return customer


def _apply_fields(
    customer: Customer,
    fields: dict[str, str],
    *,
    claims: list[Claim],
    seen_at: datetime,
    source: str,
) -> None:
    """Traits overwrite profile fields. The email and phone fields take the traits' value
    only when the profile holds that identity (never another person's address); an empty
    one is filled from an identity the profile holds."""
    owned: dict[str, list[str]] = {}
    for kind, value in customer.identities.filter(kind__in=("email", "phone")).values_list(
        "kind", "value"
    ):
        owned.setdefault(kind, []).append(value)
    for kind in ("email", "phone"):
        presented = [c.value for c in claims if c.kind == kind and c.value in owned.get(kind, [])]
        if presented:
            fields[kind] = presented[0]
        elif owned.get(kind) and not getattr(customer, kind):
            fields[kind] = sorted(owned[kind])[0]
    changed = [name for name, value in fields.items() if getattr(customer, name) != value]
    for name in changed:
        setattr(customer, name, fields[name])
    if customer.first_seen_at is None or seen_at < customer.first_seen_at:
        customer.first_seen_at = seen_at
        changed.append("first_seen_at")
    if customer.last_seen_at is None or seen_at > customer.last_seen_at:
        customer.last_seen_at = seen_at
        changed.append("last_seen_at")
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    profile_changes = sorted(set(changed) - {"first_seen_at", "last_seen_at"})
    if profile_changes:
        audit_log_write(
            action="customer.traits",
            object_type="customer",
            object_id=customer.public_id,
            actor_label="identity resolution",
            data={"fields": profile_changes, "source": source},
        )


def _person_at_terminal(claims: list[Claim]) -> Customer | None:
    """At a shared terminal the traits name the person (a scanned loyalty card, a phone
    typed at the till): the event is theirs, and the terminal's profile stays apart."""
    for kind in ATTRIBUTION_ORDER:
        for claim in claims:
            if claim.kind != kind:
                continue
            owner = _identity(claim.kind, claim.value)
            if owner and not is_shared_device_profile(owner.customer):
                return owner.customer
    return None


def _resolve(
    *,
    user_id: str,
    anonymous_id: str,
    traits: dict[str, Any],
    claims: list[Claim],
    channel: str,
    source: str,
    seen_at: datetime,
    policy: Policy,
) -> Customer | None:
    known_identity = _identity(IdentityKind.USER_ID, user_id)
    anon_identity = _identity(IdentityKind.ANONYMOUS, anonymous_id)
    known = known_identity.customer if known_identity else None
    anon = anon_identity.customer if anon_identity else None
    shared = bool(anonymous_id) and (
        channel in policy.rules.shared_device_channels
        or _flag(traits, "shared_device", "sharedDevice")
        or (anon_identity is not None and anon_identity.shared)
    )
    if anon_identity is not None and shared and not anon_identity.shared:
        _mark_shared(anon_identity, why=f"channel {channel}")

    if shared and not user_id:
        person = _person_at_terminal(claims)
        if person is not None and tracking_withdrawn(person):
            return None
        if person is None and not claims:
            # Nobody named: the event belongs to the terminal itself.
            if anon is None:
                anon = _create(seen_at=seen_at, source=source, channel=channel)
                _claim(anon, IdentityKind.ANONYMOUS, anonymous_id, source=source, shared=True)
            _apply_fields(anon, {}, claims=[], seen_at=seen_at, source=source)
            return anon
        customer = person or _create(seen_at=seen_at, source=source, channel=channel)
        customer = _apply_claims(
            customer, claims, source=source, from_shared_device=True, policy=policy
        )
        _apply_fields(
            customer, _profile_traits(traits), claims=claims, seen_at=seen_at, source=source
        )
        return customer

    involved = [c for c in (known, None if shared else anon) if c is not None]
    if any(tracking_withdrawn(c) for c in involved):
        return None

    if user_id:
        if known is None:
            if anon is not None and not shared and not _user_ids(anon):
                customer = anon
            else:
                if anon is not None and not shared and anon_identity is not None:
                    # One browser, two logins: a family computer. Its id links nobody now.
                    _mark_shared(anon_identity, why="seen with two userIds")
                    shared = True
                customer = _create(seen_at=seen_at, source=source, channel=channel)
            _claim(customer, IdentityKind.USER_ID, user_id, source=source)
        else:
            customer = known
            if anon is not None and anon.pk != customer.pk and not shared:
                if _user_ids(anon) and anon_identity is not None:
                    _mark_shared(anon_identity, why="seen with two userIds")
                    shared = True
                else:
                    customer = _merge(
                        primary=customer,
                        secondary=anon,
                        trigger=MergeTrigger.IDENTIFY,
                        reason=f"anonymous id {anonymous_id} identified as user {user_id}",
                    )
        if anonymous_id and anon is None and not shared:
            _claim(customer, IdentityKind.ANONYMOUS, anonymous_id, source=source)
    elif anonymous_id:
        if anon is None:
            anon = _create(seen_at=seen_at, source=source, channel=channel)
            _claim(anon, IdentityKind.ANONYMOUS, anonymous_id, source=source)
        customer = anon
    else:
        customer = _person_at_terminal(claims) or _create(
            seen_at=seen_at, source=source, channel=channel
        )
        if tracking_withdrawn(customer):
            return None

    customer = _apply_claims(
        customer, claims, source=source, from_shared_device=shared, policy=policy
    )
    _apply_fields(customer, _profile_traits(traits), claims=claims, seen_at=seen_at, source=source)
    return customer


def identity_lookup(*, user_id: str = "", anonymous_id: str = "") -> Customer | None:
    """The existing profile an event with these ids belongs to, without creating or
    changing anything: the userId's profile, else the anonymous id's. Placeholder ids
    ("undefined") name nobody; a shared device's id alone names nobody either."""
    policy = identity_policy()
    cleaned_user = _clean_id(IdentityKind.USER_ID, user_id, policy)
    if cleaned_user:
        known = _identity(IdentityKind.USER_ID, cleaned_user)
        if known is not None:
            return known.customer
    cleaned_anon = _clean_id(IdentityKind.ANONYMOUS, anonymous_id, policy)
    anon = _identity(IdentityKind.ANONYMOUS, cleaned_anon)
    if anon is None or anon.shared:
        return None
    return anon.customer


def identity_resolve(
    *,
    user_id: str = "",
    anonymous_id: str = "",
    traits: dict | None = None,
    channel: str,
    source: str,
    seen_at: datetime,
) -> Customer | None:
    """Find or create the profile of an incoming identify/track/page; None when the person
    withdrew tracking consent (store the event without a customer, update nothing) or
    when the message names nobody (every id missing or a placeholder such as "undefined").

    Safe to run concurrently: a race on a new identifier or a merge retries from scratch.
    """
    policy = identity_policy()
    cleaned_user = _clean_id(IdentityKind.USER_ID, user_id, policy)
    cleaned_anon = _clean_id(IdentityKind.ANONYMOUS, anonymous_id, policy)
    safe_traits = traits if isinstance(traits, dict) else {}
    claims = _claims(safe_traits, policy)
    if not cleaned_user and not cleaned_anon and not claims:
        return None
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                return _resolve(
                    user_id=cleaned_user,
                    anonymous_id=cleaned_anon,
                    traits=safe_traits,
                    claims=claims,
                    channel=channel,
                    source=source,
                    seen_at=seen_at,
                    policy=policy,
                )
        except (IntegrityError, CustomerMerged):
            # Another worker created the same identifier or merged one of the profiles
            # first; the next attempt sees its result.
            if attempt == ATTEMPTS - 1:
                raise
    return None


def identity_alias(*, previous_id: str, user_id: str, source: str) -> Customer | None:
    """Segment's alias: ``previous_id`` (an anonymous id or an earlier userId) and
    ``user_id`` are one person. Their profiles merge, even when both carry a userId: the
    shop's login system said so. A shared device's id is never linked. An unknown
    previous id is recorded as an anonymous id of the user.

    Returns the user's profile, or None when the person withdrew tracking consent or the
    ids are missing or placeholders.
    """
    policy = identity_policy()
    new_id = _clean_id(IdentityKind.USER_ID, user_id, policy)
    old_id = _clean_id(IdentityKind.ANONYMOUS, previous_id, policy)
    if not new_id:
        return None
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                return _alias(previous_id=old_id, user_id=new_id, source=source)
        except (IntegrityError, CustomerMerged):
            if attempt == ATTEMPTS - 1:
                raise
    return None


def _alias(*, previous_id: str, user_id: str, source: str) -> Customer | None:
    target_identity = _identity(IdentityKind.USER_ID, user_id)
    previous_identity = _identity(IdentityKind.USER_ID, previous_id) or _identity(
        IdentityKind.ANONYMOUS, previous_id
    )
    target = target_identity.customer if target_identity else None
    previous = previous_identity.customer if previous_identity else None
    if previous_identity is not None and previous_identity.shared:
        previous = None
    if any(tracking_withdrawn(c) for c in (target, previous) if c is not None):
        return None
    now = timezone.now()
    if target is None:
        target = previous or _create(seen_at=now, source=source, channel="alias")
        _claim(target, IdentityKind.USER_ID, user_id, source=source)
    elif previous is not None and previous.pk != target.pk:
        target = _merge(
            primary=target,
            secondary=previous,
            trigger=MergeTrigger.ALIAS,
            reason=f"alias {previous_id} -> {user_id}",
        )
    if previous_id and previous_identity is None:
        _claim(target, IdentityKind.ANONYMOUS, previous_id, source=source)
    return target
