"""The customer-facing "why was I recommended this?", and why not."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.core.errors import NotFound
from omnicrm.customers.models import Customer
from omnicrm.recommendations.feedback import feedback_for_customer
from omnicrm.recommendations.serving import (
    MAX_LIMIT,
    Filters,
    Recommendation,
    customer_history,
    recommend_for_customer,
)
from omnicrm.recommendations.serving_cache import snapshot_current
from omnicrm.recommendations.serving_products import product_cards


def recommendation_why(
    *, customer: Customer, product_pk: int, product_id: str, now: datetime | None = None
) -> Recommendation:
    """Why ``customer`` is recommended the product: its reason, causes and sentence.

    404 when the product is not among the customer's recommendations right now, saying why
    (already bought, feedback given, rated low, no longer sold, or simply not among the
    customer's best ``MAX_LIMIT``), in ``extra["why_not"]``.
    """
    result = recommend_for_customer(customer=customer, filters=Filters(limit=MAX_LIMIT), now=now)
    for item in result.items:
        if item.product.pk == product_pk:
            return item
    why_not, message = _why_not(customer=customer, product_pk=product_pk, now=now)
    raise NotFound(
        message % {"product": product_id, "customer": customer.public_id},
        field="product_id",
        extra={"why_not": why_not},
    )


def _why_not(*, customer: Customer, product_pk: int, now: datetime | None) -> tuple[str, str]:
    feedback = feedback_for_customer(customer_pk=customer.pk)
    if product_pk in feedback.not_interested:
        return "not_interested", _(
            "%(product)s is not recommended to %(customer)s: they said they are not interested"
        )
    snapshot = snapshot_current()
    history = customer_history(snapshot, customer.pk, now or timezone.now())
    signal = history.signals.get(product_pk)
    if product_pk in feedback.excluded or (signal is not None and signal.purchases > 0):
        row = snapshot.row_of(product_pk)
        if row < 0 or not snapshot.repeat[row]:
            return "bought", _(
                "%(product)s is not recommended to %(customer)s: they already bought it"
            )
    if signal is not None and signal.rating is not None and signal.rating <= 2:
        return "rated_low", _(
            "%(product)s is not recommended to %(customer)s: they rated it 1 or 2 stars"
        )
    card = product_cards([product_pk]).get(product_pk)
    if card is None or not card.is_active:
        return "not_sold", _("%(product)s is not recommended to anyone: it is no longer sold")
    return "not_in_top", _("%(product)s is not among the recommendations of %(customer)s right now")
