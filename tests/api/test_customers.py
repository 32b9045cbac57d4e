from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omnicrm.core.models import ApiKey, AuditLog
from omnicrm.customers import services
from omnicrm.customers.models import ConsentEvent, Customer, Identity
from omnicrm.orders.models import OrderStatus
from tests.api.conftest import ApiClient, error_fields
from tests.factories import CustomerFactory, OrderFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def test_create_returns_the_new_profile_with_identities_and_an_empty_summary(api):
    response = api.post(
        "/customers",
        {
            "name": "Đặng Lưu Hà",
            "email": " Ha.Dang@Example.com ",
            "phone": "+84 912 345 678",
            "language": "vi",
            "timezone": "Asia/Ho_Chi_Minh",
            "country": "vn",
            "city": "Hà Nội",
        },
    )

    assert response.status_code == 201
    body = response.json()
    customer = Customer.objects.get()
    assert body["id"] == customer.public_id
    assert body["id"].startswith("cus_")
    assert {
        k: body[k]
        for k in ("name", "email", "phone", "language", "timezone", "country", "city", "erased_at")
    } == {
        "name": "Đặng Lưu Hà",
        "email": "ha.dang@example.com",
        "phone": "+84912345678",
        "language": "vi",
        "timezone": "Asia/Ho_Chi_Minh",
        "country": "VN",
        "city": "Hà Nội",
        "erased_at": None,
    }
    assert body["created_at"].endswith("Z")
    assert [(i["kind"], i["value"], i["source"]) for i in body["identities"]] == [
        ("email", "ha.dang@example.com", "api"),
        ("phone", "+84912345678", "api"),
    ]
    assert body["summary"] == {
        "order_count": 0,
        "revenue_order_count": 0,
        "lifetime_revenue": "0.00",
        "average_order_value": "0.00",
        "currency": "",
        "first_order_at": None,
        "last_order_at": None,
    }
    assert body["addresses"] == [] and body["consents"] == []
    assert "pk" not in body and not isinstance(body["id"], int)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"country": "Vietnam"}, "country"),
        ({"name": 42}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"nickname": "Hà"}, "nickname"),
    ],
)
def test_create_with_a_bad_field_is_422_naming_it(api, body, field):
    response = api.post("/customers", body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error_fields(response) == [field]
    assert Customer.objects.count() == 0


def test_unknown_field_message_says_so(api):
    response = api.post("/customers", {"nickname": "Hà"})

    assert response.json()["error"]["fields"] == [{"field": "nickname", "message": "unknown field"}]


def test_invalid_json_is_400(api):
    response = api.post("/customers", "{not json")

    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid_json", "message": "the request body is not valid JSON"}
    }


def test_create_with_an_email_someone_else_has_is_409(api):
    other = services.customer_create(name="A", email="a@example.com")

    response = api.post("/customers", {"name": "B", "email": "A@example.com"})

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": f"email a@example.com already belongs to customer {other.public_id}",
        "field": "email",
        "customer": other.public_id,
    }


def test_list_searches_name_email_phone_and_filters_by_country(api):
    ha = services.customer_create(
        name="Đặng Lưu Hà", email="ha@example.com", phone="0912345678", country="VN"
    )
    bob = services.customer_create(name="Bob Stone", email="bob@shop.test", country="US")
    erased = services.customer_create(name="Hà Erased", email="gone@example.com", country="VN")
    services.customer_erase(customer=erased)

    def ids(params):
        response = api.get("/customers", params)
        assert response.status_code == 200
        return [row["id"] for row in response.json()["data"]]

    assert ids({}) == [bob.public_id, ha.public_id]
    assert ids({"q": "lưu"}) == [ha.public_id]
    assert ids({"q": "shop.test"}) == [bob.public_id]
    assert ids({"q": "912345"}) == [ha.public_id]
    assert ids({"country": "us"}) == [bob.public_id]
    assert ids({"q": "nobody"}) == []


def test_list_rows_carry_order_count_and_last_order(api):
    customer = CustomerFactory()
    OrderFactory(customer=customer, placed_at=datetime(2025, 1, 2, 8, 0, tzinfo=UTC))
    OrderFactory(customer=customer, placed_at=datetime(2025, 3, 4, 9, 30, tzinfo=UTC))
    lonely = CustomerFactory()

    rows = {r["id"]: r for r in api.get("/customers").json()["data"]}

    assert rows[customer.public_id]["order_count"] == 2
    assert rows[customer.public_id]["last_order_at"] == "2025-03-04T09:30:00Z"
    assert rows[lonely.public_id]["order_count"] == 0
    assert rows[lonely.public_id]["last_order_at"] is None


