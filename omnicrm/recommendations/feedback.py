"""Customers' feedback on recommendations: "not interested" and "don't use this purchase".

Serving reads :func:`feedback_for_customer` on every request, so a change here shows in the
next list without retraining. Writes are audited like every other service.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from omnicrm.core.errors import NotFound, ValidationFailed
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.customers.models import Customer
from omnicrm.orders import selectors as order_selectors
from omnicrm.recommendations.models import FeedbackKind, RecommendationFeedback
from omnicrm.reviews.services import shopper_get, shopper_product_get


@dataclass(frozen=True)
class CustomerFeedback:
    """Product pks the customer said no to (never recommended, never a cause) and purchases
    they asked not to use (still theirs, but no longer a signal or a cause)."""

    not_interested: frozenset[int]
    excluded: frozenset[int]

    @property
    def ignored(self) -> frozenset[int]:
        """Every product that must contribute nothing to the customer's scores."""
        return self.not_interested | self.excluded


def _valid_kind(kind: str) -> str:
    if kind not in FeedbackKind.values:
        raise ValidationFailed(
            _("kind must be one of %(kinds)s") % {"kinds": ", ".join(FeedbackKind.values)},
            field="kind",
        )
    return kind


def feedback_set(
    *,
    customer_id: str,
    product_id: str,
    kind: str,
    actor: Actor = None,
    actor_label: str = "",
) -> RecommendationFeedback:
    """Record feedback; setting the same feedback again returns the existing row unchanged.

    ``exclude_purchase`` ("don't use for recommendations", a gift say) needs a purchase of
    the product by the customer (422 on ``product`` otherwise); ``not_interested`` works for
    any product.
    """
    _valid_kind(kind)
    customer = shopper_get(customer_id=customer_id)
    product = shopper_product_get(product_id=product_id)
    existing = RecommendationFeedback.objects.filter(
        customer=customer, product=product, kind=kind
    ).first()
    if existing is not None:
        return existing
    if kind == FeedbackKind.EXCLUDE_PURCHASE and (
        order_selectors.order_purchase_of(customer=customer, product=product) is None
    ):
        raise ValidationFailed(
            _("only a purchase can be excluded: %(customer)s has no order of %(product)s")
            % {"customer": customer_id, "product": product_id},
            field="product",
        )
    try:
        with transaction.atomic():
            feedback = RecommendationFeedback.objects.create(
                customer=customer, product=product, kind=kind
            )
            audit_log_write(
                action="recommendation_feedback.set",
                object_type="customer",
                object_id=customer.public_id,
                actor=actor,
                actor_label=actor_label,
                data={"product": product.public_id, "kind": kind},
            )
    except IntegrityError:
        # The same feedback was recorded concurrently: that row is the answer.
        return RecommendationFeedback.objects.get(customer=customer, product=product, kind=kind)
    return feedback


def feedback_clear(
    *,
    customer_id: str,
    product_id: str,
    kind: str,
    actor: Actor = None,
    actor_label: str = "",
) -> None:
    """Withdraw feedback; 404 when the customer had not given it."""
    _valid_kind(kind)
    customer = shopper_get(customer_id=customer_id)
    product = shopper_product_get(product_id=product_id)
    with transaction.atomic():
        deleted, _rows = RecommendationFeedback.objects.filter(
            customer=customer, product=product, kind=kind
        ).delete()
        if not deleted:
            raise NotFound(
                _("%(customer)s has no %(kind)s feedback on %(product)s")
                % {"customer": customer_id, "kind": kind, "product": product_id},
                field="product",
            )
        audit_log_write(
            action="recommendation_feedback.clear",
            object_type="customer",
            object_id=customer.public_id,
            actor=actor,
            actor_label=actor_label,
            data={"product": product.public_id, "kind": kind},
        )


def feedback_for_customer(*, customer_pk: int) -> CustomerFeedback:
    """The customer's feedback as product pk sets, in one query (serving calls it per request)."""
    not_interested: set[int] = set()
    excluded: set[int] = set()
    rows = RecommendationFeedback.objects.filter(customer_id=customer_pk).values_list(
        "product_id", "kind"
    )
    for product_pk, kind in rows:
        (not_interested if kind == FeedbackKind.NOT_INTERESTED else excluded).add(product_pk)
    return CustomerFeedback(not_interested=frozenset(not_interested), excluded=frozenset(excluded))


def feedback_list(*, customer: Customer) -> QuerySet[RecommendationFeedback]:
    """The customer's feedback newest first, with each product loaded."""
    return (
        RecommendationFeedback.objects.filter(customer=customer)
        .select_related("customer", "product")
        .order_by("-created_at", "-id")
    )
