"""Merging two profiles into one, previewing a merge, and splitting a wrong one back apart.

A merge moves the secondary's identities, addresses, orders, reviews, wishlist items,
recommendation feedback and events to the primary and leaves the secondary as a tombstone
(``merged_into``). Consent never moves: each profile keeps its own records, and a merge
can only make the primary's consent stricter (a withdrawal on the secondary is applied; a
grant never is). The ``CustomerMerge`` row records every moved id and every changed value,
which is what ``customer_split`` puts back. See docs/identity.md for the rules in plain
words.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from omnicrm.core.errors import NotFound
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.customers.errors import (
    AlreadySplit,
    MergeBlocked,
    SelfMerge,
    SplitRefused,
)
from omnicrm.customers.models import (
    Address,
    Consent,
    ConsentEvent,
    ConsentStatus,
    Customer,
    CustomerMerge,
    Identity,
    IdentityKind,
    MergeStatus,
    MergeTrigger,
    new_merge_id,
)
from omnicrm.customers.rules import Reason, merge_blockers, tracking_withdrawn
from omnicrm.customers.services import PROFILE_FIELDS, customer_ensure_live, customer_live

SEEN_FIELDS = ("first_seen_at", "last_seen_at")
TABLES = (
    "identities",
    "addresses",
    "orders",
    "reviews",
    "wishlist_items",
    "recommendation_feedback",
    "events",
)
# pk__in lists are sent in slices: SQLite caps the variables of one statement.
CHUNK = 500


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _label(actor: Actor, actor_label: str) -> str:
    if actor_label:
        return actor_label
    return str(actor) if actor is not None and actor.is_authenticated else "system"


def _user(actor: Actor) -> Any:
    return actor if actor is not None and actor.is_authenticated else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _from_iso(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


# --- reads ---------------------------------------------------------------------------


def _events_of(customer_id: int) -> QuerySet:
    # Read-only: the events app offers no selector for "events of a profile" yet.
    from omnicrm.events.models import Event

    return Event.objects.filter(customer_id=customer_id)


def _row_counts(customer: Customer, *, primary: Customer) -> dict[str, int]:
    """How many rows of each table a merge into ``primary`` would move."""
    from omnicrm.orders.models import Order
    from omnicrm.recommendations.models import RecommendationFeedback
    from omnicrm.reviews.models import Review, WishlistItem

    return {
        "identities": Identity.objects.filter(customer=customer).count(),
        "addresses": Address.objects.filter(customer=customer).count(),
        "orders": Order.objects.filter(customer=customer).count(),
        "reviews": Review.objects.filter(customer=customer).count(),
        "wishlist_items": _not_on(
            WishlistItem.objects.filter(customer=customer), primary, "product"
        ).count(),
        "recommendation_feedback": _not_on(
            RecommendationFeedback.objects.filter(customer=customer), primary, "product", "kind"
        ).count(),
        "events": _events_of(customer.pk).count(),
    }


def _not_on(queryset: QuerySet, primary: Customer, *same: str) -> QuerySet:
    """The secondary's rows the primary has no twin of (same product, same kind...): a
    wishlist or a feedback holds a product once per person, so a twin stays behind on the
    merged profile, where a split finds it again."""
    twins = queryset.model.objects.filter(
        customer=primary, **{name: OuterRef(name) for name in same}
    )
    return queryset.exclude(Exists(twins))


@dataclass(frozen=True)
class FieldDifference:
    field: str
    primary: str
    secondary: str


@dataclass(frozen=True)
class ConsentDifference:
    """``result`` is what the merged profile will have (stricter of the two, never looser)."""

    channel: str
    primary: str | None
    secondary: str | None
    result: str | None


@dataclass
class MergePreview:
    """What ``customer_merge(primary, secondary)`` would do, without doing it."""

    primary: Customer
    secondary: Customer
    counts: dict[str, int]
    fields_filled: list[FieldDifference]
    field_conflicts: list[FieldDifference]
    consent: list[ConsentDifference]
    reasons: list[Reason]
    warnings: list[Reason] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.reasons


def _consent_plan(primary: Customer, secondary: Customer) -> list[ConsentDifference]:
    mine = dict(Consent.objects.filter(customer=primary).values_list("channel", "status"))
    theirs = dict(Consent.objects.filter(customer=secondary).values_list("channel", "status"))
    plan = []
    for channel in sorted(set(mine) | set(theirs)):
        p, s = mine.get(channel), theirs.get(channel)
        if p == s:
            continue
        result = ConsentStatus.WITHDRAWN.value if s == ConsentStatus.WITHDRAWN else p
        plan.append(ConsentDifference(channel=channel, primary=p, secondary=s, result=result))
    return plan


def customer_merge_preview(*, primary: Customer, secondary: Customer) -> MergePreview:
    """Counts per table, field conflicts, consent differences and the rules' verdict."""
    if primary.pk == secondary.pk:
        raise SelfMerge()
    for customer in (primary, secondary):
        customer_ensure_live(customer)
    filled, conflicts = [], []
    for name in PROFILE_FIELDS:
        mine, theirs = getattr(primary, name), getattr(secondary, name)
        if theirs and not mine:
            filled.append(FieldDifference(name, mine, theirs))
        elif theirs and mine != theirs:
            conflicts.append(FieldDifference(name, mine, theirs))
    consent = _consent_plan(primary, secondary)
    warnings = []
    tightened = [c.channel for c in consent if c.result != c.primary]
    if tightened:
        warnings.append(
            Reason(
                "consent_tightened",
                _(
                    "the secondary withdrew consent for %(channels)s; the merged profile keeps it "
                    "withdrawn"
                )
                % {"channels": ", ".join(tightened)},
            )
        )
    for customer in (primary, secondary):
        if tracking_withdrawn(customer):
            warnings.append(
                Reason(
                    "tracking_withdrawn",
                    _("profile %(id)s withdrew tracking consent") % {"id": customer.public_id},
                )
            )
    return MergePreview(
        primary=primary,
        secondary=secondary,
        counts=_row_counts(secondary, primary=primary),
        fields_filled=filled,
        field_conflicts=conflicts,
        consent=consent,
        reasons=merge_blockers(primary=primary, secondary=secondary, trigger=MergeTrigger.MANUAL),
        warnings=warnings,
    )


