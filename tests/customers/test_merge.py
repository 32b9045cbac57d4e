"""customer_merge, customer_merge_preview and customer_split on the real database."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection

from omnicrm.analytics.selectors import dashboard_metrics
from omnicrm.core.models import AuditLog
from omnicrm.customers import selectors, services
from omnicrm.customers.errors import (
    AlreadySplit,
    CustomerMerged,
    MergeBlocked,
    SelfMerge,
    SplitRefused,
)
from omnicrm.customers.merge import (
    ConsentDifference,
    FieldDifference,
    customer_merge,
    customer_merge_history,
    customer_merge_preview,
    customer_split,
)
from omnicrm.customers.models import (
    Address,
    Consent,
    ConsentEvent,
    Customer,
    CustomerMerge,
    Identity,
    MergeStatus,
)
from omnicrm.events.models import Event
from omnicrm.orders.models import Order
from omnicrm.recommendations.models import FeedbackKind, RecommendationFeedback
from omnicrm.reviews.models import Review, WishlistItem
from tests.customers.identity_world import T0, event, snapshot
from tests.factories import (
    CustomerFactory,
    IdentityFactory,
    OrderFactory,
    ProductFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db


@dataclass
class Pair:
    ha: Customer
    web: Customer


def _address(customer: Customer, kind: str, line1: str, *, default: bool) -> Address:
    return Address.objects.create(
        customer=customer, kind=kind, line1=line1, city="Hà Nội", country="VN", is_default=default
    )


def _consent(customer: Customer, channel: str, status: str, days_ago: int) -> None:
    services.consent_set(
        customer=customer,
        channel=channel,
        status=status,
        source="web",
        occurred_at=T0 - timedelta(days=days_ago),
    )


@pytest.fixture
def pair() -> Pair:
    """Hà's account (primary) and a profile of hers built from the web shop (secondary)."""
    ha = CustomerFactory(
        name="Đặng Lưu Hà",
        email="ha.dang@thecoffee.vn",
        phone="",
        language="vi",
        timezone="",
        city="Hà Nội",
        first_seen_at=T0 - timedelta(days=30),
        last_seen_at=T0 - timedelta(days=2),
    )
    IdentityFactory(customer=ha, kind="user_id", value="u-1001", verified=True)
    IdentityFactory(customer=ha, kind="email", value=ha.email, verified=True)
    _address(ha, "shipping", "12 Hàng Bạc", default=True)
    OrderFactory.create_batch(2, customer=ha)
    ReviewFactory(customer=ha)
    event(ha, user_id="u-1001")
    _consent(ha, "email", "granted", 20)
    _consent(ha, "tracking", "granted", 20)
    moka, grinder = ProductFactory(title="Moka pot"), ProductFactory(title="Grinder")
    WishlistItem.objects.create(customer=ha, product=moka)

    web = CustomerFactory(
        name="Ha Dang",
        email="",
        phone="+84912345678",
        language="en",
        timezone="Asia/Ho_Chi_Minh",
        city="Hà Nội",
        first_seen_at=T0 - timedelta(days=90),
        last_seen_at=T0 - timedelta(days=5),
    )
    IdentityFactory(customer=web, kind="anonymous", value="anon-web-1")
    IdentityFactory(customer=web, kind="phone", value=web.phone, verified=True)
    _address(web, "shipping", "45 Láng Hạ", default=True)
    _address(web, "billing", "1 Tràng Tiền", default=True)
    OrderFactory(customer=web)
    ReviewFactory(customer=web)
    event(web, anonymous_id="anon-web-1", minutes=1)
    event(web, anonymous_id="anon-web-1", minutes=2)
    event(web, anonymous_id="anon-web-1", minutes=3)
    _consent(web, "email", "withdrawn", 10)
    _consent(web, "sms", "granted", 10)
    # Both wished for the moka pot: that twin stays behind; the grinder moves.
    WishlistItem.objects.create(customer=web, product=moka)
    WishlistItem.objects.create(customer=web, product=grinder)
    RecommendationFeedback.objects.create(
        customer=web, product=grinder, kind=FeedbackKind.NOT_INTERESTED
    )
    return Pair(ha=ha, web=web)


