"""The full refresh and the single-customer refresh of stored metrics and predictions."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command

from omnicrm.analytics.clv.simulate import simulate_customers
from omnicrm.analytics.models import AnalyticsRun, CategoryReorder, CustomerMetrics, RunStatus
from omnicrm.analytics.services import analytics_refresh, analytics_refresh_customer
from omnicrm.core.errors import NotFound
from omnicrm.core.models import AuditLog
from omnicrm.customers.models import Customer
from omnicrm.orders.models import Order, OrderLine, OrderStatus
from tests.analytics.shop import AS_OF, days_ago, order
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


def metrics_of(customer) -> CustomerMetrics:
    return CustomerMetrics.objects.get(customer=customer)


def test_refresh_scores_every_customer_exactly(shop):
    people, arabica, robusta = shop

    report = analytics_refresh(as_of=AS_OF)

    assert report.customers == 6
    assert report.buyers == 5
    assert report.orders == 9
    assert report.metrics_rows == 6
    expected = {
        "A": ("553", "champions", 5, 3, 1),
        "B": ("344", "loyal", 3, 2, 10),
        "C": ("222", "hibernating", 2, 1, 100),
        "D": ("145", "at_risk", 1, 2, 200),
        "E": ("421", "potential_loyalist", 4, 1, 5),
    }
    for name, (score, segment, r, order_count, recency) in expected.items():
        m = metrics_of(people[name])
        assert (m.rfm_score, m.rfm_segment, m.rfm_r, m.order_count, m.recency_days) == (
            score,
            segment,
            r,
            order_count,
            recency,
        ), name
    a = metrics_of(people["A"])
    assert a.revenue == Decimal("90.00")
    assert a.currency == "USD"
    assert a.first_order_at == days_ago(61)
    assert a.last_order_at == days_ago(1)
    assert a.top_category_id == arabica.pk
    assert a.category_affinity == {str(arabica.pk): 1.0}
    # Orders on 30 June, 31 May and 1 May.
    assert a.seasonality == [0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]
    assert report.segments == {
        "at_risk": 1,
        "champions": 1,
        "hibernating": 1,
        "loyal": 1,
        "potential_loyalist": 1,
    }
    b = metrics_of(people["B"])
    assert b.category_affinity == {str(arabica.pk): 0.5, str(robusta.pk): 0.5}


def test_customer_without_orders_gets_a_row_without_scores(shop):
    people, *_ = shop

    analytics_refresh(as_of=AS_OF)

    f = metrics_of(people["F"])
    assert f.order_count == 0
    assert f.revenue == Decimal("0.00")
    assert (f.rfm_r, f.rfm_f, f.rfm_m, f.rfm_score, f.rfm_segment) == (None, None, None, "", "")
    assert (f.first_order_at, f.last_order_at, f.recency_days) == (None, None, None)
    assert f.expected_purchases_30d == 0.0
    assert f.clv_12m is None and f.p_alive is None and f.model == ""
    assert f.category_affinity == {} and f.seasonality == []


def test_tiny_shop_uses_the_rfm_fallback_and_says_why(shop):
    people, arabica, _robusta = shop

    report = analytics_refresh(as_of=AS_OF)

    assert report.model == "rfm_fallback"
    assert report.fallback_used
    assert "repeat" in report.model_note
    a = metrics_of(people["A"])
    assert a.model == "rfm_fallback"
    # Fallback: own rate x / T = 2 purchases over 61 days since the first.
    assert a.expected_purchases_30d == pytest.approx(30 * 2 / 61)
    assert a.p_alive is None and a.p_order_30d is None
    assert a.expected_order_value == Decimal("30.00")
    assert a.next_order_at == AS_OF + timedelta(days=round(61 / 2))
    reorder = CategoryReorder.objects.get(customer=people["A"], category=arabica)
    assert reorder.expected_reorders_30d == pytest.approx(30 * 2 / 61)
    assert reorder.probability == pytest.approx(1 - math.exp(-30 * 2 / 61))
    b_reorders = CategoryReorder.objects.filter(customer=people["B"])
    assert b_reorders.count() == 2
    b = metrics_of(people["B"])
    for row in b_reorders:
        assert row.expected_reorders_30d == pytest.approx(b.expected_purchases_30d / 2)
    run = AnalyticsRun.objects.get(pk=report.run_id)
    assert run.status == RunStatus.SUCCEEDED
    assert run.progress == 100
    assert run.model == "rfm_fallback"
    assert run.parameters["rfm_edges"]["f"] == [1.0, 2.0, 2.0, 3.0]
    assert AuditLog.objects.filter(action="analytics.refresh", object_id=str(run.pk)).exists()


def stored_rows():
    return sorted(
        CustomerMetrics.objects.values_list(
            "customer_id",
            "rfm_score",
            "rfm_segment",
            "expected_purchases_30d",
            "clv_12m",
            "next_order_at",
            "churn_risk",
        )
    ), sorted(
        CategoryReorder.objects.values_list(
            "customer_id", "category_id", "expected_reorders_30d", "probability"
        )
    )


def test_refresh_is_idempotent(shop):
    analytics_refresh(as_of=AS_OF)
    first = stored_rows()

    analytics_refresh(as_of=AS_OF)

    assert stored_rows() == first
    assert CustomerMetrics.objects.count() == 6
    assert AnalyticsRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2


def test_no_orders_at_all_gives_empty_rows_and_no_model():
    people = CustomerFactory.create_batch(3)

    report = analytics_refresh(as_of=AS_OF)

    assert report.buyers == 0 and report.orders == 0
    assert report.model == "" and not report.fallback_used
    assert CustomerMetrics.objects.filter(order_count=0).count() == 3
    assert {m.customer_id for m in CustomerMetrics.objects.all()} == {p.pk for p in people}


def test_one_customer_with_one_order():
    customer = CustomerFactory()
    order(customer, 20, "42.00")

    report = analytics_refresh(as_of=AS_OF)

    m = metrics_of(customer)
    assert report.model == "rfm_fallback"
    # Alone, the customer is in the middle quintile of every score.
    assert m.rfm_score == "333"
    assert m.rfm_segment == "need_attention"
    # Nobody ever bought twice: no rate, no next order, churn high (documented fallback).
    assert m.expected_purchases_30d == 0.0
    assert m.next_order_at is None
    assert m.churn_risk == "high"
    assert m.clv_12m == Decimal("0.00")
    assert m.expected_order_value == Decimal("42.00")


def test_zero_value_orders_store_no_nan():
    customers = CustomerFactory.create_batch(4)
    for i, customer in enumerate(customers):
        order(customer, 10 + i, "0.00")
        order(customer, 50 + i, "0.00")

    analytics_refresh(as_of=AS_OF)

    for m in CustomerMetrics.objects.all():
        assert m.revenue == Decimal("0.00")
        assert m.expected_order_value == Decimal("0.00")
        assert m.clv_12m == Decimal("0.00")
        assert math.isfinite(m.expected_purchases_30d)
        assert m.rfm_m == 3


def simulated_shop(n: int, seed: int = 7) -> None:
    """``n`` customers drawn from BG/NBD and Gamma-Gamma (daily rates), written as orders:
    the first purchase T days before AS_OF, the repeat ones evenly spread up to t_x."""
    rng = np.random.default_rng(seed)
    sim = simulate_customers(
        n,
        bgnbd_params=(0.6, 15.0, 0.7, 3.0),
        gamma_gamma_params=(6.0, 4.0, 15.0),
        age=rng.uniform(100, 400, n).round(),
        rng=rng,
    )
    customers = Customer.objects.bulk_create([Customer(name=f"Sim {i}") for i in range(n)])
    product = ProductFactory(category=CategoryFactory(slug="arabica", name="Arabica"))
    orders = []
    for customer, x, t_x, age, value in zip(
        customers, sim.frequency, sim.recency, sim.age, sim.monetary_value, strict=True
    ):
        first = AS_OF - timedelta(days=float(age))
        times = [first] + [first + timedelta(days=float(t_x) * k / x) for k in range(1, x + 1)]
        amount = Decimal(f"{max(float(value), 5.0):.2f}")
        orders += [
            Order(customer=customer, placed_at=t, total=amount, currency="USD",
                  status=OrderStatus.DELIVERED)
            for t in times
        ]  # fmt: skip
    created = Order.objects.bulk_create(orders)
    OrderLine.objects.bulk_create(
        OrderLine(
            order=o, line_number=1, product=product, sku=product.sku, unit_price=o.total,
            total=o.total,
        )
        for o in created
    )  # fmt: skip


def test_a_fitted_model_gives_finite_predictions_with_intervals():
    simulated_shop(300)

    report = analytics_refresh(as_of=AS_OF)

    assert report.model == "bgnbd", report.model_note
    assert report.spend_model == "gamma_gamma", report.spend_note
    assert report.replaced_values == {}
    for m in CustomerMetrics.objects.all():
        assert 0 <= m.p_alive <= 1
        assert 0 <= m.p_order_30d <= 1
        assert m.expected_purchases_30d >= 0
        assert m.clv_12m is not None and m.clv_12m >= 0
        assert m.expected_purchases_30d_low <= m.expected_purchases_30d_high
        assert m.churn_risk in {"low", "medium", "high"}
    run = AnalyticsRun.objects.get(pk=report.run_id)
    assert len(run.parameters["bgnbd"]) == 4
    assert len(run.parameters["gamma_gamma"]) == 3
    p = CategoryReorder.objects.values_list("probability", flat=True)
    assert all(0 <= v <= 1 for v in p)


def test_single_customer_refresh_uses_the_last_run(shop):
    people, arabica, _robusta = shop
    analytics_refresh(as_of=AS_OF)
    e = people["E"]
    order(e, -2, "10.00", ProductFactory(category=arabica))

    metrics = analytics_refresh_customer(customer_id=e.pk, as_of=AS_OF + timedelta(days=3))

    assert metrics.order_count == 2
    assert metrics.revenue == Decimal("20.00")
    assert metrics.model == "rfm_fallback"
    # Scored against the last run's quintile edges: bought a day ago (R 5), two purchase
    # days (F 4), 10.00 on average (M 1).
    assert metrics.rfm_score == "541"
    assert metrics.rfm_segment == "champions"
    assert metrics.recency_days == 1
    assert CategoryReorder.objects.filter(customer=e, category=arabica).count() == 1
    assert metrics.top_category_id == arabica.pk


def test_single_customer_refresh_of_a_customer_without_orders(shop):
    people, *_ = shop

    metrics = analytics_refresh_customer(customer_id=people["F"].pk)

    assert metrics.order_count == 0 and metrics.rfm_score == ""


def test_single_customer_refresh_of_an_unknown_customer():
    with pytest.raises(NotFound):
        analytics_refresh_customer(customer_id=987654)


def test_refresh_command_prints_the_report(shop, capsys):
    call_command("analytics", "refresh", "--as-of", "2025-07-01", "--no-progress")

    out = capsys.readouterr().out
    assert "6 customers" in out
    assert "rfm_fallback" in out
    assert CustomerMetrics.objects.count() == 6


def test_refresh_command_rejects_a_bad_date(shop):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--as-of"):
        call_command("analytics", "refresh", "--as-of", "July", "--no-progress")


def test_deleting_a_customer_or_category_removes_their_derived_rows(shop):
    """The derived tables have no database foreign keys; the ORM cascade still cleans up."""
    people, arabica, _robusta = shop
    analytics_refresh(as_of=AS_OF)
    f = people["F"]

    f.delete()
    assert not CustomerMetrics.objects.filter(customer_id=f.pk).exists()
    arabica.products.all().delete()
    arabica.delete()

    assert not CategoryReorder.objects.filter(category_id=arabica.pk).exists()
    assert CustomerMetrics.objects.get(customer=people["A"]).top_category_id is None


def test_copy_text_format():
    from omnicrm.analytics.metrics_write import _copy_text

    assert _copy_text(None) == "\\N"
    assert _copy_text("a\tb\\c\nd") == "a\\tb\\\\c\\nd"
    assert _copy_text(0.25) == "0.25"
    assert _copy_text(True) == "t"
    assert _copy_text(12) == "12"


def test_a_shop_without_customers_refreshes_to_nothing():
    report = analytics_refresh(as_of=AS_OF)

    assert (report.customers, report.metrics_rows, report.reorder_rows) == (0, 0, 0)
    assert AnalyticsRun.objects.get(pk=report.run_id).status == RunStatus.SUCCEEDED
