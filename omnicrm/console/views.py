"""Staff console pages. Thin: read through selectors, pick a template, nothing more."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.views import LoginView, LogoutView
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from omnicrm.analytics import selectors as analytics
from omnicrm.console.access import not_found, staff_view
from omnicrm.console.charts import month_chart
from omnicrm.console.rendering import render_page
from omnicrm.core.errors import NotFound
from omnicrm.customers import selectors as customers

CUSTOMERS_PER_PAGE = 25
ORDERS_ON_360 = 50
CHART_RANGES = (6, 12, 24)


class ConsoleLoginView(LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True


class ConsoleLogoutView(LogoutView):
    """POST only (Django refuses GET), so a link or an image cannot log staff out."""


@staff_view(permission="core.view_dashboard", fallback="console:customer_list")
def home(request: HttpRequest) -> HttpResponse:
    try:
        months = int(request.GET.get("months", 12))
    except ValueError:
        months = 12
    if months not in CHART_RANGES:
        months = 12
    metrics = analytics.dashboard_metrics()
    totals = analytics.order_monthly_totals(
        months=months, end=metrics.last_order_at, currency=metrics.currency
    )
    context = {
        "metrics": metrics,
        "chart": month_chart(totals, currency=metrics.currency),
        "months": months,
        "chart_ranges": CHART_RANGES,
        "latest_orders": analytics.order_latest(limit=8),
        "can_view_customers": request.user.has_perm("customers.view_customer"),
    }
    return render_page(
        request,
        "console/home.html",
        context,
        fragments={"orders-chart": "console/partials/_chart.html"},
    )


class CustomerFilterForm(forms.Form):
    HAS_ORDERS = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    country = forms.ChoiceField(label=_("Country"), required=False)
    has_orders = forms.ChoiceField(label=_("Has orders"), required=False, choices=HAS_ORDERS)

    def __init__(self, data: QueryDict, *, countries: list[str]) -> None:
        data = data.copy()
        # ISO codes match whatever case was typed into the URL; the select shows it too.
        data["country"] = str(data.get("country", "")).strip().upper()
        super().__init__(data)
        country = cast(forms.ChoiceField, self.fields["country"])
        country.choices = [("", _("All countries")), *((c, c) for c in countries)]

    def filters(self) -> dict[str, Any]:
        """The valid filters for customer_list; an invalid field is left out (and the page
        shows its error) rather than failing the whole search."""
        self.is_valid()
        data = {
            name: self.cleaned_data.get(name) for name in self.fields if name not in self.errors
        }
        return {
            "search": data.get("q") or "",
            "country": data.get("country") or "",
            "has_orders": {"yes": True, "no": False}.get(data.get("has_orders") or ""),
        }


@staff_view(permission="customers.view_customer")
def customer_list(request: HttpRequest) -> HttpResponse:
    form = CustomerFilterForm(request.GET, countries=customers.customer_countries())
    filters = form.filters()
    paginator = Paginator(customers.customer_list(**filters), CUSTOMERS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "filtered": any(v not in ("", None) for v in filters.values()),
    }
    return render_page(
        request,
        "console/customer_list.html",
        context,
        fragments={"customer-results": "console/partials/_customer_results.html"},
    )


@staff_view(permission="customers.view_customer")
def customer_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        customer = customers.customer_profile(public_id=public_id)
    except NotFound:
        message = gettext(
            "No customer has the id %(id)s. It may have been merged into another profile."
        )
        return not_found(request, message % {"id": public_id})
    can_view_orders = request.user.has_perm("orders.view_order")
    can_view_reviews = request.user.has_perm("reviews.view_review")
    summary = customers.customer_summary(customer=customer)
    context = {
        "customer": customer,
        "summary": summary,
        "can_view_orders": can_view_orders,
        "can_view_reviews": can_view_reviews,
        "orders": (
            list(customers.customer_orders(customer=customer)[:ORDERS_ON_360])
            if can_view_orders
            else []
        ),
        "orders_shown_limit": ORDERS_ON_360,
        "reviews": list(customers.customer_reviews(customer=customer)) if can_view_reviews else [],
    }
    return render_page(request, "console/customer_detail.html", context)