def customer_merge_get(*, public_id: str) -> CustomerMerge:
    try:
        return CustomerMerge.objects.select_related("primary", "secondary").get(public_id=public_id)
    except CustomerMerge.DoesNotExist:
        raise NotFound(_("no merge with id %(id)s") % {"id": public_id}, field="merge_id") from None


def customer_merge_history(*, customer: Customer) -> QuerySet[CustomerMerge]:
    """Merges the profile took part in, as primary or secondary, newest first."""
    return (
        CustomerMerge.objects.filter(Q(primary=customer) | Q(secondary=customer))
        .select_related("primary", "secondary", "merged_by", "split_by")
        .order_by("-merged_at", "-id")
    )


# --- merge ---------------------------------------------------------------------------


def _lock_pair(a: Customer, b: Customer) -> tuple[Customer, Customer]:
    """Lock both rows, lower primary key first, and return fresh copies in (a, b) order.

    Every merge and split locks in the same order, so two of them on the same profiles
    wait for each other instead of deadlocking.
    """
    rows = {
        c.pk: c
        for c in Customer.objects.select_for_update().filter(pk__in=[a.pk, b.pk]).order_by("pk")
    }
    return rows[a.pk], rows[b.pk]


def _move(queryset: QuerySet, *, to: Customer, now: datetime) -> list[int]:
    ids = sorted(queryset.values_list("pk", flat=True))
    for chunk in _chunks(ids):
        queryset.model.objects.filter(pk__in=chunk).update(customer=to, updated_at=now)
    return ids


def _consent_row(consent: Consent | None) -> dict[str, Any] | None:
    if consent is None:
        return None
    return {"status": consent.status, "changed_at": _iso(consent.changed_at)}


