"""API schemas of customer profiles: one In and one Out per endpoint, public ids only."""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema

from omnicrm.core.api_types import STRICT_INPUT, AwareDatetimeIn, DecimalStr, UtcDatetime
from omnicrm.core.pagination import CursorQuery
from omnicrm.customers.models import (
    AddressKind,
    ConsentChannel,
    ConsentStatus,
    IdentityKind,
    MergeStatus,
    MergeTrigger,
)


class CustomerListQuery(CursorQuery):
    q: str = Field("", max_length=200, description="Search name, email, phone or any identity.")
    country: str = Field("", max_length=2, description="Two-letter ISO 3166 country code.")


class CustomerListOut(Schema):
    id: str
    name: str
    email: str
    phone: str
    country: str
    city: str
    language: str
    created_at: UtcDatetime
    order_count: int
    last_order_at: UtcDatetime | None

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return obj.public_id

    @staticmethod
    def resolve_order_count(obj: Any) -> int:
        # The correlated subquery yields NULL for a customer without orders.
        return obj.order_count or 0


class IdentityOut(Schema):
    kind: IdentityKind
    value: str
    verified: bool
    source: str
    created_at: UtcDatetime


class AddressOut(Schema):
    kind: AddressKind
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    is_default: bool


class ConsentOut(Schema):
    channel: ConsentChannel
    status: ConsentStatus
    changed_at: UtcDatetime


class CustomerSummaryOut(Schema):
    """Customer 360 figures; revenue counts orders that were not canceled."""

    order_count: int
    revenue_order_count: int
    lifetime_revenue: DecimalStr
    average_order_value: DecimalStr
    currency: str = Field(..., description="Currency of the revenue figures; empty without orders.")
    first_order_at: UtcDatetime | None
    last_order_at: UtcDatetime | None


class CustomerOut(Schema):
    """A profile with its Customer 360 summary, identities, addresses and consents.

    Build it with ``CustomerOut.from_orm(customer, context={"summary": summary})``.
    """

    id: str
    name: str
    email: str
    phone: str
    language: str
    timezone: str
    country: str
    city: str
    first_seen_at: UtcDatetime | None
    last_seen_at: UtcDatetime | None
    erased_at: UtcDatetime | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    summary: CustomerSummaryOut
    identities: list[IdentityOut]
    addresses: list[AddressOut]
    consents: list[ConsentOut]

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return obj.public_id

    @staticmethod
    def resolve_summary(obj: Any, context: dict[str, Any]) -> Any:
        return context["summary"]


class CustomerCreateIn(Schema):
    model_config = STRICT_INPUT

    name: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=32)
    language: str = Field("", max_length=16, examples=["vi"])
    timezone: str = Field("", max_length=64, examples=["Asia/Ho_Chi_Minh"])
    country: str = Field("", max_length=2, examples=["VN"])
    city: str = Field("", max_length=120)


class CustomerUpdateIn(Schema):
    """Only the fields sent change; null clears a field."""

    model_config = STRICT_INPUT

    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    language: str | None = Field(None, max_length=16)
    timezone: str | None = Field(None, max_length=64)
    country: str | None = Field(None, max_length=2)
    city: str | None = Field(None, max_length=120)


class ConsentSetIn(Schema):
    model_config = STRICT_INPUT

    channel: ConsentChannel
    status: ConsentStatus
    source: str = Field("api", max_length=100)
    occurred_at: AwareDatetimeIn | None = None


class IdentityAddIn(Schema):
    model_config = STRICT_INPUT

    kind: IdentityKind
    value: str = Field(..., min_length=1, max_length=255)
    verified: bool = False
    source: str = Field("api", max_length=50)