def ids(qs) -> list[int]:
    return sorted(qs.values_list("pk", flat=True))


def test_merge_repoints_every_row_of_the_secondary_exactly(pair):
    ha, web = pair.ha, pair.web
    expected = {
        "identities": ids(Identity.objects.filter(customer=web)),
        "addresses": ids(Address.objects.filter(customer=web)),
        "orders": ids(Order.objects.filter(customer=web)),
        "reviews": ids(Review.objects.filter(customer=web)),
        "wishlist_items": ids(WishlistItem.objects.filter(customer=web, product__title="Grinder")),
        "recommendation_feedback": ids(RecommendationFeedback.objects.filter(customer=web)),
        "events": ids(Event.objects.filter(customer=web)),
    }
    twin = ids(WishlistItem.objects.filter(customer=web, product__title="Moka pot"))
    before_primary = {
        "identities": ids(Identity.objects.filter(customer=ha)),
        "orders": ids(Order.objects.filter(customer=ha)),
        "reviews": ids(Review.objects.filter(customer=ha)),
        "events": ids(Event.objects.filter(customer=ha)),
    }

    merge = customer_merge(primary=ha, secondary=web, reason="same person, called support")

    assert merge.moved == expected
    assert ids(Identity.objects.filter(customer=ha)) == sorted(
        before_primary["identities"] + expected["identities"]
    )
    assert ids(Order.objects.filter(customer=ha)) == sorted(
        before_primary["orders"] + expected["orders"]
    )
    assert ids(Review.objects.filter(customer=ha)) == sorted(
        before_primary["reviews"] + expected["reviews"]
    )
    assert ids(Event.objects.filter(customer=ha)) == sorted(
        before_primary["events"] + expected["events"]
    )
    for model in (Identity, Address, Order, Review, RecommendationFeedback, Event):
        assert not model.objects.filter(customer=web).exists()
    assert ids(WishlistItem.objects.filter(customer=web)) == twin
    assert sorted(
        WishlistItem.objects.filter(customer=ha).values_list("product__title", flat=True)
    ) == [
        "Grinder",
        "Moka pot",
    ]
    web.refresh_from_db()
    assert web.merged_into_id == ha.pk
    assert web.merged_at == merge.merged_at
    assert merge.status == MergeStatus.MERGED
    assert merge.reason == "same person, called support"
    audit = AuditLog.objects.get(action="customer.merge")
    assert audit.object_id == ha.public_id
    assert audit.data["secondary"] == web.public_id
    assert audit.data["moved"] == {
        "identities": 2,
        "addresses": 2,
        "orders": 1,
        "reviews": 1,
        "wishlist_items": 1,
        "recommendation_feedback": 1,
        "events": 3,
    }


def test_merge_fills_empty_fields_keeps_the_primarys_and_widens_first_and_last_seen(pair):
    ha, web = pair.ha, pair.web

    merge = customer_merge(primary=ha, secondary=web, reason="r")

    ha.refresh_from_db()
    assert (ha.name, ha.phone, ha.language, ha.timezone) == (
        "Đặng Lưu Hà",
        "+84912345678",
        "vi",
        "Asia/Ho_Chi_Minh",
    )
    assert ha.first_seen_at == T0 - timedelta(days=90)
    assert ha.last_seen_at == T0 - timedelta(days=2)
    assert sorted(merge.primary_changes) == ["first_seen_at", "phone", "timezone"]
    assert merge.primary_changes["phone"] == ["", "+84912345678"]


def test_the_primarys_default_address_stays_the_default(pair):
    ha, web = pair.ha, pair.web
    web_shipping = Address.objects.get(customer=web, kind="shipping")

    merge = customer_merge(primary=ha, secondary=web, reason="r")

    defaults = Address.objects.filter(customer=ha, is_default=True)
    assert sorted(defaults.values_list("kind", "line1")) == [
        ("billing", "1 Tràng Tiền"),
        ("shipping", "12 Hàng Bạc"),
    ]
    assert merge.address_defaults_cleared == [web_shipping.pk]


