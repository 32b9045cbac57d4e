"""Console pages of merges: Merge with... on the Customer 360 page, preview, confirm with
CSRF, merge history and split; who may do what."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from omnicrm.customers.merge import customer_merge
from omnicrm.customers.models import Customer, CustomerMerge, MergeStatus
from omnicrm.orders.models import Order
from tests.console.html import text_by_id
from tests.customers.identity_world import event
from tests.factories import CustomerFactory, IdentityFactory, OrderFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def login(make_staff):
    def make(role: str, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        client.force_login(make_staff(role))
        return client

    return make


@pytest.fixture
def ha() -> Customer:
    customer = CustomerFactory(name="Đặng Lưu Hà", email="ha.dang@thecoffee.vn", phone="")
    IdentityFactory(customer=customer, kind="user_id", value="u-ha")
    OrderFactory(customer=customer)
    return customer


@pytest.fixture
def web() -> Customer:
    customer = CustomerFactory(name="Ha Dang", email="", phone="+84912345678")
    IdentityFactory(customer=customer, kind="anonymous", value="anon-web")
    OrderFactory.create_batch(2, customer=customer)
    ReviewFactory(customer=customer)
    event(customer, anonymous_id="anon-web")
    return customer


def detail(customer: Customer) -> str:
    return reverse("console:customer_detail", args=[customer.public_id])


def preview_url(primary: Customer, secondary: Customer) -> str:
    return reverse("console:identity:merge_preview", args=[primary.public_id, secondary.public_id])


def split_url(merge: CustomerMerge) -> str:
    return reverse("console:identity:merge_split", args=[merge.public_id])


def test_support_agents_and_admins_get_the_merge_action_and_others_do_not(login, ha):
    for role, offered in [
        ("support_agent", True),
        ("admin", True),
        ("marketer", False),
        ("analyst", False),
    ]:
        html = login(role).get(detail(ha)).content.decode()
        assert ('id="merge-action"' in html) is offered, role
        assert reverse("console:identity:merge_start", args=[ha.public_id]) in html or not offered


def test_merge_with_searches_other_profiles_but_never_the_same_one(login, ha, web):
    agent = login("support_agent")
    url = reverse("console:identity:merge_start", args=[ha.public_id])

    page = agent.get(url, {"q": "Ha"})
    fragment = agent.get(
        url, {"q": "+84912345678"}, headers={"HX-Request": "true", "HX-Target": "merge-candidates"}
    )
    empty = agent.get(url, {"q": "nobody-like-this"})

    assert page.status_code == 200
    assert [c.pk for c in page.context["candidates"]] == [web.pk]
    assert preview_url(ha, web) in page.content.decode()
    assert [t.name for t in fragment.templates] == ["customers/partials/_merge_candidates.html"]
    assert [c.pk for c in fragment.context["candidates"]] == [web.pk]
    assert "No other profile matches" in empty.content.decode()


def test_the_preview_page_shows_exact_counts_and_the_consent_rule(login, ha, web):
    response = login("support_agent").get(preview_url(ha, web))

    assert response.status_code == 200
    html = response.content.decode()
    assert text_by_id(html, "count-orders") == "2"
    assert text_by_id(html, "count-reviews") == "1"
    assert text_by_id(html, "count-events") == "1"
    assert text_by_id(html, "count-identities") == "1"
    assert "Phone" in text_by_id(html, "merge-fields")
    assert 'id="merge-form"' in html
    assert not CustomerMerge.objects.exists()


def test_a_blocked_merge_shows_the_reason_and_offers_no_form(login, ha, web):
    IdentityFactory(customer=web, kind="user_id", value="u-other")

    response = login("support_agent").get(preview_url(ha, web))

    html = response.content.decode()
    assert "blocked: both profiles have a userId (u-ha and u-other)" in text_by_id(
        html, "merge-verdict"
    )
    assert 'id="merge-form"' not in html


def test_confirming_needs_the_csrf_token_and_then_merges(login, ha, web):
    agent = login("support_agent", csrf=True)

    forged = agent.post(preview_url(ha, web), {"reason": "same person"})
    page = agent.get(preview_url(ha, web))
    token = page.context["csrf_token"]
    confirmed = agent.post(
        preview_url(ha, web), {"reason": "same person", "csrfmiddlewaretoken": str(token)}
    )

    assert forged.status_code == 403
    assert confirmed.status_code == 302
    assert confirmed["Location"] == detail(ha) + "#merge-history"
    merge = CustomerMerge.objects.get()
    assert (merge.primary_id, merge.secondary_id) == (ha.pk, web.pk)
    assert merge.merged_by.username == "support_agent-user"
    assert merge.reason == "same person"
    assert Order.objects.filter(customer=ha).count() == 3


def test_a_merge_without_a_reason_is_refused_with_the_field_named(login, ha, web):
    response = login("support_agent").post(preview_url(ha, web), {"reason": "  "})

    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert not CustomerMerge.objects.exists()


def test_a_merge_refused_at_confirmation_shows_why(login, ha, web):
    agent = login("support_agent")
    other = CustomerFactory()
    customer_merge(primary=other, secondary=web, reason="someone else was faster")

    response = agent.post(preview_url(ha, web), {"reason": "same person"})

    assert response.status_code == 409
    assert f"was merged into {other.public_id}" in response.content.decode()
    assert CustomerMerge.objects.count() == 1


@pytest.mark.parametrize("role", ["marketer", "analyst"])
def test_other_roles_cannot_merge_or_split(login, ha, web, role):
    merge = customer_merge(primary=ha, secondary=CustomerFactory(), reason="r")
    client = login(role)

    pages = [
        client.get(reverse("console:identity:merge_start", args=[ha.public_id])),
        client.post(preview_url(ha, web), {"reason": "r"}),
        client.post(split_url(merge)),
    ]

    assert [p.status_code for p in pages] == [403, 403, 403]
    assert CustomerMerge.objects.get().status == MergeStatus.MERGED
    assert Customer.objects.get(pk=web.pk).merged_into_id is None


def test_anonymous_visitors_are_sent_to_log_in(client, ha, web):
    response = client.post(preview_url(ha, web), {"reason": "r"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))
    assert not CustomerMerge.objects.exists()


def test_history_is_read_only_for_roles_that_cannot_split(login, ha, web):
    merge = customer_merge(primary=ha, secondary=web, reason="called support")

    agent_html = login("support_agent").get(detail(ha)).content.decode()
    marketer_html = login("marketer").get(detail(ha)).content.decode()

    assert "called support" in text_by_id(agent_html, "merge-history")
    assert split_url(merge) in agent_html
    assert "Ha Dang merged in" in text_by_id(marketer_html, "merge-history")
    assert split_url(merge) not in marketer_html


def test_the_merged_profiles_page_says_where_it_went(login, ha, web):
    customer_merge(primary=ha, secondary=web, reason="r")

    html = login("marketer").get(detail(web)).content.decode()

    banner = text_by_id(html, "merged-banner")
    assert banner.startswith("This profile was merged into Đặng Lưu Hà on")
    assert detail(ha) in html
    assert 'id="merge-action"' not in html


def test_split_confirms_then_gives_everything_back_and_refuses_a_second_time(login, ha, web):
    merge = customer_merge(primary=ha, secondary=web, reason="wrong person")
    agent = login("support_agent", csrf=True)

    confirm = agent.get(split_url(merge))
    forged = agent.post(split_url(merge))
    token = str(confirm.context["csrf_token"])
    done = agent.post(split_url(merge), {"csrfmiddlewaretoken": token})
    again = agent.post(split_url(merge), {"csrfmiddlewaretoken": token})
    after = agent.get(split_url(merge))

    assert confirm.status_code == 200
    assert 'id="split-form"' in confirm.content.decode()
    assert forged.status_code == 403
    assert done.status_code == 302
    assert done["Location"] == detail(web) + "#merge-history"
    merge.refresh_from_db()
    assert merge.status == MergeStatus.SPLIT
    assert merge.split_by.username == "support_agent-user"
    assert Order.objects.filter(customer=web).count() == 2
    assert again.status_code == 409
    assert f"merge {merge.public_id} was already split" in again.content.decode()
    assert 'id="split-done"' in after.content.decode()


def test_admins_may_split_too(login, ha, web):
    merge = customer_merge(primary=ha, secondary=web, reason="r")

    response = login("admin").post(split_url(merge))

    assert response.status_code == 302
    assert CustomerMerge.objects.get().status == MergeStatus.SPLIT


@pytest.mark.parametrize(
    ("language", "history", "reason"),
    [
        ("vi", "Lịch sử gộp", "bị chặn: cả hai hồ sơ đều có userId (u-ha và u-other)"),
        ("zh-hans", "合并记录", "已阻止：两个档案都有 userId（u-ha 和 u-other）"),  # noqa: RUF001
    ],
)
def test_merge_pages_speak_vietnamese_and_chinese(login, ha, web, language, history, reason):
    agent = login("support_agent")
    IdentityFactory(customer=web, kind="user_id", value="u-other")
    headers = {"Accept-Language": language}

    page = agent.get(detail(ha), headers=headers).content.decode()
    preview = agent.get(preview_url(ha, web), headers=headers).content.decode()

    assert history in text_by_id(page, "merge-history-title")
    assert reason in text_by_id(preview, "merge-verdict")
