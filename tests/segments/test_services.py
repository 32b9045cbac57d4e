"""Segment writes: create, refresh with history, static lists, CSV upload, near-real-time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from omnicrm.core.errors import Conflict, ValidationFailed
from omnicrm.core.models import AuditLog
from omnicrm.customers.models import Customer
from omnicrm.orders import services as order_services
from omnicrm.segments import services
from omnicrm.segments.models import Segment, SegmentMembership, SegmentMembershipChange
from omnicrm.segments.rules import RuleError
from omnicrm.segments.tasks import segments_refresh_customer_task
from tests.factories import CustomerFactory, IdentityFactory
from tests.segments.conftest import NOW, Shop

VN = {"all": [{"field": "country", "op": "eq", "value": "VN"}]}


def members(segment: Segment) -> set[str]:
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("customer__name", flat=True)
    )


def history(segment: Segment) -> list[tuple[str, str]]:
    return sorted(
        SegmentMembershipChange.objects.filter(segment=segment).values_list(
            "customer__name", "kind"
        )
    )


def test_create_validates_slugs_and_audits(shop: Shop, make_staff):
    marketer = make_staff("marketer")

    first = services.segment_create(name="Vietnam buyers", rules=VN, actor=marketer)
    second = services.segment_create(name="Vietnam buyers", rules=VN)
    static = services.segment_create(name="Trà sữa", kind="static")

    assert (first.slug, second.slug, static.slug) == (
        "vietnam-buyers",
        "vietnam-buyers-2",
        "tra-sua",
    )
    assert first.public_id.startswith("seg_")
    assert first.created_by == marketer
    assert first.refresh_on_activity is True
    assert AuditLog.objects.filter(action="segment.create", object_id=first.public_id).exists()
    with pytest.raises(Conflict):
        services.segment_create(name="Other", slug="vietnam-buyers", rules=VN)
    with pytest.raises(RuleError) as error:
        services.segment_create(name="Bad", rules={"all": [{"field": "x", "op": "eq"}]})
    assert error.value.field == "rules.all[0]"
    with pytest.raises(ValidationFailed):
        services.segment_create(name="  ", rules=VN)


def test_metrics_only_rules_are_not_rechecked_on_activity(shop: Shop):
    segment = services.segment_create(
        name="Likely", rules={"all": [{"field": "p_alive", "op": "gt", "value": 0.5}]}
    )
    assert segment.refresh_on_activity is False


def test_two_refreshes_record_who_entered_and_who_left(shop: Shop):
    segment = services.segment_create(name="Vietnam", rules=VN)

    first = services.segment_refresh(segment=segment, now=NOW)
    assert (first.entered, first.left, first.member_count) == (2, 0, 2)
    assert members(segment) == {"Đặng Lưu Hà", "Trần Bình"}

    # Bình moves to Singapore, Chen moves to Vietnam.
    Customer.objects.filter(pk=shop.binh.pk).update(country="SG")
    Customer.objects.filter(pk=shop.chen.pk).update(country="VN")
    second = services.segment_refresh(segment=segment, now=NOW + timedelta(hours=1))

    assert (second.entered, second.left, second.member_count) == (1, 1, 2)
    assert members(segment) == {"Đặng Lưu Hà", "Chen Wei"}
    assert history(segment) == [
        ("Chen Wei", "entered"),
        ("Trần Bình", "entered"),
        ("Trần Bình", "left"),
        ("Đặng Lưu Hà", "entered"),
    ]
    segment.refresh_from_db()
    assert segment.member_count == 2
    assert segment.refreshed_at == NOW + timedelta(hours=1)
    since = SegmentMembership.objects.get(segment=segment, customer=shop.ha).since
    assert since == NOW  # Hà stayed: her membership keeps its first date

    third = services.segment_refresh(segment=segment, now=NOW + timedelta(hours=2))
    assert (third.entered, third.left) == (0, 0)
    assert SegmentMembershipChange.objects.filter(segment=segment).count() == 4


def test_changed_rules_change_the_members_at_the_next_refresh(shop: Shop):
    segment = services.segment_create(name="Vietnam", rules=VN)
    services.segment_refresh(segment=segment, now=NOW)

    services.segment_update(
        segment=segment,
        rules={"all": [{"field": "bought_category", "op": "eq", "value": "arabica"}]},
        name="Arabica buyers",
    )
    services.segment_refresh(segment=segment, now=NOW + timedelta(minutes=5))

    segment.refresh_from_db()
    assert segment.name == "Arabica buyers"
    assert members(segment) == {"Đặng Lưu Hà", "Dana Smith"}


def test_refreshing_all_dynamic_segments_skips_static_lists(shop: Shop):
    services.segment_create(name="Vietnam", rules=VN)
    services.segment_create(name="Hand picked", kind="static")

    results = services.segment_refresh_all(now=NOW)

    assert {slug: r.member_count for slug, r in results.items()} == {"vietnam": 2}


def test_static_lists_take_members_by_hand(shop: Shop):
    vip = services.segment_create(name="VIP", kind="static")

    added = services.segment_members_add(
        segment=vip, customer_ids=[shop.ha.public_id, shop.dana.public_id, "cus_nobody"]
    )
    again = services.segment_members_add(segment=vip, customer_ids=[shop.ha.public_id])
    removed = services.segment_members_remove(segment=vip, customer_ids=[shop.dana.public_id])

    assert (added.added, added.unknown) == (2, [{"customer": "cus_nobody"}])
    assert (again.added, again.unchanged) == (0, 1)
    assert removed.removed == 1
    assert members(vip) == {"Đặng Lưu Hà"}
    vip.refresh_from_db()
    assert vip.member_count == 1
    assert history(vip) == [
        ("Dana Smith", "entered"),
        ("Dana Smith", "left"),
        ("Đặng Lưu Hà", "entered"),
    ]
    with pytest.raises(Conflict):
        services.segment_refresh(segment=vip)
    dynamic = services.segment_create(name="Vietnam", rules=VN)
    with pytest.raises(Conflict):
        services.segment_members_add(segment=dynamic, customer_ids=[shop.ha.public_id])


def test_csv_upload_adds_known_emails_and_reports_the_rest_by_line(shop: Shop):
    other = CustomerFactory(name="Other", email="")
    IdentityFactory(customer=other, kind="email", value="second@example.com")
    vip = services.segment_create(name="VIP", kind="static")
    content = (
        "name,email\n"
        "Hà,HA@example.com\n"
        "Nobody,nobody@example.com\n"
        "\n"
        "Second,second@example.com\n"
        "Broken,not-an-email\n"
        "Hà again,ha@example.com\n"
    ).encode()

    result = services.segment_members_upload(segment=vip, content=content)

    assert result.added == 2
    assert result.unchanged == 0
    assert [(u["line"], u["email"]) for u in result.unknown] == [
        (3, "nobody@example.com"),
        (6, "not-an-email"),
    ]
    assert result.unknown[0]["reason"] == "no customer has this email"
    assert result.unknown[1]["reason"] == "not an email address"
    assert members(vip) == {"Đặng Lưu Hà", "Other"}


def test_csv_upload_without_header_reads_the_first_column(shop: Shop):
    vip = services.segment_create(name="VIP", kind="static")

    result = services.segment_members_upload(
        segment=vip, content="binh@example.com,x\nchen@example.cn\n"
    )

    assert result.added == 2
    with pytest.raises(ValidationFailed) as error:
        services.segment_members_upload(segment=vip, content="name,phone\nHà,0901\n")
    assert "line 1" in error.value.message
    with pytest.raises(ValidationFailed):
        services.segment_members_upload(segment=vip, content=b"\xff\xfe\x00bad")


def test_refresh_of_one_customer_enters_and_leaves(shop: Shop):
    big = services.segment_create(
        name="Two orders", rules={"all": [{"field": "order_count", "op": "gte", "value": 2}]}
    )
    services.segment_refresh(segment=big, now=NOW)
    assert members(big) == {"Đặng Lưu Hà"}

    from tests.segments.conftest import make_order

    product = shop.arabica.products.first()
    make_order(shop.dana, products=[product], days=1)
    changes = services.segment_refresh_customer(customer_id=shop.dana.pk)

    assert changes == [("two-orders", "entered")]
    assert members(big) == {"Đặng Lưu Hà", "Dana Smith"}
    big.refresh_from_db()
    assert big.member_count == 2
    assert services.segment_refresh_customer(customer_id=shop.dana.pk) == []


@pytest.mark.django_db(transaction=True)
def test_an_order_puts_its_customer_in_the_segment_once_a_worker_runs(make_staff):
    """The near-real-time path with real parts: order_create commits, its on_commit hook
    queues segments_refresh_customer_task in the database queue, `omnicrm worker` runs it."""
    from django_tasks_db.models import DBTaskResult

    from tests.factories import ProductFactory

    customer = CustomerFactory(name="Lan", country="VN")
    ProductFactory(sku="ARA-1", price="10.00")
    segment = services.segment_create(
        name="Bought in the last week",
        rules={"all": [{"field": "order_count", "op": "gte", "value": 1, "within_days": 7}]},
    )
    services.segment_refresh(segment=segment)
    DBTaskResult.objects.all().delete()
    assert members(segment) == set()

    order = order_services.order_create(
        customer_id=customer.public_id,
        currency="USD",
        lines=[{"sku": "ARA-1", "quantity": 1, "unit_price": "10.00"}],
        status="confirmed",
    )
    queued = DBTaskResult.objects.get()
    assert queued.task_path.endswith("segments_refresh_customer_task")
    assert queued.args_kwargs["kwargs"] == {"customer_ids": [customer.pk]}
    assert members(segment) == set()  # nothing happens until a worker takes the task

    started = timezone.now()
    call_command("worker", max_tasks=1)

    assert members(segment) == {"Lan"}
    change = SegmentMembershipChange.objects.get(segment=segment)
    assert (change.kind, started <= change.at <= timezone.now()) == ("entered", True)

    # The order is canceled: the status change queues the re-check that takes Lan out.
    order_services.order_status_change(order=order, status="canceled")
    call_command("worker", max_tasks=1)
    assert members(segment) == set()
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 2


def test_the_customer_task_deduplicates_and_counts_changes(shop: Shop, settings):
    segment = services.segment_create(name="Vietnam", rules=VN)
    assert segment.member_count == 0

    changed = segments_refresh_customer_task.call(customer_ids=[shop.ha.pk, shop.ha.pk])

    assert changed == 1
    assert members(segment) == {"Đặng Lưu Hà"}


@pytest.mark.django_db(transaction=True)
def test_a_processed_event_puts_its_customer_in_the_segment_once_a_worker_runs():
    """Events: processing links the event to a customer and queues the re-check on commit."""
    from django_tasks_db.models import DBTaskResult

    from omnicrm.events import processing
    from omnicrm.events.models import Event
    from omnicrm.events.services import source_create

    source, _key = source_create(name="Website", channel="web")
    segment = services.segment_create(
        name="Viewed this week",
        rules={
            "all": [{"field": "event", "op": "did", "value": "Product Viewed", "within_days": 7}]
        },
    )
    services.segment_refresh(segment=segment)
    DBTaskResult.objects.all().delete()
    now = timezone.now()
    event = Event.objects.create(
        source=source,
        message_id="m-1",
        type="track",
        event="Product Viewed",
        user_id="u-lan",
        channel="web",
        timestamp=now,
        received_at=now,
    )

    report = processing.events_process(event_ids=[event.pk])
    event.refresh_from_db()
    queued = DBTaskResult.objects.get()

    assert report.processed == 1 and event.customer_id is not None
    assert queued.args_kwargs["kwargs"] == {"customer_ids": [event.customer_id]}
    assert SegmentMembership.objects.filter(segment=segment).count() == 0
    call_command("worker", max_tasks=1)
    assert list(
        SegmentMembership.objects.filter(segment=segment).values_list("customer_id", flat=True)
    ) == [event.customer_id]