def test_consent_stays_per_person_and_a_merge_only_makes_it_stricter(pair):
    ha, web = pair.ha, pair.web
    web_consents = sorted(Consent.objects.filter(customer=web).values_list("channel", "status"))

    merge = customer_merge(primary=ha, secondary=web, reason="r")

    # Hà granted email marketing; her other profile withdrew it: the merged profile must
    # not receive marketing email. The other profile's SMS grant does not carry over.
    assert sorted(Consent.objects.filter(customer=ha).values_list("channel", "status")) == [
        ("email", "withdrawn"),
        ("tracking", "granted"),
    ]
    assert sorted(Consent.objects.filter(customer=web).values_list("channel", "status")) == (
        web_consents
    )
    assert ConsentEvent.objects.filter(customer=ha, source=f"merge:{merge.public_id}").count() == 1
    assert merge.consent_changes["email"]["before"]["status"] == "granted"
    assert sorted(c["channel"] for c in merge.secondary_consents) == ["email", "sms"]


def test_a_withdrawn_consent_is_never_upgraded_to_granted_by_a_merge():
    withdrawn = CustomerFactory()
    _consent(withdrawn, "email", "withdrawn", 3)
    _consent(withdrawn, "tracking", "withdrawn", 3)
    granted = CustomerFactory()
    _consent(granted, "email", "granted", 1)
    _consent(granted, "tracking", "granted", 1)

    customer_merge(primary=withdrawn, secondary=granted, reason="r")

    assert sorted(Consent.objects.filter(customer=withdrawn).values_list("channel", "status")) == [
        ("email", "withdrawn"),
        ("tracking", "withdrawn"),
    ]


def test_preview_counts_exactly_what_would_move_and_changes_nothing(pair):
    ha, web = pair.ha, pair.web
    before = snapshot(ha, web)

    preview = customer_merge_preview(primary=ha, secondary=web)

    assert preview.counts == {
        "identities": 2,
        "addresses": 2,
        "orders": 1,
        "reviews": 1,
        "wishlist_items": 1,
        "recommendation_feedback": 1,
        "events": 3,
    }
    assert preview.fields_filled == [
        FieldDifference("phone", "", "+84912345678"),
        FieldDifference("timezone", "", "Asia/Ho_Chi_Minh"),
    ]
    assert preview.field_conflicts == [
        FieldDifference("name", "Đặng Lưu Hà", "Ha Dang"),
        FieldDifference("language", "vi", "en"),
    ]
    assert preview.consent == [
        ConsentDifference("email", "granted", "withdrawn", "withdrawn"),
        ConsentDifference("sms", None, "granted", None),
        ConsentDifference("tracking", "granted", None, "granted"),
    ]
    assert preview.allowed is True
    assert preview.reasons == []
    assert [w.code for w in preview.warnings] == ["consent_tightened"]
    assert snapshot(ha, web) == before
    assert not CustomerMerge.objects.exists()

    merge = customer_merge(primary=ha, secondary=web, reason="r")
    assert {t: len(v) for t, v in merge.moved.items()} == preview.counts


def test_two_profiles_that_each_have_a_user_id_are_blocked_with_the_reason(pair):
    ha, web = pair.ha, pair.web
    IdentityFactory(customer=web, kind="user_id", value="u-2002")
    before = snapshot(ha, web)

    preview = customer_merge_preview(primary=ha, secondary=web)
    with pytest.raises(MergeBlocked) as blocked:
        customer_merge(primary=ha, secondary=web, reason="r")

    assert preview.allowed is False
    assert [r.code for r in preview.reasons] == ["two_user_ids"]
    assert preview.reasons[0].message == "blocked: both profiles have a userId (u-1001 and u-2002)"
    assert blocked.value.status == 409
    assert blocked.value.extra["reasons"] == [
        {"code": "two_user_ids", "message": preview.reasons[0].message}
    ]
    assert snapshot(ha, web) == before
    assert not CustomerMerge.objects.exists()