class AddressAddIn(Schema):
    model_config = STRICT_INPUT

    kind: AddressKind = AddressKind.SHIPPING
    line1: str = Field("", max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field("", max_length=120)
    region: str = Field("", max_length=120)
    postal_code: str = Field("", max_length=20)
    country: str = Field("", pattern=r"^([A-Z]{2})?$", description="Two-letter ISO 3166 code.")
    is_default: bool = False


# --- merges (docs/identity.md) --------------------------------------------------------


class MergePreviewIn(Schema):
    model_config = STRICT_INPUT

    other: str = Field(
        ...,
        min_length=1,
        max_length=40,
        description="Id of the profile to merge in; it goes, the one in the path stays.",
        examples=["cus_abc123"],
    )


class MergeIn(MergePreviewIn):
    reason: str = Field(
        ..., min_length=1, max_length=500, description="Why, for the audit log and history."
    )


class MergeReasonOut(Schema):
    code: str = Field(..., examples=["two_user_ids"])
    message: str


class MergeCountsOut(Schema):
    """Rows per table."""

    identities: int
    addresses: int
    orders: int
    reviews: int
    events: int


class FieldDifferenceOut(Schema):
    field: str
    primary: str
    secondary: str


class ConsentDifferenceOut(Schema):
    """``result``: what the merged profile keeps; a withdrawal on either side wins."""

    channel: ConsentChannel
    primary: ConsentStatus | None
    secondary: ConsentStatus | None
    result: ConsentStatus | None


class MergePreviewOut(Schema):
    """What a merge would do. ``allowed`` is false when ``reasons`` block it (409 on
    merge); ``warnings`` inform and do not block."""

    primary: str
    secondary: str
    allowed: bool
    reasons: list[MergeReasonOut]
    warnings: list[MergeReasonOut]
    counts: MergeCountsOut = Field(..., description="Rows that would move to the primary.")
    fields_filled: list[FieldDifferenceOut] = Field(
        ..., description="Fields empty on the primary that take the secondary's value."
    )
    field_conflicts: list[FieldDifferenceOut] = Field(
        ..., description="Fields both profiles fill differently; the primary's value stays."
    )
    consent: list[ConsentDifferenceOut]

    @staticmethod
    def resolve_primary(obj: Any) -> str:
        return obj.primary.public_id

    @staticmethod
    def resolve_secondary(obj: Any) -> str:
        return obj.secondary.public_id

    @staticmethod
    def resolve_reasons(obj: Any) -> list[dict[str, str]]:
        return [r.as_dict() for r in obj.reasons]

    @staticmethod
    def resolve_warnings(obj: Any) -> list[dict[str, str]]:
        return [r.as_dict() for r in obj.warnings]


def _counts(ids_per_table: dict[str, list[int]]) -> dict[str, int]:
    counts = {t: len(ids_per_table.get(t, [])) for t in MergeCountsOut.model_fields}
    counts["events"] += len(ids_per_table.get("later_events", []))
    return counts


class CustomerMergeOut(Schema):
    """One merge: who absorbed whom, why, what moved, and whether it was split since."""

    id: str
    primary: str
    secondary: str
    status: MergeStatus
    trigger: MergeTrigger
    reason: str
    matched_kind: str = Field(..., description="The identifier an automatic merge matched on.")
    matched_value: str
    moved: MergeCountsOut
    returned: MergeCountsOut | None = Field(
        ..., description="Rows a split gave back, including later events of the secondary."
    )
    merged_at: UtcDatetime
    merged_by: str
    split_at: UtcDatetime | None
    split_by: str

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return obj.public_id

    @staticmethod
    def resolve_primary(obj: Any) -> str:
        return obj.primary.public_id

    @staticmethod
    def resolve_secondary(obj: Any) -> str:
        return obj.secondary.public_id

    @staticmethod
    def resolve_moved(obj: Any) -> dict[str, int]:
        return _counts(obj.moved)

    @staticmethod
    def resolve_returned(obj: Any) -> dict[str, int] | None:
        return _counts(obj.returned) if obj.status == MergeStatus.SPLIT else None

    @staticmethod
    def resolve_merged_by(obj: Any) -> str:
        return obj.merged_by_label

    @staticmethod
    def resolve_split_by(obj: Any) -> str:
        return obj.split_by_label
