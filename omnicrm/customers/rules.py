"""Merge rules: which identifiers join two profiles automatically, and the guards against
over-merging (see docs/identity.md and docs/adr/0006-identity-resolution.md).

Two sources configure them:

* ``OMNICRM_IDENTITY_RULES`` (a JSON object in the environment): the policy, which kinds
  merge automatically, which must be verified, the shared-identifier limit, the channels
  whose devices are shared, and extra placeholder patterns. It changes how data merges, so
  it is deployed and reviewed like code.
* ``IdentityBlocklist`` rows: placeholder values admins add in the admin site as they find
  them, without a deploy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from omnicrm.customers.models import (
    Consent,
    ConsentChannel,
    ConsentStatus,
    Customer,
    CustomerMerge,
    Identity,
    IdentityBlocklist,
    IdentityKind,
    MergeStatus,
    MergeTrigger,
)

SETTING = "OMNICRM_IDENTITY_RULES"
# Kinds that may join profiles automatically. User ids join through identify and alias;
# anonymous and device ids never do on their own: they are what a shared terminal has.
AUTO_MERGE_CAPABLE = ("email", "phone", "loyalty_card", "external")
# Kinds that name a person rather than a browser or a device.
PERSONAL_KINDS = ("user_id", "email", "phone", "loyalty_card", "external")

_JUNK_IDS = (
    "undefined",
    "null",
    "none",
    "nil",
    "nan",
    "0",
    "-1",
    "anonymous",
    "guest",
    "unknown",
    "n/a",
    "na",
    "[object object]",
    "true",
    "false",
    "test",
)
# Six identical digits in a row (000000, 0999999999): a number typed to get past a form.
_REPEATED_DIGITS = re.compile(r"(\d)\1{5}")
# Values that never identify a person. Emails: addresses nobody reads or reserved domains
# (RFC 2606); phones: counting sequences (and repeated digits, above); ids: what buggy
# clients send.
BUILTIN_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "email": (
        "noreply@*",
        "no-reply@*",
        "no_reply@*",
        "donotreply@*",
        "do-not-reply@*",
        "do_not_reply@*",
        "test@*",
        "null@*",
        "none@*",
        "unknown@*",
        "nobody@*",
        "*@example.com",
        "*@example.org",
        "*@example.net",
        "*@*.example",
        "*@*.invalid",
        "*@*.test",
        "*@*.localhost",
    ),
    "phone": ("*123456789", "*987654321"),
    "user_id": _JUNK_IDS,
    "anonymous": _JUNK_IDS,
    "device": _JUNK_IDS,
    "external": _JUNK_IDS,
    "loyalty_card": ("0", "000000*"),
}

DEFAULTS: dict[str, Any] = {
    "auto_merge": ["email", "phone", "loyalty_card"],
    "require_verified": ["email", "phone"],
    "max_profiles_per_identifier": 5,
    "shared_device_channels": ["pos"],
    "placeholders": {},
}


@dataclass(frozen=True)
class IdentityRules:
    """The merge policy in force. Build it with ``identity_rules()``."""

    auto_merge: frozenset[str] = frozenset(DEFAULTS["auto_merge"])
    require_verified: frozenset[str] = frozenset(DEFAULTS["require_verified"])
    max_profiles_per_identifier: int = DEFAULTS["max_profiles_per_identifier"]
    shared_device_channels: frozenset[str] = frozenset(DEFAULTS["shared_device_channels"])
    placeholders: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    """Why a rule says no (or warns): a machine code and a sentence for people."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def _fail(key: str, problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{SETTING}: {key}: {problem}")


def _kinds(raw: Any, key: str, allowed: tuple[str, ...]) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
        raise _fail(key, "must be a list of identifier kinds")
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise _fail(key, f"unknown or not allowed kind {unknown[0]!r} (use {', '.join(allowed)})")
    return frozenset(raw)


@lru_cache(maxsize=8)
def _parse(raw: str) -> IdentityRules:
    try:
        data = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{SETTING} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ImproperlyConfigured(f"{SETTING} must be a JSON object")
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise _fail(unknown[0], f"unknown key (known: {', '.join(DEFAULTS)})")
    merged = {**DEFAULTS, **data}
    limit = merged["max_profiles_per_identifier"]
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 2:
        raise _fail("max_profiles_per_identifier", "must be a whole number of at least 2")
    channels = merged["shared_device_channels"]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise _fail("shared_device_channels", "must be a list of channel names")
    placeholders = merged["placeholders"]
    if not isinstance(placeholders, dict):
        raise _fail("placeholders", 'must be an object like {"email": ["*@myshop.test"]}')
    extra: dict[str, tuple[str, ...]] = {}
    for kind, patterns in placeholders.items():
        if kind not in IdentityKind.values:
            raise _fail(f"placeholders.{kind}", "unknown identifier kind")
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise _fail(f"placeholders.{kind}", "must be a list of non-empty patterns")
        extra[kind] = tuple(patterns)
    return IdentityRules(
        auto_merge=_kinds(merged["auto_merge"], "auto_merge", AUTO_MERGE_CAPABLE),
        require_verified=_kinds(merged["require_verified"], "require_verified", AUTO_MERGE_CAPABLE),
        max_profiles_per_identifier=limit,
        shared_device_channels=frozenset(channels),
        placeholders=extra,
    )


def identity_rules() -> IdentityRules:
    """The rules from settings; a bad setting raises ImproperlyConfigured naming the key."""
    raw = getattr(settings, SETTING, "") or ""
    if isinstance(raw, dict):
        raw = json.dumps(raw, sort_keys=True)
    return _parse(str(raw))


@register()
def check_identity_rules(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """`omnicrm check` (and every start) reports a bad OMNICRM_IDENTITY_RULES."""
    try:
        identity_rules()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="customers.E001")]
    return []


