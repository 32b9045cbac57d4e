"""Pages of the events app: the tracking snippet, the console's sources page with its live
view, and the Customer 360 timeline fragment. Thin: selectors and services do the work."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from omnicrm.console.access import forbidden, not_found, staff_view
from omnicrm.console.rendering import render_page
from omnicrm.core.errors import ApplicationError, NotFound
from omnicrm.customers import selectors as customer_selectors
from omnicrm.events import selectors, services
from omnicrm.events.models import EventType, SourceChannel
from omnicrm.events.selectors import InvalidWriteKey, source_authenticate

SNIPPET = Path(__file__).resolve().parent / "static" / "events" / "omnicrm.js"
LIVE_ROWS = 25
TIMELINE_PER_PAGE = 30


@lru_cache(maxsize=1)
def _snippet_source() -> bytes:
    return SNIPPET.read_bytes()


@require_GET
def snippet(request: HttpRequest) -> HttpResponse:
    """/t.js: the tracking snippet, cacheable for an hour, loadable from any shop page."""
    response = HttpResponse(_snippet_source(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    # The shop's pages embed it: cross-origin script loading must not be blocked.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_GET
def segment_settings(request: HttpRequest, write_key: str) -> HttpResponse:
    """/v1/projects/<writeKey>/settings: what Segment's libraries fetch from their CDN host
    at start. Pointing their cdnHost at omnicrm makes them read here that the Segment.io
    destination is on and that its apiHost is this server, so they send their batches here
    (their defaults would otherwise name Segment's own host)."""
    try:
        source_authenticate(raw_key=write_key)
    except InvalidWriteKey:
        response = JsonResponse(
            {"error": {"code": "not_found", "message": gettext("no such write key")}}, status=404
        )
    else:
        response = JsonResponse(
            {
                "integrations": {
                    "Segment.io": {"apiKey": write_key, "apiHost": f"{request.get_host()}/v1"}
                },
                "plan": {"track": {"__default": {"enabled": True, "integrations": {}}}},
                "edgeFunction": {},
                "middlewareSettings": {},
                # Turns off the libraries' telemetry, which would go to Segment.
                "metrics": {"sampleRate": 0.0},
            }
        )
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "no-store"
    return response


class SourceCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    channel = forms.ChoiceField(label=_("Channel"), choices=SourceChannel.choices)


def _sources_context(request: HttpRequest, form: SourceCreateForm) -> dict:
    return {
        "sources": list(selectors.source_list()),
        "form": form,
        "can_manage": request.user.has_perm("events.add_source"),
        "unknown_rejections": selectors.source_latest_rejections(source=None, limit=10),
    }


@staff_view(permission="events.view_source")
def source_list(request: HttpRequest) -> HttpResponse:
    """Sources with their channel, key prefix, creation and last event; admins create
    and revoke here. A new write key is shown once, on the page that created it."""
    context = _sources_context(request, SourceCreateForm())
    if request.method == "POST":
        if not request.user.has_perm("events.add_source"):
            return forbidden(request)
        form = SourceCreateForm(request.POST)
        context["form"] = form
        if form.is_valid():
            try:
                source, raw_key = services.source_create(
                    name=form.cleaned_data["name"],
                    channel=form.cleaned_data["channel"],
                    actor=request.user,
                )
            except ApplicationError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                context = _sources_context(request, SourceCreateForm())
                context["created"] = source
                context["created_key"] = raw_key
                response = render_page(request, "events/source_list.html", context)
                # The key is in this page only: keep it out of every cache.
                response["Cache-Control"] = "no-store"
                return response
        return render_page(request, "events/source_list.html", context, status=422)
    return render_page(request, "events/source_list.html", context)


@require_POST
@staff_view(permission="events.change_source")
def source_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    source = services.source_revoke(prefix=prefix, actor=request.user)
    messages.success(
        request,
        gettext("The write key of %(name)s is revoked; its requests now get 401.")
        % {"name": source.name},
    )
    return HttpResponseRedirect(reverse("tracking:source_list"))


@staff_view(permission="events.view_source")
def source_detail(request: HttpRequest, prefix: str) -> HttpResponse:
    """The live view: the latest events received and rejected, refreshed by htmx polling."""
    try:
        source = selectors.source_get(prefix=prefix)
    except NotFound:
        message = gettext("No source has the key prefix %(prefix)s.") % {"prefix": prefix}
        return not_found(request, message)
    context = {
        "source": source,
        "events": selectors.source_latest_events(source=source, limit=LIVE_ROWS),
        "rejections": selectors.source_latest_rejections(source=source, limit=LIVE_ROWS),
        "can_manage": request.user.has_perm("events.change_source"),
        "poll_seconds": 3,
    }
    return render_page(
        request,
        "events/source_detail.html",
        context,
        fragments={"live": "events/partials/_live.html"},
    )


class TimelineFilterForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=[("", _("All channels")), *SourceChannel.choices],
    )
    type = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("All types")), *EventType.choices]
    )


@staff_view(permission="customers.view_customer")
def customer_timeline(request: HttpRequest, public_id: str) -> HttpResponse:
    """The Customer 360 timeline: every event across channels, newest first, filterable
    by channel and type. Loaded into the 360 page by htmx."""
    try:
        customer = customer_selectors.customer_get(public_id=public_id)
    except NotFound:
        return not_found(request, gettext("No customer has the id %(id)s.") % {"id": public_id})
    form = TimelineFilterForm(request.GET)
    form.is_valid()
    data = form.cleaned_data if form.is_bound else {}
    filters = selectors.TimelineFilters(
        channel=data.get("channel") or "", type=data.get("type") or ""
    )
    paginator = Paginator(
        selectors.event_timeline(customer_id=customer.pk, filters=filters), TIMELINE_PER_PAGE
    )
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "customer": customer,
        "form": form,
        "page": page,
        "filtered": bool(filters.channel or filters.type),
        "query": request.GET.copy(),
    }
    return render_page(request, "events/partials/_timeline.html", context)
