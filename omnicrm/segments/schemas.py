"""API schemas of segments, their members and the count preview."""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema

from omnicrm.core.api_types import STRICT_INPUT, UtcDatetime
from omnicrm.core.pagination import CursorQuery
from omnicrm.segments.models import SegmentKind

RULES_DESCRIPTION = (
    'The rule tree: a group {"all": [...]} or {"any": [...]} of conditions '
    '{"field", "op", "value", "within_days"?, "min_times"?, "channel"?} and nested groups. '
    "See docs/segments.md for the fields and operators."
)


class SegmentCreateIn(Schema):
    model_config = STRICT_INPUT

    name: str = Field(..., min_length=1, max_length=200)
    kind: SegmentKind = SegmentKind.DYNAMIC
    slug: str = Field("", max_length=100, description="Derived from the name when empty.")
    description: str = Field("", max_length=2000)
    rules: dict[str, Any] | None = Field(None, description=RULES_DESCRIPTION)


class SegmentUpdateIn(Schema):
    model_config = STRICT_INPUT

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    rules: dict[str, Any] | None = Field(None, description=RULES_DESCRIPTION)


class SegmentOut(Schema):
    id: str = Field(..., description="Segment id (seg_...).")
    name: str
    slug: str
    kind: SegmentKind
    description: str
    rules: dict[str, Any]
    member_count: int = Field(..., description="Members at the last refresh or list change.")
    refreshed_at: UtcDatetime | None
    created_at: UtcDatetime

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return obj.public_id


class PreviewIn(Schema):
    model_config = STRICT_INPUT

    rules: dict[str, Any] = Field(..., description=RULES_DESCRIPTION)
    sample_size: int = Field(10, ge=0, le=50)


class CustomerBriefOut(Schema):
    id: str = Field(..., description="Customer id (cus_...).")
    name: str
    email: str
    country: str

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return obj.public_id


class PreviewOut(Schema):
    count: int
    sample: list[CustomerBriefOut]
    rules: dict[str, Any] = Field(..., description="The rules as validated and normalized.")


class MemberOut(Schema):
    customer: CustomerBriefOut
    since: UtcDatetime


class MemberListQuery(CursorQuery):
    pass


class RefreshOut(Schema):
    entered: int
    left: int
    member_count: int
    refreshed_at: UtcDatetime


class MembersIn(Schema):
    model_config = STRICT_INPUT

    customers: list[str] = Field(..., min_length=1, max_length=1000, description="cus_... ids")


class UnknownOut(Schema):
    customer: str | None = None
    line: int | None = None
    email: str | None = None
    reason: str | None = None


class MembersOut(Schema):
    added: int
    removed: int
    unchanged: int
    unknown: list[UnknownOut]
    member_count: int
