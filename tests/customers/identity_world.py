"""Shared setup of the identity tests: event rows, and full snapshots of a profile's world
to compare before a merge and after its split."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from django.forms.models import model_to_dict

from omnicrm.customers.models import Address, Consent, ConsentEvent, Customer, Identity
from omnicrm.events.models import Event, Source
from omnicrm.events.services import source_create
from omnicrm.orders.models import Order
from omnicrm.recommendations.models import RecommendationFeedback
from omnicrm.reviews.models import Review, WishlistItem

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
_messages = itertools.count(1)


def source(channel: str = "web") -> Source:
    found = Source.objects.filter(channel=channel).first()
    if found:
        return found
    created, _key = source_create(name=f"{channel} source", channel=channel)
    return created


def event(
    customer: Customer | None,
    *,
    anonymous_id: str = "",
    user_id: str = "",
    name: str = "Product Viewed",
    channel: str = "web",
    minutes: int = 0,
) -> Event:
    """A processed track event as event processing leaves it."""
    when = T0 + timedelta(minutes=minutes)
    return Event.objects.create(
        source=source(channel),
        message_id=f"msg-{next(_messages)}",
        type="track",
        event=name,
        user_id=user_id,
        anonymous_id=anonymous_id,
        channel=channel,
        customer=customer,
        timestamp=when,
        received_at=when,
        processed_at=when,
    )


def _rows(qs: Any, *, exclude: tuple[str, ...] = ("updated_at",)) -> list[dict[str, Any]]:
    return sorted(
        (model_to_dict(row, exclude=list(exclude)) | {"id": row.pk} for row in qs),
        key=lambda r: r["id"],
    )


def snapshot(*customers: Customer) -> dict[str, Any]:
    """Everything a merge touches for these profiles, keyed by public id. ``updated_at``
    is left out (a merge and its split both touch rows); consent history is compared
    without the entries the merge and the split append."""
    world: dict[str, Any] = {}
    for customer in customers:
        fresh = Customer.objects.get(pk=customer.pk)
        world[fresh.public_id] = {
            "profile": model_to_dict(fresh, exclude=["updated_at"]),
            "identities": _rows(Identity.objects.filter(customer=fresh)),
            "addresses": _rows(Address.objects.filter(customer=fresh)),
            "orders": sorted(Order.objects.filter(customer=fresh).values_list("pk", flat=True)),
            "reviews": sorted(Review.objects.filter(customer=fresh).values_list("pk", flat=True)),
            "events": sorted(Event.objects.filter(customer=fresh).values_list("pk", flat=True)),
            "wishlist": _rows(WishlistItem.objects.filter(customer=fresh)),
            "recommendation_feedback": _rows(RecommendationFeedback.objects.filter(customer=fresh)),
            "consents": _rows(Consent.objects.filter(customer=fresh)),
            "consent_history": _rows(
                ConsentEvent.objects.filter(customer=fresh)
                .exclude(source__startswith="merge:")
                .exclude(source__startswith="split:"),
                exclude=(),
            ),
        }
    return world
