"""Training runs on the hand-built coffee shop, where every list is worked out by hand."""

from __future__ import annotations

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omnicrm.core.errors import ValidationFailed
from omnicrm.recommendations import selectors, training
from omnicrm.recommendations.models import (
    ItemList,
    ItemNeighbor,
    RecommenderModel,
    TrainingStatus,
)
from omnicrm.recommendations.training import recommender_train
from tests.factories import CustomerFactory, ProductFactory
from tests.recommendations.coffee_shop import NOW, coffee_shop, order

pytestmark = pytest.mark.django_db


def half(days: float) -> float:
    return 0.5 ** (days / 180)


@pytest.fixture
def shop():
    return coffee_shop()


def neighbors(run, kind, product):
    return [
        n.neighbor_id
        for n in selectors.item_neighbors(model=run, kind=kind, product_pk=product.pk, limit=50)
    ]


def listed(run, kind, scope=""):
    return [e.product_id for e in selectors.item_list(model=run, kind=kind, scope=scope)]


def test_a_run_stores_every_list_of_the_coffee_shop(shop):
    s = shop
    run = recommender_train(now=NOW)

    assert run.status == TrainingStatus.SUCCEEDED
    assert (run.algorithm, run.progress, run.error) == ("ease", 100, "")
    assert selectors.recommender_active() == run
    # Customers who bought beans bought the moka pot 3 times, filters and grinder once.
    assert neighbors(run, "similar", s.beans) == [s.moka.pk, s.filter.pk, s.grinder.pk]
    similar = selectors.item_neighbors(model=run, kind="similar", product_pk=s.beans.pk)[0]
    assert similar.score == pytest.approx(3 / (math.sqrt(3) * 2 + 10), rel=1e-5)
    # Bought together twice or more: only beans and moka (3 of the 10 orders).
    together = ItemNeighbor.objects.filter(model=run, kind="together").order_by("product_id")
    assert [(t.product_id, t.neighbor_id, t.support) for t in together] == [
        (s.beans.pk, s.moka.pk, 3),
        (s.moka.pk, s.beans.pk, 3),
    ]
    beans_moka, moka_beans = together
    assert (beans_moka.confidence, beans_moka.lift) == (pytest.approx(0.5), pytest.approx(1.25))
    assert (moka_beans.confidence, moka_beans.lift) == (pytest.approx(0.75), pytest.approx(1.25))
    # Same words in title and category; the inactive "Old Blend" is never a neighbour.
    assert neighbors(run, "content", s.robusta)[0] == s.beans.pk
    assert s.retired.pk not in ItemNeighbor.objects.filter(model=run).values_list(
        "neighbor_id", flat=True
    )
    assert neighbors(run, "personal", s.beans)[0] == s.moka.pk

    assert listed(run, "trending") == [s.beans.pk, s.tea.pk]
    beans_trend = selectors.item_list(model=run, kind="trending")[0]
    assert beans_trend.score == pytest.approx((3 - 0.75) / math.sqrt(1.75))
    assert beans_trend.details == {"recent": 3.0, "earlier": 3.0}
    assert listed(run, "best_sellers") == [
        s.beans.pk,
        s.moka.pk,
        s.tea.pk,
        s.filter.pk,
        s.grinder.pk,
    ]
    assert listed(run, "best_sellers", "category:coffee") == [s.beans.pk]
    assert listed(run, "best_sellers", "category:equipment") == [
        s.moka.pk,
        s.filter.pk,
        s.grinder.pk,
    ]
    # Moka: 5, 4, 5 stars; the shop's mean is 4.6 and counts as five more reviews.
    (moka_rated,) = selectors.item_list(model=run, kind="top_rated")
    assert moka_rated.product_id == s.moka.pk
    assert moka_rated.score == pytest.approx((14 + 4.6 * 5) / 8)
    assert moka_rated.details == {"average": pytest.approx(4.667), "count": 3}
    assert listed(run, "most_wished") == [s.grinder.pk, s.moka.pk]
    assert listed(run, "popular") == [s.moka.pk, s.beans.pk, s.tea.pk, s.grinder.pk, s.filter.pk]
    moka_popular = selectors.item_list(model=run, kind="popular")[0]
    assert moka_popular.score == pytest.approx(half(30) + half(20) + half(15) + half(40))
    assert listed(run, "popular", "country:VN") == [
        s.moka.pk,
        s.beans.pk,
        s.filter.pk,
        s.grinder.pk,
    ]
    assert listed(run, "popular", "country:US") == [s.tea.pk, s.grinder.pk]
    assert listed(run, "popular", "language:en") == [s.tea.pk, s.grinder.pk]
    # Every beans buyer came back for more; green tea is flagged by the shop.
    assert listed(run, "repeat") == [s.tea.pk, s.beans.pk]
    assert selectors.item_list_products(model=run, kind="repeat") == [s.tea.pk, s.beans.pk]

    assert run.data["customers"] == 6
    assert run.data["orders"] == 10
    assert run.data["read"]["order_lines"] == 18
    assert run.data["read"]["ratings"] == 5
    assert run.data["read"]["wishlist_items"] == 3
    assert run.data["lists"]["trending"] == 2
    assert run.params["l2"] == training.EASE_L2_DEFAULT
    assert run.params["signals"]["half_life_days"] == 180.0
    assert run.evaluation["skipped"].startswith("too little history: 18 order lines")


