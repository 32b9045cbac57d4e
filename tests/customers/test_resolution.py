"""identity_resolve / identity_alias / identity_lookup and the merge rules' guards."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings

from omnicrm.core.models import AuditLog
from omnicrm.customers import services
from omnicrm.customers.models import (
    Customer,
    CustomerMerge,
    Identity,
    IdentityBlocklist,
    MergeTrigger,
)
from omnicrm.customers.resolution import identity_alias, identity_lookup, identity_resolve
from omnicrm.customers.rules import identity_policy, identity_rules
from omnicrm.events.models import Event
from omnicrm.events.services import source_create
from tests.customers.identity_world import T0, event
from tests.events.conftest import IMMEDIATE_TASKS, Tracker, track
from tests.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db


def resolve(channel: str = "web", minutes: int = 0, **kwargs) -> Customer | None:
    return identity_resolve(
        channel=channel,
        source=f"events:{channel}",
        seen_at=T0 + timedelta(minutes=minutes),
        **kwargs,
    )


def known(user_id: str, **identities: tuple[str, bool]) -> Customer:
    """A profile with a userId and, e.g., email=("ha@thecoffee.vn", True)."""
    customer = CustomerFactory(name=f"Person {user_id}", email="")
    IdentityFactory(customer=customer, kind="user_id", value=user_id, verified=True)
    for kind, (value, verified) in identities.items():
        IdentityFactory(customer=customer, kind=kind, value=value, verified=verified)
    return customer


def owner_of(kind: str, value: str) -> Customer:
    return Identity.objects.get(kind=kind, value=value).customer


def blocked_codes(customer: Customer) -> list[str]:
    rows = AuditLog.objects.filter(action="identity.merge_blocked", object_id=customer.public_id)
    return [r["code"] for row in rows for r in row.data["reasons"]]


# --- anonymous to known ----------------------------------------------------------------


def test_first_sight_of_an_anonymous_id_creates_a_profile_that_later_events_find():
    first = resolve(anonymous_id="anon-1")
    again = resolve(anonymous_id="anon-1", minutes=5)

    assert first is not None
    assert again.pk == first.pk
    assert list(first.identities.values_list("kind", "value", "shared")) == [
        ("anonymous", "anon-1", False)
    ]
    again.refresh_from_db()
    assert (again.first_seen_at, again.last_seen_at) == (T0, T0 + timedelta(minutes=5))


def test_identify_makes_an_anonymous_visitor_known_and_their_earlier_events_join():
    ha = known("u-ha")
    visitor = resolve(anonymous_id="anon-web")
    earlier = [event(visitor, anonymous_id="anon-web", minutes=m) for m in (1, 2, 3)]

    result = resolve(
        user_id="u-ha",
        anonymous_id="anon-web",
        traits={"name": "Đặng Lưu Hà", "email": "ha@thecoffee.vn"},
        minutes=10,
    )

    assert result.pk == ha.pk
    assert sorted(Event.objects.filter(customer=ha).values_list("pk", flat=True)) == [
        e.pk for e in earlier
    ]
    visitor.refresh_from_db()
    assert visitor.merged_into_id == ha.pk
    merge = CustomerMerge.objects.get()
    assert (merge.primary_id, merge.secondary_id, merge.trigger) == (
        ha.pk,
        visitor.pk,
        MergeTrigger.IDENTIFY,
    )
    assert owner_of("anonymous", "anon-web").pk == ha.pk
    assert resolve(anonymous_id="anon-web", minutes=11).pk == ha.pk
    ha.refresh_from_db()
    assert (ha.name, ha.email) == ("Đặng Lưu Hà", "ha@thecoffee.vn")


def test_identify_with_a_new_user_id_turns_the_anonymous_profile_into_the_known_one():
    visitor = resolve(anonymous_id="anon-web")
    event(visitor, anonymous_id="anon-web")

    result = resolve(user_id="u-new", anonymous_id="anon-web", minutes=1)

    assert result.pk == visitor.pk
    assert sorted(result.identities.values_list("kind", "value")) == [
        ("anonymous", "anon-web"),
        ("user_id", "u-new"),
    ]
    assert not CustomerMerge.objects.exists()


def test_identify_traits_update_the_profile_and_bad_values_are_skipped():
    customer = resolve(
        user_id="u-1",
        traits={
            "firstName": "Hà",
            "lastName": "Đặng",
            "locale": "vi-VN",
            "timezone": "Asia/Ho_Chi_Minh",
            "address": {"country": "vn", "city": "Hà Nội"},
            "email": "Ha@TheCoffee.vn",
            "phone": "not a phone",
        },
    )

    customer.refresh_from_db()
    assert (
        customer.name,
        customer.language,
        customer.timezone,
        customer.country,
        customer.city,
        customer.email,
        customer.phone,
    ) == ("Hà Đặng", "vi", "Asia/Ho_Chi_Minh", "VN", "Hà Nội", "ha@thecoffee.vn", "")
    assert sorted(customer.identities.values_list("kind", "value", "verified")) == [
        ("email", "ha@thecoffee.vn", False),
        ("user_id", "u-1", False),
    ]
    chinese = resolve(user_id="u-2", traits={"locale": "zh-CN", "country": "China"})
    chinese.refresh_from_db()
    assert (chinese.language, chinese.country) == ("zh-hans", "")


# --- the merge rules -----------------------------------------------------------------


def test_a_verified_email_merges_two_profiles_automatically():
    ha = known("u-ha", email=("ha@thecoffee.vn", True))
    phone_visitor = resolve(anonymous_id="anon-phone")
    browsing = event(phone_visitor, anonymous_id="anon-phone")

    result = resolve(
        anonymous_id="anon-phone",
        traits={"email": "ha@thecoffee.vn", "email_verified": True},
        minutes=1,
    )

    assert result.pk == ha.pk
    assert Event.objects.get(pk=browsing.pk).customer_id == ha.pk
    merge = CustomerMerge.objects.get()
    assert (merge.trigger, merge.matched_kind, merge.matched_value) == (
        MergeTrigger.RULE,
        "email",
        "ha@thecoffee.vn",
    )
    assert merge.secondary_id == phone_visitor.pk


def test_a_loyalty_card_merges_without_proof_by_default():
    ha = known("u-ha", loyalty_card=("TC-000482", False))

    result = resolve(anonymous_id="anon-app", channel="ios", traits={"loyaltyCard": "TC-000482"})

    assert result.pk == ha.pk
    assert CustomerMerge.objects.get().matched_kind == "loyalty_card"


def test_an_unverified_email_does_not_merge_and_the_block_is_audited_once():
    ha = known("u-ha", email=("ha@thecoffee.vn", True))

    first = resolve(anonymous_id="anon-x", traits={"email": "ha@thecoffee.vn"})
    again = resolve(anonymous_id="anon-x", traits={"email": "ha@thecoffee.vn"}, minutes=1)

    assert first.pk != ha.pk
    assert again.pk == first.pk
    assert not CustomerMerge.objects.exists()
    assert blocked_codes(first) == ["not_verified"]
    assert owner_of("email", "ha@thecoffee.vn").pk == ha.pk


def test_two_profiles_that_each_carry_a_different_user_id_are_never_merged():
    ha = known("u-ha", email=("ha@thecoffee.vn", True))

    other = resolve(
        user_id="u-impostor",
        anonymous_id="anon-i",
        traits={"email": "ha@thecoffee.vn", "email_verified": True},
    )

    assert other.pk != ha.pk
    assert not CustomerMerge.objects.exists()
    assert "two_user_ids" in blocked_codes(other)
    assert owner_of("email", "ha@thecoffee.vn").pk == ha.pk
    assert owner_of("user_id", "u-impostor").pk == other.pk


def test_a_browser_used_by_two_logins_is_marked_shared_and_links_nobody_after():
    first = resolve(user_id="u-mother", anonymous_id="anon-family")
    second = resolve(user_id="u-son", anonymous_id="anon-family", minutes=1)
    again = resolve(user_id="u-son", anonymous_id="anon-family", minutes=2)
    anonymous_only = resolve(anonymous_id="anon-family", minutes=3)

    assert first.pk != second.pk
    assert again.pk == second.pk
    identity = Identity.objects.get(kind="anonymous", value="anon-family")
    assert (identity.customer_id, identity.shared) == (first.pk, True)
    assert anonymous_only.pk == first.pk
    assert not CustomerMerge.objects.exists()


@pytest.mark.parametrize(
    ("kind", "trait", "value"),
    [
        ("email", "email", "no-reply@thecoffee.vn"),
        ("email", "email", "noreply@thecoffee.vn"),
        ("email", "email", "test@gmail.com"),
        ("email", "email", "someone@example.com"),
        ("phone", "phone", "+84 000 000 000"),
        ("phone", "phone", "0999999999"),
    ],
)
def test_a_placeholder_identifier_never_merges_and_is_never_claimed(kind, trait, value):
    holder = known("u-holder")
    services.identity_add(customer=holder, kind=kind, value=value, verified=True)

    visitor = resolve(
        anonymous_id="anon-p", traits={trait: value, f"{trait}_verified": True, "name": "P"}
    )

    assert visitor.pk != holder.pk
    assert not CustomerMerge.objects.exists()
    assert list(visitor.identities.values_list("kind", flat=True)) == ["anonymous"]
    visitor.refresh_from_db()
    assert (visitor.name, visitor.email, visitor.phone) == ("P", "", "")


def test_placeholders_come_from_settings_and_from_the_admins_blocklist():
    shop = known("u-shop-desk", email=("khach@thecoffee.vn", True), phone=("+84241234567", True))
    IdentityBlocklist.objects.create(kind="email", pattern="KHACH@*", note="walk-in buyers")

    with override_settings(OMNICRM_IDENTITY_RULES={"placeholders": {"phone": ["+8424123*"]}}):
        visitor = resolve(
            anonymous_id="anon-q",
            traits={
                "email": "khach@thecoffee.vn",
                "email_verified": True,
                "phone": "+84 24 1234 567",
                "phone_verified": True,
            },
        )
        policy = identity_policy()

    assert visitor.pk != shop.pk
    assert not CustomerMerge.objects.exists()
    assert policy.is_placeholder("email", "khach@thecoffee.vn")
    assert policy.is_placeholder("phone", "+84241234567")
    assert not policy.is_placeholder("email", "ha@thecoffee.vn")


def test_placeholder_user_ids_from_buggy_clients_name_nobody():
    a = resolve(user_id="undefined", anonymous_id="anon-a")
    b = resolve(user_id="null", anonymous_id="anon-b")

    assert a.pk != b.pk
    assert not Identity.objects.filter(kind="user_id").exists()
    assert resolve(user_id="undefined") is None


def test_a_shared_store_terminal_never_merges_the_people_who_use_it():
    ha = known("u-ha", loyalty_card=("TC-000482", False))
    lan = known("u-lan", loyalty_card=("TC-000777", False))

    at_till_ha = resolve(anonymous_id="till-1", channel="pos", traits={"loyalty_card": "TC-000482"})
    at_till_lan = resolve(
        anonymous_id="till-1", channel="pos", traits={"loyalty_card": "TC-000777"}, minutes=5
    )
    nobody = resolve(anonymous_id="till-1", channel="pos", minutes=6)
    walk_in = resolve(
        anonymous_id="till-1", channel="pos", traits={"phone": "0912 345 678"}, minutes=7
    )

    assert (at_till_ha.pk, at_till_lan.pk) == (ha.pk, lan.pk)
    assert nobody.pk not in (ha.pk, lan.pk, walk_in.pk)
    assert walk_in.pk not in (ha.pk, lan.pk)
    assert list(walk_in.identities.values_list("kind", "value")) == [("phone", "0912345678")]
    terminal = Identity.objects.get(kind="anonymous", value="till-1")
    assert (terminal.customer_id, terminal.shared) == (nobody.pk, True)
    assert not CustomerMerge.objects.exists()
    assert list(ha.identities.values_list("kind", flat=True)) == ["loyalty_card", "user_id"]


def test_a_device_flagged_shared_in_the_traits_never_merges_even_on_the_web():
    ha = known("u-ha", email=("ha@thecoffee.vn", True))
    lan = known("u-lan", email=("lan@thecoffee.vn", True))
    kiosk = {"shared_device": True, "email_verified": True}

    first = resolve(anonymous_id="kiosk-7", traits={**kiosk, "email": "ha@thecoffee.vn"})
    second = resolve(anonymous_id="kiosk-7", traits={**kiosk, "email": "lan@thecoffee.vn"})

    assert (first.pk, second.pk) == (ha.pk, lan.pk)
    assert not CustomerMerge.objects.exists()
    assert not Identity.objects.filter(value="kiosk-7").exists()


def test_a_terminal_never_merges_a_person_even_when_a_user_id_is_sent():
    ha = known("u-ha", email=("ha@thecoffee.vn", True))
    lan_profile = resolve(user_id="u-lan", channel="pos", anonymous_id="till-2")

    result = resolve(
        user_id="u-lan",
        anonymous_id="till-2",
        channel="pos",
        traits={"email": "ha@thecoffee.vn", "email_verified": True},
        minutes=1,
    )

    assert result.pk == lan_profile.pk != ha.pk
    assert not CustomerMerge.objects.exists()
    assert {"shared_device", "two_user_ids"} <= set(blocked_codes(lan_profile))


def test_an_identifier_that_joined_too_many_profiles_stops_merging():
    owner = known("u-owner", loyalty_card=("TC-FAMILY", False))

    with override_settings(OMNICRM_IDENTITY_RULES={"max_profiles_per_identifier": 2}):
        first = resolve(anonymous_id="anon-1", traits={"loyalty_card": "TC-FAMILY"})
        second = resolve(anonymous_id="anon-2", traits={"loyalty_card": "TC-FAMILY"})

    assert first.pk == owner.pk
    assert second.pk != owner.pk
    assert CustomerMerge.objects.count() == 1
    assert blocked_codes(second) == ["shared_identifier"]


def test_kinds_left_out_of_the_rules_never_merge():
    ha = known("u-ha", loyalty_card=("TC-1", False))

    with override_settings(OMNICRM_IDENTITY_RULES={"auto_merge": ["email"]}):
        visitor = resolve(anonymous_id="anon-k", traits={"loyalty_card": "TC-1"})

    assert visitor.pk != ha.pk
    assert blocked_codes(visitor) == ["kind_not_automatic"]


def test_a_verified_claim_takes_over_an_identifier_someone_else_holds_unverified():
    squatter = resolve(anonymous_id="anon-typo", traits={"email": "ha@thecoffee.vn"})
    assert owner_of("email", "ha@thecoffee.vn").pk == squatter.pk

    ha = resolve(
        user_id="u-ha", traits={"email": "ha@thecoffee.vn", "email_verified": True}, minutes=1
    )

    identity = Identity.objects.get(kind="email", value="ha@thecoffee.vn")
    assert (identity.customer_id, identity.verified) == (ha.pk, True)
    squatter.refresh_from_db()
    assert squatter.email == ""
    assert squatter.merged_into_id is None
    assert not CustomerMerge.objects.exists()


# --- consent -------------------------------------------------------------------------


def test_a_person_who_withdrew_tracking_is_not_profiled():
    ha = known("u-ha")
    IdentityFactory(customer=ha, kind="anonymous", value="anon-ha")
    services.consent_set(customer=ha, channel="tracking", status="withdrawn")
    ha.refresh_from_db()
    before = (ha.name, ha.last_seen_at, ha.updated_at)

    results = [
        resolve(user_id="u-ha", traits={"name": "Changed"}),
        resolve(anonymous_id="anon-ha"),
        resolve(user_id="u-ha", anonymous_id="anon-new"),
    ]

    assert results == [None, None, None]
    ha.refresh_from_db()
    assert (ha.name, ha.last_seen_at, ha.updated_at) == before
    assert not Identity.objects.filter(value="anon-new").exists()


def test_an_anonymous_visitor_who_withdrew_is_not_joined_to_an_account_on_login():
    ha = known("u-ha")
    visitor = resolve(anonymous_id="anon-v")
    services.consent_set(customer=visitor, channel="tracking", status="withdrawn")

    assert resolve(user_id="u-ha", anonymous_id="anon-v") is None
    assert not CustomerMerge.objects.exists()
    assert owner_of("anonymous", "anon-v").pk == visitor.pk != ha.pk


def test_no_automatic_merge_into_a_profile_that_withdrew_tracking():
    ha = known("u-ha", email=("ha@thecoffee.vn", True))
    services.consent_set(customer=ha, channel="tracking", status="withdrawn")

    visitor = resolve(
        anonymous_id="anon-w", traits={"email": "ha@thecoffee.vn", "email_verified": True}
    )

    assert visitor.pk != ha.pk
    assert blocked_codes(visitor) == ["tracking_withdrawn"]


# --- alias and lookup ----------------------------------------------------------------


def test_alias_attaches_the_user_id_to_the_anonymous_profile():
    visitor = resolve(anonymous_id="anon-al")

    result = identity_alias(previous_id="anon-al", user_id="u-al", source="events:web")

    assert result.pk == visitor.pk
    assert owner_of("user_id", "u-al").pk == visitor.pk


def test_alias_merges_two_accounts_because_the_shop_says_they_are_one_person():
    old = known("u-old-account")
    new = known("u-new-account")
    old_event = event(old, user_id="u-old-account")

    result = identity_alias(previous_id="u-old-account", user_id="u-new-account", source="web")

    assert result.pk == new.pk
    merge = CustomerMerge.objects.get()
    assert (merge.primary_id, merge.secondary_id, merge.trigger) == (new.pk, old.pk, "alias")
    assert Event.objects.get(pk=old_event.pk).customer_id == new.pk


def test_alias_never_links_a_shared_terminal_and_records_unknown_previous_ids():
    ha = known("u-ha")
    resolve(anonymous_id="till-9", channel="pos")

    shared = identity_alias(previous_id="till-9", user_id="u-ha", source="pos")
    fresh = identity_alias(previous_id="anon-never-seen", user_id="u-ha", source="web")

    assert shared.pk == fresh.pk == ha.pk
    assert not CustomerMerge.objects.exists()
    assert owner_of("anonymous", "till-9").pk != ha.pk
    assert owner_of("anonymous", "anon-never-seen").pk == ha.pk
    assert identity_alias(previous_id="anon-z", user_id="undefined", source="web") is None


def test_lookup_finds_without_writing():
    ha = known("u-ha")
    IdentityFactory(customer=ha, kind="anonymous", value="anon-ha")
    IdentityFactory(customer=CustomerFactory(), kind="anonymous", value="till-3", shared=True)
    count = Customer.objects.count()

    assert identity_lookup(user_id="u-ha", anonymous_id="whatever").pk == ha.pk
    assert identity_lookup(anonymous_id="anon-ha").pk == ha.pk
    assert identity_lookup(user_id="u-unknown", anonymous_id="anon-ha").pk == ha.pk
    assert identity_lookup(anonymous_id="till-3") is None
    assert identity_lookup(user_id="undefined") is None
    assert identity_lookup(anonymous_id="anon-nobody") is None
    assert Customer.objects.count() == count


# --- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{not json", "OMNICRM_IDENTITY_RULES is not valid JSON"),
        ('{"auto_merge": ["device"]}', "OMNICRM_IDENTITY_RULES: auto_merge: unknown or not"),
        (
            '{"max_profiles_per_identifier": 1}',
            "OMNICRM_IDENTITY_RULES: max_profiles_per_identifier: must be",
        ),
        ('{"automerge": []}', "OMNICRM_IDENTITY_RULES: automerge: unknown key"),
        (
            '{"placeholders": {"mail": ["x"]}}',
            "OMNICRM_IDENTITY_RULES: placeholders.mail: unknown identifier",
        ),
    ],
)
def test_a_bad_rules_setting_is_reported_naming_the_key(setting, message):
    with override_settings(OMNICRM_IDENTITY_RULES=setting):
        with pytest.raises(ImproperlyConfigured) as error:
            identity_rules()
        with pytest.raises(SystemCheckError) as check:
            call_command("check")

    assert str(error.value).startswith(message)
    assert "customers.E001" in str(check.value)


def test_the_default_rules():
    rules = identity_rules()

    assert rules.auto_merge == {"email", "phone", "loyalty_card"}
    assert rules.require_verified == {"email", "phone"}
    assert rules.max_profiles_per_identifier == 5
    assert rules.shared_device_channels == {"pos"}


# --- concurrency ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_resolving_a_new_anonymous_id_at_once_create_one_profile():
    start = threading.Barrier(3)
    found: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            found.append(resolve(anonymous_id="anon-race").pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert len(set(found)) == 1
    assert Identity.objects.filter(kind="anonymous", value="anon-race").count() == 1


# --- through the tracking API and event processing -------------------------------------


@pytest.fixture
def pipeline(client, settings, django_capture_on_commit_callbacks):
    """send(channel, *messages): POST a batch with that channel's source write key and run
    the processing task it queues, as a worker would."""
    settings.TASKS = IMMEDIATE_TASKS
    keys: dict[str, str] = {}

    def send(channel: str, *messages: dict) -> None:
        if channel not in keys:
            keys[channel] = source_create(name=channel, channel=channel)[1]
        with django_capture_on_commit_callbacks(execute=True):
            response = Tracker(client, keys[channel]).post("/v1/batch", {"batch": list(messages)})
        assert response.status_code == 200, response.content

    return send


def test_pipeline_browsing_on_two_devices_joins_one_profile_after_logging_in(pipeline):
    pipeline(
        "web",
        track("w-1", anonymousId="anon-laptop"),
        track("w-2", anonymousId="anon-laptop", event="Products Searched"),
    )
    pipeline("ios", track("i-1", anonymousId="anon-phone"))
    assert Event.objects.filter(customer__isnull=False).values("customer").distinct().count() == 2

    pipeline(
        "ios",
        {
            **track("i-2", anonymousId="anon-phone"),
            "type": "identify",
            "userId": "u-ha",
            "traits": {"name": "Đặng Lưu Hà"},
        },
    )
    pipeline(
        "web", {**track("w-3", anonymousId="anon-laptop"), "type": "identify", "userId": "u-ha"}
    )

    ha = owner_of("user_id", "u-ha")
    assert sorted(Event.objects.filter(customer=ha).values_list("message_id", flat=True)) == [
        "i-1",
        "i-2",
        "w-1",
        "w-2",
        "w-3",
    ]
    assert ha.name == "Đặng Lưu Hà"
    assert sorted(CustomerMerge.objects.values_list("trigger", flat=True)) == ["identify"]


def test_pipeline_the_store_till_attributes_each_buyer_and_merges_nobody(pipeline):
    ha = known("u-ha", loyalty_card=("TC-000482", False))
    lan = known("u-lan", loyalty_card=("TC-000777", False))
    till = {"anonymousId": "till-1", "type": "identify"}

    pipeline(
        "pos",
        {**track("p-1"), **till, "traits": {"loyalty_card": "TC-000482"}},
        {**track("p-2"), **till, "traits": {"loyalty_card": "TC-000777"}},
        track("p-3", anonymousId="till-1", event="Till Opened"),
    )

    by_message = dict(Event.objects.values_list("message_id", "customer_id"))
    assert (by_message["p-1"], by_message["p-2"]) == (ha.pk, lan.pk)
    assert by_message["p-3"] not in (ha.pk, lan.pk)
    assert not CustomerMerge.objects.exists()
    assert Identity.objects.get(value="till-1").shared is True
