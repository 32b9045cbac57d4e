"""Processing stored events: identity, consent, e-commerce events, retries and the sweep.

Events go in through the real HTTP endpoint; processing runs as the queued task would,
inline after the commit (ImmediateBackend)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omnicrm.customers.models import ConsentStatus, Customer, Identity
from omnicrm.events import processing, selectors, tasks
from omnicrm.events.models import Event
from omnicrm.events.services import events_assign, events_repoint
from omnicrm.orders.models import Order, OrderStatus
from tests.events.conftest import track
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("immediate_tasks")]

T1 = "2026-03-01T10:00:00Z"
T2 = "2026-03-02T09:30:00Z"


@pytest.fixture
def send(tracker, django_capture_on_commit_callbacks):
    """POST a batch and run what its commit queued (the processing task)."""

    def post(*messages):
        with django_capture_on_commit_callbacks(execute=True):
            response = tracker.post("/v1/batch", {"batch": list(messages)})
        assert response.status_code == 200, response.content
        return response

    return post


def identify(message_id, user_id, anonymous_id="anon-1", **traits):
    return {
        "type": "identify",
        "messageId": message_id,
        "userId": user_id,
        "anonymousId": anonymous_id,
        "traits": traits,
        "timestamp": T1,
    }


def consent(message_id, tracking, **ids):
    return track(
        message_id,
        event="Segment Consent Preference Updated",
        context={"consent": {"categoryPreferences": {"tracking": tracking}}},
        **ids,
    )


def order_completed(message_id, order_id, products, **extra):
    return track(
        message_id,
        userId="u-ha",
        event="Order Completed",
        timestamp=T2,
        properties={"order_id": order_id, "currency": "USD", "products": products, **extra},
    )


def profile_of(user_id):
    return Identity.objects.get(kind="user_id", value=user_id).customer


# ---------------------------------------------------------------- identity


def test_an_anonymous_visitor_becomes_known_and_their_earlier_events_join_the_profile(send):
    send(track("m-1"), track("m-2", event="Products Searched", properties={"query": "arabica"}))
    anonymous = Event.objects.get(message_id="m-1").customer
    assert anonymous is not None and anonymous.name == ""

    send(identify("m-3", "u-ha", name="Đặng Lưu Hà", email="ha@thecoffee.vn"))

    ha = profile_of("u-ha")
    assert ha.name == "Đặng Lưu Hà"
    assert set(Event.objects.values_list("customer_id", flat=True)) == {ha.pk}
    assert Event.objects.filter(processed_at__isnull=True).count() == 0


def test_events_are_processed_once_even_if_the_task_runs_again(send):
    send(track("m-1", userId="u-1"))
    event = Event.objects.get()
    first_processed_at = event.processed_at

    report = processing.events_process(event_ids=[event.pk])

    assert report.processed == 0
    event.refresh_from_db()
    assert event.processed_at == first_processed_at


def test_the_channel_of_the_source_is_kept_on_each_event(send):
    send(track("m-1", userId="u-1"))

    event = Event.objects.get()
    assert event.channel == "web"
    assert event.customer.identities.filter(kind="user_id", value="u-1").exists()


def test_alias_joins_a_previous_id_to_the_user(send):
    send(track("m-1", anonymousId="device-7"))

    send({"type": "alias", "messageId": "m-2", "previousId": "device-7", "userId": "u-7"})

    customer = profile_of("u-7")
    assert Event.objects.get(message_id="m-1").customer == customer
    assert Event.objects.get(message_id="m-2").customer == customer


# ---------------------------------------------------------------- e-commerce


def test_product_viewed_and_searched_feed_the_profile(send):
    send(identify("m-0", "u-ha", name="Đặng Lưu Hà"))
    send(
        track(
            "m-1",
            userId="u-ha",
            timestamp=T2,
            properties={"product_id": "prd_1", "sku": "ARABICA-10", "name": "Arabica 10"},
        ),
        track(
            "m-2",
            userId="u-ha",
            event="Products Searched",
            timestamp="2026-03-02T09:31:00Z",
            properties={"query": "robusta"},
        ),
    )

    ha = profile_of("u-ha")
    assert ha.last_seen_at == datetime(2026, 3, 2, 9, 31, tzinfo=UTC)
    views = selectors.customer_product_views(customer_id=ha.pk)
    assert [(v["sku"], v["name"], v["at"]) for v in views] == [
        ("ARABICA-10", "Arabica 10", datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    ]
    assert [s["query"] for s in selectors.customer_searches(customer_id=ha.pk)] == ["robusta"]


def test_order_completed_creates_a_confirmed_order_for_the_profile(send):
    ProductFactory(sku="ARABICA-10", price=Decimal("24.50"), currency="USD")
    ProductFactory(sku="PHIN-01", price=Decimal("6.50"), currency="USD")
    send(identify("m-0", "u-ha", name="Đặng Lưu Hà"))

    send(
        order_completed(
            "m-1",
            "W-1001",
            [
                {"sku": "ARABICA-10", "price": 24.5, "quantity": 2},
                {"product_id": "PHIN-01", "price": 6.5},
            ],
            shipping=3,
            discount=1.5,
        )
    )

    order = Order.objects.get(external_id="W-1001")
    assert order.customer == profile_of("u-ha")
    assert order.status == OrderStatus.CONFIRMED
    assert (order.subtotal, order.total) == (Decimal("55.50"), Decimal("57.00"))
    assert order.placed_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert order.channel == "web"
    assert [(line.sku, line.quantity) for line in order.lines.order_by("line_number")] == [
        ("ARABICA-10", 2),
        ("PHIN-01", 1),
    ]
    event = Event.objects.get(message_id="m-1")
    assert (event.error, event.customer) == ("", order.customer)


def test_order_completed_for_an_order_the_shop_already_sent_only_links_it(send):
    ProductFactory(sku="ARABICA-10", currency="USD")
    existing = OrderFactory(external_id="W-1002", customer=CustomerFactory())

    send(order_completed("m-1", "W-1002", [{"sku": "ARABICA-10", "price": 24.5}]))

    assert Order.objects.filter(external_id="W-1002").count() == 1
    assert Order.objects.get(external_id="W-1002").pk == existing.pk
    assert Event.objects.get(message_id="m-1").error == ""


def test_the_same_order_completed_sent_twice_makes_one_order(send, tracker):
    ProductFactory(sku="ARABICA-10", price=Decimal("24.50"), currency="USD")
    message = order_completed("m-1", "W-1003", [{"sku": "ARABICA-10", "price": 24.5}])
    send(message)

    send(message, {**message, "messageId": "m-1-resent-by-another-client"})

    assert Order.objects.filter(external_id="W-1003").count() == 1


def test_an_order_naming_an_unknown_sku_is_kept_with_the_reason_and_not_retried(send):
    send(order_completed("m-1", "W-1004", [{"sku": "NOPE", "price": 1}]))

    event = Event.objects.get(message_id="m-1")
    assert not Order.objects.filter(external_id="W-1004").exists()
    assert event.processed_at is not None
    assert event.attempts == 0
    assert "NOPE" in event.error
    # Resolution is kept: the visitor is known even though the order was refused.
    assert event.customer == profile_of("u-ha")


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"currency": "USD", "products": [{"sku": "A", "price": 1}]}, "properties.order_id"),
        ({"order_id": "W-9", "products": [{"sku": "A", "price": 1}]}, "properties.currency"),
        ({"order_id": "W-9", "currency": "USD"}, "properties.products"),
    ],
)
def test_an_incomplete_order_completed_names_the_missing_property(send, properties, field):
    send(track("m-1", userId="u-1", event="Order Completed", properties=properties))

    assert Event.objects.get().error.startswith(field)


def test_a_failure_that_is_not_a_business_refusal_is_retried_a_bounded_number_of_times(
    send, settings
):
    # A bad deploy of the merge rules: resolution cannot run until someone fixes it.
    settings.OMNICRM_IDENTITY_RULES = "{not json"
    send(track("m-1", userId="u-1"))
    event = Event.objects.get(message_id="m-1")
    assert (event.processed_at, event.attempts) == (None, 1)
    assert event.error.startswith("ImproperlyConfigured")

    for _ in range(processing.MAX_ATTEMPTS + 2):
        processing.events_process(event_ids=[event.pk])

    event.refresh_from_db()
    assert event.attempts == processing.MAX_ATTEMPTS
    assert event.processed_at is None
    assert processing.events_unprocessed_ids() == []


def test_an_event_that_failed_is_processed_by_the_sweep_once_the_cause_is_fixed(send, settings):
    settings.OMNICRM_IDENTITY_RULES = "{not json"
    send(track("m-1", userId="u-1"))

    settings.OMNICRM_IDENTITY_RULES = ""
    result = tasks.events_process_pending.call()

    event = Event.objects.get(message_id="m-1")
    assert result["processed"] == 1
    assert (event.error, event.attempts) == ("", 1)
    assert event.customer == profile_of("u-1")


# ---------------------------------------------------------------- consent


def test_withdrawn_tracking_consent_stops_profiling_from_then_on(send):
    send(identify("m-1", "u-ha", name="Đặng Lưu Hà"))
    ha = profile_of("u-ha")
    seen_before = ha.last_seen_at

    send(consent("m-2", False, userId="u-ha"))
    send(
        identify("m-3", "u-ha", name="Someone Else", email="other@example.com"),
        track("m-4", userId="u-ha", timestamp="2026-04-01T00:00:00Z"),
    )

    ha.refresh_from_db()
    assert ha.consents.get(channel="tracking").status == ConsentStatus.WITHDRAWN
    assert ha.name == "Đặng Lưu Hà"
    assert ha.email == ""
    assert ha.last_seen_at == seen_before
    later = Event.objects.filter(message_id__in=["m-3", "m-4"])
    assert [e.customer_id for e in later] == [None, None]
    assert all(e.processed_at is not None for e in later)


def test_granting_consent_again_resumes_profiling(send):
    send(identify("m-1", "u-ha", name="Đặng Lưu Hà"))
    send(consent("m-2", False, userId="u-ha"))

    send(consent("m-3", True, userId="u-ha"))
    send(identify("m-4", "u-ha", name="Đặng Lưu Hà", city="Hanoi"))

    ha = profile_of("u-ha")
    assert ha.consents.get(channel="tracking").status == ConsentStatus.GRANTED
    assert ha.city == "Hanoi"
    assert Event.objects.get(message_id="m-4").customer == ha


def test_an_unknown_visitor_who_refuses_is_remembered_and_never_profiled(send):
    send(consent("m-1", False, anonymousId="anon-9"))
    send(track("m-2", anonymousId="anon-9"))

    refusals = Customer.objects.filter(consents__channel="tracking", consents__status="withdrawn")
    assert refusals.count() == 1
    assert Event.objects.get(message_id="m-2").customer is None


# ---------------------------------------------------------------- the sweep and merges


def test_the_periodic_sweep_processes_events_whose_task_never_ran(tracker):
    # No on-commit callbacks run here: the per-batch task is never queued.
    tracker.post("/v1/batch", {"batch": [track("m-1"), track("m-2", anonymousId="anon-2")]})
    assert Event.objects.filter(processed_at__isnull=True).count() == 2

    result = tasks.events_process_pending.call()

    assert result == {"processed": 2, "failed": 0, "retried": 0}
    assert Event.objects.filter(processed_at__isnull=True).count() == 0


def test_events_repoint_and_assign_move_events_between_profiles(send):
    send(track("m-1", anonymousId="a-1"), track("m-2", anonymousId="a-2"))
    first = Event.objects.get(message_id="m-1").customer
    second = Event.objects.get(message_id="m-2").customer

    moved = events_repoint(from_customer_id=second.pk, to_customer_id=first.pk)

    assert moved == [Event.objects.get(message_id="m-2").pk]
    assert set(Event.objects.values_list("customer_id", flat=True)) == {first.pk}
    assert events_assign(event_ids=moved, customer_id=second.pk) == 1
    assert Event.objects.get(message_id="m-2").customer_id == second.pk
    assert events_assign(event_ids=[], customer_id=second.pk) == 0