def test_itemknn_can_be_chosen_and_an_unknown_algorithm_is_refused(shop, settings):
    settings.OMNICRM_RECOMMENDER = "itemknn"
    run = recommender_train(now=NOW)
    assert run.algorithm == "itemknn"
    assert neighbors(run, "personal", shop.beans)[0] == shop.moka.pk
    assert "l2" not in run.params

    with pytest.raises(ValidationFailed) as error:
        recommender_train(algorithm="als", now=NOW)
    assert error.value.field == "algorithm"


def test_progress_is_reported_and_ends_at_100(shop):
    seen = []
    recommender_train(now=NOW, progress=lambda percent, message: seen.append(percent))
    assert seen[0] == 1
    assert seen[-1] == 100
    assert seen == sorted(seen)


def test_a_shop_without_orders_still_trains():
    ProductFactory()
    CustomerFactory()

    run = recommender_train(now=NOW)

    assert run.status == TrainingStatus.SUCCEEDED
    assert ItemList.objects.filter(model=run).count() == 0
    assert ItemNeighbor.objects.filter(model=run).exclude(kind="content").count() == 0
    assert run.evaluation == {
        "skipped": "too little history: 0 order lines "
        "(at least 50 over more than one moment are needed)"
    }


def test_an_empty_database_still_trains():
    run = recommender_train(now=NOW)
    assert run.status == TrainingStatus.SUCCEEDED
    assert run.data["products"] == 0


def test_a_failed_run_records_its_error_and_the_previous_run_keeps_serving(shop, monkeypatch):
    good = recommender_train(now=NOW)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(training, "together_rules", broken)
    with pytest.raises(RuntimeError):
        recommender_train(now=NOW)

    failed = RecommenderModel.objects.exclude(pk=good.pk).get()
    assert failed.status == TrainingStatus.FAILED
    assert failed.error == "RuntimeError: disk full"
    assert failed.finished_at is not None
    assert ItemNeighbor.objects.filter(model=failed).count() == 0
    assert selectors.recommender_active() == good


def test_only_the_last_three_succeeded_runs_are_kept(shop):
    runs = [recommender_train(now=NOW) for _ in range(4)]

    kept = list(RecommenderModel.objects.order_by("finished_at").values_list("pk", flat=True))
    assert kept == [r.pk for r in runs[1:]]
    assert not ItemNeighbor.objects.filter(model_id=runs[0].pk).exists()
    assert not ItemList.objects.filter(model_id=runs[0].pk).exists()
    assert selectors.recommender_active() == runs[3]


def test_the_number_of_queries_does_not_grow_with_the_customers(shop):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            recommender_train(now=NOW)
        return len(captured)

    before = queries()
    for n in range(30):
        customer = CustomerFactory(country="FR", language="fr")
        order(customer, n + 1, shop.beans, shop.tea)
        order(customer, n + 2, shop.grinder)
    # Pruning deletes the same number of old runs each time from the fourth run on.
    queries()
    queries()
    after = queries()
    assert after <= before + 8  # the fourth run also prunes the first (fixed statements)
    assert after == queries()