def test_retrieve_has_the_customer_360_summary(api):
    customer = services.customer_create(name="Hà", email="ha@example.com")
    for day, total, status in [
        (1, "20.00", OrderStatus.DELIVERED),
        (5, "40.00", OrderStatus.SHIPPED),
        (9, "99.00", OrderStatus.CANCELED),
    ]:
        OrderFactory(
            customer=customer,
            total=Decimal(total),
            status=status,
            placed_at=datetime(2025, 2, day, 10, 0, tzinfo=UTC),
        )
    services.consent_set(
        customer=customer,
        channel="email",
        status="granted",
        source="web",
        occurred_at=datetime(2025, 2, 1, tzinfo=UTC),
    )
    services.address_add(
        customer=customer,
        data={"line1": "1 Hàng Bạc", "city": "Hà Nội", "country": "VN", "is_default": True},
    )

    response = api.get(f"/customers/{customer.public_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == {
        "order_count": 3,
        "revenue_order_count": 2,
        "lifetime_revenue": "60.00",
        "average_order_value": "30.00",
        "currency": "USD",
        "first_order_at": "2025-02-01T10:00:00Z",
        "last_order_at": "2025-02-09T10:00:00Z",
    }
    assert body["consents"] == [
        {"channel": "email", "status": "granted", "changed_at": "2025-02-01T00:00:00Z"}
    ]
    assert body["addresses"] == [
        {
            "kind": "shipping",
            "line1": "1 Hàng Bạc",
            "line2": "",
            "city": "Hà Nội",
            "region": "",
            "postal_code": "",
            "country": "VN",
            "is_default": True,
        }
    ]
    assert [(i["kind"], i["value"]) for i in body["identities"]] == [("email", "ha@example.com")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/customers/cus_doesnotexist", None),
        ("patch", "/customers/cus_doesnotexist", {"name": "x"}),
        ("delete", "/customers/cus_doesnotexist", None),
        ("post", "/customers/cus_doesnotexist/consents", {"channel": "email", "status": "granted"}),
        ("post", "/customers/cus_doesnotexist/identities", {"kind": "device", "value": "d1"}),
        ("post", "/customers/cus_doesnotexist/addresses", {"city": "Hanoi"}),
    ],
)
def test_unknown_customer_id_is_404(api, method, path, body):
    args = (path,) if body is None else (path, body)

    response = getattr(api, method)(*args)

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "no customer with id cus_doesnotexist",
            "field": "id",
        }
    }


def test_patch_changes_only_the_fields_sent_and_claims_a_new_phone(api):
    customer = services.customer_create(
        name="Hà", email="ha@example.com", city="Hanoi", country="VN"
    )

    response = api.patch(
        f"/customers/{customer.public_id}", {"phone": "0912 345 678", "city": None}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["email"], body["phone"], body["city"], body["country"]) == (
        "Hà",
        "ha@example.com",
        "0912345678",
        "",
        "VN",
    )
    assert sorted(customer.identities.values_list("kind", "value")) == [
        ("email", "ha@example.com"),
        ("phone", "0912345678"),
    ]
    audit = AuditLog.objects.get(action="customer.update")
    assert audit.data == {"fields": ["city", "phone"]}


def test_patch_with_a_bad_value_is_422_and_changes_nothing(api):
    customer = services.customer_create(name="Hà", email="ha@example.com")

    bad_email = api.patch(f"/customers/{customer.public_id}", {"email": "nope"})
    bad_type = api.patch(f"/customers/{customer.public_id}", {"name": ["Hà"]})

    assert (bad_email.status_code, error_fields(bad_email)) == (422, ["email"])
    assert (bad_type.status_code, error_fields(bad_type)) == (422, ["name"])
    customer.refresh_from_db()
    assert customer.email == "ha@example.com"


def test_delete_erases_personal_data_keeps_orders_and_is_repeatable(api):
    customer = services.customer_create(name="Hà", email="ha@example.com", phone="0912345678")
    OrderFactory(customer=customer, total=Decimal("30.00"))
    ReviewFactory(customer=customer, body="I live at 1 Hàng Bạc")
    services.consent_set(customer=customer, channel="email", status="granted")

    response = api.delete(f"/customers/{customer.public_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == customer.public_id
    assert (body["name"], body["email"], body["phone"]) == ("", "", "")
    assert body["erased_at"] is not None
    assert body["identities"] == [] and body["consents"] == []
    assert body["summary"]["order_count"] == 1
    assert ConsentEvent.objects.filter(customer=customer).count() == 0
    assert api.delete(f"/customers/{customer.public_id}").json()["erased_at"] == body["erased_at"]
    assert api.get("/customers").json()["data"] == []
    patch = api.patch(f"/customers/{customer.public_id}", {"name": "Back"})
    assert patch.status_code == 409
    assert patch.json()["error"]["code"] == "conflict"


def test_set_consent_records_history(api):
    customer = CustomerFactory()

    response = api.post(
        f"/customers/{customer.public_id}/consents",
        {
            "channel": "email",
            "status": "withdrawn",
            "source": "unsubscribe link",
            "occurred_at": "2025-04-01T12:00:00+07:00",
        },
    )

    assert response.status_code == 200
    assert response.json() == {
        "channel": "email",
        "status": "withdrawn",
        "changed_at": "2025-04-01T05:00:00Z",
    }
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.channel, event.status, event.source) == ("email", "withdrawn", "unsubscribe link")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "pigeon", "status": "granted"}, "channel"),
        ({"channel": "email", "status": "maybe"}, "status"),
        (
            {"channel": "email", "status": "granted", "occurred_at": "2025-04-01T12:00:00"},
            "occurred_at",
        ),
        ({"status": "granted"}, "channel"),
    ],
)
def test_set_consent_with_a_bad_field_is_422(api, body, field):
    customer = CustomerFactory()

    response = api.post(f"/customers/{customer.public_id}/consents", body)

    assert response.status_code == 422
    assert error_fields(response) == [field]