def customer_merge(
    *,
    primary: Customer,
    secondary: Customer,
    actor: Actor = None,
    reason: str = "",
    actor_label: str = "",
    trigger: str = MergeTrigger.MANUAL,
    matched_kind: str = "",
    matched_value: str = "",
) -> CustomerMerge:
    """Merge ``secondary`` into ``primary`` in one transaction; returns the merge record.

    Raises SelfMerge (422), CustomerMerged when either side is already merged (409) and
    MergeBlocked when a rule refuses (409, with the reasons).
    """
    from omnicrm.events.services import events_repoint
    from omnicrm.orders.models import Order
    from omnicrm.recommendations.models import RecommendationFeedback
    from omnicrm.reviews.models import Review, WishlistItem

    if primary.pk == secondary.pk:
        raise SelfMerge()
    with transaction.atomic():
        primary, secondary = _lock_pair(primary, secondary)
        for customer in (primary, secondary):
            customer_ensure_live(customer)
        blockers = merge_blockers(primary=primary, secondary=secondary, trigger=trigger)
        if blockers:
            raise MergeBlocked([r.as_dict() for r in blockers])
        now = timezone.now()
        merge_id = new_merge_id()

        moved: dict[str, list[int]] = {}
        moved["identities"] = _move(
            Identity.objects.filter(customer=secondary), to=primary, now=now
        )
        taken = set(
            Address.objects.filter(customer=primary, is_default=True).values_list("kind", flat=True)
        )
        # The primary's default address of a kind stays the default.
        cleared = sorted(
            Address.objects.filter(customer=secondary, is_default=True, kind__in=taken).values_list(
                "pk", flat=True
            )
        )
        Address.objects.filter(pk__in=cleared).update(is_default=False)
        moved["addresses"] = _move(Address.objects.filter(customer=secondary), to=primary, now=now)
        moved["orders"] = _move(Order.objects.filter(customer=secondary), to=primary, now=now)
        moved["reviews"] = _move(Review.objects.filter(customer=secondary), to=primary, now=now)
        moved["wishlist_items"] = _move(
            _not_on(WishlistItem.objects.filter(customer=secondary), primary, "product"),
            to=primary,
            now=now,
        )
        moved["recommendation_feedback"] = _move(
            _not_on(
                RecommendationFeedback.objects.filter(customer=secondary),
                primary,
                "product",
                "kind",
            ),
            to=primary,
            now=now,
        )
        moved["events"] = sorted(
            events_repoint(from_customer_id=secondary.pk, to_customer_id=primary.pk)
        )

        changes: dict[str, list[Any]] = {}
        for name in PROFILE_FIELDS:
            mine, theirs = getattr(primary, name), getattr(secondary, name)
            if theirs and not mine:
                changes[name] = [mine, theirs]
                setattr(primary, name, theirs)
        seen = {
            "first_seen_at": min,
            "last_seen_at": max,
        }
        for name, pick in seen.items():
            values = [v for v in (getattr(primary, name), getattr(secondary, name)) if v]
            chosen = pick(values) if values else None
            if chosen != getattr(primary, name):
                changes[name] = [_iso(getattr(primary, name)), _iso(chosen)]
                setattr(primary, name, chosen)
        primary.save()

        consent_changes: dict[str, dict[str, Any]] = {}
        mine_consents = {c.channel: c for c in Consent.objects.filter(customer=primary)}
        secondary_consents = list(Consent.objects.filter(customer=secondary))
        for theirs in secondary_consents:
            current = mine_consents.get(theirs.channel)
            if theirs.status != ConsentStatus.WITHDRAWN or (
                current and current.status == ConsentStatus.WITHDRAWN
            ):
                continue
            before = _consent_row(current)
            if current is None:
                current = Consent(customer=primary, channel=theirs.channel)
            current.status = ConsentStatus.WITHDRAWN
            current.changed_at = now
            current.save()
            ConsentEvent.objects.create(
                customer=primary,
                channel=theirs.channel,
                status=ConsentStatus.WITHDRAWN,
                source=f"merge:{merge_id}",
                occurred_at=now,
            )
            consent_changes[theirs.channel] = {"before": before, "after": _consent_row(current)}

        secondary.merged_into = primary
        secondary.merged_at = now
        secondary.save(update_fields=["merged_into", "merged_at", "updated_at"])

        label = _label(actor, actor_label)
        merge = CustomerMerge.objects.create(
            public_id=merge_id,
            primary=primary,
            secondary=secondary,
            trigger=trigger,
            reason=reason[:500],
            matched_kind=matched_kind,
            matched_value=matched_value,
            moved=moved,
            address_defaults_cleared=cleared,
            primary_changes=changes,
            secondary_snapshot={
                **{name: getattr(secondary, name) for name in PROFILE_FIELDS},
                **{name: _iso(getattr(secondary, name)) for name in SEEN_FIELDS},
            },
            consent_changes=consent_changes,
            secondary_consents=[
                {"channel": c.channel, **(_consent_row(c) or {})} for c in secondary_consents
            ],
            merged_at=now,
            merged_by=_user(actor),
            merged_by_label=label,
        )
        audit_log_write(
            action="customer.merge",
            object_type="customer",
            object_id=primary.public_id,
            actor=actor,
            actor_label=label,
            data={
                "merge": merge.public_id,
                "secondary": secondary.public_id,
                "trigger": trigger,
                "reason": merge.reason,
                "moved": {table: len(ids) for table, ids in moved.items()},
                "matched": f"{matched_kind}:{matched_value}" if matched_kind else "",
            },
        )
    return merge


