"""Recommendations for a visitor known only by an anonymous id (a first-party cookie)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from django.utils import timezone

from omnicrm.customers.resolution import identity_lookup
from omnicrm.customers.services import customer_live
from omnicrm.events.models import Event, EventType
from omnicrm.recommendations.serving import (
    Filters,
    RecommendationList,
    for_history,
    history_of,
    recommend_for_customer,
)
from omnicrm.recommendations.serving_cache import snapshot_current
from omnicrm.recommendations.signals import (
    PRODUCT_ADDED,
    PRODUCT_VIEWED,
    PurchaseRows,
    Signal,
    SignalSources,
    TouchRows,
    _product_keys,
    signals_combine,
    signals_for,
)

# The newest events of a visitor not yet tied to a profile that an anonymous list reads.
ANONYMOUS_EVENTS = 50


def _anonymous_signals(anonymous_id: str, now: datetime) -> list[Signal]:
    """Product views and add-to-cart events of an anonymous id that no profile holds yet
    (events still waiting for processing; processed ones belong to a profile). Read through
    the partial index of unprocessed events, newest first, at most ANONYMOUS_EVENTS."""
    rows = list(
        Event.objects.filter(
            processed_at__isnull=True,
            anonymous_id=anonymous_id,
            type=EventType.TRACK,
            event__in=[PRODUCT_VIEWED, PRODUCT_ADDED],
        )
        .order_by("-id")
        .values_list("timestamp", "event", "properties__product_id", "properties__sku")[
            :ANONYMOUS_EVENTS
        ]
    )
    keys = [str(pid if pid not in (None, "") else sku) for _t, _e, pid, sku in rows]
    by_key = _product_keys({k for k in keys if k not in ("None", "")})
    found = [
        (by_key[key], at.timestamp(), name == PRODUCT_ADDED)
        for (at, name, _p, _s), key in zip(rows, keys, strict=True)
        if key in by_key
    ]
    carts = [(pk, at) for pk, at, added in found if added]
    views = [(pk, at) for pk, at, added in found if not added]

    def touches(pairs: list[tuple[int, float]]) -> TouchRows:
        return TouchRows(
            customer=np.zeros(len(pairs), np.int64),
            product=np.array([p for p, _a in pairs], np.int64),
            at=np.array([a for _p, a in pairs], np.float64),
            value=np.ones(len(pairs), np.int64),
        )

    sources = SignalSources(
        purchases=PurchaseRows.empty(),
        ratings=TouchRows.empty(),
        wishes=TouchRows.empty(),
        carts=touches(carts),
        views=touches(views),
        excluded=(np.empty(0, np.int64), np.empty(0, np.int64)),
        now=now.timestamp(),
    )
    return signals_for(signals_combine(sources))


def recommend_for_anonymous(
    *, anonymous_id: str, filters: Filters, now: datetime | None = None
) -> RecommendationList:
    """Recommendations for a visitor known by an anonymous id (a first-party cookie).

    When the id belongs to a profile, that profile's "for you" list. Otherwise the
    visitor's recent product views and add-to-cart events scored with the "customers who
    bought this also bought" neighbours; with none of those, the popular lists.
    """
    customer = identity_lookup(anonymous_id=anonymous_id)
    if customer is not None:
        if customer.merged_into_id is not None:
            customer = customer_live(customer)
        return recommend_for_customer(customer=customer, filters=filters, now=now)
    now = now or timezone.now()
    snapshot = snapshot_current()
    history = history_of(snapshot, _anonymous_signals(anonymous_id, now), ())
    items = for_history(
        snapshot, history, snapshot.similar, filters=filters, country="", language=""
    )
    return RecommendationList(
        model=snapshot.model_public_id, trained_at=snapshot.finished_at, items=items
    )
