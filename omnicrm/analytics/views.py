"""Console pages of the analytics app: the dashboard, the refresh button and its progress,
the likeliest reorderers of a category, and the predictions panel of Customer 360."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from omnicrm.analytics import reports, selectors, services
from omnicrm.analytics.charts import histogram_chart
from omnicrm.analytics.explain import explain_predictions
from omnicrm.console.access import staff_view
from omnicrm.console.charts import month_chart
from omnicrm.console.rendering import render_page
from omnicrm.customers import selectors as customers

CHART_RANGES = (6, 12, 24)
COHORT_MONTHS = 12
REFRESH_PERMISSION = "analytics.add_analyticsrun"


def _months(request: HttpRequest) -> int:
    try:
        months = int(request.GET.get("months", 12))
    except ValueError:
        return 12
    return months if months in CHART_RANGES else 12


@staff_view(permission="core.view_dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    months = _months(request)
    metrics = selectors.dashboard_metrics()
    totals = selectors.order_monthly_totals(
        months=months, end=metrics.last_order_at, currency=metrics.currency
    )
    grid = reports.rfm_grid()
    context = {
        "metrics": metrics,
        "chart": month_chart(totals, currency=metrics.currency),
        "months": months,
        "chart_ranges": CHART_RANGES,
        "cohorts": reports.cohort_retention(months=COHORT_MONTHS, end=metrics.last_order_at),
        "grid": grid,
        "clv_chart": histogram_chart(reports.clv_distribution(), currency=grid.currency),
        "top_customers": list(reports.metrics_top_customers(limit=10)),
        "reorders": reports.reorder_forecast(days=reports.REORDER_HORIZON_DAYS),
        "state": reports.analytics_run_state(),
        "can_refresh": request.user.has_perm(REFRESH_PERMISSION),
        "can_view_customers": request.user.has_perm("customers.view_customer"),
    }
    return render_page(
        request,
        "analytics/dashboard.html",
        context,
        fragments={"orders-chart": "console/partials/_chart.html"},
    )


@require_POST
@staff_view(permission=REFRESH_PERMISSION)
def refresh(request: HttpRequest) -> HttpResponse:
    run = services.analytics_run_queue(actor=request.user, trigger="console")
    messages.success(request, _("The refresh is queued; this page shows its progress as it runs."))
    if getattr(request, "htmx", False):
        return render(
            request,
            "analytics/partials/_refresh_status.html",
            {"state": reports.analytics_run_state(), "can_refresh": True, "queued": run},
        )
    return redirect("analytics:dashboard")


@staff_view(permission="core.view_dashboard")
def refresh_status(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "analytics/partials/_refresh_status.html",
        {
            "state": reports.analytics_run_state(),
            "can_refresh": request.user.has_perm(REFRESH_PERMISSION),
        },
    )


@staff_view(permission="core.view_dashboard")
def category_reorder_detail(request: HttpRequest, slug: str) -> HttpResponse:
    report = reports.category_reorders(slug=slug, days=reports.REORDER_HORIZON_DAYS, limit=100)
    return render_page(
        request,
        "analytics/category_reorders.html",
        {"report": report, "can_view_customers": request.user.has_perm("customers.view_customer")},
    )


@staff_view(permission="customers.view_customer")
def customer_predictions(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = customers.customer_profile(public_id=public_id)
    metrics = reports.customer_metrics(customer_id=customer.pk)
    context = {
        "customer": customer,
        "metrics": metrics,
        "explanation": (
            explain_predictions(metrics, name=customer.name) if metrics is not None else None
        ),
        "reorders": (
            reports.customer_category_reorders(customer_id=customer.pk) if metrics else []
        ),
    }
    return render(request, "analytics/partials/_customer_predictions_panel.html", context)
