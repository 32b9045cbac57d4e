"""Console pages of segments: the list, the htmx builder with its live count, and a
segment's page with members, history, refresh, export and static list editing.

Thin like every console view: builder.py turns form fields into a rule tree, selectors
and services do the rest.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from omnicrm.console.access import staff_view
from omnicrm.console.rendering import render_page
from omnicrm.core.errors import ApplicationError
from omnicrm.segments import builder, selectors, services
from omnicrm.segments.fields import EVENT_CHANNELS, PARAM_LABELS
from omnicrm.segments.models import Segment, SegmentKind
from omnicrm.segments.rules import RuleError

MEMBERS_PER_PAGE = 50
HISTORY_SHOWN = 50
PREVIEW_SAMPLE = 5


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), max_length=2000, required=False, widget=forms.Textarea
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=SegmentKind.choices, required=False)


class UploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file with an email column"))


def _tree_for(segment: Segment | None) -> dict[str, Any]:
    if segment is not None and segment.rules:
        return segment.rules
    return {"all": [dict(builder.DEFAULT_CONDITION)]}


def _builder_context(
    tree: dict[str, Any], segment: Segment | None, error: RuleError | None = None
) -> dict[str, Any]:
    return {
        "edit_url": reverse("segments:segment_edit", args=[segment.public_id])
        if segment
        else reverse("segments:segment_new"),
        "root": builder.tree_view(
            tree,
            error_path=error.path if error else "",
            error=error.reason if error else "",
        ),
        "field_options": builder.field_options(),
        "channels": EVENT_CHANNELS,
        "param_labels": PARAM_LABELS,
    }


@staff_view(permission="segments.view_segment")
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    context = {
        "segments": list(selectors.segment_list()),
        "can_add": request.user.has_perm("segments.add_segment"),
    }
    return render_page(request, "segments/segment_list.html", context)


def _edit(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    """The builder for a new (segment None) or an existing segment."""
    if request.method == "GET":
        form = SegmentForm(
            initial={"name": segment.name, "description": segment.description}
            if segment
            else {"kind": SegmentKind.DYNAMIC}
        )
        context = {
            "segment": segment,
            "form": form,
            **_builder_context(_tree_for(segment), segment),
        }
        return render_page(request, "segments/segment_edit.html", context)

    action = request.POST.get("action", "save")
    tree = builder.tree_from_post(request.POST)
    if action != "save":
        tree = builder.tree_apply(tree, action)
        context = {
            "segment": segment,
            "form": SegmentForm(request.POST),
            **_builder_context(tree, segment),
        }
        response = render_page(
            request,
            "segments/segment_edit.html",
            context,
            fragments={"builder": "segments/partials/_builder.html"},
        )
        # The count next to the builder follows every structural change.
        response["HX-Trigger-After-Settle"] = "rules-changed"
        return response

    form = SegmentForm(request.POST)
    error: ApplicationError | None = None
    if form.is_valid():
        kind = form.cleaned_data["kind"] or SegmentKind.DYNAMIC
        dynamic = segment.is_dynamic if segment else kind == SegmentKind.DYNAMIC
        try:
            if segment is None:
                segment = services.segment_create(
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    kind=kind,
                    rules=tree if dynamic else None,
                    actor=request.user,  # type: ignore[arg-type]
                )
            else:
                services.segment_update(
                    segment=segment,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    rules=tree if dynamic else None,
                    actor=request.user,  # type: ignore[arg-type]
                )
        except ApplicationError as refused:
            error = refused
        else:
            messages.success(
                request, gettext("Segment %(name)s is saved.") % {"name": segment.name}
            )
            return HttpResponseRedirect(
                reverse("segments:segment_detail", args=[segment.public_id])
            )
    rule_error = error if isinstance(error, RuleError) else None
    context = {
        "segment": segment,
        "form": form,
        "error": None if rule_error else error,
        "rule_error": rule_error,
        **_builder_context(tree, segment, rule_error),
    }
    return render_page(request, "segments/segment_edit.html", context, status=422)


@staff_view(permission="segments.add_segment")
@require_http_methods(["GET", "POST"])
def segment_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@staff_view(permission="segments.change_segment")
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    return _edit(request, selectors.segment_get(public_id=public_id))


@staff_view(permission="segments.view_segment")
@require_POST
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The live count: the builder's form, posted as the marketer edits (debounced)."""
    tree = builder.tree_from_post(request.POST)
    context: dict[str, Any] = {}
    try:
        preview = selectors.segment_preview(rules=tree, sample_size=PREVIEW_SAMPLE)
    except RuleError as error:
        context["rule_error"] = error
    else:
        context["preview"] = preview
    return render_page(request, "segments/partials/_preview.html", context)


