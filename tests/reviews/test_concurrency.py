"""Two ratings of one product arriving at the same moment leave one rating, not two."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from omnicrm.core.models import AuditLog
from omnicrm.reviews.models import Review, WishlistItem
from omnicrm.reviews.services import rating_set, wishlist_add
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory


def run_together(*calls):
    """Run each call in its own thread (own database connection), started together."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call):
        try:
            barrier.wait()
            call()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_ratings_and_wishes_of_one_product_leave_one_row():
    ha, arabica = CustomerFactory(), ProductFactory()
    OrderLineFactory(order=OrderFactory(customer=ha), product=arabica)
    ids = {"customer_id": ha.public_id, "product_id": arabica.public_id}

    run_together(*(lambda r=r: rating_set(**ids, rating=r) for r in (2, 3, 4, 5)))
    run_together(*(lambda: wishlist_add(**ids) for _ in range(4)))

    review = Review.objects.get()
    rated = list(AuditLog.objects.filter(action="rating.set").values_list("data", flat=True))
    assert len(rated) == 4
    # The last rating written is the one that stays; each saw the one before it.
    last = AuditLog.objects.filter(action="rating.set").order_by("-id").first()
    assert review.rating == last.data["rating"]
    assert sorted(d["previous"] is None for d in rated) == [False, False, False, True]
    assert WishlistItem.objects.count() == 1
    assert AuditLog.objects.filter(action="wishlist.add").count() == 1