def test_a_shared_terminal_profile_cannot_be_merged_into_a_person(pair):
    terminal = CustomerFactory(name="", email="")
    IdentityFactory(customer=terminal, kind="anonymous", value="pos-till-1", shared=True)

    with pytest.raises(MergeBlocked) as blocked:
        customer_merge(primary=pair.ha, secondary=terminal, reason="r")

    assert [r["code"] for r in blocked.value.extra["reasons"]] == ["shared_device"]


def test_self_merge_and_merging_a_merged_profile_are_refused(pair):
    ha, web = pair.ha, pair.web
    with pytest.raises(SelfMerge) as self_merge:
        customer_merge(primary=ha, secondary=ha, reason="r")
    assert self_merge.value.status == 422

    customer_merge(primary=ha, secondary=web, reason="r")
    other = CustomerFactory()
    with pytest.raises(CustomerMerged) as merged:
        customer_merge(primary=other, secondary=web, reason="r")
    assert merged.value.status == 409
    assert merged.value.extra == {"merged_into": ha.public_id}
    with pytest.raises(CustomerMerged):
        customer_merge(primary=web, secondary=other, reason="r")


def test_split_restores_both_profiles_exactly(pair):
    ha, web = pair.ha, pair.web
    before = snapshot(ha, web)
    merge = customer_merge(primary=ha, secondary=web, reason="r")
    assert snapshot(ha, web) != before

    split = customer_split(merge=merge, actor_label="support desk")

    assert snapshot(ha, web) == before
    assert split.status == MergeStatus.SPLIT
    assert split.split_by_label == "support desk"
    assert split.returned["events"] == merge.moved["events"]
    assert split.returned["later_events"] == []
    assert sorted(split.returned["restored"]) == [
        "consent.email",
        "first_seen_at",
        "phone",
        "timezone",
    ]
    assert AuditLog.objects.filter(action="customer.split", object_id=ha.public_id).count() == 1
    assert list(
        ConsentEvent.objects.filter(customer=ha, source=f"split:{merge.public_id}").values_list(
            "channel", "status"
        )
    ) == [("email", "granted")]


def test_splitting_twice_is_refused_with_a_clear_error(pair):
    merge = customer_merge(primary=pair.ha, secondary=pair.web, reason="r")
    customer_split(merge=merge)

    with pytest.raises(AlreadySplit) as twice:
        customer_split(merge=merge)

    assert twice.value.status == 409
    assert twice.value.message == f"merge {merge.public_id} was already split"


def test_after_a_split_rows_created_since_the_merge_stay_unless_they_carry_a_secondary_id(pair):
    ha, web = pair.ha, pair.web
    merge = customer_merge(primary=ha, secondary=web, reason="r")
    later_web = event(ha, anonymous_id="anon-web-1", minutes=60)
    later_ha = event(ha, user_id="u-1001", minutes=61)
    later_both = event(ha, user_id="u-1001", anonymous_id="anon-web-1", minutes=62)
    later_order = OrderFactory(customer=ha)

    split = customer_split(merge=merge)

    assert Event.objects.get(pk=later_web.pk).customer_id == web.pk
    assert Event.objects.get(pk=later_ha.pk).customer_id == ha.pk
    # Hà's own userId decides, whatever browser she used.
    assert Event.objects.get(pk=later_both.pk).customer_id == ha.pk
    assert Order.objects.get(pk=later_order.pk).customer_id == ha.pk
    assert split.returned["later_events"] == [later_web.pk]