# --- split ---------------------------------------------------------------------------


def _still_on(model: Any, ids: Iterable[int], customer: Customer) -> list[int]:
    found: list[int] = []
    for chunk in _chunks(sorted(ids)):
        found.extend(
            model.objects.filter(pk__in=chunk, customer=customer).values_list("pk", flat=True)
        )
    return sorted(found)


def _give_back(model: Any, ids: list[int], *, to: Customer, now: datetime) -> None:
    for chunk in _chunks(ids):
        model.objects.filter(pk__in=chunk).update(customer=to, updated_at=now)


def _later_events(
    *, primary: Customer, recorded: list[int], identities: list[tuple[str, str]]
) -> list[int]:
    """Events the primary received after the merge that carry one of the secondary's ids.

    A userId decides first: an event with the primary's own userId stays, whatever
    anonymous id it has.
    """
    user_ids = [v for k, v in identities if k == IdentityKind.USER_ID]
    anonymous_ids = [v for k, v in identities if k in (IdentityKind.ANONYMOUS, IdentityKind.DEVICE)]
    if not user_ids and not anonymous_ids:
        return []
    primary_user_ids = list(
        Identity.objects.filter(customer=primary, kind=IdentityKind.USER_ID).values_list(
            "value", flat=True
        )
    )
    condition = Q(user_id__in=user_ids) | (
        Q(anonymous_id__in=anonymous_ids) & ~Q(user_id__in=primary_user_ids)
    )
    candidates = _events_of(primary.pk).filter(condition).values_list("pk", flat=True)
    recorded_set = set(recorded)
    return sorted(pk for pk in candidates if pk not in recorded_set)


