"""The console partials other pages include: a product's rating summary and a wishlist."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from omnicrm.reviews.models import WishlistItem
from omnicrm.reviews.selectors import RatingSummary, product_rating_summary, wishlist_list
from tests.factories import CustomerFactory, ProductFactory, ReviewFactory


def bars(html: str) -> list[tuple[str, str, str]]:
    """(label, percent, count) of each distribution row, top to bottom."""
    return re.findall(
        r'<th scope="row">([^<]+)</th>.*?<td class="num">(\d+)%</td>\s*'
        r'<td class="num muted">(\d+)</td>',
        html,
        flags=re.S,
    )


@pytest.mark.django_db
def test_rating_summary_shows_average_stars_count_and_five_bars():
    arabica = ProductFactory()
    for rating in (5, 5, 4, 1):
        ReviewFactory(product=arabica, rating=rating)

    with translation.override("en"):
        html = render_to_string(
            "reviews/partials/_rating_summary.html",
            {"rating_summary": product_rating_summary(product=arabica)},
        )

    assert '<span class="rating-summary-average">3.8</span>' in html
    assert 'aria-label="3.8 out of 5 stars"' in html
    assert 'style="width: 75%"' in html
    assert "4 ratings" in html
    assert bars(html) == [
        ("5 stars", "50", "2"),
        ("4 stars", "25", "1"),
        ("3 stars", "0", "0"),
        ("2 stars", "0", "0"),
        ("1 star", "25", "1"),
    ]
    assert 'width="50" height="8"' in html
    assert "://" not in html  # nothing loaded from elsewhere


def test_rating_summary_without_ratings_says_so():
    with translation.override("en"):
        html = render_to_string(
            "reviews/partials/_rating_summary.html",
            {"rating_summary": RatingSummary.from_distribution({})},
        )

    assert "No ratings yet." in html
    assert "rating-bars" not in html.split("<style>")[0]


@pytest.mark.django_db
def test_wishlist_lists_products_newest_first_with_stock_and_price():
    ha = CustomerFactory()
    arabica = ProductFactory(title="Arabica 1kg", stock=0)
    moka = ProductFactory(title="Moka Pot")
    WishlistItem.objects.create(customer=ha, product=arabica)
    WishlistItem.objects.create(customer=ha, product=moka)

    with translation.override("en"):
        html = render_to_string(
            "reviews/partials/_wishlist.html", {"wishlist_items": wishlist_list(customer=ha)}
        )
        empty = render_to_string("reviews/partials/_wishlist.html", {"wishlist_items": []})

    titles = re.findall(r'<span class="wishlist-title">(?:<a [^>]+>)?([^<]+)', html)
    assert titles == ["Moka Pot", "Arabica 1kg"]
    assert html.count("Out of stock") == 1
    assert html.count("10.00 USD") == 2
    assert "Nothing on the wishlist." in empty
