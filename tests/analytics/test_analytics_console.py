"""The analytics dashboard, the refresh button and the Customer 360 predictions panel."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from omnicrm.analytics.models import AnalyticsRun, CustomerMetrics, RunStatus
from omnicrm.analytics.services import analytics_refresh
from omnicrm.console.templatetags.console import money
from tests.analytics.shop import AS_OF, order
from tests.console.html import text_by_id
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/analytics/"


@pytest.fixture
def login_as(make_staff):
    def login(role: str) -> Client:
        client = Client()
        client.force_login(make_staff(role))
        return client

    return login


@pytest.fixture
def refreshed(shop):
    analytics_refresh(as_of=AS_OF)
    return shop


@pytest.mark.parametrize("role", ["analyst", "marketer", "admin"])
def test_dashboard_opens_for_analysts_marketers_and_admins(refreshed, login_as, role):
    response = login_as(role).get(DASHBOARD)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="rfm-grid"' in html and 'id="cohorts"' in html and 'id="clv"' in html
    assert 'href="/analytics/"' in html  # the navigation entry


def test_dashboard_is_forbidden_to_support_agents(refreshed, login_as):
    response = login_as("support_agent").get(DASHBOARD)

    assert response.status_code == 403
    assert 'href="/analytics/"' not in response.content.decode()


def test_dashboard_sends_anonymous_visitors_to_the_login(refreshed):
    response = Client().get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))
    assert "next=/analytics/" in response["Location"]


def test_dashboard_shows_the_hand_built_figures(refreshed, login_as):
    people, *_ = refreshed

    html = login_as("analyst").get(DASHBOARD).content.decode()

    grid = text_by_id(html, "rfm-grid")
    assert "5 scored buyers" in grid
    assert 'data-r="5" data-f="5"' in html
    reorders = text_by_id(html, "reorders")
    assert "Arabica" in reorders and "Robusta" in reorders
    top = text_by_id(html, "top-customers")
    assert people["D"].name in top
    assert "Predictions last refreshed" in text_by_id(html, "refresh-status")
    # Analysts may refresh.
    assert 'action="/analytics/refresh/"' in html


def test_marketers_see_no_refresh_button(refreshed, login_as):
    html = login_as("marketer").get(DASHBOARD).content.decode()

    assert 'action="/analytics/refresh/"' not in html


def test_dashboard_query_count_does_not_grow_with_customers(
    refreshed, login_as, django_assert_num_queries
):
    client = login_as("analyst")
    client.get(DASHBOARD)
    for i in range(15):
        customer = CustomerFactory()
        order(customer, 20 + i, "12.00")
        order(customer, 60 + i, "12.00")
    analytics_refresh(as_of=AS_OF)

    with django_assert_num_queries(18):
        response = client.get(DASHBOARD)

    assert response.status_code == 200


def test_dashboard_before_any_refresh(shop, login_as):
    html = login_as("analyst").get(DASHBOARD).content.decode()

    assert "Predictions have never been refreshed." in html
    assert "No figures yet" in text_by_id(html, "rfm-grid")


def test_the_refresh_button_queues_one_run(shop, login_as, django_capture_on_commit_callbacks):
    client = login_as("analyst")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/analytics/refresh/")
        again = client.post("/analytics/refresh/")

    assert response.status_code == 302 and again.status_code == 302
    assert AnalyticsRun.objects.count() == 1
    run = AnalyticsRun.objects.get()
    assert run.status == RunStatus.QUEUED and run.trigger == "console"
    assert len(callbacks) == 1
    html = client.get(DASHBOARD).content.decode()
    status = text_by_id(html, "refresh-status")
    assert "Refresh queued" in status
    assert 'hx-trigger="every 3s"' in html


def test_the_refresh_task_runs_the_queued_run(shop):
    from omnicrm.analytics.services import analytics_run_queue
    from omnicrm.analytics.tasks import analytics_refresh_task

    run = analytics_run_queue(trigger="console")
    analytics_refresh_task.call(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.progress == 100
    assert CustomerMetrics.objects.count() == 6


def test_running_progress_is_shown(shop, login_as):
    AnalyticsRun.objects.create(status=RunStatus.RUNNING, progress=40, message="Reading orders")

    response = login_as("marketer").get("/analytics/status/")

    assert response.status_code == 200
    assert "Refreshing: 40%" in response.content.decode()


def test_refresh_is_forbidden_to_marketers_and_needs_post(shop, login_as):
    assert login_as("marketer").post("/analytics/refresh/").status_code == 403
    assert login_as("analyst").get("/analytics/refresh/").status_code == 405
    assert AnalyticsRun.objects.count() == 0


def test_category_reorder_page(refreshed, login_as):
    people, *_ = refreshed

    response = login_as("marketer").get("/analytics/reorders/arabica/")

    assert response.status_code == 200
    html = response.content.decode()
    assert people["A"].name in html and people["B"].name in html
    assert login_as("analyst").get("/analytics/reorders/nope/").status_code == 404


def test_customer_360_loads_the_predictions_panel(refreshed, login_as):
    people, *_ = refreshed
    client = login_as("support_agent")
    a = people["A"]

    page = client.get(reverse("console:customer_detail", args=[a.public_id])).content.decode()
    panel = client.get(f"/analytics/customers/{a.public_id}/predictions/")

    assert f'hx-get="/analytics/customers/{a.public_id}/predictions/"' in page
    assert panel.status_code == 200
    text = text_by_id(panel.content.decode(), "predictions")
    # A ordered on days 61, 31 and 1 before the refresh: every 30 days.
    assert "A buys about every 30 days." in text
    each = money(Decimal("30.00"), "USD")
    assert f"Expected 1.0 orders in the next 30 days, about {each} each." in text
    assert "Champions" in text
    assert "plain RFM rules" in text


def test_customer_360_panel_in_vietnamese(refreshed, login_as):
    people, *_ = refreshed
    client = login_as("analyst")

    with translation.override("vi"):
        response = client.get(
            f"/analytics/customers/{people['A'].public_id}/predictions/",
            HTTP_ACCEPT_LANGUAGE="vi",
        )

    text = text_by_id(response.content.decode(), "predictions")
    assert "Dự đoán" in text


def test_customer_360_panel_before_any_refresh(shop, login_as):
    people, *_ = shop

    response = login_as("analyst").get(f"/analytics/customers/{people['A'].public_id}/predictions/")

    assert "No predictions yet" in response.content.decode()


def test_customer_360_panel_for_an_unknown_customer(shop, login_as):
    assert login_as("analyst").get("/analytics/customers/cus_nope/predictions/").status_code == 404


def test_a_run_whose_worker_died_no_longer_blocks_the_button(shop, login_as):
    from datetime import timedelta

    from django.utils import timezone

    stale = AnalyticsRun.objects.create(status=RunStatus.RUNNING, progress=30)
    AnalyticsRun.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=4))

    html = login_as("analyst").get(DASHBOARD).content.decode()

    assert "Refreshing" not in html
    assert 'action="/analytics/refresh/"' in html


def test_customer_360_panel_with_the_fitted_models(login_as):
    from tests.analytics.test_refresh import simulated_shop

    simulated_shop(300)
    analytics_refresh(as_of=AS_OF)
    m = (
        CustomerMetrics.objects.filter(order_count__gte=3, clv_12m_low__isnull=False)
        .select_related("customer")
        .first()
    )
    assert m is not None

    response = login_as("analyst").get(f"/analytics/customers/{m.customer.public_id}/predictions/")

    text = text_by_id(response.content.decode(), "predictions")
    assert "likely still a customer." in text
    assert "12-month value, 90% range" in text
    assert money(m.clv_12m_low, "USD") in text
    assert "plain RFM rules" not in text