def test_a_field_changed_after_the_merge_is_not_reverted_by_the_split(pair):
    ha, web = pair.ha, pair.web
    merge = customer_merge(primary=ha, secondary=web, reason="r")
    services.customer_update(customer=Customer.objects.get(pk=ha.pk), data={"timezone": "UTC"})
    _consent(Customer.objects.get(pk=ha.pk), "email", "granted", 0)

    split = customer_split(merge=merge)

    ha.refresh_from_db()
    assert ha.timezone == "UTC"
    assert ha.phone == ""
    assert Consent.objects.get(customer=ha, channel="email").status == "granted"
    assert "timezone" not in split.returned["restored"]
    assert "consent.email" not in split.returned["restored"]


def test_split_is_refused_while_the_primary_is_merged_into_a_third_profile(pair):
    ha, web = pair.ha, pair.web
    first = customer_merge(primary=ha, secondary=web, reason="r")
    third = CustomerFactory()
    second = customer_merge(primary=third, secondary=ha, reason="r")

    with pytest.raises(SplitRefused) as refused:
        customer_split(merge=first)
    assert third.public_id in refused.value.message

    customer_split(merge=second)
    customer_split(merge=first)
    assert Customer.objects.get(pk=web.pk).merged_into_id is None


def test_a_merged_profile_leaves_lists_and_refuses_changes(pair):
    ha, web = pair.ha, pair.web
    customer_merge(primary=ha, secondary=web, reason="r")
    web.refresh_from_db()

    assert web.pk not in ids(selectors.customer_list())
    assert ha.pk in ids(selectors.customer_list())
    assert dashboard_metrics().customer_count == 1
    with pytest.raises(CustomerMerged) as merged:
        services.customer_update(customer=web, data={"name": "X"})
    assert merged.value.message == (
        f"customer {web.public_id} was merged into {ha.public_id}; use that id"
    )
    with pytest.raises(CustomerMerged):
        services.consent_set(customer=web, channel="email", status="granted")
    assert [m.secondary_id for m in customer_merge_history(customer=web)] == [web.pk]


def test_erasing_the_primary_erases_the_profiles_merged_into_it(pair):
    ha, web = pair.ha, pair.web
    merge = customer_merge(primary=ha, secondary=web, reason="same person")

    services.customer_erase(customer=Customer.objects.get(pk=ha.pk))

    web.refresh_from_db()
    merge.refresh_from_db()
    assert web.erased_at is not None
    assert (web.name, web.phone, web.timezone) == ("", "", "")
    assert not Consent.objects.filter(customer=web).exists()
    assert not WishlistItem.objects.filter(customer__in=[ha, web]).exists()
    assert not RecommendationFeedback.objects.filter(customer__in=[ha, web]).exists()
    assert merge.secondary_snapshot == {}
    assert merge.reason == ""


@pytest.mark.django_db(transaction=True)
def test_two_opposite_merges_at_once_lock_in_one_order_and_one_wins():
    """A<-B and B<-A at the same moment: both lock the lower pk first, so the second waits
    instead of deadlocking, then sees the first's result and refuses."""
    a, b = CustomerFactory(), CustomerFactory()
    OrderFactory(customer=a)
    OrderFactory(customer=b)
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def run(label: str, primary: Customer, secondary: Customer) -> None:
        try:
            start.wait()
            customer_merge(primary=primary, secondary=secondary, reason=label)
            outcomes[label] = "merged"
        except CustomerMerged:
            outcomes[label] = "refused"
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("a<-b", a, b)),
        threading.Thread(target=run, args=("b<-a", b, a)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes.values()) == ["merged", "refused"]
    merge = CustomerMerge.objects.get()
    assert Order.objects.filter(customer=merge.primary).count() == 2
    assert Customer.objects.filter(merged_into__isnull=False).count() == 1


def test_an_erased_profile_cannot_be_merged(pair):
    services.customer_erase(customer=pair.web)

    with pytest.raises(MergeBlocked) as blocked:
        customer_merge(primary=pair.ha, secondary=Customer.objects.get(pk=pair.web.pk), reason="r")

    assert blocked.value.extra["reasons"] == [
        {"code": "erased", "message": f"profile {pair.web.public_id} was erased"}
    ]
