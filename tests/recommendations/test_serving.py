"""Serving on a tiny hand-built run whose right answers are known (tests/recommendations/
serving_helpers.py): scores, causes, sentences, feedback effects, cold start, filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from omnicrm.core.errors import NotFound
from omnicrm.events.models import Event, Source
from omnicrm.recommendations.feedback import feedback_set
from omnicrm.recommendations.models import FeedbackKind
from omnicrm.recommendations.serving import Filters, recommend_for_customer
from omnicrm.recommendations.serving_anonymous import recommend_for_anonymous
from omnicrm.recommendations.serving_cache import serving_cache_clear, snapshot_current
from omnicrm.recommendations.serving_lists import (
    recommend_list,
    recommend_similar,
    recommend_together,
)
from omnicrm.recommendations.serving_products import live_popular_clear
from omnicrm.recommendations.serving_why import recommendation_why
from omnicrm.reviews.models import Review
from omnicrm.reviews.services import rating_set
from tests.factories import CustomerFactory, IdentityFactory, ReviewFactory
from tests.recommendations.serving_helpers import NOW, build_shop, buy, link, listed, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    serving_cache_clear()
    live_popular_clear()
    with translation.override("en"):
        yield
    serving_cache_clear()
    live_popular_clear()


@pytest.fixture
def shop():
    return build_shop()


def titles(result) -> list[str]:
    return [item.product.title for item in result.items]


def test_scores_causes_and_sentences_are_the_exact_decomposition(shop):
    result = recommend_for_customer(customer=shop.ha, filters=Filters(limit=3), now=NOW)

    assert result.model == shop.model.public_id
    assert titles(result) == ["Burr Grinder", "Stoneware Mug", "Paper Filters"]
    grinder, mug, filters = result.items
    assert grinder.score == pytest.approx(1.4)
    assert [(c.title, c.signal, c.rating) for c in grinder.causes] == [
        ("Arabica Beans 1kg", "bought", None),
        ("Moka Pot", "rated", 5),
    ]
    assert [c.contribution for c in grinder.causes] == pytest.approx([0.8, 0.6])
    assert grinder.reason_kind == "bought"
    assert grinder.reason_text == "Because you bought Arabica Beans 1kg and rated Moka Pot 5 stars"
    assert mug.score == pytest.approx(0.9)
    assert mug.reason_kind == "rated"
    assert mug.reason_text == "Because you rated Moka Pot 5 stars"
    assert [c.text for c in mug.causes] == ["rated 5 stars"]
    assert filters.score == pytest.approx(0.5)
    assert filters.reason_text == "Because you bought Arabica Beans 1kg"


def test_bought_items_are_never_shown_and_short_lists_fill_from_cold_start(shop):
    result = recommend_for_customer(customer=shop.ha, filters=Filters(limit=10), now=NOW)

    # Personal first, then popular in Vietnam (tea, kettle); the language list and the
    # trending list only repeat those; the popular list's beans were bought.
    assert titles(result) == [
        "Burr Grinder",
        "Stoneware Mug",
        "Paper Filters",
        "Green Tea",
        "Gooseneck Kettle",
    ]
    assert [i.reason_kind for i in result.items[3:]] == ["popular_country", "popular_country"]
    assert result.items[3].reason_text == "Popular with customers in VN"
    assert result.items[3].causes == ()


def test_repeat_purchase_products_come_back(shop):
    listed(shop.model, "repeat", "", [shop.beans])
    other = CustomerFactory(country="", language="")
    buy(other, shop.grinder)
    link(shop.model, "personal", shop.grinder, shop.beans, 0.9, 1)
    link(shop.model, "personal", shop.grinder, shop.moka, 0.3, 2)
    buy(other, shop.beans, at=NOW - timedelta(days=30))

    result = recommend_for_customer(customer=other, filters=Filters(limit=3), now=NOW)

    # Beans were bought but are a repeat-purchase product (0.9 from the grinder); their own
    # purchase 30 days ago brings the filters (0.5 x 0.5 ** (30 / 180)); then the moka pot.
    assert titles(result) == ["Arabica Beans 1kg", "Paper Filters", "Moka Pot"]
    assert [i.score for i in result.items] == pytest.approx([0.9, 0.5 * 0.5 ** (30 / 180), 0.3])
    assert result.items[0].reason_text == "Because you bought Burr Grinder"


def test_not_interested_vanishes_at_once(shop):
    feedback_set(
        customer_id=shop.ha.public_id,
        product_id=shop.grinder.public_id,
        kind=FeedbackKind.NOT_INTERESTED,
    )
    result = recommend_for_customer(customer=shop.ha, filters=Filters(limit=3), now=NOW)

    assert titles(result) == ["Stoneware Mug", "Paper Filters", "Green Tea"]


def test_excluded_purchase_is_no_longer_a_cause(shop):
    feedback_set(
        customer_id=shop.ha.public_id,
        product_id=shop.beans.public_id,
        kind=FeedbackKind.EXCLUDE_PURCHASE,
    )
    result = recommend_for_customer(customer=shop.ha, filters=Filters(limit=2), now=NOW)

    # Only the moka pot speaks now: mug 0.9, grinder 0.6; beans are never shown again.
    assert titles(result) == ["Stoneware Mug", "Burr Grinder"]
    assert result.items[1].score == pytest.approx(0.6)
    assert result.items[1].reason_text == "Because you rated Moka Pot 5 stars"


def test_a_one_star_rating_changes_the_list(shop):
    rating_set(customer_id=shop.ha.public_id, product_id=shop.moka.public_id, rating=1)
    # The tests' clock is NOW; the rating was given "now" too.
    Review.objects.filter(customer=shop.ha, product=shop.moka).update(reviewed_at=NOW)
    result = recommend_for_customer(customer=shop.ha, filters=Filters(limit=2), now=NOW)

    # The moka pot now weighs -1: the mug (0.6 x -1) drops out, the grinder falls to
    # 0.8 - 0.4 = 0.4 and below the filters (0.5); the moka pot is never a cause.
    assert titles(result)[:2] == ["Paper Filters", "Burr Grinder"]
    assert result.items[1].score == pytest.approx(0.4)
    assert [c.title for c in result.items[1].causes] == ["Arabica Beans 1kg"]


def test_new_customer_gets_popular_in_their_country(shop):
    newcomer = CustomerFactory(country="VN", language="vi")
    result = recommend_for_customer(customer=newcomer, filters=Filters(limit=3), now=NOW)

    # Popular in Vietnam, then the language and trending lists add nothing new, then the
    # shop's popular list.
    assert titles(result) == ["Green Tea", "Gooseneck Kettle", "Arabica Beans 1kg"]
    assert [i.reason_kind for i in result.items] == [
        "popular_country",
        "popular_country",
        "popular",
    ]


def test_language_list_fills_when_the_country_has_none(shop):
    newcomer = CustomerFactory(country="FR", language="vi")
    result = recommend_for_customer(customer=newcomer, filters=Filters(limit=2), now=NOW)

    assert titles(result) == ["Gooseneck Kettle", "Green Tea"]
    assert [i.reason_kind for i in result.items] == ["popular_language", "trending"]
    assert result.items[0].reason_text == "Popular with customers who speak Vietnamese"


def test_filters_in_stock_and_category_with_descendants(shop):
    shop.grinder.stock = 0
    shop.grinder.save()
    result = recommend_for_customer(
        customer=shop.ha, filters=Filters(limit=2, in_stock=True), now=NOW
    )
    assert titles(result) == ["Stoneware Mug", "Paper Filters"]

    gear = shop.moka.category.parent
    result = recommend_for_customer(
        customer=shop.ha, filters=Filters(limit=5, category_pk=gear.pk), now=NOW
    )
    # Gear and Brewers below it: grinder, mug, then the kettle (popular in Vietnam).
    assert titles(result) == ["Burr Grinder", "Stoneware Mug", "Gooseneck Kettle"]


def test_why_answers_with_the_causes_or_says_why_not(shop):
    item = recommendation_why(
        customer=shop.ha, product_pk=shop.mug.pk, product_id=shop.mug.public_id, now=NOW
    )
    assert item.reason_text == "Because you rated Moka Pot 5 stars"

    with pytest.raises(NotFound) as bought:
        recommendation_why(
            customer=shop.ha, product_pk=shop.beans.pk, product_id=shop.beans.public_id, now=NOW
        )
    assert bought.value.extra == {"why_not": "bought"}
    assert "already bought it" in bought.value.message


def test_anonymous_id_of_a_known_profile_gets_that_profile(shop):
    IdentityFactory(customer=shop.ha, kind="anonymous", value="anon-123")
    result = recommend_for_anonymous(anonymous_id="anon-123", filters=Filters(limit=1), now=NOW)
    assert result.customer == shop.ha.public_id
    assert titles(result) == ["Burr Grinder"]


def test_unknown_anonymous_id_gets_popular(shop):
    result = recommend_for_anonymous(anonymous_id="nobody", filters=Filters(limit=2), now=NOW)
    assert result.customer is None
    assert titles(result) == ["Gooseneck Kettle", "Green Tea"]
    assert [i.reason_kind for i in result.items] == ["trending", "trending"]


def test_similar_together_and_lists(shop):
    similar = recommend_similar(
        product_pk=shop.beans.pk, product_title=shop.beans.title, filters=Filters(limit=5)
    )
    assert titles(similar) == ["Burr Grinder", "Paper Filters"]
    assert similar.items[0].reason_text == (
        "Customers who bought Arabica Beans 1kg also bought this"
    )
    # A product without co-purchases falls back to products alike by title and category.
    content = recommend_similar(
        product_pk=shop.kettle.pk, product_title=shop.kettle.title, filters=Filters()
    )
    assert [(i.product.title, i.reason_kind) for i in content.items] == [("Moka Pot", "content")]

    together = recommend_together(
        product_pk=shop.beans.pk, product_title=shop.beans.title, filters=Filters()
    )
    assert [(i.product.title, i.support, i.confidence, i.lift) for i in together.items] == [
        ("Paper Filters", 12, 0.4, 3.2),
        ("Stoneware Mug", 3, 0.1, 1.1),
    ]

    best = recommend_list(name="best_sellers", filters=Filters(), category_slug="coffee")
    assert titles(best) == ["Arabica Beans 1kg", "Paper Filters"]
    assert best.items[0].reason_text == "A best seller in Coffee"
    assert titles(recommend_list(name="most_wished", filters=Filters())) == [
        "Burr Grinder",
        "Gooseneck Kettle",
    ]


def test_without_any_run_the_answer_is_popular_from_orders(db):
    build_shop_without_run = build_shop
    shop = build_shop_without_run()
    shop.model.delete()
    other = CustomerFactory()
    buy(other, shop.tea)
    buy(CustomerFactory(), shop.tea)
    buy(CustomerFactory(), shop.kettle)

    result = recommend_for_customer(customer=shop.ha, filters=Filters(limit=3), now=NOW)
    assert result.model is None
    # Tea (2 buyers), kettle (1); Hà's own beans and moka pot are left out.
    assert titles(result) == ["Green Tea", "Gooseneck Kettle"]
    assert {i.reason_kind for i in result.items} == {"popular"}
    assert titles(recommend_list(name="trending", filters=Filters(limit=1))) == ["Green Tea"]


def test_a_new_run_is_picked_up_without_restart(shop, monkeypatch):
    from omnicrm.recommendations import serving_cache

    assert snapshot_current().model_public_id == shop.model.public_id
    newer = make_run(finished_at=NOW)
    monkeypatch.setattr(serving_cache, "RECHECK_SECONDS", 0.0)
    assert snapshot_current().model_public_id == newer.public_id


def test_for_you_query_count_is_pinned(shop):
    ReviewFactory(customer=shop.ha, product=shop.beans, rating=4, reviewed_at=NOW)
    recommend_for_customer(customer=shop.ha, filters=Filters(limit=3), now=NOW)  # warm cache
    with CaptureQueriesContext(connection) as queries:
        recommend_for_customer(customer=shop.ha, filters=Filters(limit=10), now=NOW)
    # The customer's signals and feedback in one statement; then the shown products.
    assert len(queries) == 2, [q["sql"] for q in queries]


def test_anonymous_views_not_yet_tied_to_a_profile_score_with_similar_links(shop):
    source = Source.objects.create(name="Web", channel="web", prefix="pk_c2", key_hash="0" * 64)
    Event.objects.create(
        source=source,
        message_id="m-anon-1",
        type="track",
        event="Product Viewed",
        anonymous_id="visitor-9",
        channel="web",
        properties={"product_id": shop.beans.public_id},
        timestamp=NOW - timedelta(hours=1),
        received_at=NOW - timedelta(hours=1),
    )
    result = recommend_for_anonymous(anonymous_id="visitor-9", filters=Filters(limit=3), now=NOW)

    assert result.customer is None
    # Beans viewed an hour ago (0.1) x similar links: grinder 0.07, filters 0.03; then the
    # trending list.
    assert titles(result) == ["Burr Grinder", "Paper Filters", "Gooseneck Kettle"]
    assert result.items[0].score == pytest.approx(0.07 * 0.5 ** (1 / 24 / 180), abs=1e-6)
    assert result.items[0].reason_kind == "viewed"
    assert result.items[0].reason_text == "Because you viewed Arabica Beans 1kg"
    assert result.items[2].reason_kind == "trending"


def test_why_not_names_feedback_and_the_top_list(shop):
    feedback_set(
        customer_id=shop.ha.public_id,
        product_id=shop.mug.public_id,
        kind=FeedbackKind.NOT_INTERESTED,
    )
    with pytest.raises(NotFound) as refused:
        recommendation_why(
            customer=shop.ha, product_pk=shop.mug.pk, product_id=shop.mug.public_id, now=NOW
        )
    assert refused.value.extra == {"why_not": "not_interested"}

    stranger = CustomerFactory(country="", language="")
    with pytest.raises(NotFound) as absent:
        recommendation_why(
            customer=stranger, product_pk=shop.filters.pk, product_id=shop.filters.public_id,
            now=NOW,
        )  # fmt: skip
    assert absent.value.extra == {"why_not": "not_in_top"}
