"""Serving reads a customer's touches in one statement: it must read exactly what
signals.signal_sources reads, touch for touch, so serving and training weigh alike."""

from __future__ import annotations

import pytest

from omnicrm.orders.models import OrderStatus
from omnicrm.recommendations.models import FeedbackKind, RecommendationFeedback
from omnicrm.recommendations.serving_signals import customer_signal_sources
from omnicrm.recommendations.signals import signal_sources, signals_combine, signals_for
from omnicrm.reviews.models import WishlistItem
from tests.factories import CustomerFactory, ProductFactory, ReviewFactory
from tests.recommendations.test_signals import NOW, buy, days_ago, track

pytestmark = pytest.mark.django_db


def test_one_statement_reads_what_the_signal_sources_read():
    hà, other = CustomerFactory(), CustomerFactory()
    products = ProductFactory.create_batch(9)
    bought, repeat, loved, hated, wished, carted, viewed, gift, canceled = products
    buy(hà, bought, days=10)
    buy(hà, repeat, days=100)
    buy(hà, repeat, days=20)
    buy(hà, loved, days=30)
    buy(hà, canceled, days=3, status=OrderStatus.CANCELED)
    buy(hà, gift, days=40)
    buy(other, viewed, days=1)  # someone else's purchase is not read
    buy(hà, carted, days=-2)  # after "now": not read
    ReviewFactory(customer=hà, product=loved, rating=5, reviewed_at=days_ago(25))
    ReviewFactory(customer=hà, product=hated, rating=1, reviewed_at=days_ago(4))
    WishlistItem.objects.create(customer=hà, product=wished)
    WishlistItem.objects.filter(product=wished).update(created_at=days_ago(60))
    track(hà, "Product Added", days=2, product_id=carted.public_id)
    track(hà, "Product Viewed", days=3, sku=viewed.sku)
    track(hà, "Product Viewed", days=400, sku=viewed.sku)  # outside the event window
    track(hà, "Product Viewed", days=1, product_id="prd_unknown")  # names no product
    track(hà, "Checkout Started", days=1, product_id=bought.public_id)  # not a product touch
    RecommendationFeedback.objects.create(
        customer=hà, product=gift, kind=FeedbackKind.EXCLUDE_PURCHASE
    )

    fast = customer_signal_sources(customer_pk=hà.pk, now=NOW)
    slow = signal_sources(now=NOW, customer_pk=hà.pk)

    def rows(touches):
        # Times to the millisecond: the two reads convert the stored times alike.
        return sorted(
            (p, round(a, 3), v)
            for p, a, v in zip(
                touches.product.tolist(), touches.at.tolist(), touches.value.tolist(),
                strict=True,
            )
        )  # fmt: skip

    def purchases(rows):
        return sorted(
            zip(rows.product.tolist(), rows.order.tolist(), rows.quantity.tolist(),
                [round(a, 3) for a in rows.at.tolist()], strict=True)
        )  # fmt: skip

    assert purchases(fast.purchases) == purchases(slow.purchases)
    for name in ("ratings", "wishes", "carts", "views"):
        assert rows(getattr(fast, name)) == rows(getattr(slow, name)), name
    assert fast.excluded[1].tolist() == slow.excluded[1].tolist() == [gift.pk]
    assert len(fast.views) == 1 and len(fast.carts) == 1 and len(fast.purchases) == 5

    weights_fast = {s.product_pk: s.weight for s in signals_for(signals_combine(fast))}
    weights_slow = {s.product_pk: s.weight for s in signals_for(signals_combine(slow))}
    assert weights_fast == pytest.approx(weights_slow)
    assert set(weights_fast) == {bought.pk, repeat.pk, loved.pk, hated.pk, wished.pk,
                                 carted.pk, viewed.pk}  # fmt: skip
