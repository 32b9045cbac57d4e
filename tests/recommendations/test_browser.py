"""The Customer 360 recommendations panel in a real browser (headless chromium, Playwright):
it loads on its own after the page, shows each recommendation with its reason sentence, and
leads to the product page with similar items and frequently bought together."""

from __future__ import annotations

import re

import pytest

from omnicrm.recommendations.serving_cache import serving_cache_clear
from omnicrm.recommendations.serving_products import live_popular_clear
from tests.console.conftest import PASSWORD
from tests.console.test_browser import chromium_page
from tests.recommendations.serving_helpers import Shop, build_shop

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(transactional_db, make_staff) -> Shop:
    """Written before Playwright starts (see tests/console/test_browser.py)."""
    make_staff("marketer", username="mai")
    serving_cache_clear()
    live_popular_clear()
    built = build_shop()
    yield built
    serving_cache_clear()
    live_popular_clear()


@pytest.fixture
def page(monkeypatch, shop):
    with chromium_page(monkeypatch) as browser_page:
        yield browser_page


def test_360_panel_shows_recommendations_with_reasons(live_server, shop, page):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/customers/{shop.ha.public_id}/")
    page.get_by_label("Username").fill("mai")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Đặng Lưu Hà", level=1)).to_be_visible()

    # The panel replaces its placeholder once loaded by htmx.
    panel = page.locator("section#recommendations")
    expect(
        panel.get_by_role("heading", name=re.compile("Recommended for this customer"))
    ).to_be_visible()
    items = panel.locator("li.rec-item")
    expect(items.first).to_contain_text("Burr Grinder")
    expect(items.first).to_contain_text(
        "Because you bought Arabica Beans 1kg and rated Moka Pot 5 stars"
    )
    expect(items.nth(1)).to_contain_text("Stoneware Mug")
    expect(items.nth(1)).to_contain_text("Because you rated Moka Pot 5 stars")
    expect(panel.locator(f'li[data-product="{shop.beans.public_id}"]')).to_have_count(0)

    # The product page: similar items and frequently bought together.
    panel.get_by_role("link", name="Paper Filters").click()
    expect(page.get_by_role("heading", name="Paper Filters", level=1)).to_be_visible()
    page.goto(f"{live_server.url}/recommendations/products/{shop.beans.public_id}/")
    expect(page.locator("#similar")).to_contain_text("Burr Grinder")
    together = page.locator("#together tbody tr").first
    expect(together).to_contain_text("Paper Filters")
    expect(together).to_contain_text("3.20")
