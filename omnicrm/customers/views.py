"""Console pages of profile merges: find a duplicate, preview, confirm, and split back.

Thin like every console view: selectors and the merge services do the work. Merging and
splitting need ``customers.merge_customer`` (admins and support agents); the merge history
on the Customer 360 page is read-only for everyone else (see templatetags/identity.py).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from omnicrm.console.access import staff_view
from omnicrm.console.rendering import render_page
from omnicrm.core.errors import ApplicationError
from omnicrm.customers import merge, selectors, services
from omnicrm.customers.models import ConsentChannel, ConsentStatus

MERGE_PERMISSION = "customers.merge_customer"
CANDIDATES_SHOWN = 20
FIELD_LABELS = {
    "name": _("Name"),
    "email": _("Email"),
    "phone": _("Phone"),
    "language": _("Language"),
    "timezone": _("Time zone"),
    "country": _("Country"),
    "city": _("City"),
}
TABLE_LABELS = {
    "identities": _("Identities"),
    "addresses": _("Addresses"),
    "orders": _("Orders"),
    "reviews": _("Reviews"),
    "wishlist_items": _("Wishlist items"),
    "recommendation_feedback": _("Recommendation feedback"),
    "events": _("Events"),
}


class MergeForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are these the same person?"),
        max_length=500,
        help_text=_("Kept in the merge history and the audit log."),
    )


def _status(value: str | None) -> str:
    return str(ConsentStatus(value).label) if value else "—"


def _preview_rows(preview: merge.MergePreview) -> dict[str, Any]:
    """Labels for the preview page, in the staff member's language."""
    return {
        "counts": [
            {"table": table, "label": label, "count": preview.counts[table]}
            for table, label in TABLE_LABELS.items()
        ],
        "fields": [
            {
                "label": FIELD_LABELS[d.field],
                "primary": d.primary,
                "secondary": d.secondary,
                "conflict": conflict,
            }
            for conflict, differences in (
                (False, preview.fields_filled),
                (True, preview.field_conflicts),
            )
            for d in differences
        ],
        "consent": [
            {
                "label": ConsentChannel(c.channel).label,
                "primary": _status(c.primary),
                "secondary": _status(c.secondary),
                "result": _status(c.result),
                "tightened": c.result != c.primary,
            }
            for c in preview.consent
        ],
    }


def _detail_url(public_id: str, anchor: str = "") -> str:
    url = reverse("console:customer_detail", args=[public_id])
    return f"{url}#{anchor}" if anchor else url


@staff_view(permission=MERGE_PERMISSION)
@require_http_methods(["GET"])
def merge_start(request: HttpRequest, public_id: str) -> HttpResponse:
    """ "Merge with...": search the profile to merge into this one."""
    customer = selectors.customer_get(public_id=public_id)
    services.customer_ensure_live(customer)
    query = request.GET.get("q", "").strip()[:200]
    candidates = (
        list(selectors.customer_list(search=query).exclude(pk=customer.pk)[:CANDIDATES_SHOWN])
        if query
        else []
    )
    context = {"customer": customer, "query": query, "candidates": candidates}
    return render_page(
        request,
        "customers/merge_start.html",
        context,
        fragments={"merge-candidates": "customers/partials/_merge_candidates.html"},
    )


@staff_view(permission=MERGE_PERMISSION)
@require_http_methods(["GET", "POST"])
def merge_preview(request: HttpRequest, public_id: str, other_id: str) -> HttpResponse:
    """What merging ``other_id`` into ``public_id`` would do; POST (with a reason) merges."""
    primary = selectors.customer_get(public_id=public_id)
    secondary = selectors.customer_get(public_id=other_id)
    form = MergeForm(request.POST if request.method == "POST" else None)
    error: ApplicationError | None = None
    if form.is_bound and form.is_valid():
        try:
            merge.customer_merge(
                primary=primary,
                secondary=secondary,
                actor=request.user,  # type: ignore[arg-type]
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as refused:
            error = refused
        else:
            return HttpResponseRedirect(_detail_url(primary.public_id, "merge-history"))
    preview = merge.customer_merge_preview(primary=primary, secondary=secondary)
    context = {"preview": preview, "rows": _preview_rows(preview), "form": form, "error": error}
    status = error.status if error else (422 if form.is_bound else 200)
    return render_page(request, "customers/merge_preview.html", context, status=status)


@staff_view(permission=MERGE_PERMISSION)
@require_http_methods(["GET", "POST"])
def merge_split(request: HttpRequest, merge_id: str) -> HttpResponse:
    """Split a merge back apart: GET shows what goes back, POST does it."""
    record = merge.customer_merge_get(public_id=merge_id)
    if request.method == "POST":
        merge.customer_split(merge=record, actor=request.user)  # type: ignore[arg-type]
        return HttpResponseRedirect(_detail_url(record.secondary.public_id, "merge-history"))
    counts = [
        {"label": label, "count": len(record.moved.get(table, []))}
        for table, label in TABLE_LABELS.items()
    ]
    return render_page(request, "customers/merge_split.html", {"merge": record, "counts": counts})