def _glob(pattern: str) -> re.Pattern[str]:
    # Only * and ? are special: values like "[object Object]" must match literally.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    return re.compile(rf"^{body}$", re.DOTALL)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return _glob(pattern)


@dataclass(frozen=True)
class Policy:
    """The rules plus the admins' blocklist, read once for a whole resolution."""

    rules: IdentityRules
    blocklist: dict[str, tuple[str, ...]]

    def patterns(self, kind: str) -> tuple[str, ...]:
        return (
            *BUILTIN_PLACEHOLDERS.get(kind, ()),
            *self.rules.placeholders.get(kind, ()),
            *self.blocklist.get(kind, ()),
        )

    def is_placeholder(self, kind: str, value: str) -> bool:
        """Whether ``value`` (already normalized) is a placeholder that identifies nobody."""
        lowered = value.strip().lower()
        if not lowered:
            return True
        if kind == "phone" and _REPEATED_DIGITS.search(lowered):
            return True
        return any(_compiled(p).match(lowered) for p in self.patterns(kind))


def identity_policy() -> Policy:
    """The rules in force and the blocklist as it is now (one query)."""
    blocklist: dict[str, list[str]] = {}
    for kind, pattern in IdentityBlocklist.objects.values_list("kind", "pattern"):
        blocklist.setdefault(kind, []).append(pattern)
    return Policy(rules=identity_rules(), blocklist={k: tuple(v) for k, v in blocklist.items()})


def identity_is_placeholder(kind: str, value: str) -> bool:
    return identity_policy().is_placeholder(kind, value)


def _user_ids(customer: Customer) -> list[str]:
    return sorted(
        customer.identities.filter(kind=IdentityKind.USER_ID).values_list("value", flat=True)
    )


def is_shared_device_profile(customer: Customer) -> bool:
    """A profile that is a shared terminal's (shared ids, nobody's personal identifier)."""
    identities = list(customer.identities.values_list("kind", "shared"))
    return any(shared for _kind, shared in identities) and not any(
        kind in PERSONAL_KINDS for kind, _shared in identities
    )


def tracking_withdrawn(customer: Customer) -> bool:
    return Consent.objects.filter(
        customer=customer, channel=ConsentChannel.TRACKING, status=ConsentStatus.WITHDRAWN
    ).exists()


def merge_blockers(*, primary: Customer, secondary: Customer, trigger: str) -> list[Reason]:
    """The guards no merge passes, whoever asks: staff, the API or the automatic rules."""
    reasons = []
    for customer in (primary, secondary):
        if customer.erased_at:
            reasons.append(
                Reason(
                    "erased",
                    _("profile %(id)s was erased") % {"id": customer.public_id},
                )
            )
    primary_ids, secondary_ids = _user_ids(primary), _user_ids(secondary)
    # An alias is the shop's own login system saying two user ids are one person.
    if primary_ids and secondary_ids and trigger != MergeTrigger.ALIAS:
        reasons.append(
            Reason(
                "two_user_ids",
                _("blocked: both profiles have a userId (%(a)s and %(b)s)")
                % {"a": ", ".join(primary_ids), "b": ", ".join(secondary_ids)},
            )
        )
    for customer in (primary, secondary):
        if is_shared_device_profile(customer):
            reasons.append(
                Reason(
                    "shared_device",
                    _("profile %(id)s belongs to a shared device, not to a person")
                    % {"id": customer.public_id},
                )
            )
    return reasons


def identifier_profile_count(kind: str, value: str) -> int:
    """How many profiles this identifier has joined: its owner plus every profile merged
    into the owner because it presented the same identifier (merges not split)."""
    owners = Identity.objects.filter(kind=kind, value=value).count()
    merged = CustomerMerge.objects.filter(
        status=MergeStatus.MERGED, matched_kind=kind, matched_value=value
    ).count()
    return owners + merged


def identifier_blockers(
    *,
    kind: str,
    value: str,
    claim_verified: bool,
    owner: Identity,
    claimant: Customer,
    from_shared_device: bool,
    policy: Policy | None = None,
) -> list[Reason]:
    """The guards an automatic merge on a shared identifier must pass, on top of
    ``merge_blockers``. ``owner`` holds the identifier; ``claimant`` presented it."""
    policy = policy or identity_policy()
    rules = policy.rules
    label = IdentityKind(kind).label
    reasons = []
    if kind not in rules.auto_merge:
        reasons.append(
            Reason(
                "kind_not_automatic",
                _("%(kind)s does not merge profiles automatically") % {"kind": label},
            )
        )
    if policy.is_placeholder(kind, value):
        reasons.append(
            Reason(
                "placeholder",
                _("%(value)s is a placeholder value, not a person's") % {"value": value},
            )
        )
    if kind in rules.require_verified and not (claim_verified and owner.verified):
        reasons.append(
            Reason(
                "not_verified",
                _("the %(kind)s is not verified on both profiles") % {"kind": label.lower()},
            )
        )
    if from_shared_device:
        reasons.append(
            Reason("shared_device", _("the identifier was presented on a shared device"))
        )
    count = identifier_profile_count(kind, value)
    if count >= rules.max_profiles_per_identifier:
        reasons.append(
            Reason(
                "shared_identifier",
                _("%(value)s already joined %(count)s profiles (limit %(limit)s)")
                % {"value": value, "count": count, "limit": rules.max_profiles_per_identifier},
            )
        )
    for customer in (owner.customer, claimant):
        if tracking_withdrawn(customer):
            reasons.append(
                Reason(
                    "tracking_withdrawn",
                    _("profile %(id)s withdrew tracking consent") % {"id": customer.public_id},
                )
            )
    return reasons