def test_add_identity_and_conflict_with_another_customer(api):
    first, second = CustomerFactory(), CustomerFactory()

    added = api.post(
        f"/customers/{first.public_id}/identities",
        {"kind": "loyalty_card", "value": " LC-0042 ", "verified": True},
    )
    clash = api.post(
        f"/customers/{second.public_id}/identities", {"kind": "loyalty_card", "value": "LC-0042"}
    )
    bad_kind = api.post(
        f"/customers/{second.public_id}/identities", {"kind": "passport", "value": "X"}
    )

    assert added.status_code == 201
    assert {k: added.json()[k] for k in ("kind", "value", "verified", "source")} == {
        "kind": "loyalty_card",
        "value": "LC-0042",
        "verified": True,
        "source": "api",
    }
    assert clash.status_code == 409
    assert clash.json()["error"]["field"] == "loyalty_card"
    assert (bad_kind.status_code, error_fields(bad_kind)) == (422, ["kind"])
    assert Identity.objects.filter(kind="loyalty_card").count() == 1


def test_add_address(api):
    customer = CustomerFactory()

    added = api.post(
        f"/customers/{customer.public_id}/addresses",
        {
            "kind": "billing",
            "line1": "2 Tràng Tiền",
            "city": "Hà Nội",
            "country": "VN",
            "is_default": True,
        },
    )
    bad = api.post(f"/customers/{customer.public_id}/addresses", {"country": "vn"})

    assert added.status_code == 201
    assert added.json() == {
        "kind": "billing",
        "line1": "2 Tràng Tiền",
        "line2": "",
        "city": "Hà Nội",
        "region": "",
        "postal_code": "",
        "country": "VN",
        "is_default": True,
    }
    assert (bad.status_code, error_fields(bad)) == (422, ["country"])


def test_list_query_count_does_not_grow_with_rows(api, django_assert_max_num_queries):
    for _ in range(30):
        OrderFactory(customer=CustomerFactory())
    api.get("/customers")  # the first request also stamps the key's last_used_at

    with django_assert_max_num_queries(2):
        response = api.get("/customers", {"limit": 30})

    assert len(response.json()["data"]) == 30


def test_retrieve_query_count_is_fixed(api, django_assert_max_num_queries):
    customer = CustomerFactory()
    for _ in range(5):
        OrderFactory(customer=customer)
    for kind, value in [("device", "d1"), ("device", "d2"), ("anonymous", "a1")]:
        services.identity_add(customer=customer, kind=kind, value=value)
    api.get("/customers")

    # key, profile, identities, addresses, consents, order totals, revenue by currency
    with django_assert_max_num_queries(7):
        response = api.get(f"/customers/{customer.public_id}")

    assert len(response.json()["identities"]) == 3


def test_every_customer_change_through_the_api_is_audited_under_the_key(client, make_key):
    """Who erased a profile, or changed a consent, must be answerable from the audit log:
    the key's prefix and name, never "system" and never the secret."""
    raw = make_key("read,write", name="shop backend")
    api = ApiClient(client, raw)
    created = api.post("/customers", {"name": "Hà", "email": "ha@example.com"}).json()
    path = f"/customers/{created['id']}"
    api.patch(path, {"city": "Huế"})
    api.post(f"{path}/consents", {"channel": "email", "status": "granted"})
    api.post(f"{path}/identities", {"kind": "loyalty_card", "value": "LC-1"})
    api.post(f"{path}/addresses", {"kind": "shipping", "line1": "1 Lê Lợi", "country": "VN"})
    api.delete(path)

    key = ApiKey.objects.get(name="shop backend")
    labels = dict(
        AuditLog.objects.filter(object_id=created["id"]).values_list("action", "actor_label")
    )
    assert labels == dict.fromkeys(
        [
            "customer.create",
            "customer.update",
            "consent.set",
            "identity.add",
            "address.add",
            "customer.erase",
        ],
        f"api_key:{key.prefix} (shop backend)",
    )
    assert not any(raw in label for label in labels.values())
