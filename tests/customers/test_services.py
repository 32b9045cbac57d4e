from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from omnicrm.core.errors import Conflict, ValidationFailed
from omnicrm.core.models import AuditLog
from omnicrm.customers import selectors, services
from omnicrm.customers.models import ConsentEvent, Identity
from tests.factories import OrderFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def test_customer_create_claims_normalized_email_and_phone_identities():
    customer = services.customer_create(
        name="Đặng Lưu Hà", email="  Ha.Dang@Example.COM ", phone="+84 (912) 345-678"
    )

    assert customer.public_id.startswith("cus_")
    assert customer.email == "ha.dang@example.com"
    assert sorted(customer.identities.values_list("kind", "value")) == [
        ("email", "ha.dang@example.com"),
        ("phone", "+84912345678"),
    ]
    assert (
        AuditLog.objects.filter(action="customer.create", object_id=customer.public_id).count() == 1
    )


def test_customer_create_refuses_an_email_that_belongs_to_someone_else():
    services.customer_create(name="A", email="a@example.com")

    with pytest.raises(Conflict) as err:
        services.customer_create(name="B", email="A@example.com")

    assert err.value.field == "email"
    assert Identity.objects.filter(value="a@example.com").count() == 1


def test_customer_create_names_the_bad_field():
    with pytest.raises(ValidationFailed) as err:
        services.customer_create(name="A", email="not-an-email")
    assert err.value.field == "email"

    with pytest.raises(ValidationFailed) as err:
        services.customer_create(name="A", country="Vietnam")
    assert err.value.field == "country"


def test_customer_erase_removes_personal_data_but_keeps_orders():
    customer = services.customer_create(name="Hà", email="ha@example.com", phone="0912345678")
    OrderFactory(customer=customer, total=Decimal("30.00"))
    ReviewFactory(customer=customer, body="My address is 1 Hang Bac")
    services.consent_set(customer=customer, channel="email", status="granted", source="web")

    services.customer_erase(customer=customer)

    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.phone) == ("", "", "")
    assert customer.erased_at is not None
    assert customer.identities.count() == 0
    assert customer.consents.count() == 0
    assert customer.orders.count() == 1
    assert customer.reviews.get().body == ""


def test_consent_history_keeps_every_change():
    customer = services.customer_create(name="Hà")

    services.consent_set(customer=customer, channel="email", status="granted", source="signup")
    services.consent_set(customer=customer, channel="email", status="withdrawn", source="unsub")

    assert customer.consents.get(channel="email").status == "withdrawn"
    assert list(
        ConsentEvent.objects.filter(customer=customer)
        .order_by("id")
        .values_list("status", "source")
    ) == [("granted", "signup"), ("withdrawn", "unsub")]


def test_customer_summary_counts_revenue_of_kept_orders_only():
    customer = services.customer_create(name="Hà")
    OrderFactory(customer=customer, total=Decimal("10.00"), status="delivered")
    OrderFactory(customer=customer, total=Decimal("25.50"), status="shipped")
    OrderFactory(customer=customer, total=Decimal("99.00"), status="canceled")

    summary = selectors.customer_summary(customer=customer)

    assert summary.order_count == 3
    assert summary.revenue_order_count == 2
    assert summary.lifetime_revenue == Decimal("35.50")
    assert summary.average_order_value == Decimal("17.75")
    assert summary.currency == "USD"


def test_customer_list_search_matches_name_email_phone_and_identity():
    ha = services.customer_create(name="Đặng Lưu Hà", email="ha@example.com", phone="0912345678")
    services.identity_add(customer=ha, kind="loyalty_card", value="LC-7788")
    services.customer_create(name="Bob", email="bob@example.com")

    for term in ["Lưu", "HA@EXAMPLE", "912345", "lc-7788", ha.public_id]:
        assert [c.pk for c in selectors.customer_list(search=term)] == [ha.pk], term


def test_the_database_refuses_a_second_identity_with_the_same_kind_and_value():
    """The last line of defence when two writers claim the same email at once; on
    PostgreSQL its index also carries customer_id, for index-only lookups."""
    one = services.customer_create(name="One", email="same@example.com")
    other = services.customer_create(name="Other")

    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(customer=other, kind="email", value="same@example.com")

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'identity_kind_value_unique'"
            )
            assert cursor.fetchone()[0].endswith("(kind, value) INCLUDE (customer_id)")
    assert one.identities.get(kind="email").value == "same@example.com"
