"""Console pages of the events app: sources and their live view, the Customer 360 timeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from omnicrm.events.models import Event, RejectedEvent, Source
from omnicrm.events.services import rejection_record, source_create
from tests.console.conftest import PASSWORD
from tests.events.conftest import Tracker, track
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

SOURCES = "/sources/"


@pytest.fixture
def login_as(make_staff):
    def login(role: str) -> Client:
        client = Client(enforce_csrf_checks=True)
        if role == "nobody":
            user = User.objects.create_user("nobody", password=PASSWORD)
        else:
            user = make_staff(role)
        client.force_login(user)
        return client

    return login


def csrf_token(client: Client, url: str) -> str:
    html = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


# ---------------------------------------------------------------- sources page


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(SOURCES)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/sources/")


@pytest.mark.parametrize("role", ["marketer", "analyst", "support_agent", "nobody"])
def test_only_admins_see_sources(login_as, role):
    assert login_as(role).get(SOURCES).status_code == 403


def test_admins_see_each_source_with_channel_prefix_created_and_last_event(login_as):
    source, _key = source_create(name="Store till", channel="pos")
    Source.objects.filter(pk=source.pk).update(last_event_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    source_create(name="Website", channel="web")

    response = login_as("admin").get(SOURCES)

    html = response.content.decode()
    assert response.status_code == 200
    table = html[html.index('id="source-table"') :]
    assert "Store till" in table and "Store POS" in table and "Website" in table
    assert f"wk_{source.prefix}_…" in table
    assert "Never" in table  # the website has sent nothing yet
    assert "wk_" + source.prefix + "_" + "x" not in html


def test_an_admin_creates_a_source_and_sees_its_key_once(login_as):
    client = login_as("admin")
    token = csrf_token(client, SOURCES)

    response = client.post(
        SOURCES, {"name": "iPhone app", "channel": "ios", "csrfmiddlewaretoken": token}
    )

    source = Source.objects.get(name="iPhone app")
    html = response.content.decode()
    key = re.search(r'id="created-key">([^<]+)<', html).group(1)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert key.startswith(f"wk_{source.prefix}_")
    assert source.channel == "ios" and source.created_by.username == "admin-user"
    assert key not in client.get(SOURCES).content.decode()


def test_creating_without_the_csrf_token_is_refused(login_as):
    response = login_as("admin").post(SOURCES, {"name": "Sneaky", "channel": "web"})

    assert response.status_code == 403
    assert not Source.objects.exists()


def test_a_bad_form_is_shown_again_with_the_error(login_as):
    client = login_as("admin")
    token = csrf_token(client, SOURCES)

    response = client.post(SOURCES, {"name": "", "channel": "fax", "csrfmiddlewaretoken": token})

    assert response.status_code == 422
    assert 'class="alert alert-error"' in response.content.decode()
    assert not Source.objects.exists()


def test_an_admin_revokes_a_key_and_it_stops_working(login_as):
    source, key = source_create(name="Website", channel="web")
    client = login_as("admin")
    token = csrf_token(client, SOURCES)
    url = reverse("tracking:source_revoke", args=[source.prefix])

    response = client.post(url, {"csrfmiddlewaretoken": token})

    source.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == SOURCES
    assert source.revoked_at is not None
    assert "is revoked" in client.get(SOURCES).content.decode()
    assert Tracker(Client(), key).post("/v1/track", track("m-1")).status_code == 401


def test_revoking_needs_post_and_the_admin_role(login_as):
    source, _key = source_create(name="Website", channel="web")
    url = reverse("tracking:source_revoke", args=[source.prefix])

    assert login_as("admin").get(url).status_code == 405
    assert login_as("marketer").post(url).status_code == 403
    source.refresh_from_db()
    assert source.revoked_at is None


# ---------------------------------------------------------------- live view


def test_the_live_view_shows_events_received_and_rejected_with_the_reason(login_as, client):
    source, key = source_create(name="Website", channel="web")
    tracker = Tracker(client, key)
    tracker.post("/v1/batch", {"batch": [track("m-1"), track("m-2", event="Product Added")]})
    tracker.post("/v1/batch", {"batch": [{**track("m-3"), "event": 42}]})

    response = login_as("admin").get(reverse("tracking:source_detail", args=[source.prefix]))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 3s"' in html
    received = html[html.index('id="received-table"') :]
    assert "Product Added" in received and "Product Viewed" in received
    assert "batch.0.event must be a string" in html
    assert "Waiting" in received


def test_the_live_view_polls_only_its_fragment(login_as, client):
    source, key = source_create(name="Website", channel="web")
    url = reverse("tracking:source_detail", args=[source.prefix])
    admin = login_as("admin")
    admin.get(url)
    Tracker(client, key).post("/v1/track", track("m-new", event="Checkout Started"))

    response = admin.get(url, headers={"HX-Request": "true", "HX-Target": "live"})

    html = response.content.decode()
    assert "<html" not in html
    assert "Checkout Started" in html
    assert "HX-Target" in response["Vary"]


def test_rejections_without_a_valid_key_are_listed_on_the_sources_page(login_as, client):
    Tracker(client, "wk_nope_nope").post("/v1/track", track("m-1"))

    html = login_as("admin").get(SOURCES).content.decode()

    assert "the write key is not valid" in html
    assert RejectedEvent.objects.filter(source__isnull=True).count() == 1


def test_an_unknown_source_prefix_is_a_404(login_as):
    assert login_as("admin").get("/sources/nope/").status_code == 404


def test_the_live_view_costs_the_same_queries_for_many_events(
    login_as, django_assert_max_num_queries
):
    source, _key = source_create(name="Website", channel="web")
    customers = CustomerFactory.create_batch(3)
    now = datetime.now(UTC)
    Event.objects.bulk_create(
        Event(
            source=source,
            message_id=f"m-{i}",
            type="track",
            event="Product Viewed",
            channel="web",
            customer=customers[i % 3],
            timestamp=now,
            received_at=now,
        )
        for i in range(25)
    )
    for i in range(25):
        rejection_record(source=source, status=400, code="invalid_event", message=f"bad {i}")
    client = login_as("admin")
    url = reverse("tracking:source_detail", args=[source.prefix])
    client.get(url)

    with django_assert_max_num_queries(8):
        client.get(url, headers={"HX-Request": "true", "HX-Target": "live"})


# ---------------------------------------------------------------- Customer 360 timeline


@pytest.fixture
def ha_with_events(db):
    ha = CustomerFactory(name="Đặng Lưu Hà")
    web, _k = source_create(name="Website", channel="web")
    pos, _k = source_create(name="Store till", channel="pos")
    voice, _k = source_create(name="Voice", channel="voice")
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    rows = [
        (web, "page", "Home"),
        (web, "track", "Product Viewed"),
        (pos, "track", "Order Completed"),
        (voice, "track", "Reorder Requested"),
    ]
    Event.objects.bulk_create(
        Event(
            source=source,
            message_id=f"m-{i}",
            type=kind,
            event=name,
            channel=source.channel,
            customer=ha,
            timestamp=start + timedelta(hours=i),
            received_at=start + timedelta(hours=i),
        )
        for i, (source, kind, name) in enumerate(rows)
    )
    return ha


def timeline_entries(html: str) -> list[str]:
    return re.findall(r"<strong>([^<]+)</strong>", html[html.index('id="timeline"') :])


def test_the_customer_360_page_loads_the_timeline(login_as, ha_with_events):
    html = (
        login_as("marketer")
        .get(reverse("console:customer_detail", args=[ha_with_events.public_id]))
        .content.decode()
    )

    url = reverse("tracking:customer_timeline", args=[ha_with_events.public_id])
    assert f'hx-get="{url}"' in html


def test_the_timeline_lists_every_channel_newest_first_with_the_channel_shown(
    login_as, ha_with_events
):
    url = reverse("tracking:customer_timeline", args=[ha_with_events.public_id])

    html = login_as("marketer").get(url).content.decode()

    assert timeline_entries(html) == [
        "Reorder Requested",
        "Order Completed",
        "Product Viewed",
        "Home",
    ]
    assert "Voice assistant" in html and "Store POS" in html and "Website" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"channel": "web"}, ["Product Viewed", "Home"]),
        ({"channel": "pos"}, ["Order Completed"]),
        ({"type": "page"}, ["Home"]),
        ({"channel": "web", "type": "track"}, ["Product Viewed"]),
        ({"channel": "fax"}, ["Reorder Requested", "Order Completed", "Product Viewed", "Home"]),
    ],
)
def test_the_timeline_filters_by_channel_and_type(login_as, ha_with_events, query, expected):
    url = reverse("tracking:customer_timeline", args=[ha_with_events.public_id])

    html = login_as("marketer").get(url, query, headers={"HX-Request": "true"}).content.decode()

    assert timeline_entries(html) == expected


def test_a_filter_with_no_match_says_so(login_as, ha_with_events):
    url = reverse("tracking:customer_timeline", args=[ha_with_events.public_id])

    html = login_as("marketer").get(url, {"channel": "email"}).content.decode()

    assert "No events match these filters." in html


def test_the_timeline_needs_customer_access(login_as, ha_with_events):
    url = reverse("tracking:customer_timeline", args=[ha_with_events.public_id])

    assert login_as("nobody").get(url).status_code == 403
    assert login_as("admin").get("/customers/cus_nope/timeline/").status_code == 404


def test_the_timeline_query_count_does_not_grow_with_events(
    login_as, ha_with_events, django_assert_max_num_queries
):
    url = reverse("tracking:customer_timeline", args=[ha_with_events.public_id])
    client = login_as("marketer")
    client.get(url)

    with django_assert_max_num_queries(7):
        client.get(url)
