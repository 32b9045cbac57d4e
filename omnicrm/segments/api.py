"""/api/v1/segments: list, create, read, preview a count, read members, refresh, and keep
the members of static lists."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from omnicrm.core.api_auth import actor_label
from omnicrm.core.api_errors import error_responses
from omnicrm.core.pagination import Page, paginate
from omnicrm.segments import selectors, services
from omnicrm.segments.models import Segment
from omnicrm.segments.schemas import (
    MemberListQuery,
    MemberOut,
    MembersIn,
    MembersOut,
    PreviewIn,
    PreviewOut,
    RefreshOut,
    SegmentCreateIn,
    SegmentOut,
    SegmentUpdateIn,
)

router = Router(tags=["segments"])


@router.get("", response={200: list[SegmentOut], **error_responses()})
def segment_list(request: HttpRequest) -> list[Segment]:
    """Every segment by name, with its member count at the last refresh."""
    return list(selectors.segment_list())


@router.post("", response={201: SegmentOut, **error_responses(409, 422)})
def segment_create(request: HttpRequest, payload: SegmentCreateIn) -> Status[Segment]:
    """Create a dynamic segment (rules) or a static list. Invalid rules answer 422 with
    `field` naming the bad condition (`rules.all[2].any[0]`). A dynamic segment's members
    are computed by a refresh queued at once."""
    segment = services.segment_create(**payload.model_dump(), actor_label=actor_label(request))
    return Status(201, segment)


@router.post("/preview", response={200: PreviewOut, **error_responses(422)})
def segment_preview(request: HttpRequest, payload: PreviewIn) -> dict:
    """How many customers the rules select right now, and a sample of them."""
    preview = selectors.segment_preview(rules=payload.rules, sample_size=payload.sample_size)
    return {"count": preview.count, "sample": preview.sample, "rules": preview.rules}


@router.get("/{segment_id}", response={200: SegmentOut, **error_responses(404)})
def segment_retrieve(request: HttpRequest, segment_id: str) -> Segment:
    return selectors.segment_get(public_id=segment_id)


@router.patch("/{segment_id}", response={200: SegmentOut, **error_responses(404, 422)})
def segment_update(request: HttpRequest, segment_id: str, payload: SegmentUpdateIn) -> Segment:
    """Change the name, description or rules; new rules queue a refresh."""
    segment = selectors.segment_get(public_id=segment_id)
    return services.segment_update(
        segment=segment,
        **payload.model_dump(exclude_unset=True),
        actor_label=actor_label(request),
    )


@router.delete("/{segment_id}", response={204: None, **error_responses(404)})
def segment_delete(request: HttpRequest, segment_id: str) -> Status[None]:
    services.segment_delete(
        segment=selectors.segment_get(public_id=segment_id), actor_label=actor_label(request)
    )
    return Status(204, None)


@router.get("/{segment_id}/members", response={200: Page[MemberOut], **error_responses(404, 422)})
def segment_members(request: HttpRequest, segment_id: str, query: Query[MemberListQuery]) -> dict:
    """The members, newest membership first, as of the last refresh."""
    segment = selectors.segment_get(public_id=segment_id)
    page = paginate(
        selectors.segment_members(segment=segment),
        cursor=query.cursor,
        limit=query.limit,
        ordering=("-id",),
        namespace=f"segment-members:{segment.public_id}",
    )
    return page.as_response()


@router.post("/{segment_id}/refresh", response={200: RefreshOut, **error_responses(404, 409)})
def segment_refresh(request: HttpRequest, segment_id: str) -> dict:
    """Recompute a dynamic segment now; answers who entered and who left."""
    segment = selectors.segment_get(public_id=segment_id)
    result = services.segment_refresh(segment=segment)
    return {
        "entered": result.entered,
        "left": result.left,
        "member_count": result.member_count,
        "refreshed_at": result.refreshed_at,
    }


def _members_out(segment: Segment, result: services.MembersResult) -> dict:
    segment.refresh_from_db(fields=["member_count"])
    return {
        "added": result.added,
        "removed": result.removed,
        "unchanged": result.unchanged,
        "unknown": result.unknown,
        "member_count": segment.member_count,
    }


@router.post("/{segment_id}/members", response={200: MembersOut, **error_responses(404, 409)})
def segment_members_add(request: HttpRequest, segment_id: str, payload: MembersIn) -> dict:
    """Add customers to a static list; unknown ids are listed in `unknown`. A dynamic
    segment answers 409."""
    segment = selectors.segment_get(public_id=segment_id)
    result = services.segment_members_add(
        segment=segment, customer_ids=payload.customers, actor_label=actor_label(request)
    )
    return _members_out(segment, result)


@router.post(
    "/{segment_id}/members/remove", response={200: MembersOut, **error_responses(404, 409)}
)
def segment_members_remove(request: HttpRequest, segment_id: str, payload: MembersIn) -> dict:
    """Remove customers from a static list."""
    segment = selectors.segment_get(public_id=segment_id)
    result = services.segment_members_remove(
        segment=segment, customer_ids=payload.customers, actor_label=actor_label(request)
    )
    return _members_out(segment, result)
