"""Console pages of serving: the Customer 360 "Recommended for this customer" panel (loaded
by htmx into the 360 page) and the product page with similar items and frequently bought
together."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from omnicrm.catalog import selectors as catalog
from omnicrm.console.access import not_found, staff_view
from omnicrm.console.rendering import render_page
from omnicrm.core.errors import NotFound
from omnicrm.recommendations import serving, serving_lists
from omnicrm.recommendations.serving import Filters
from omnicrm.reviews.selectors import product_rating_summary

PANEL_ITEMS = 8
PRODUCT_PAGE_ITEMS = 12


@staff_view(permission="customers.view_customer")
def customer_recommendations(request: HttpRequest, public_id: str) -> HttpResponse:
    """The 360 panel: the customer's "for you" list with each reason sentence, as the
    customer would read it on the shop's site."""
    try:
        customer = serving.customer_for_serving(public_id=public_id)
    except NotFound:
        return not_found(request, _("No customer has the id %(id)s.") % {"id": public_id})
    result = serving.recommend_for_customer(customer=customer, filters=Filters(limit=PANEL_ITEMS))
    context = {"customer": customer, "result": result}
    return render(request, "recommendations/partials/_for_you.html", context)


@staff_view(permission="catalog.view_product")
def product_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    """A product: its facts, rating summary, "customers who bought this also bought" and
    "frequently bought together" with support, confidence and lift."""
    product = catalog.product_get(public_id=public_id)
    filters = Filters(limit=PRODUCT_PAGE_ITEMS)
    similar = serving_lists.recommend_similar(
        product_pk=product.pk, product_title=product.title, filters=filters
    )
    together = serving_lists.recommend_together(
        product_pk=product.pk, product_title=product.title, filters=filters
    )
    context = {
        "product": product,
        "rating_summary": product_rating_summary(product=product),
        "similar": similar,
        "together": together,
    }
    return render_page(request, "recommendations/product_detail.html", context)
