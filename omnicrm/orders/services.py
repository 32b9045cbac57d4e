"""Every write to orders: creation with server-side totals, and the status lifecycle.

Card numbers are never stored: a payment keeps a provider token, the brand and the last 4
digits, and any field that looks like a full card number is refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.catalog import selectors as catalog_selectors
from omnicrm.catalog.services import amount_parse_exact, currency_clean
from omnicrm.core.errors import Conflict, NotFound, ValidationFailed
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.customers import selectors as customer_selectors
from omnicrm.orders.models import Channel, Order, OrderLine, OrderStatus, Payment, PaymentMethod

S = OrderStatus
# Where an order may go next. Anything else (delivered -> packed, say) is refused with a
# 409; terminal statuses go nowhere.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.PROCESSING, S.CANCELED, S.UNAVAILABLE}),
    S.CONFIRMED: frozenset({S.PROCESSING, S.PACKED, S.CANCELED, S.UNAVAILABLE}),
    S.PROCESSING: frozenset({S.PACKED, S.CANCELED, S.UNAVAILABLE}),
    S.PACKED: frozenset({S.SHIPPED, S.CANCELED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.RETURNED}),
    S.DELIVERED: frozenset({S.RETURNED}),
    S.CANCELED: frozenset(),
    S.UNAVAILABLE: frozenset(),
    S.RETURNED: frozenset(),
}

# The timestamp each stage sets when an order reaches it.
STAGE_TIMESTAMPS: dict[str, str] = {
    S.CONFIRMED: "confirmed_at",
    S.PACKED: "packed_at",
    S.SHIPPED: "shipped_at",
    S.DELIVERED: "delivered_at",
    S.CANCELED: "canceled_at",
}

# Runs of digits, possibly grouped by single spaces or dashes as cards are printed.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d)*(?!\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def looks_like_card_number(text: str) -> bool:
    """True if `text` holds 13-19 digits in one run that pass the Luhn check (a PAN)."""
    for match in _DIGIT_RUN.finditer(text or ""):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def _refuse_card_number(value: str, *, field: str) -> None:
    if looks_like_card_number(value):
        raise ValidationFailed(
            _(
                "%(field)s looks like a card number; send the payment provider's token, "
                "never the card number"
            )
            % {"field": field},
            field=field,
        )


def _choice(value: Any, choices: list[str], *, field: str) -> str:
    if value not in choices:
        raise ValidationFailed(
            _("%(value)s is not one of %(choices)s")
            % {"value": value, "choices": ", ".join(choices)},
            field=field,
        )
    return str(value)


def _text(value: Any, *, field: str, max_length: int) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > max_length:
        raise ValidationFailed(
            _("%(field)s is at most %(n)s characters") % {"field": field, "n": max_length},
            field=field,
        )
    return text


def _positive_int(value: Any, *, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationFailed(
            _("%(field)s must be a whole number of at least 1") % {"field": field}, field=field
        )
    return value


def _clean_lines(lines: list[dict[str, Any]], *, currency: str) -> list[OrderLine]:
    if not lines:
        raise ValidationFailed(_("an order needs at least one line"), field="lines")
    products = catalog_selectors.product_by_skus(
        skus=[str(line.get("sku", "")).strip() for line in lines]
    )
    cleaned = []
    for i, line in enumerate(lines):
        unknown = sorted(set(line) - {"sku", "quantity", "unit_price"})
        if unknown:
            raise ValidationFailed(_("unknown field"), field=f"lines.{i}.{unknown[0]}")
        sku = str(line.get("sku", "")).strip()
        product = products.get(sku)
        if product is None:
            raise ValidationFailed(
                _("no product with SKU %(sku)s") % {"sku": sku}, field=f"lines.{i}.sku"
            )
        quantity = _positive_int(line.get("quantity"), field=f"lines.{i}.quantity")
        unit_price = amount_parse_exact(
            line.get("unit_price"), currency=currency, field=f"lines.{i}.unit_price"
        )
        cleaned.append(
            OrderLine(
                line_number=i + 1,
                product=product,
                sku=product.sku,
                title=product.title,
                quantity=quantity,
                unit_price=unit_price,
                total=unit_price * quantity,
            )
        )
    return cleaned


def _clean_payments(payments: list[dict[str, Any]], *, currency: str) -> list[Payment]:
    allowed = {"method", "amount", "installments", "token", "brand", "last4"}
    cleaned = []
    for i, payment in enumerate(payments):
        where = f"payments.{i}"
        unknown = sorted(set(payment) - allowed)
        if unknown:
            raise ValidationFailed(_("unknown field"), field=f"{where}.{unknown[0]}")
        for key in ("token", "brand", "last4"):
            _refuse_card_number(str(payment.get(key) or ""), field=f"{where}.{key}")
        last4 = _text(payment.get("last4"), field=f"{where}.last4", max_length=4)
        if last4 and not (len(last4) == 4 and last4.isdigit()):
            raise ValidationFailed(_("last4 must be exactly 4 digits"), field=f"{where}.last4")
        cleaned.append(
            Payment(
                sequence=i + 1,
                method=_choice(
                    payment.get("method"), PaymentMethod.values, field=f"{where}.method"
                ),
                amount=amount_parse_exact(
                    payment.get("amount"), currency=currency, field=f"{where}.amount"
                ),
                currency=currency,
                installments=_positive_int(
                    payment.get("installments", 1), field=f"{where}.installments"
                ),
                token=_text(payment.get("token"), field=f"{where}.token", max_length=200),
                brand=_text(payment.get("brand"), field=f"{where}.brand", max_length=30),
                last4=last4,
            )
        )
    return cleaned


def _customer_changed(customer_id: int) -> None:
    # Segment membership that depends on orders follows within seconds (omnicrm.segments).
    from omnicrm.segments.tasks import segments_customer_changed

    segments_customer_changed(customer_id)


def order_create(
    *,
    customer_id: str,
    currency: str,
    lines: list[dict[str, Any]],
    payments: list[dict[str, Any]] | None = None,
    channel: str = Channel.WEB,
    status: str = OrderStatus.PENDING,
    placed_at: datetime | None = None,
    shipping_total: Decimal | str | int = 0,
    discount_total: Decimal | str | int = 0,
    external_id: str | None = None,
    actor: Actor = None,
    actor_label: str = "",
) -> Order:
    """Create an order for the customer with public id `customer_id`.

    Lines name catalog SKUs; their totals, the subtotal and the total are computed here
    (total = subtotal + shipping - discount), never taken from the caller.
    """
    try:
        customer = customer_selectors.customer_get(public_id=customer_id)
    except NotFound:
        raise ValidationFailed(
            _("no customer with id %(id)s") % {"id": customer_id}, field="customer"
        ) from None
    if customer.erased_at is not None:
        raise ValidationFailed(_("the customer was erased"), field="customer")
    currency = currency_clean(currency)
    channel = _choice(channel, Channel.values, field="channel")
    status = _choice(status, OrderStatus.values, field="status")
    if placed_at is not None and timezone.is_naive(placed_at):
        raise ValidationFailed(_("placed_at needs a time zone"), field="placed_at")
    external = _text(external_id, field="external_id", max_length=100) or None
    if external:
        _refuse_card_number(external, field="external_id")
    order_lines = _clean_lines(lines, currency=currency)
    order_payments = _clean_payments(payments or [], currency=currency)
    shipping = amount_parse_exact(shipping_total, currency=currency, field="shipping_total")
    discount = amount_parse_exact(discount_total, currency=currency, field="discount_total")
    subtotal = sum((line.total for line in order_lines), Decimal(0))
    total = subtotal + shipping - discount
    if total < 0:
        raise ValidationFailed(
            _("the discount is larger than the subtotal plus shipping"), field="discount_total"
        )
    if external and Order.objects.filter(external_id=external).exists():
        raise Conflict(
            _("an order with external id %(id)s already exists") % {"id": external},
            field="external_id",
        )
    try:
        with transaction.atomic():
            order = Order.objects.create(
                customer=customer,
                external_id=external,
                channel=channel,
                status=status,
                placed_at=placed_at or timezone.now(),
                currency=currency,
                subtotal=subtotal,
                shipping_total=shipping,
                discount_total=discount,
                total=total,
            )
            for line in order_lines:
                line.order = order
            OrderLine.objects.bulk_create(order_lines)
            for payment in order_payments:
                payment.order = order
            Payment.objects.bulk_create(order_payments)
            audit_log_write(
                action="order.create",
                object_type="order",
                object_id=order.public_id,
                actor=actor,
                actor_label=actor_label,
                data={"customer": customer.public_id, "total": str(total), "currency": currency},
            )
            transaction.on_commit(partial(_customer_changed, customer.pk))
    except IntegrityError as exc:
        # Only the external id can clash here; everything else was validated above.
        raise Conflict(
            _("an order with external id %(id)s already exists") % {"id": external},
            field="external_id",
        ) from exc
    return order


def order_status_change(
    *,
    order: Order,
    status: str,
    tracking_number: str = "",
    occurred_at: datetime | None = None,
    actor: Actor = None,
    actor_label: str = "",
) -> Order:
    """Move an order to `status`, stamping the stage time (confirmed_at, shipped_at...).

    Shipping needs a tracking number. Asking for the status the order already has changes
    nothing, so a retried request is harmless; a move ORDER_TRANSITIONS does not allow is a
    Conflict.
    """
    status = _choice(status, OrderStatus.values, field="status")
    tracking = _text(tracking_number, field="tracking_number", max_length=100)
    when = occurred_at or timezone.now()
    if timezone.is_naive(when):
        raise ValidationFailed(_("occurred_at needs a time zone"), field="occurred_at")
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status == status:
            return locked
        if status not in ORDER_TRANSITIONS[locked.status]:
            allowed = sorted(ORDER_TRANSITIONS[locked.status])
            raise Conflict(
                _("an order that is %(current)s cannot become %(new)s; allowed: %(allowed)s")
                % {
                    "current": locked.status,
                    "new": status,
                    "allowed": ", ".join(allowed) or _("none"),
                },
                field="status",
                extra={"current_status": locked.status, "allowed": allowed},
            )
        if status == S.SHIPPED and not (tracking or locked.tracking_number):
            raise ValidationFailed(
                _("a tracking number is needed to ship an order"), field="tracking_number"
            )
        previous = locked.status
        update = ["status", "updated_at"]
        locked.status = status
        stamp = STAGE_TIMESTAMPS.get(status)
        if stamp:
            setattr(locked, stamp, when)
            update.append(stamp)
        if tracking:
            locked.tracking_number = tracking
            update.append("tracking_number")
        locked.save(update_fields=update)
        audit_log_write(
            action="order.status_change",
            object_type="order",
            object_id=locked.public_id,
            actor=actor,
            actor_label=actor_label,
            data={
                "from": previous,
                "to": status,
                **({"tracking_number": tracking} if tracking else {}),
            },
        )
        if locked.customer_id is not None:
            transaction.on_commit(partial(_customer_changed, locked.customer_id))
    return locked
