"""`--kind customers`: one row per customer, matched on external_id and/or email.

A blank cell leaves the stored value alone; a filled one sets it. The email, phone and
external id become identities of the customer (the same rules as `customer_create`): an
identity that already belongs to another customer rejects the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.customers.models import (
    Address,
    AddressKind,
    Consent,
    ConsentChannel,
    ConsentEvent,
    ConsentStatus,
    Customer,
    Identity,
    IdentityKind,
)
from omnicrm.importers.bulk import BulkTable, fetch_by, lookup, sync
from omnicrm.importers.generic import fields as f
from omnicrm.importers.generic.rows import CsvFile, CsvImportResult, import_rows

COLUMNS = (
    "external_id",
    "email",
    "name",
    "phone",
    "language",
    "timezone",
    "country",
    "city",
    "region",
    "postal_code",
    "address_line1",
    "address_line2",
    "first_seen_at",
    "marketing_consent",
    "marketing_consent_at",
)
REQUIRED: tuple[str, ...] = ()
CONSENT_VALUES = frozenset({ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN})
SOURCE = "csv import"

PROFILE = ("name", "email", "phone", "language", "timezone", "country", "city", "first_seen_at")
ADDRESS = ("line1", "line2", "city", "region", "postal_code", "country")


@dataclass
class CustomerRow:
    """A validated row; None means "cell was blank, leave the value alone"."""

    line: int
    external_id: str | None
    email: str | None
    profile: dict[str, Any]
    address: dict[str, str]
    consent: str | None
    consent_at: datetime | None


def parse(line: int, cell: list[str], col: dict[str, int]) -> CustomerRow:
    external_id = f.text(cell[col["external_id"]], "external_id", 255) or None
    raw_email = cell[col["email"]].strip()
    email = f.email(raw_email, "email") if raw_email else None
    if external_id is None and email is None:
        raise f.BadCell("email", _("give an email or an external_id to identify the customer"))
    profile: dict[str, Any] = {}
    if email:
        profile["email"] = email
    if value := f.text(cell[col["name"]], "name", 200):
        profile["name"] = value
    if value := cell[col["phone"]].strip():
        profile["phone"] = f.phone(value, "phone")
    if value := cell[col["language"]].strip():
        profile["language"] = f.language(value, "language")
    if value := cell[col["timezone"]].strip():
        profile["timezone"] = f.timezone_name(value, "timezone")
    if value := cell[col["country"]].strip():
        profile["country"] = f.country(value, "country")
    if value := f.text(cell[col["city"]], "city", 120):
        profile["city"] = value
    if value := cell[col["first_seen_at"]].strip():
        profile["first_seen_at"] = f.moment(value, "first_seen_at")
    address: dict[str, str] = {}
    for column, key, limit in (
        ("address_line1", "line1", 200),
        ("address_line2", "line2", 200),
        ("region", "region", 120),
        ("postal_code", "postal_code", 20),
    ):
        if value := f.text(cell[col[column]], column, limit):
            address[key] = value
    if address:
        for key in ("city", "country"):
            if key in profile:
                address[key] = profile[key]
    consent = None
    if value := cell[col["marketing_consent"]].strip():
        consent = f.choice(value, "marketing_consent", CONSENT_VALUES)
    consent_at = None
    if value := cell[col["marketing_consent_at"]].strip():
        if consent is None:
            raise f.BadCell("marketing_consent_at", _("needs marketing_consent"))
        consent_at = f.moment(value, "marketing_consent_at")
    return CustomerRow(line, external_id, email, profile, address, consent, consent_at)


class CustomerWriter:
    """Applies batches of validated customer rows."""

    def __init__(self, result: CsvImportResult):
        self.result = result
        self.customers = BulkTable(Customer, PROFILE)
        self.identities = BulkTable(
            Identity, ["customer_id", "kind", "value", "verified", "source"]
        )
        self.addresses = BulkTable(Address, ["customer_id", "kind", "is_default", *ADDRESS])
        self.consents = BulkTable(Consent, ["customer_id", "channel", "status", "changed_at"])
        self.consent_events = BulkTable(
            ConsentEvent, ["customer_id", "channel", "status", "source", "occurred_at"]
        )

    def apply(self, rows: list[CustomerRow]) -> None:
        owners = identity_owners(
            externals=(r.external_id for r in rows if r.external_id),
            emails=(r.email for r in rows if r.email),
            phones=(r.profile["phone"] for r in rows if "phone" in r.profile),
        )
        accepted: list[tuple[CustomerRow, int | None]] = []
        lines_of: dict[Any, int] = {}
        for row in rows:
            try:
                pk = self._owner(row, owners)
                # Two rows reaching one customer through different keys, or two new
                # customers giving the same phone, cannot both be applied.
                keys: list[Any] = [("customer", pk)] if pk else []
                if (
                    "phone" in row.profile
                    and (IdentityKind.PHONE, row.profile["phone"]) not in owners
                ):
                    keys.append(("phone", row.profile["phone"]))
                for key in keys:
                    if key in lines_of:
                        name = (
                            "phone"
                            if key[0] == "phone"
                            else ("external_id" if row.external_id else "email")
                        )
                        raise f.BadCell(
                            name, _("same customer as line %(line)d") % {"line": lines_of[key]}
                        )
                for key in keys:
                    lines_of[key] = row.line
                accepted.append((row, pk))
            except f.BadCell as bad:
                self.result.reject(row.line, bad.field, bad.reason)
        current = {
            r[0]: r[1:]
            for r in fetch_by(Customer, "pk", [pk for _row, pk in accepted if pk], ("pk", *PROFILE))
        }
        desired: dict[Any, tuple[Any, ...]] = {}
        existing: dict[Any, tuple[int, tuple[Any, ...]]] = {}
        for row, pk in accepted:
            if pk is None:
                values: dict[str, Any] = dict.fromkeys(PROFILE, "")
                values["first_seen_at"] = None
                values.update(row.profile)
                desired[row.line] = tuple(values[k] for k in PROFILE)
                continue
            stored = current[pk]
            existing[row.line] = (pk, tuple(stored))
            merged = dict(zip(PROFILE, stored, strict=True))
            merged.update(row.profile)
            if stored[PROFILE.index("first_seen_at")] and "first_seen_at" in row.profile:
                merged["first_seen_at"] = min(
                    stored[PROFILE.index("first_seen_at")], row.profile["first_seen_at"]
                )
            desired[row.line] = tuple(merged[k] for k in PROFILE)
        pks, counts = sync(self.customers, desired, existing)
        self.result.count("customers", created=counts.created, updated=counts.updated)

        new_identities = []
        for row, _pk in accepted:
            pk = pks[row.line]
            for kind, value in (
                (IdentityKind.EXTERNAL, row.external_id),
                (IdentityKind.EMAIL, row.email),
                (IdentityKind.PHONE, row.profile.get("phone")),
            ):
                if value and (kind, value) not in owners:
                    owners[(kind, value)] = pk
                    new_identities.append((pk, kind, value, False, SOURCE))
        self.identities.insert(new_identities)
        self.result.count("identities", created=len(new_identities))
        self._addresses([(row, pks[row.line]) for row, _pk in accepted if row.address])
        self._consents([(row, pks[row.line]) for row, _pk in accepted if row.consent])
        self.result.applied += len(accepted)

    def _owner(self, row: CustomerRow, owners: dict[tuple[str, str], int]) -> int | None:
        by_external = (
            owners.get((IdentityKind.EXTERNAL, row.external_id)) if row.external_id else None
        )
        by_email = owners.get((IdentityKind.EMAIL, row.email)) if row.email else None
        if by_external and by_email and by_external != by_email:
            raise f.BadCell(
                "email",
                _("%(email)s belongs to another customer than external_id %(external)s")
                % {"email": row.email, "external": row.external_id},
            )
        pk = by_external or by_email
        phone = row.profile.get("phone")
        if phone:
            holder = owners.get((IdentityKind.PHONE, phone))
            if holder is not None and holder != pk:
                raise f.BadCell(
                    "phone", _("%(phone)s belongs to another customer") % {"phone": phone}
                )
        return pk

    def _addresses(self, rows: list[tuple[CustomerRow, int]]) -> None:
        """The address columns describe the customer's default shipping address."""
        if not rows:
            return
        columns = self.addresses.columns
        found = fetch_by(
            Address,
            "customer_id",
            [pk for _row, pk in rows],
            ("pk", *columns),
            kind=AddressKind.SHIPPING,
            is_default=True,
        )
        existing = {r[1]: (r[0], r[1:]) for r in found}
        desired = {}
        for row, pk in rows:
            if pk in existing:
                values = dict(zip(columns, existing[pk][1], strict=True))
            else:
                values = dict.fromkeys(ADDRESS, "")
                values.update(customer_id=pk, kind=AddressKind.SHIPPING, is_default=True)
            values.update(row.address)
            desired[pk] = tuple(values[c] for c in columns)
        _pks, counts = sync(self.addresses, desired, existing)
        self.result.count("addresses", created=counts.created, updated=counts.updated)

    def _consents(self, rows: list[tuple[CustomerRow, int]]) -> None:
        if not rows:
            return
        found = fetch_by(
            Consent,
            "customer_id",
            [pk for _row, pk in rows],
            ("pk", "customer_id", "status", "changed_at"),
            channel=ConsentChannel.EMAIL,
        )
        existing = {r[1]: (r[0], (r[1], ConsentChannel.EMAIL, r[2], r[3])) for r in found}
        now = timezone.now()
        desired = {}
        events = []
        for row, pk in rows:
            if pk in existing and existing[pk][1][2] == row.consent:
                desired[pk] = existing[pk][1]
                continue
            when = row.consent_at or now
            desired[pk] = (pk, ConsentChannel.EMAIL, row.consent, when)
            events.append((pk, ConsentChannel.EMAIL, row.consent, SOURCE, when))
        _pks, counts = sync(self.consents, desired, existing)
        self.consent_events.insert(events)
        self.result.count("consents", created=counts.created, updated=counts.updated)


def identity_owners(
    *, externals: Iterable[str] = (), emails: Iterable[str] = (), phones: Iterable[str] = ()
) -> dict[tuple[str, str], int]:
    """(kind, value) -> customer pk for the identities that exist among those given."""
    owners: dict[tuple[str, str], int] = {}
    for kind, values in (
        (IdentityKind.EXTERNAL, externals),
        (IdentityKind.EMAIL, emails),
        (IdentityKind.PHONE, phones),
    ):
        for value, pk in lookup(Identity, "value", values, ("value", "customer_id"), kind=kind):
            owners[(kind, value)] = pk
    return owners


def import_customers(
    csv_file: CsvFile, result: CsvImportResult, *, batch_size: int, progress: bool, threaded: bool
) -> None:
    import_rows(
        csv_file,
        result,
        label=_("customers"),
        duplicate=_("same customer as line %(line)d"),
        parse=parse,
        keys=lambda row: [
            (k, v) for k, v in (("external_id", row.external_id), ("email", row.email)) if v
        ],
        make_writer=CustomerWriter,
        batch_size=batch_size,
        progress=progress,
        threaded=threaded,
    )