def test_customers_find_the_popular_list_of_their_country_and_language():
    assert selectors.country_scope(" vn") == "country:VN"
    assert selectors.language_scope("vi_VN") == "language:vi"
    assert selectors.language_scope("EN-us") == "language:en"
    assert (selectors.country_scope(""), selectors.language_scope("")) == ("", "")


def three_tastes() -> None:
    """Three tastes of five products each; every customer buys three products of their own
    taste over time."""
    from tests.factories import CategoryFactory

    category = CategoryFactory(slug="all", name="All")
    groups = [ProductFactory.create_batch(5, category=category) for _ in range(3)]
    for c in range(90):
        customer = CustomerFactory()
        taste = groups[c % 3]
        for k in range(3):
            # Over the last 400 days; each customer's third purchase is their newest.
            order(customer, (400, 300, 100)[k] - 2 * c, taste[(c + k) % 5])


def test_the_holdout_check_measures_the_model_against_popularity():
    """Trained on the earlier purchases, the model must find the later ones far better than
    popularity, and EASE's l2 is chosen on a validation slice."""
    three_tastes()

    run = recommender_train(now=NOW)

    evaluation = run.evaluation
    assert evaluation["split"] == "time"
    assert evaluation["cut"] == "2026-03-15T12:00:00+00:00"
    # The 46 customers whose third purchase came after the cut; their first two are known.
    assert (evaluation["test_customers"], evaluation["test_pairs"]) == (46, 46)
    assert evaluation["model"]["ndcg@10"] == 1.0
    assert evaluation["model"]["hit_rate@10"] == 1.0
    assert evaluation["popularity"]["ndcg@10"] == pytest.approx(0.34307, abs=1e-5)
    assert evaluation["popularity"]["hit_rate@10"] == pytest.approx(33 / 46, abs=1e-5)
    assert run.params["l2"] in training.EASE_L2_CANDIDATES
    assert run.params["l2_note"].startswith("best NDCG@10 of [30.0, 100.0, 300.0, 1000.0, 3000.0]")


def test_the_l2_grid_goes_on_upwards_while_its_largest_value_wins(monkeypatch):
    from omnicrm.recommendations import training_eval
    from omnicrm.recommendations.signals import signal_sources
    from omnicrm.recommendations.training_data import read_catalog

    three_tastes()
    grids = []

    def largest_wins(X, *, holdout, candidates, k, max_items):
        grids.append(list(candidates))
        return max(candidates)

    monkeypatch.setattr(training_eval, "ease_select_l2", largest_wins)
    l2, note = training_eval.select_l2(
        signal_sources(now=NOW),
        read_catalog(),
        candidates=(30.0, 3000.0),
        default=200.0,
        max_items=100,
        k=10,
    )

    assert grids == [[30.0, 3000.0], [3000.0, 9000.0, 30000.0], [30000.0, 90000.0, 300000.0]]
    assert l2 == 300000.0
    assert note == (
        "best NDCG@10 of [30.0, 3000.0, 9000.0, 30000.0, 90000.0, 300000.0] "
        "on 37 validation customers"
    )


def test_products_viewed_by_the_same_people_become_similar():
    from tests.recommendations.test_signals import track

    kettle, scale, mug = ProductFactory.create_batch(3)
    for _ in range(3):
        browser = CustomerFactory()
        track(browser, "Product Viewed", days=2, product_id=kettle.public_id)
        track(browser, "Product Added", days=2, sku=scale.sku)
    track(CustomerFactory(), "Product Viewed", days=2, product_id=mug.public_id)

    run = recommender_train(now=NOW)

    # Viewed (0.25) and carted (0.5) by the same three people, nobody bought anything.
    (link,) = selectors.item_neighbors(model=run, kind="similar", product_pk=kettle.pk)
    assert link.neighbor_id == scale.pk
    assert link.score == pytest.approx(3 * 0.25 * 0.5 / (0.25 * 3**0.5 * 0.5 * 3**0.5 + 10))
    assert run.data["read"]["view_events"] == 4
    assert run.data["read"]["cart_events"] == 3