def customer_split(
    *, merge: CustomerMerge, actor: Actor = None, actor_label: str = ""
) -> CustomerMerge:
    """Undo ``merge``: the recorded rows go back to the secondary, the secondary's fields
    and identities return, the primary's fields and consents the merge changed are
    restored where nobody changed them since. Rows created after the merge stay with the
    primary, except events carrying one of the secondary's identities.

    Raises AlreadySplit (409) the second time, SplitRefused (409) when the primary has
    since been merged away itself or a profile was erased.
    """
    from omnicrm.events.services import events_assign
    from omnicrm.orders.models import Order
    from omnicrm.recommendations.models import RecommendationFeedback
    from omnicrm.reviews.models import Review, WishlistItem

    with transaction.atomic():
        merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
        if merge.status == MergeStatus.SPLIT:
            raise AlreadySplit(public_id=merge.public_id)
        primary, secondary = _lock_pair(merge.primary, merge.secondary)
        if primary.merged_into_id is not None:
            raise SplitRefused(
                _("%(primary)s has since been merged into %(other)s; split that merge first")
                % {"primary": primary.public_id, "other": customer_live(primary).public_id}
            )
        if primary.erased_at or secondary.erased_at:
            raise SplitRefused(_("an erased profile cannot be split back out"))
        now = timezone.now()
        moved = merge.moved
        returned: dict[str, list[int]] = {}

        returned["identities"] = _still_on(Identity, moved.get("identities", []), primary)
        _give_back(Identity, returned["identities"], to=secondary, now=now)
        identities = list(
            Identity.objects.filter(pk__in=returned["identities"]).values_list("kind", "value")
        )

        returned["addresses"] = _still_on(Address, moved.get("addresses", []), primary)
        _give_back(Address, returned["addresses"], to=secondary, now=now)
        Address.objects.filter(
            pk__in=[pk for pk in merge.address_defaults_cleared if pk in returned["addresses"]]
        ).update(is_default=True)

        returned["orders"] = _still_on(Order, moved.get("orders", []), primary)
        _give_back(Order, returned["orders"], to=secondary, now=now)
        returned["reviews"] = _still_on(Review, moved.get("reviews", []), primary)
        _give_back(Review, returned["reviews"], to=secondary, now=now)
        for name, model in (
            ("wishlist_items", WishlistItem),
            ("recommendation_feedback", RecommendationFeedback),
        ):
            returned[name] = _still_on(model, moved.get(name, []), primary)
            _give_back(model, returned[name], to=secondary, now=now)

        recorded_events = sorted(
            pk
            for chunk in _chunks(sorted(moved.get("events", [])))
            for pk in _events_of(primary.pk).filter(pk__in=chunk).values_list("pk", flat=True)
        )
        later = _later_events(primary=primary, recorded=recorded_events, identities=identities)
        returned["events"] = recorded_events
        returned["later_events"] = later
        for chunk in _chunks(recorded_events + later):
            events_assign(event_ids=chunk, customer_id=secondary.pk)

        # A field or consent the merge set is restored only if it still holds what the
        # merge gave it: a later change by the person or staff wins.
        restored: list[str] = []
        for name, (before, after) in merge.primary_changes.items():
            current = getattr(primary, name)
            if name in SEEN_FIELDS:
                if _iso(current) == after:
                    setattr(primary, name, _from_iso(before))
                    restored.append(name)
            elif current == after:
                setattr(primary, name, before)
                restored.append(name)
        primary.save()

        for channel, change in merge.consent_changes.items():
            current = Consent.objects.filter(customer=primary, channel=channel).first()
            if current is None or _consent_row(current) != change["after"]:
                continue
            before = change["before"]
            if before is None:
                Consent.objects.filter(pk=current.pk).delete()
                status = ConsentStatus.UNKNOWN
            else:
                current.status = before["status"]
                current.changed_at = _from_iso(before["changed_at"]) or now
                current.save()
                status = before["status"]
            ConsentEvent.objects.create(
                customer=primary,
                channel=channel,
                status=status,
                source=f"split:{merge.public_id}",
                occurred_at=now,
            )
            restored.append(f"consent.{channel}")

        snapshot = merge.secondary_snapshot
        for name in PROFILE_FIELDS:
            setattr(secondary, name, snapshot.get(name, ""))
        for name in SEEN_FIELDS:
            setattr(secondary, name, _from_iso(snapshot.get(name)))
        secondary.merged_into = None
        secondary.merged_at = None
        secondary.save()

        label = _label(actor, actor_label)
        merge.status = MergeStatus.SPLIT
        merge.split_at = now
        merge.split_by = _user(actor)
        merge.split_by_label = label
        merge.returned = {**returned, "restored": restored}
        merge.save()
        audit_log_write(
            action="customer.split",
            object_type="customer",
            object_id=primary.public_id,
            actor=actor,
            actor_label=label,
            data={
                "merge": merge.public_id,
                "secondary": secondary.public_id,
                "returned": {table: len(ids) for table, ids in returned.items()},
                "restored": restored,
            },
        )
    return merge


def customer_merges_erase(*, customer: Customer) -> int:
    """For the right to erasure: erase the tombstones merged into ``customer`` and scrub
    the personal data its merge records keep. Called by ``customer_erase``."""
    from omnicrm.customers.services import customer_erase

    erased = 0
    for tombstone in Customer.objects.filter(merged_into=customer, erased_at__isnull=True):
        customer_erase(customer=tombstone)
        erased += 1
    records = CustomerMerge.objects.filter(Q(primary=customer) | Q(secondary=customer))
    for record in records:
        record.secondary_snapshot = {}
        record.primary_changes = {name: [None, None] for name in record.primary_changes}
        record.matched_value = ""
        record.reason = ""
        record.save(
            update_fields=[
                "secondary_snapshot",
                "primary_changes",
                "matched_value",
                "reason",
                "updated_at",
            ]
        )
    return erased
