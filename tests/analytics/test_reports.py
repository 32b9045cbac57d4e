"""Dashboard selectors on the hand-built shop (tests/analytics/shop.py): exact figures."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omnicrm.analytics import reports
from omnicrm.analytics.models import CustomerMetrics
from omnicrm.analytics.services import analytics_refresh
from omnicrm.core.errors import NotFound, ValidationFailed
from tests.analytics.shop import AS_OF

pytestmark = pytest.mark.django_db


@pytest.fixture
def refreshed(shop):
    analytics_refresh(as_of=AS_OF)
    return shop


def test_cohort_matrix_is_exact(refreshed):
    with CaptureQueriesContext(connection) as queries:
        matrix = reports.cohort_retention(months=12, end=date(2025, 6, 30))

    assert len(queries) == 1
    assert matrix.rows[0].month == date(2024, 7, 1)
    by_month = {row.month: row for row in matrix.rows}
    none = None
    # D: first order Sep 2024, again in Dec (+3).
    sep = by_month[date(2024, 9, 1)]
    assert sep.customers == 1
    assert sep.active == (1, 0, 0, 1, 0, 0, 0, 0, 0, 0, none, none)
    # C: March only.
    assert by_month[date(2025, 3, 1)].active == (1, 0, 0, 0, *[none] * 8)
    # A and B: first in May, both again in June; A's canceled order does not count.
    may = by_month[date(2025, 5, 1)]
    assert may.customers == 2
    assert may.active == (2, 2, *[none] * 10)
    assert may.rates[:2] == (1.0, 1.0)
    # E: June.
    assert by_month[date(2025, 6, 1)].active == (1, *[none] * 11)
    assert by_month[date(2024, 8, 1)].customers == 0
    assert by_month[date(2024, 8, 1)].rates[0] == 0.0


def test_cohorts_default_to_the_latest_order_and_refuse_bad_windows(refreshed):
    assert reports.cohort_retention(months=3).rows[-1].month == date(2025, 6, 1)
    with pytest.raises(ValidationFailed):
        reports.cohort_retention(months=0)


def test_cohorts_without_orders_are_empty(db):
    assert reports.cohort_retention(months=6).rows == ()


def test_rfm_grid_is_exact(refreshed):
    with CaptureQueriesContext(connection) as queries:
        grid = reports.rfm_grid()

    assert len(queries) == 2
    cells = {(c.r, c.f): c for row in grid.rows for c in row}
    assert [row[0].r for row in grid.rows] == [5, 4, 3, 2, 1]
    filled = {key: (c.customers, c.average_revenue) for key, c in cells.items() if c.customers}
    assert filled == {
        (5, 5): (1, Decimal("90.00")),
        (3, 4): (1, Decimal("100.00")),
        (2, 2): (1, Decimal("20.00")),
        (1, 4): (1, Decimal("200.00")),
        (4, 2): (1, Decimal("10.00")),
    }
    assert cells[(5, 5)].segment == "champions"
    assert cells[(5, 5)].share_of_max == 1.0
    assert cells[(1, 1)].segment == "lost" and cells[(1, 1)].average_revenue is None
    assert grid.scored == 5
    assert grid.currency == "USD"
    counts = {slug: n for slug, _label, n in grid.segments}
    assert counts["champions"] == 1 and counts["lost"] == 0 and sum(counts.values()) == 5


def test_clv_distribution_counts_every_predicted_customer(refreshed):
    buckets = reports.clv_distribution()

    assert sum(b.customers for b in buckets) == 5
    assert buckets[0].low == Decimal(0)
    assert buckets[-1].high is None
    top = CustomerMetrics.objects.filter(clv_12m__isnull=False).order_by("-clv_12m").first()
    assert top is not None and top.clv_12m is not None
    assert buckets[-1].low <= top.clv_12m
    for lower, upper in itertools.pairwise(buckets):
        assert lower.high == upper.low


def test_clv_distribution_edges():
    assert reports._nice_edges(4_200_000.0, count=3) == [
        Decimal(1_000_000),
        Decimal(2_000_000),
        Decimal(5_000_000),
    ]
    edges = reports._nice_edges(420.0)
    assert edges[-1] == Decimal(500)
    assert edges[-2] == Decimal(200)
    assert len(edges) == 10


def test_top_customers_by_predicted_value(refreshed):
    top = list(reports.metrics_top_customers(limit=3))

    assert len(top) == 3
    values = [m.clv_12m for m in top]
    assert values == sorted(values, reverse=True)


def test_reorder_forecast_per_category(refreshed):
    people, _arabica, _robusta = refreshed
    a = CustomerMetrics.objects.get(customer=people["A"])
    b = CustomerMetrics.objects.get(customer=people["B"])

    forecast = {row.slug: row for row in reports.reorder_forecast()}

    assert forecast["arabica"].buyers == 2
    assert forecast["arabica"].expected_reorders == pytest.approx(
        a.expected_purchases_30d + b.expected_purchases_30d / 2
    )
    assert forecast["robusta"].buyers == 1
    assert forecast["robusta"].expected_reorders == pytest.approx(b.expected_purchases_30d / 2)


def test_category_reorders_lists_the_likeliest_customers(refreshed):
    people, _arabica, _robusta = refreshed

    report = reports.category_reorders(slug="arabica", days=60, limit=10)

    assert report.buyers == 2
    ids = [c.public_id for c in report.customers]
    assert set(ids) == {people["A"].public_id, people["B"].public_id}
    assert report.customers[0].probability >= report.customers[1].probability
    single = reports.category_reorders(slug="arabica", days=30, limit=10)
    assert report.expected_reorders == pytest.approx(2 * single.expected_reorders)
    assert report.customers[0].probability >= single.customers[0].probability


def test_category_reorders_errors(refreshed):
    with pytest.raises(NotFound):
        reports.category_reorders(slug="no-such-category")
    with pytest.raises(ValidationFailed):
        reports.category_reorders(slug="arabica", days=0)


def test_run_state(refreshed):
    state = reports.analytics_run_state()

    assert state.last_success is not None
    assert not state.running
    assert state.last_failure is None
