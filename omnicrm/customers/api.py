"""/api/v1/customers: profiles, the Customer 360 summary, consent and identities."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from omnicrm.core.api_errors import error_responses
from omnicrm.core.pagination import Page, paginate
from omnicrm.customers import selectors, services
from omnicrm.customers.models import Address, Consent, Customer, Identity
from omnicrm.customers.schemas import (
    AddressAddIn,
    AddressOut,
    ConsentOut,
    ConsentSetIn,
    CustomerCreateIn,
    CustomerListOut,
    CustomerListQuery,
    CustomerOut,
    CustomerUpdateIn,
    IdentityAddIn,
    IdentityOut,
)

router = Router(tags=["customers"])


def _detail(public_id: str) -> CustomerOut:
    customer = selectors.customer_profile(public_id=public_id)
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


@router.get("/{customer_id}", response={200: CustomerOut, **error_responses(404)})
def customer_retrieve(request: HttpRequest, customer_id: str) -> CustomerOut:
    """One profile with its Customer 360 summary, identities, addresses and consents."""
    return _detail(customer_id)


@router.post("", response={201: CustomerOut, **error_responses(409, 422)})
def customer_create(request: HttpRequest, payload: CustomerCreateIn) -> Status[CustomerOut]:
    """Create a profile; its email and phone become identities and must be free (409)."""
    data = payload.model_dump()
    data["timezone_name"] = data.pop("timezone")
    customer = services.customer_create(**data, source="api")
    return Status(201, _detail(customer.public_id))


@router.patch("/{customer_id}", response={200: CustomerOut, **error_responses(404, 409, 422)})
def customer_update(
    request: HttpRequest, customer_id: str, payload: CustomerUpdateIn
) -> CustomerOut:
    """Change the fields sent; a new email or phone is claimed as an identity."""
    customer = selectors.customer_get(public_id=customer_id)
    services.customer_update(customer=customer, data=payload.model_dump(exclude_unset=True))
    return _detail(customer_id)


@router.delete("/{customer_id}", response={200: CustomerOut, **error_responses(404)})
def customer_erase(request: HttpRequest, customer_id: str) -> CustomerOut:
    """Right to erasure: personal data is removed, orders stay anonymous. Returns the
    erased profile; erasing twice is harmless."""
    customer: Customer = selectors.customer_get(public_id=customer_id)
    services.customer_erase(customer=customer)
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
    address = services.address_add(customer=customer, data=payload.model_dump())
    return Status(201, address)
