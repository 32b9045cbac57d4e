"""The one place that decides whether a console request gets a full page or an htmx fragment."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def wants_fragment(request: HttpRequest, target: str) -> bool:
    """True for an htmx request aimed at the element ``target`` (its id).

    History restores (back button after the cache expired) ask for the whole page, and so
    does an htmx request aimed elsewhere, e.g. a boosted link.
    """
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return False
    return htmx.target == target


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    fragments: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render ``template``, or the fragment registered for the htmx target in ``fragments``
    (``{"customer-results": "console/partials/_customer_results.html"}``)."""
    chosen = template
    for target, fragment in (fragments or {}).items():
        if wants_fragment(request, target):
            chosen = fragment
            break
    response = render(request, chosen, context, status=status)
    # The same URL answers with a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response