@staff_view(permission="segments.view_segment")
@require_GET
def segment_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    segment = selectors.segment_get(public_id=public_id)
    paginator = Paginator(
        selectors.segment_members(segment=segment).order_by("-id"), MEMBERS_PER_PAGE
    )
    page = paginator.get_page(request.GET.get("page"))
    user = request.user
    context = {
        "segment": segment,
        "page": page,
        "changes": selectors.segment_changes(segment=segment, limit=HISTORY_SHOWN),
        "root": builder.tree_view(segment.rules) if segment.is_dynamic else None,
        "can_change": user.has_perm("segments.change_segment"),
        "can_refresh": user.has_perm("segments.refresh_segment"),
        "can_delete": user.has_perm("segments.delete_segment"),
        "upload_form": UploadForm(),
    }
    return render_page(
        request,
        "segments/segment_detail.html",
        context,
        fragments={"segment-members": "segments/partials/_members.html"},
    )


@staff_view(permission="segments.refresh_segment")
@require_POST
def segment_refresh(request: HttpRequest, public_id: str) -> HttpResponse:
    segment = selectors.segment_get(public_id=public_id)
    result = services.segment_refresh(segment=segment)
    messages.success(
        request,
        gettext("Refreshed: %(entered)s entered, %(left)s left, %(count)s members.")
        % {"entered": result.entered, "left": result.left, "count": result.member_count},
    )
    return HttpResponseRedirect(reverse("segments:segment_detail", args=[public_id]))


@staff_view(permission="segments.delete_segment")
@require_POST
def segment_delete(request: HttpRequest, public_id: str) -> HttpResponse:
    segment = selectors.segment_get(public_id=public_id)
    services.segment_delete(segment=segment, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, gettext("Segment %(name)s is deleted.") % {"name": segment.name})
    return HttpResponseRedirect(reverse("segments:segment_list"))


class _Echo:
    """A file-like object whose write returns the line, for csv.writer over a stream."""

    def write(self, value: str) -> str:
        return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(cell: str) -> str:
    # A name like "=HYPERLINK(...)" would run as a formula in a spreadsheet.
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


# A streaming response is not an HttpResponse subclass; staff_view passes it through as is.
@staff_view(permission="segments.refresh_segment")  # type: ignore[arg-type]
@require_GET
def segment_export(request: HttpRequest, public_id: str) -> StreamingHttpResponse:
    """The members as CSV, streamed: memory stays flat for a million rows."""
    segment = selectors.segment_get(public_id=public_id)
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # so spreadsheet programs read UTF-8 names correctly
        for row in selectors.segment_export_rows(segment=segment):
            yield writer.writerow([_safe(str(cell)) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{segment.slug}-{stamp}.csv"'
    return response


def _report_unknown(request: HttpRequest, result: services.MembersResult) -> None:
    for item in result.unknown[:20]:
        if "line" in item:
            messages.warning(
                request,
                gettext("Line %(line)s: %(email)s — %(reason)s")
                % {"line": item["line"], "email": item["email"], "reason": item["reason"]},
            )
        else:
            messages.warning(
                request, gettext("No customer with id %(id)s.") % {"id": item["customer"]}
            )
    if len(result.unknown) > 20:
        messages.warning(
            request,
            gettext("%(n)s more lines were not added.") % {"n": len(result.unknown) - 20},
        )


@staff_view(permission="segments.change_segment")
@require_POST
def segment_members(request: HttpRequest, public_id: str) -> HttpResponse:
    """Static lists: add customer ids, remove one, or upload a CSV of emails."""
    segment = selectors.segment_get(public_id=public_id)
    action = request.POST.get("action", "")
    data: QueryDict = request.POST
    if action == "upload":
        form = UploadForm(data, request.FILES)
        if not form.is_valid():
            messages.error(request, gettext("Choose a CSV file to upload."))
        else:
            content = form.cleaned_data["file"].read(20 * 1024 * 1024 + 1)
            result = services.segment_members_upload(
                segment=segment,
                content=content,
                actor=request.user,  # type: ignore[arg-type]
            )
            messages.success(
                request,
                gettext("%(added)s added, %(unchanged)s already members, %(unknown)s not found.")
                % {
                    "added": result.added,
                    "unchanged": result.unchanged,
                    "unknown": len(result.unknown),
                },
            )
            _report_unknown(request, result)
    else:
        ids = [part.strip() for part in data.get("customers", "").replace(",", " ").split()]
        if action == "remove":
            services.segment_members_remove(
                segment=segment,
                customer_ids=ids,
                actor=request.user,  # type: ignore[arg-type]
            )
            messages.success(request, gettext("Removed from the list."))
        elif ids:
            result = services.segment_members_add(
                segment=segment,
                customer_ids=ids,
                actor=request.user,  # type: ignore[arg-type]
            )
            messages.success(request, gettext("%(n)s added.") % {"n": result.added})
            _report_unknown(request, result)
    return HttpResponseRedirect(reverse("segments:segment_detail", args=[public_id]))
