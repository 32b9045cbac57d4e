"""The tracking snippet in a real browser (Debian's chromium, headless, via Playwright).

The shop's page is served by its own small server on another port (another origin than
omnicrm's live server), so the cookie is the shop's own and every call to omnicrm crosses
origins as it does on a real site.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connections

from omnicrm.customers.models import ConsentStatus, Identity
from omnicrm.events.models import Event
from omnicrm.events.services import source_create
from tests.events.conftest import IMMEDIATE_TASKS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser

SHOP_PAGE = """<!doctype html>
<html lang="vi">
<head><meta charset="utf-8"><title>The Coffee</title></head>
<body>
  <h1 id="greeting" data-omnicrm-greeting>…</h1>
  <button id="login">Đăng nhập</button>
  <button id="refuse">Từ chối theo dõi</button>
  <button id="view">Xem Arabica</button>
  <script>
    !function(w){var o=w.omnicrm=w.omnicrm||{q:[]};["page","track","identify","consent",
    "greet","flush"].forEach(function(m){o[m]=o[m]||function(){o.q.push([m,[].slice.call(arguments)])}})}(window);
    omnicrm.page();
    omnicrm.greet();
  </script>
  <script async src="%(omnicrm)s/t.js" data-write-key="%(key)s"></script>
  <script>
    document.getElementById("login").onclick = function () {
      omnicrm.identify("u-ha", {name: "Đặng Lưu Hà", email: "ha@thecoffee.vn"})
        .then(function () { return omnicrm.greet(); })
        .then(function () { document.body.dataset.greeted = "yes"; });
    };
    document.getElementById("refuse").onclick = function () {
      omnicrm.consent({tracking: false})
        .then(function () { document.body.dataset.refused = "yes"; });
    };
    document.getElementById("view").onclick = function () {
      omnicrm.track("Product Viewed", {sku: "ARABICA-10"});
      omnicrm.flush().then(function () { document.body.dataset.flushed = "yes"; });
    };
  </script>
</body>
</html>
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def page(monkeypatch):
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright Python package is not installed (pip install -e '.[test]')"
    if problem:
        if in_ci():
            pytest.fail(f"browser test cannot run in CI: {problem}")
        pytest.skip(f"browser test skipped outside CI: {problem}")
    # Playwright's sync API runs an event loop in this thread; Django would otherwise
    # refuse the test's own synchronous database reads here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(locale="vi-VN")
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def shop(page, live_server, transactional_db, settings):
    """The Coffee's home page, served on its own loopback port with the snippet."""
    settings.TASKS = IMMEDIATE_TASKS
    _source, key = source_create(name="Website", channel="web")
    html = (SHOP_PAGE % {"omnicrm": live_server.url, "key": key}).encode()

    class ShopPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), ShopPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
    yield page
    server.shutdown()
    server.server_close()
    # Connections opened while Playwright runs live in its context; close them here, or
    # PostgreSQL refuses to drop the test database at the end of the session.
    connections.close_all()


def test_a_visitor_identifies_and_is_greeted_by_name(shop):
    from playwright.sync_api import expect

    # Unknown at first: the neutral greeting in the page's language.
    expect(shop.locator("#greeting")).to_have_text("Xin chào!")

    shop.get_by_role("button", name="Đăng nhập").click()

    expect(shop.locator("body")).to_have_attribute("data-greeted", "yes")
    expect(shop.locator("#greeting")).to_have_text("Chào mừng Hà quay lại")
    cookie = next(c for c in shop.context.cookies() if c["name"] == "ocrm_aid")
    assert cookie["domain"] == "127.0.0.1" and cookie["sameSite"] == "Lax"
    ha = Identity.objects.get(kind="user_id", value="u-ha").customer
    assert Identity.objects.get(kind="anonymous", value=cookie["value"]).customer == ha
    assert sorted(Event.objects.filter(customer=ha).values_list("type", flat=True)) == [
        "identify",
        "page",
    ]


def test_a_visitor_who_refuses_tracking_is_told_to_the_server_and_not_tracked(shop):
    from playwright.sync_api import expect

    expect(shop.locator("#greeting")).to_have_text("Xin chào!")
    shop.get_by_role("button", name="Từ chối theo dõi").click()
    expect(shop.locator("body")).to_have_attribute("data-refused", "yes")
    stored = Event.objects.count()

    shop.get_by_role("button", name="Xem Arabica").click()
    expect(shop.locator("body")).to_have_attribute("data-flushed", "yes")

    refusal = Event.objects.get(event="Segment Consent Preference Updated")
    assert refusal.context["consent"] == {"categoryPreferences": {"tracking": False}}
    assert Event.objects.count() == stored
    assert not Event.objects.filter(event="Product Viewed").exists()
    withdrawn = Identity.objects.get(kind="anonymous", value=refusal.anonymous_id).customer
    assert withdrawn.consents.get(channel="tracking").status == ConsentStatus.WITHDRAWN
    assert "ocrm_aid" not in {c["name"] for c in shop.context.cookies()}
