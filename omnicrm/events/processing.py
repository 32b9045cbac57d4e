"""Processing of stored events: who they belong to, and what they mean for the shop.

Ingestion only stores; this runs later, in a task (omnicrm.events.tasks), over events that
are not processed yet, so running it twice does no harm. For each event, in time order:

1. Consent: an event whose ``context.consent.categoryPreferences.tracking`` is a boolean
   records the visitor's tracking consent (Segment's consent object, with omnicrm's
   category id ``tracking``).
2. Identity: ``identity_resolve`` (omnicrm.customers.resolution) finds or creates the
   profile and applies identify traits, ``identity_alias`` joins alias ids. It returns
   None for a person who withdrew tracking consent: the event then stays stored without
   a customer and nothing about the profile changes (no traits, no last seen, no orders).
3. Commerce: Order Completed creates the order through omnicrm.orders.services, or links
   the one the shop already sent (``properties.order_id`` = the order's external id).
   Product Viewed and Products Searched move the profile's last_seen_at (through identity
   resolution) and stay queryable per customer (selectors.customer_product_views).

A domain error (an order naming an unknown SKU, say) is permanent: the event is marked
processed with the error, visible in the console, and not retried. Anything else (the
database went away) counts an attempt; an event is retried until MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from omnicrm.core.errors import ApplicationError
from omnicrm.events.models import Event, EventType, SourceChannel

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BATCH_SIZE = 200
ORDER_COMPLETED = "Order Completed"
CONSENT_CATEGORY = "tracking"
# Orders know fewer channels than sources do: apps are "app", the POS is the store.
ORDER_CHANNELS: dict[str, str] = {
    SourceChannel.WEB: "web",
    SourceChannel.IOS: "app",
    SourceChannel.ANDROID: "app",
    SourceChannel.POS: "store",
    SourceChannel.VOICE: "voice",
    SourceChannel.PARTNER: "partner",
    SourceChannel.EMAIL: "web",
    SourceChannel.SUPPORT: "phone",
}


@dataclass
class ProcessReport:
    processed: int = 0
    unlinked: int = 0
    failed: int = 0
    retried: int = 0
    orders_created: list[str] = field(default_factory=list)
    orders_linked: list[str] = field(default_factory=list)


def tracking_preference(context: Any) -> bool | None:
    """The tracking consent an event carries: True, False, or None when it says nothing."""
    if not isinstance(context, dict):
        return None
    consent = context.get("consent")
    if not isinstance(consent, dict):
        return None
    preferences = consent.get("categoryPreferences")
    if not isinstance(preferences, dict):
        return None
    value = preferences.get(CONSENT_CATEGORY)
    return value if isinstance(value, bool) else None


def _source_label(event: Event) -> str:
    return f"events:{event.source.prefix}"


def _set_tracking_consent(event: Event, customer: Any, granted: bool) -> None:
    from omnicrm.customers.models import ConsentChannel, ConsentStatus
    from omnicrm.customers.services import consent_set

    consent_set(
        customer=customer,
        channel=ConsentChannel.TRACKING,
        status=ConsentStatus.GRANTED if granted else ConsentStatus.WITHDRAWN,
        source=_source_label(event),
        occurred_at=event.timestamp,
    )


def _withdraw(event: Event) -> None:
    """Record a refusal. An unknown visitor gets a bare profile holding only the refusal
    (and the id it is about), so their next event is recognised and not profiled."""
    from omnicrm.customers import resolution

    customer = resolution.identity_lookup(user_id=event.user_id, anonymous_id=event.anonymous_id)
    if customer is None:
        customer = resolution.identity_resolve(
            user_id=event.user_id,
            anonymous_id=event.anonymous_id,
            traits=None,
            channel=event.channel,
            source=_source_label(event),
            seen_at=event.timestamp,
        )
    if customer is not None:
        _set_tracking_consent(event, customer, granted=False)


def _resolve(event: Event) -> Any:
    from omnicrm.customers import resolution

    if event.type == EventType.ALIAS:
        return resolution.identity_alias(
            previous_id=event.previous_id, user_id=event.user_id, source=_source_label(event)
        )
    return resolution.identity_resolve(
        user_id=event.user_id,
        anonymous_id=event.anonymous_id,
        traits=event.traits if event.type == EventType.IDENTIFY else None,
        channel=event.channel,
        source=_source_label(event),
        seen_at=event.timestamp,
    )


def _money(value: Any) -> Any:
    # Segment's e-commerce spec sends prices as JSON numbers; the shortest decimal that
    # reads back as the same float is what the site meant (19.99, not 19.989999...).
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return value


def _order_lines(products: Any) -> list[dict[str, Any]]:
    from omnicrm.core.errors import ValidationFailed

    if not isinstance(products, list) or not products:
        raise ValidationFailed(
            "Order Completed needs properties.products, a list with sku, quantity and price",
            field="properties.products",
        )
    lines = []
    for i, product in enumerate(products):
        if not isinstance(product, dict):
            raise ValidationFailed("a product must be an object", field=f"properties.products.{i}")
        sku = product.get("sku") or product.get("product_id")
        lines.append(
            {
                "sku": str(sku or ""),
                "quantity": product.get("quantity", 1),
                "unit_price": _money(product.get("price")),
            }
        )
    return lines


def _order_completed(event: Event, customer: Any, report: ProcessReport) -> None:
    from omnicrm.core.errors import ValidationFailed
    from omnicrm.orders import selectors as order_selectors
    from omnicrm.orders import services as order_services

    props = event.properties if isinstance(event.properties, dict) else {}
    external_id = str(props.get("order_id") or props.get("checkout_id") or "").strip()
    if not external_id:
        raise ValidationFailed(
            "Order Completed needs properties.order_id (the shop's order number)",
            field="properties.order_id",
        )
    existing = order_selectors.order_by_external_id(external_id=external_id)
    if existing is not None:
        # The shop's backend sent the order already (API or import): the event only links.
        report.orders_linked.append(existing.public_id)
        return
    currency = props.get("currency") or ""
    if not currency:
        raise ValidationFailed(
            "Order Completed needs properties.currency", field="properties.currency"
        )
    order = order_services.order_create(
        customer_id=customer.public_id,
        currency=str(currency),
        lines=_order_lines(props.get("products")),
        channel=ORDER_CHANNELS.get(event.channel, "web"),
        placed_at=event.timestamp,
        shipping_total=_money(props.get("shipping") or 0),
        discount_total=_money(props.get("discount") or 0),
        external_id=external_id,
        actor_label=_source_label(event),
    )
    # Order Completed means the customer paid: the order starts its life confirmed.
    order_services.order_status_change(
        order=order,
        status="confirmed",
        occurred_at=event.timestamp,
        actor_label=_source_label(event),
    )
    report.orders_created.append(order.public_id)


def _customer_changed(customer_id: int) -> None:
    # Segments whose rules read events, orders or the profile re-check this customer.
    from omnicrm.segments.tasks import segments_customer_changed

    segments_customer_changed(customer_id)


def _process_one(event_id: int, report: ProcessReport) -> None:
    from omnicrm.customers.resolution import identity_lookup

    with transaction.atomic():
        event = (
            Event.objects.select_for_update()
            .select_related("source")
            .filter(pk=event_id, processed_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
            .first()
        )
        if event is None:
            # Another worker got there first, or the event gave up retrying.
            return
        customer = None
        event.error = ""
        try:
            # Savepoints: a refusal rolls back its own step, and the mark below stays.
            with transaction.atomic():
                preference = tracking_preference(event.context)
                if preference is False:
                    _withdraw(event)
                elif preference is True:
                    # Granted again: the profile is found without resolution, which
                    # would ignore a person whose refusal is still on record.
                    known = identity_lookup(user_id=event.user_id, anonymous_id=event.anonymous_id)
                    if known is not None:
                        _set_tracking_consent(event, known, granted=True)
                customer = _resolve(event)
                if customer is not None and preference is True:
                    _set_tracking_consent(event, customer, granted=True)
            if (
                customer is not None
                and event.type == EventType.TRACK
                and event.event == ORDER_COMPLETED
            ):
                with transaction.atomic():
                    _order_completed(event, customer, report)
        except ApplicationError as error:
            where = f"{error.field}: " if error.field else ""
            event.error = f"{where}{error.message}"[:300]
            report.failed += 1
        event.customer = customer
        event.processed_at = timezone.now()
        event.save(update_fields=["customer", "processed_at", "error"])
        if customer is not None:
            transaction.on_commit(partial(_customer_changed, customer.pk))
    report.processed += 1
    if customer is None:
        report.unlinked += 1


def events_process(*, event_ids: list[int]) -> ProcessReport:
    """Process these events if they still need it; safe to call again with the same ids."""
    report = ProcessReport()
    pending = list(
        Event.objects.filter(
            pk__in=list(event_ids), processed_at__isnull=True, attempts__lt=MAX_ATTEMPTS
        )
        .order_by("timestamp", "id")
        .values_list("pk", flat=True)
    )
    for event_id in pending:
        try:
            _process_one(event_id, report)
        except Exception as exc:
            # Not a business refusal: count an attempt and let a later run retry.
            logger.exception("processing event %s failed", event_id)
            Event.objects.filter(pk=event_id).update(
                attempts=F("attempts") + 1, error=f"{type(exc).__name__}: {exc}"[:300]
            )
            report.retried += 1
    return report


def events_unprocessed_ids(*, after_id: int = 0, limit: int = BATCH_SIZE) -> list[int]:
    """The oldest events still waiting after ``after_id``, for the periodic sweep (uses
    the event_unprocessed index)."""
    return list(
        Event.objects.filter(processed_at__isnull=True, attempts__lt=MAX_ATTEMPTS, pk__gt=after_id)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
