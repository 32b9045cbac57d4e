"""Explanations through real training (omnicrm.recommendations.training): a tiny catalog
with two separate buying patterns, so the right answer and its cause are known.

Six customers bought beans with a grinder, six a moka pot with a mug, three green tea with a
kettle. Nothing links the three groups, so for both models W has no weight across groups
(item-kNN: no co-purchase; EASE: the Gram matrix is block-diagonal, so is its inverse): the
only possible cause of the grinder is the beans, of the mug the moka pot.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import translation

from omnicrm.recommendations.serving import Filters, recommend_for_customer
from omnicrm.recommendations.serving_cache import serving_cache_clear
from omnicrm.recommendations.serving_lists import recommend_similar, recommend_together
from omnicrm.recommendations.training import recommender_train
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    ReviewFactory,
)
from tests.recommendations.serving_helpers import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    serving_cache_clear()
    with translation.override("en"):
        yield
    serving_cache_clear()


def basket(customer, *products, days: float = 20):
    order = OrderFactory(customer=customer, placed_at=NOW - timedelta(days=days))
    for number, product in enumerate(products, start=1):
        OrderLineFactory(order=order, product=product, line_number=number)


@pytest.mark.parametrize("algorithm", ["ease", "itemknn"])
def test_trained_model_explains_with_the_right_cause(algorithm):
    beans = ProductFactory(title="Arabica Beans 1kg")
    grinder = ProductFactory(title="Burr Grinder")
    moka = ProductFactory(title="Moka Pot")
    mug = ProductFactory(title="Stoneware Mug")
    tea = ProductFactory(title="Green Tea")
    kettle = ProductFactory(title="Gooseneck Kettle")
    for index in range(6):
        basket(CustomerFactory(), beans, grinder, days=30 + index)
        basket(CustomerFactory(), moka, mug, days=30 + index)
    for index in range(3):
        basket(CustomerFactory(), tea, kettle, days=30 + index)
    ha = CustomerFactory(country="", language="")
    basket(ha, beans, days=5)
    basket(ha, moka, days=5)
    ReviewFactory(customer=ha, product=moka, rating=5, reviewed_at=NOW - timedelta(days=5))

    run = recommender_train(algorithm=algorithm, now=NOW)
    result = recommend_for_customer(customer=ha, filters=Filters(limit=2), now=NOW)

    assert result.model == run.public_id
    by_title = {item.product.title: item for item in result.items}
    assert set(by_title) == {"Burr Grinder", "Stoneware Mug"}
    assert [c.title for c in by_title["Burr Grinder"].causes] == ["Arabica Beans 1kg"]
    assert by_title["Burr Grinder"].reason_text == "Because you bought Arabica Beans 1kg"
    assert [c.title for c in by_title["Stoneware Mug"].causes] == ["Moka Pot"]
    assert by_title["Stoneware Mug"].reason_text == "Because you rated Moka Pot 5 stars"
    # The rated moka pot weighs 1.5 against the beans' 1.0 and both patterns are equally
    # strong, so the mug comes first.
    assert [item.product.title for item in result.items] == ["Stoneware Mug", "Burr Grinder"]

    similar = recommend_similar(product_pk=beans.pk, product_title=beans.title, filters=Filters())
    assert [i.product.title for i in similar.items][:1] == ["Burr Grinder"]
    together = recommend_together(product_pk=tea.pk, product_title=tea.title, filters=Filters())
    assert [(i.product.title, i.support) for i in together.items] == [("Gooseneck Kettle", 3)]
