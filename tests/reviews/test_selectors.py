"""Rating summaries, a customer's ratings and wishlist reads: exact figures, few queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnicrm.reviews.models import WishlistItem
from omnicrm.reviews.selectors import (
    RatingSummary,
    customer_rating_list,
    customer_ratings,
    product_rating_summaries,
    product_rating_summary,
    wished_product_ids,
    wishlist_list,
)
from tests.factories import CustomerFactory, ProductFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def at(month: int) -> datetime:
    return datetime(2025, month, 1, tzinfo=UTC)


def test_summary_average_count_and_distribution():
    arabica = ProductFactory()
    for rating in (5, 5, 4, 2, 5, 1):
        ReviewFactory(product=arabica, rating=rating)
    ReviewFactory(rating=1)  # another product's

    summary = product_rating_summary(product=arabica)

    assert summary == RatingSummary(
        average=22 / 6, count=6, distribution={1: 1, 2: 1, 3: 0, 4: 1, 5: 3}
    )
    assert summary.percentages() == {1: 17, 2: 17, 3: 0, 4: 17, 5: 50}


def test_a_product_without_ratings_has_an_empty_summary():
    summary = product_rating_summary(product=ProductFactory())

    assert summary == RatingSummary(
        average=None, count=0, distribution={1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    )
    assert summary.percentages() == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}


def test_summaries_of_many_products_take_one_query(django_assert_num_queries):
    arabica, moka, unrated = ProductFactory(), ProductFactory(), ProductFactory()
    for rating in (4, 5):
        ReviewFactory(product=arabica, rating=rating)
    ReviewFactory(product=moka, rating=3)

    with django_assert_num_queries(1):
        summaries = product_rating_summaries(product_ids=[arabica.pk, moka.pk, unrated.pk])

    assert summaries == {
        arabica.pk: RatingSummary(4.5, 2, {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}),
        moka.pk: RatingSummary(3.0, 1, {1: 0, 2: 0, 3: 1, 4: 0, 5: 0}),
        unrated.pk: RatingSummary(None, 0, {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}),
    }
    assert product_rating_summaries(product_ids=[]) == {}


def test_customer_ratings_keep_the_latest_rating_of_each_product(django_assert_num_queries):
    ha, arabica, moka = CustomerFactory(), ProductFactory(), ProductFactory()
    ReviewFactory(customer=ha, product=arabica, rating=5, reviewed_at=at(1))
    newest = ReviewFactory(customer=ha, product=arabica, rating=2, reviewed_at=at(3))
    moka_review = ReviewFactory(
        customer=ha, product=moka, rating=4, reviewed_at=at(2), verified_purchase=False
    )
    ReviewFactory(product=moka, rating=1, reviewed_at=at(4))  # someone else

    with django_assert_num_queries(1):
        ratings = customer_ratings(customer_pk=ha.pk)

    assert ratings == {arabica.pk: 2, moka.pk: 4}
    assert list(customer_rating_list(customer=ha)) == [newest, moka_review]


def test_wishlist_newest_first_with_products_loaded(django_assert_num_queries):
    ha, arabica, moka = CustomerFactory(), ProductFactory(), ProductFactory()
    first = WishlistItem.objects.create(customer=ha, product=arabica)
    second = WishlistItem.objects.create(customer=ha, product=moka)
    WishlistItem.objects.create(customer=CustomerFactory(), product=arabica)

    with django_assert_num_queries(1):
        items = list(wishlist_list(customer=ha))
        titles = [(item.product.title, item.product.category.slug) for item in items]

    assert items == [second, first]
    assert titles == [
        (moka.title, moka.category.slug),
        (arabica.title, arabica.category.slug),
    ]
    assert wished_product_ids(customer_pk=ha.pk) == [moka.pk, arabica.pk]
