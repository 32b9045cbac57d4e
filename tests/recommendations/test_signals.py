"""Signals: every way a customer touches a product, weighted and recency-decayed, the same
for training (all customers at once) and serving (one customer)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from omnicrm.events.models import Event, Source
from omnicrm.orders.models import OrderStatus
from omnicrm.recommendations.models import FeedbackKind, RecommendationFeedback
from omnicrm.recommendations.signals import (
    customer_signals,
    decay,
    purchased_products,
    signal_arrays,
)
from omnicrm.reviews.models import WishlistItem
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    ReviewFactory,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def half(days: float) -> float:
    return 0.5 ** (days / 180)


def buy(customer, product, *, days: float, status: str = OrderStatus.DELIVERED):
    order = OrderFactory(customer=customer, placed_at=days_ago(days), status=status)
    OrderLineFactory(order=order, product=product, line_number=1)
    return order


_sequence = iter(range(1, 1_000_000))


def track(customer, name: str, *, days: float, **properties) -> Event:
    source = Source.objects.first() or Source.objects.create(
        name="Web", channel="web", prefix="pk_test", key_hash="0" * 64
    )
    moment = days_ago(days)
    return Event.objects.create(
        source=source,
        message_id=f"m-{next(_sequence)}",
        type="track",
        event=name,
        channel="web",
        customer=customer,
        properties=properties,
        timestamp=moment,
        received_at=moment,
    )


def by_product(signals):
    return {s.product_pk: s for s in signals}


def test_decay_halves_every_180_days_and_ignores_the_future():
    ages = np.array([0.0, 180.0, 360.0, -5.0]) * 86400
    assert decay(ages).tolist() == [1.0, 0.5, 0.25, 1.0]


def test_each_kind_of_touch_weighs_as_documented():
    hà = CustomerFactory()
    bought, repeat, loved, hated, wished, carted, viewed = ProductFactory.create_batch(7)
    buy(hà, bought, days=10)
    buy(hà, repeat, days=100)
    buy(hà, repeat, days=20)
    buy(hà, loved, days=30)
    ReviewFactory(customer=hà, product=loved, rating=5, reviewed_at=days_ago(25))
    buy(hà, hated, days=5)
    ReviewFactory(customer=hà, product=hated, rating=1, reviewed_at=days_ago(4))
    WishlistItem.objects.create(customer=hà, product=wished)
    WishlistItem.objects.filter(product=wished).update(created_at=days_ago(60))
    track(hà, "Product Added", days=2, product_id=carted.public_id)
    for day in range(1, 8):
        # Seven views by SKU cap at 0.5; the latest (1 day ago) dates them.
        track(hà, "Product Viewed", days=day, sku=viewed.sku)

    signals = by_product(customer_signals(customer_pk=hà.pk, now=NOW))

    assert set(signals) == {p.pk for p in (bought, repeat, loved, hated, wished, carted, viewed)}
    assert signals[bought.pk].weight == pytest.approx(half(10))
    assert signals[bought.pk].kind == "bought"
    assert signals[repeat.pk].weight == pytest.approx((1 + math.log(2)) * half(20))
    assert signals[repeat.pk].purchases == 2
    assert signals[loved.pk].weight == pytest.approx(half(30) + 0.5 * half(25))
    assert signals[loved.pk].kind == "rated"
    assert signals[loved.pk].kinds == ("rated", "bought")
    assert signals[loved.pk].details == {"rating": 5, "purchases": 1}
    # A 1-star rating overrides the purchase: the product now pushes its neighbours down.
    assert signals[hated.pk].weight == pytest.approx(-half(4))
    assert signals[hated.pk].rating == 1
    assert signals[wished.pk].weight == pytest.approx(0.5 * half(60))
    assert signals[wished.pk].kind == "wished"
    assert signals[carted.pk].weight == pytest.approx(0.3 * half(2))
    assert signals[carted.pk].kind == "carted"
    assert signals[viewed.pk].weight == pytest.approx(0.5 * half(1))
    assert signals[viewed.pk].views == 7
    assert signals[viewed.pk].kind == "viewed"
    assert abs(signals[viewed.pk].at - days_ago(1)) < timedelta(seconds=1)
    # Strongest first; the disliked product comes last.
    weights = [s.weight for s in customer_signals(customer_pk=hà.pk, now=NOW)]
    assert weights == sorted(weights, reverse=True)
    assert weights[-1] < 0


def test_what_does_not_count():
    hà, other = CustomerFactory(), CustomerFactory()
    canceled, unavailable, later, meh, excluded, shunned, old_view = ProductFactory.create_batch(7)
    buy(hà, canceled, days=3, status=OrderStatus.CANCELED)
    buy(hà, unavailable, days=3, status=OrderStatus.UNAVAILABLE)
    buy(hà, later, days=-2)  # placed after "now"
    # A lone 3-star rating is no signal either way.
    ReviewFactory(customer=hà, product=meh, rating=3, reviewed_at=days_ago(3))
    buy(hà, excluded, days=3)
    RecommendationFeedback.objects.create(
        customer=hà, product=excluded, kind=FeedbackKind.EXCLUDE_PURCHASE
    )
    WishlistItem.objects.create(customer=hà, product=shunned)
    RecommendationFeedback.objects.create(
        customer=hà, product=shunned, kind=FeedbackKind.NOT_INTERESTED
    )
    track(hà, "Product Viewed", days=400, product_id=old_view.public_id)
    track(hà, "Product Viewed", days=1, product_id="prd_unknown")
    track(hà, "Product Viewed", days=1)  # names no product
    buy(other, meh, days=3)

    assert customer_signals(customer_pk=hà.pk, now=NOW) == []
    # The excluded purchase is still a purchase: serving must not offer it again.
    assert purchased_products(customer_pk=hà.pk) == {later.pk, excluded.pk}


def test_a_three_star_purchase_counts_as_the_purchase():
    hà = CustomerFactory()
    product = ProductFactory()
    buy(hà, product, days=0)
    ReviewFactory(customer=hà, product=product, rating=3, reviewed_at=NOW)

    (signal,) = customer_signals(customer_pk=hà.pk, now=NOW)

    assert (signal.kind, signal.weight, signal.rating) == ("bought", pytest.approx(1.0), 3)


def test_the_latest_rating_wins():
    hà = CustomerFactory()
    product = ProductFactory()
    buy(hà, product, days=50)
    ReviewFactory(customer=hà, product=product, rating=1, reviewed_at=days_ago(40))
    ReviewFactory(customer=hà, product=product, rating=5, reviewed_at=days_ago(10))

    (signal,) = customer_signals(customer_pk=hà.pk, now=NOW)

    assert signal.rating == 5
    assert signal.weight == pytest.approx(half(50) + 0.5 * half(10))


def test_two_lines_of_one_order_are_one_purchase():
    hà = CustomerFactory()
    product = ProductFactory()
    order = buy(hà, product, days=0)
    OrderLineFactory(order=order, product=product, line_number=2)

    (signal,) = customer_signals(customer_pk=hà.pk, now=NOW)

    assert (signal.purchases, signal.weight) == (1, pytest.approx(1.0))


def test_training_arrays_hold_every_customer_with_the_serving_weights():
    hà, lan, erased = CustomerFactory(), CustomerFactory(), CustomerFactory()
    a, b, c = ProductFactory.create_batch(3)
    buy(hà, a, days=10)
    ReviewFactory(customer=hà, product=b, rating=2, reviewed_at=days_ago(1))
    buy(lan, a, days=200)
    buy(lan, c, days=0)
    track(lan, "Product Viewed", days=3, product_id=b.public_id)
    buy(erased, a, days=1)
    erased.erased_at = NOW
    erased.save()

    arrays = signal_arrays(now=NOW)

    rows = sorted(
        zip(arrays.customer.tolist(), arrays.product.tolist(), arrays.weight.tolist(), strict=True)
    )
    expected = sorted(
        [
            (hà.pk, a.pk, pytest.approx(half(10))),
            (hà.pk, b.pk, pytest.approx(-half(1))),
            (lan.pk, a.pk, pytest.approx(half(200))),
            (lan.pk, b.pk, pytest.approx(0.1 * half(3))),
            (lan.pk, c.pk, pytest.approx(1.0)),
        ],
        key=lambda row: (row[0], row[1]),
    )
    assert rows == expected
    for customer in (hà, lan):
        served = {
            s.product_pk: s.weight for s in customer_signals(customer_pk=customer.pk, now=NOW)
        }
        trained = {
            p: w
            for cu, p, w in zip(arrays.customer, arrays.product, arrays.weight, strict=True)
            if cu == customer.pk
        }
        assert served == pytest.approx(trained)


def test_serving_one_customer_takes_a_fixed_number_of_queries(django_assert_num_queries):
    hà = CustomerFactory()
    products = ProductFactory.create_batch(20)
    for day, product in enumerate(products):
        buy(hà, product, days=day)
        track(hà, "Product Viewed", days=day, product_id=product.public_id)
        ReviewFactory(customer=hà, product=product, rating=4, reviewed_at=days_ago(day))

    # Purchases, ratings, wishlist, events, the events' products, feedback.
    with django_assert_num_queries(6):
        signals = customer_signals(customer_pk=hà.pk, now=NOW)

    assert len(signals) == 20


def test_no_data_gives_empty_arrays():
    arrays = signal_arrays(now=NOW)
    assert len(arrays) == 0
    assert arrays.weight.dtype == np.float64
