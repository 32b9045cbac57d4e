"""Console: the Customer 360 recommendations panel and the product page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from omnicrm.recommendations.serving_cache import serving_cache_clear
from omnicrm.recommendations.serving_products import live_popular_clear
from tests.console import conftest as console_fixtures
from tests.factories import ReviewFactory
from tests.recommendations.serving_helpers import build_shop

pytestmark = pytest.mark.django_db
# The console's logged-in client fixture, shared with tests/console.
login_as = console_fixtures.login_as


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


def test_360_page_lazy_loads_the_panel(login_as, shop):
    client = login_as("marketer")
    page = client.get(reverse("console:customer_detail", args=[shop.ha.public_id]))
    panel_url = reverse("recommendations:customer_panel", args=[shop.ha.public_id])
    assert f'hx-get="{panel_url}"' in page.content.decode()


def test_panel_shows_recommendations_with_reason_sentences(login_as, shop):
    client = login_as("support_agent")
    response = client.get(reverse("recommendations:customer_panel", args=[shop.ha.public_id]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Recommended for this customer" in html
    grinder = html.index("Burr Grinder")
    assert html.index("Because you bought Arabica Beans 1kg and rated Moka Pot 5 stars") > grinder
    assert html.index("Stoneware Mug") > grinder
    assert "Arabica Beans 1kg</a>" not in html  # bought: never recommended back


def test_panel_needs_the_customer_permission_and_a_known_customer(login_as, shop):
    url = reverse("recommendations:customer_panel", args=[shop.ha.public_id])
    assert login_as("nobody").get(url).status_code == 403
    missing = login_as("analyst").get(
        reverse("recommendations:customer_panel", args=["cus_missing"])
    )
    assert missing.status_code == 404


def test_product_page_facts_ratings_similar_and_together(login_as, shop):
    ReviewFactory(product=shop.beans, rating=5)
    ReviewFactory(product=shop.beans, rating=3)
    client = login_as("marketer")
    response = client.get(reverse("recommendations:product_detail", args=[shop.beans.public_id]))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 id="product-title">Arabica Beans 1kg</h1>' in html
    assert shop.beans.sku in html
    similar = html[html.index('id="similar"') : html.index('id="together"')]
    assert similar.index("Burr Grinder") < similar.index("Paper Filters")
    together = html[html.index('id="together"') :]
    # Paper Filters: support 12, confidence 40 %, lift 3.20.
    start = together.index("Paper Filters")
    row = together[start : together.index("</tr>", start)]
    assert [cell in row for cell in (">12<", "40", "3.20")] == [True, True, True]
    assert "2 ratings" in html


def test_product_page_permission_and_unknown_product(login_as, shop):
    url = reverse("recommendations:product_detail", args=[shop.beans.public_id])
    assert login_as("nobody").get(url).status_code == 403
    missing = login_as("marketer").get(
        reverse("recommendations:product_detail", args=["prd_missing"])
    )
    assert missing.status_code == 404


def test_panel_query_count_is_pinned(login_as, shop):
    client = login_as("marketer")
    url = reverse("recommendations:customer_panel", args=[shop.ha.public_id])
    client.get(url)  # warm the process cache of the run
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    # Session, user, user and group permissions; the customer; the customer's signals and
    # feedback (one statement); the shown products.
    assert len(queries) == 7, [q["sql"] for q in queries]
