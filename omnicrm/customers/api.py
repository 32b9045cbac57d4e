"""/api/v1/customers: profiles, the Customer 360 summary, consent and identities."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from omnicrm.core.api_auth import actor_label
from omnicrm.core.api_errors import error_responses
from omnicrm.core.pagination import CursorQuery, Page, paginate
from omnicrm.customers import merge, selectors, services
from omnicrm.customers.models import Address, Consent, Customer, CustomerMerge, Identity
from omnicrm.customers.schemas import (
    AddressAddIn,
    AddressOut,
    ConsentOut,
    ConsentSetIn,
    CustomerCreateIn,
    CustomerListOut,
    CustomerListQuery,
    CustomerMergeOut,
    CustomerOut,
    CustomerUpdateIn,
    IdentityAddIn,
    IdentityOut,
    MergeIn,
    MergePreviewIn,
    MergePreviewOut,
)

router = Router(tags=["customers"])


def _detail(public_id: str, *, live: bool = False) -> CustomerOut:
    customer = selectors.customer_profile(public_id=public_id)
    if live:
        services.customer_ensure_live(customer)
    summary = selectors.customer_summary(customer=customer)
    return CustomerOut.from_orm(customer, context={"summary": summary})


@router.get("", response={200: Page[CustomerListOut], **error_responses(422)})
def customer_list(request: HttpRequest, query: Query[CustomerListQuery]) -> dict:
    """Customers newest first; `q` searches name, email, phone and identities."""
    qs = selectors.customer_list(search=query.q, country=query.country)
    page = paginate(
        qs, cursor=query.cursor, limit=query.limit, ordering=("-id",), namespace="customers"
    )
    return page.as_response()


@router.get("/{customer_id}", response={200: CustomerOut, **error_responses(404, 409)})
def customer_retrieve(request: HttpRequest, customer_id: str) -> CustomerOut:
    """One profile with its Customer 360 summary, identities, addresses and consents.
    A profile merged into another answers 409 `customer_merged` with `merged_into`."""
    return _detail(customer_id, live=True)


@router.post("", response={201: CustomerOut, **error_responses(409, 422)})
def customer_create(request: HttpRequest, payload: CustomerCreateIn) -> Status[CustomerOut]:
    """Create a profile; its email and phone become identities and must be free (409)."""
    data = payload.model_dump()
    data["timezone_name"] = data.pop("timezone")
    customer = services.customer_create(**data, source="api", actor_label=actor_label(request))
    return Status(201, _detail(customer.public_id))


@router.patch("/{customer_id}", response={200: CustomerOut, **error_responses(404, 409, 422)})
def customer_update(
    request: HttpRequest, customer_id: str, payload: CustomerUpdateIn
) -> CustomerOut:
    """Change the fields sent; a new email or phone is claimed as an identity."""
    customer = selectors.customer_get(public_id=customer_id)
    services.customer_update(
        customer=customer,
        data=payload.model_dump(exclude_unset=True),
        actor_label=actor_label(request),
    )
    return _detail(customer_id)


@router.delete("/{customer_id}", response={200: CustomerOut, **error_responses(404, 409)})
def customer_erase(request: HttpRequest, customer_id: str) -> CustomerOut:
    """Right to erasure: personal data is removed, orders stay anonymous. Returns the
    erased profile; erasing twice is harmless. Profiles merged into it are erased too."""
    customer: Customer = selectors.customer_get(public_id=customer_id)
    services.customer_ensure_live(customer)
    services.customer_erase(customer=customer, actor_label=actor_label(request))
    return _detail(customer_id)


@router.post("/{customer_id}/consents", response={200: ConsentOut, **error_responses(404, 422)})
def customer_consent_set(request: HttpRequest, customer_id: str, payload: ConsentSetIn) -> Consent:
    """Record a consent decision for one channel; the history keeps every change."""
    customer = selectors.customer_get(public_id=customer_id)
    return services.consent_set(
        customer=customer,
        channel=payload.channel,
        status=payload.status,
        source=payload.source,
        occurred_at=payload.occurred_at,
        actor_label=actor_label(request),
    )


@router.post(
    "/{customer_id}/identities", response={201: IdentityOut, **error_responses(404, 409, 422)}
)
def customer_identity_add(
    request: HttpRequest, customer_id: str, payload: IdentityAddIn
) -> Status[Identity]:
    """Attach an identifier (email, phone, device, loyalty card...); 409 if another
    customer holds it."""
    customer = selectors.customer_get(public_id=customer_id)
    identity = services.identity_add(
        customer=customer,
        kind=payload.kind,
        value=payload.value,
        verified=payload.verified,
        source=payload.source,
        actor_label=actor_label(request),
    )
    return Status(201, identity)


@router.post(
    "/{customer_id}/addresses", response={201: AddressOut, **error_responses(404, 409, 422)}
)
def customer_address_add(
    request: HttpRequest, customer_id: str, payload: AddressAddIn
) -> Status[Address]:
    """Add a postal address; a new default replaces the previous default of its kind."""
    customer = selectors.customer_get(public_id=customer_id)
    address = services.address_add(
        customer=customer, data=payload.model_dump(), actor_label=actor_label(request)
    )
    return Status(201, address)


@router.post(
    "/merges/{merge_id}/split", response={200: CustomerMergeOut, **error_responses(404, 409)}
)
def customer_merge_split(request: HttpRequest, merge_id: str) -> CustomerMerge:
    """Undo a merge: the moved rows, identities, fields and consents go back (see
    docs/identity.md). 409 `already_split` the second time."""
    record = merge.customer_merge_get(public_id=merge_id)
    return merge.customer_split(merge=record, actor_label=actor_label(request))


@router.post(
    "/{customer_id}/merge-preview",
    response={200: MergePreviewOut, **error_responses(404, 409, 422)},
)
def customer_merge_preview(
    request: HttpRequest, customer_id: str, payload: MergePreviewIn
) -> merge.MergePreview:
    """What merging `other` into this profile would move and change, and whether the merge
    rules allow it (`allowed`, `reasons`). Changes nothing."""
    primary = selectors.customer_get(public_id=customer_id)
    secondary = selectors.customer_get(public_id=payload.other)
    return merge.customer_merge_preview(primary=primary, secondary=secondary)


@router.post(
    "/{customer_id}/merge", response={201: CustomerMergeOut, **error_responses(404, 409, 422)}
)
def customer_merge(
    request: HttpRequest, customer_id: str, payload: MergeIn
) -> Status[CustomerMerge]:
    """Merge `other` into this profile: its identities, addresses, orders, reviews and
    events move here; its consent stays its own. 409 `merge_blocked` with `reasons` when
    a rule refuses, 409 `customer_merged` when either was merged already, 422 `self_merge`."""
    primary = selectors.customer_get(public_id=customer_id)
    secondary = selectors.customer_get(public_id=payload.other)
    record = merge.customer_merge(
        primary=primary,
        secondary=secondary,
        reason=payload.reason,
        actor_label=actor_label(request),
    )
    return Status(201, merge.customer_merge_get(public_id=record.public_id))


@router.get(
    "/{customer_id}/merges", response={200: Page[CustomerMergeOut], **error_responses(404, 422)}
)
def customer_merge_list(request: HttpRequest, customer_id: str, query: Query[CursorQuery]) -> dict:
    """Merges this profile took part in, as primary or secondary, newest first; a merged
    profile's id works here too."""
    customer = selectors.customer_get(public_id=customer_id)
    qs = merge.customer_merge_history(customer=customer)
    page = paginate(
        qs, cursor=query.cursor, limit=query.limit, ordering=("-id",), namespace="merges"
    )
    return page.as_response()
