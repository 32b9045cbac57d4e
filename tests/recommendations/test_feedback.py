"""Recommendation feedback: not interested, don't use this purchase; idempotent, audited."""

from __future__ import annotations

import pytest

from omnicrm.core.errors import Conflict, NotFound, ValidationFailed
from omnicrm.core.models import AuditLog
from omnicrm.customers.services import customer_erase
from omnicrm.orders.models import OrderStatus
from omnicrm.recommendations.feedback import (
    CustomerFeedback,
    feedback_clear,
    feedback_for_customer,
    feedback_list,
    feedback_set,
)
from omnicrm.recommendations.models import RecommendationFeedback
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db


def bought(customer, product, *, status=OrderStatus.DELIVERED):
    OrderLineFactory(order=OrderFactory(customer=customer, status=status), product=product)


def test_not_interested_works_for_any_product_and_is_idempotent():
    ha, grinder = CustomerFactory(), ProductFactory()

    first = feedback_set(
        customer_id=ha.public_id,
        product_id=grinder.public_id,
        kind="not_interested",
        actor_label="portal",
    )
    again = feedback_set(
        customer_id=ha.public_id, product_id=grinder.public_id, kind="not_interested"
    )

    assert again.pk == first.pk
    assert RecommendationFeedback.objects.count() == 1
    audit = AuditLog.objects.get(action="recommendation_feedback.set")
    assert (audit.object_id, audit.actor_label, audit.data) == (
        ha.public_id,
        "portal",
        {"product": grinder.public_id, "kind": "not_interested"},
    )


def test_excluding_a_purchase_needs_the_purchase():
    ha, gift, never = CustomerFactory(), ProductFactory(), ProductFactory()
    bought(ha, gift)
    canceled = ProductFactory()
    bought(ha, canceled, status=OrderStatus.CANCELED)

    feedback_set(customer_id=ha.public_id, product_id=gift.public_id, kind="exclude_purchase")
    for product in (never, canceled):
        with pytest.raises(ValidationFailed) as err:
            feedback_set(
                customer_id=ha.public_id, product_id=product.public_id, kind="exclude_purchase"
            )
        assert err.value.field == "product"
        assert str(err.value) == (
            f"only a purchase can be excluded: {ha.public_id} has no order of {product.public_id}"
        )

    assert list(RecommendationFeedback.objects.values_list("product_id", "kind")) == [
        (gift.pk, "exclude_purchase")
    ]


def test_feedback_for_customer_splits_the_kinds_in_one_query(django_assert_num_queries):
    ha, gift, grinder, mug = CustomerFactory(), ProductFactory(), ProductFactory(), ProductFactory()
    bought(ha, gift)
    feedback_set(customer_id=ha.public_id, product_id=gift.public_id, kind="exclude_purchase")
    feedback_set(customer_id=ha.public_id, product_id=gift.public_id, kind="not_interested")
    feedback_set(customer_id=ha.public_id, product_id=grinder.public_id, kind="not_interested")
    other = CustomerFactory()
    feedback_set(customer_id=other.public_id, product_id=mug.public_id, kind="not_interested")

    with django_assert_num_queries(1):
        feedback = feedback_for_customer(customer_pk=ha.pk)

    assert feedback == CustomerFeedback(
        not_interested=frozenset({gift.pk, grinder.pk}), excluded=frozenset({gift.pk})
    )
    assert feedback.ignored == frozenset({gift.pk, grinder.pk})
    assert feedback_for_customer(customer_pk=CustomerFactory().pk) == CustomerFeedback(
        not_interested=frozenset(), excluded=frozenset()
    )
    assert [(f.product, f.kind) for f in feedback_list(customer=ha)] == [
        (grinder, "not_interested"),
        (gift, "not_interested"),
        (gift, "exclude_purchase"),
    ]


def test_clear_removes_one_kind_and_is_404_when_not_given():
    ha, gift = CustomerFactory(), ProductFactory()
    bought(ha, gift)
    feedback_set(customer_id=ha.public_id, product_id=gift.public_id, kind="exclude_purchase")
    feedback_set(customer_id=ha.public_id, product_id=gift.public_id, kind="not_interested")

    feedback_clear(customer_id=ha.public_id, product_id=gift.public_id, kind="not_interested")

    assert feedback_for_customer(customer_pk=ha.pk) == CustomerFeedback(
        not_interested=frozenset(), excluded=frozenset({gift.pk})
    )
    assert AuditLog.objects.get(action="recommendation_feedback.clear").data == {
        "product": gift.public_id,
        "kind": "not_interested",
    }
    with pytest.raises(NotFound) as err:
        feedback_clear(customer_id=ha.public_id, product_id=gift.public_id, kind="not_interested")
    assert str(err.value) == f"{ha.public_id} has no not_interested feedback on {gift.public_id}"


def test_bad_kind_unknown_ids_and_erased_customers_are_refused():
    ha, grinder = CustomerFactory(), ProductFactory()

    with pytest.raises(ValidationFailed) as err:
        feedback_set(customer_id=ha.public_id, product_id=grinder.public_id, kind="meh")
    assert (err.value.field, str(err.value)) == (
        "kind",
        "kind must be one of not_interested, exclude_purchase",
    )
    with pytest.raises(NotFound) as err:
        feedback_set(customer_id="cus_nobody", product_id=grinder.public_id, kind="not_interested")
    assert err.value.field == "customer"
    with pytest.raises(NotFound) as err:
        feedback_set(customer_id=ha.public_id, product_id="prd_nothing", kind="not_interested")
    assert err.value.field == "product"
    customer_erase(customer=ha)
    with pytest.raises(Conflict):
        feedback_set(customer_id=ha.public_id, product_id=grinder.public_id, kind="not_interested")
    assert RecommendationFeedback.objects.count() == 0
