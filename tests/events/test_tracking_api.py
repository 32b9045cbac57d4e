"""The Segment-compatible tracking endpoints: /api/v1/<kind> and Segment's /v1/<kind>."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from omnicrm.core.apikeys import apikey_create
from omnicrm.events.models import Event, RejectedEvent
from omnicrm.events.services import source_create, source_revoke
from tests.events.conftest import Tracker, basic, error_of, track

pytestmark = pytest.mark.django_db

KINDS_AND_BODIES = [
    ("identify", {"userId": "u-1", "traits": {"name": "Đặng Lưu Hà"}}),
    ("track", {"anonymousId": "a-1", "event": "Product Viewed", "properties": {"sku": "A"}}),
    ("page", {"anonymousId": "a-1", "name": "Home", "properties": {"path": "/"}}),
    ("screen", {"userId": "u-1", "name": "Cart"}),
    ("group", {"userId": "u-1", "groupId": "company-7", "traits": {"name": "Initech"}}),
    ("alias", {"previousId": "a-1", "userId": "u-1"}),
]


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
@pytest.mark.parametrize(("kind", "body"), KINDS_AND_BODIES)
def test_each_endpoint_stores_one_event_of_its_type(tracker, prefix, kind, body):
    response = tracker.post(f"{prefix}/{kind}", {**body, "messageId": f"m-{kind}"})

    assert response.status_code == 200
    assert response.json() == {"success": True, "received": 1, "duplicates": 0}
    event = Event.objects.get()
    assert (event.type, event.message_id, event.channel) == (kind, f"m-{kind}", "web")
    assert event.processed_at is None


def test_stored_fields_keep_segment_names_and_values(tracker):
    tracker.post(
        "/v1/track",
        track(
            "m-1",
            userId="u-9",
            properties={"sku": "ARABICA-10", "price": 24.5},
            context={"ip": "10.0.0.1", "locale": "vi-VN"},
        ),
    )

    event = Event.objects.get()
    assert event.event == "Product Viewed"
    assert (event.user_id, event.anonymous_id) == ("u-9", "anon-1")
    assert event.properties == {"sku": "ARABICA-10", "price": 24.5}
    assert event.context == {"ip": "10.0.0.1", "locale": "vi-VN"}
    assert event.timestamp == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_a_batch_stores_every_message_and_merges_the_batch_context(tracker):
    response = tracker.post(
        "/v1/batch",
        {
            "batch": [
                track("m-1", context={"ip": "10.0.0.1"}),
                {"type": "identify", "messageId": "m-2", "userId": "u-1", "traits": {}},
                {"type": "page", "messageId": "m-3", "anonymousId": "a-2", "name": "Home"},
            ],
            "context": {"library": {"name": "analytics-python"}, "ip": "10.9.9.9"},
        },
    )

    assert response.status_code == 200
    assert response.json()["received"] == 3
    events = {e.message_id: e for e in Event.objects.all()}
    assert sorted(events) == ["m-1", "m-2", "m-3"]
    assert events["m-1"].context == {"library": {"name": "analytics-python"}, "ip": "10.0.0.1"}
    assert events["m-2"].context == {"library": {"name": "analytics-python"}, "ip": "10.9.9.9"}
    assert events["m-3"].event == "Home"


def test_the_write_key_may_come_in_the_body_as_sendbeacon_must(body_tracker):
    response = body_tracker.post("/v1/batch", {"batch": [track("m-1")]}, content_type="text/plain")

    assert response.status_code == 200
    assert Event.objects.count() == 1


def test_basic_auth_without_the_trailing_colon_is_accepted_like_segment_does(client, web_source):
    import base64

    header = "Basic " + base64.b64encode(web_source[1].encode()).decode()
    response = client.post(
        "/v1/track",
        data=json.dumps(track("m-1")),
        content_type="application/json",
        headers={"Authorization": header},
    )

    assert response.status_code == 200


def test_segment_short_paths_used_by_the_libraries_reach_the_same_endpoints(tracker):
    # analytics.js posts to /v1/t, /v1/p...; the iOS and Android libraries to /v1/b.
    assert tracker.post("/v1/t", track("m-1")).status_code == 200
    assert tracker.post("/v1/b", {"batch": [track("m-2")]}).status_code == 200
    assert tracker.post("/v1/p", {"anonymousId": "a", "messageId": "m-3"}).status_code == 200
    assert sorted(Event.objects.values_list("type", flat=True)) == ["page", "track", "track"]


def test_segment_paths_answer_exactly_as_the_api_v1_paths(client, web_source):
    other_source, other_key = source_create(name="App", channel="ios")
    bad = '{"batch": [{"type": "track", "anonymousId": "a", "event": 5}]}'
    for body in (json.dumps({"batch": [track("m-1")]}), bad, "{oops"):
        answers = []
        for prefix, key in (("/api/v1", web_source[1]), ("/v1", other_key)):
            response = client.post(
                f"{prefix}/batch",
                data=body,
                content_type="application/json",
                headers={"Authorization": basic(key)},
            )
            answers.append((response.status_code, response.json()))
        assert answers[0] == answers[1]
    assert Event.objects.filter(source=web_source[0]).count() == 1
    assert Event.objects.filter(source=other_source).count() == 1


def test_a_gzip_body_as_the_mobile_libraries_send_it_is_inflated(tracker):
    response = tracker.post("/v1/b", {"batch": [track("m-1")]}, gzipped=True)

    assert response.status_code == 200
    assert Event.objects.get().message_id == "m-1"


def test_a_body_marked_gzip_that_is_not_gzip_is_refused(tracker):
    response = tracker.post(
        "/v1/batch", {"batch": [track("m-1")]}, headers={"Content-Encoding": "gzip"}
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_gzip"


def test_an_unknown_content_encoding_is_refused_with_415(tracker):
    response = tracker.post(
        "/v1/batch", {"batch": [track("m-1")]}, headers={"Content-Encoding": "br"}
    )

    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_encoding"


# ---------------------------------------------------------------- idempotency


def test_a_replayed_batch_stores_nothing_twice(tracker):
    batch = {"batch": [track(f"m-{i}") for i in range(5)]}

    first = tracker.post("/v1/batch", batch)
    second = tracker.post("/v1/batch", batch)

    assert first.json() == {"success": True, "received": 5, "duplicates": 0}
    assert second.json() == {"success": True, "received": 5, "duplicates": 5}
    assert Event.objects.count() == 5


def test_a_partly_new_batch_stores_only_the_new_messages(tracker):
    tracker.post("/v1/batch", {"batch": [track("m-1"), track("m-2")]})

    response = tracker.post("/v1/batch", {"batch": [track("m-2"), track("m-3")]})

    assert response.json()["duplicates"] == 1
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m-1", "m-2", "m-3"]


def test_the_same_message_id_twice_in_one_batch_is_stored_once(tracker):
    response = tracker.post("/v1/batch", {"batch": [track("m-1"), track("m-1")]})

    assert response.json()["duplicates"] == 1
    assert Event.objects.count() == 1


def test_message_ids_are_unique_per_source_not_across_sources(client, tracker):
    _app, app_key = source_create(name="App", channel="android")
    tracker.post("/v1/track", track("m-1"))

    Tracker(client, app_key).post("/v1/track", track("m-1"))

    assert Event.objects.count() == 2


def test_a_message_without_message_id_gets_one(tracker):
    body = track("x")
    del body["messageId"]

    tracker.post("/v1/track", body)

    assert Event.objects.get().message_id.startswith("omnicrm-")


# ---------------------------------------------------------------- timestamps


def test_sent_at_corrects_the_device_clock_as_segment_does(tracker):
    # The device clock is one hour fast: both its timestamp and sentAt carry the error.
    now = datetime.now(UTC)
    device_sent = now.replace(microsecond=0).replace(hour=(now.hour + 1) % 24)
    skew = device_sent - now

    tracker.post(
        "/v1/batch",
        {
            "batch": [track("m-1", timestamp=(device_sent.isoformat()))],
            "sentAt": device_sent.isoformat(),
        },
    )

    event = Event.objects.get()
    assert event.original_timestamp == device_sent
    assert abs((event.timestamp - (device_sent - skew)).total_seconds()) < 5
    assert abs((event.timestamp - event.received_at).total_seconds()) < 5


def test_without_sent_at_the_timestamp_is_trusted_and_without_timestamp_received_at_is_used(
    tracker,
):
    no_time = track("m-2")
    del no_time["timestamp"]

    tracker.post("/v1/batch", {"batch": [track("m-1"), no_time]})

    events = {e.message_id: e for e in Event.objects.all()}
    assert events["m-1"].timestamp == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert events["m-1"].original_timestamp is None
    assert events["m-2"].timestamp == events["m-2"].received_at


def test_a_timestamp_without_offset_is_taken_as_utc(tracker):
    tracker.post("/v1/track", track("m-1", timestamp="2026-03-01T10:00:00"))

    assert Event.objects.get().timestamp == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


# ---------------------------------------------------------------- refusals


def test_malformed_json_is_a_400_saying_so(tracker):
    response = tracker.post("/v1/batch", '{"batch": [')

    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"
    assert "not valid JSON" in error_of(response)["message"]
    assert Event.objects.count() == 0


def test_a_body_that_is_not_an_object_is_refused(tracker):
    response = tracker.post("/v1/track", "[1, 2]")

    assert response.status_code == 400
    assert error_of(response)["field"] == "body"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"userId": ["u"]}, "batch.1.userId"),
        ({"anonymousId": {"a": 1}}, "batch.1.anonymousId"),
        ({"event": 42}, "batch.1.event"),
        ({"properties": "sku=A"}, "batch.1.properties"),
        ({"context": []}, "batch.1.context"),
        ({"timestamp": 1700000000}, "batch.1.timestamp"),
        ({"timestamp": "yesterday"}, "batch.1.timestamp"),
        ({"messageId": 7}, "batch.1.messageId"),
        ({"type": "purchase"}, "batch.1.type"),
        ({"traits": True}, "batch.1.traits"),
        ({"messageId": "x" * 101}, "batch.1.messageId"),
        ({"userId": "u" * 256}, "batch.1.userId"),
        ({"event": "e\u0000"}, "batch.1.event"),
        ({"properties": {"note": "a\u0000b"}}, "batch.1.properties"),
    ],
)
def test_a_wrong_field_is_a_400_naming_it_and_nothing_of_the_batch_is_stored(
    tracker, change, field
):
    response = tracker.post("/v1/batch", {"batch": [track("m-0"), {**track("m-1"), **change}]})

    assert response.status_code == 400
    assert error_of(response)["field"] == field
    assert field in error_of(response)["message"]
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/track", {"messageId": "m", "event": "X"}, "userId"),
        ("/v1/track", {"messageId": "m", "anonymousId": "a"}, "event"),
        ("/v1/track", {"messageId": "m", "anonymousId": "a", "event": "  "}, "event"),
        ("/v1/alias", {"messageId": "m", "userId": "u"}, "previousId"),
        ("/v1/group", {"messageId": "m", "userId": "u"}, "groupId"),
        ("/v1/page", {"messageId": "m", "anonymousId": "a", "name": 3}, "name"),
        ("/v1/identify", {"messageId": "m", "userId": "u", "type": "track"}, "type"),
        ("/v1/batch", {"batch": {"type": "track"}}, "batch"),
        ("/v1/batch", {"batch": []}, "batch"),
        ("/v1/batch", {"messages": []}, "batch"),
        ("/v1/batch", {"batch": [track("m")], "sentAt": "soon"}, "sentAt"),
        ("/v1/batch", {"batch": ["track"]}, "batch.0"),
        ("/v1/batch", {"batch": [{"anonymousId": "a"}]}, "batch.0.type"),
    ],
)
def test_required_fields_and_shapes_are_checked(tracker, path, body, field):
    response = tracker.post(path, body)

    assert response.status_code == 400
    assert error_of(response)["field"] == field


def test_a_numeric_user_id_is_kept_as_text(tracker):
    tracker.post("/v1/identify", {"messageId": "m", "userId": 1042})

    assert Event.objects.get().user_id == "1042"


def test_an_event_over_32_kb_in_a_batch_is_a_400_naming_its_index(tracker):
    big = track("m-1", properties={"blob": "x" * 33_000})

    response = tracker.post("/v1/batch", {"batch": [track("m-0"), big]})

    assert response.status_code == 400
    assert error_of(response)["code"] == "event_too_large"
    assert error_of(response)["field"] == "batch.1"
    assert "batch.1" in error_of(response)["message"]
    assert Event.objects.count() == 0


def test_a_single_event_request_over_32_kb_is_a_413(tracker):
    response = tracker.post("/v1/track", track("m-1", properties={"blob": "x" * 33_000}))

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert error_of(response)["limit_bytes"] == 32 * 1024


def test_a_batch_over_500_kb_is_a_413_and_nothing_is_stored(tracker):
    batch = [track(f"m-{i}", properties={"blob": "x" * 20_000}) for i in range(26)]

    response = tracker.post("/v1/batch", {"batch": batch})

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert "500 KB" in error_of(response)["message"]
    assert Event.objects.count() == 0


def test_a_batch_just_under_500_kb_of_events_under_32_kb_is_accepted(tracker):
    batch = [track(f"m-{i}", properties={"blob": "x" * 30_000}) for i in range(16)]

    response = tracker.post("/v1/batch", {"batch": batch})

    assert response.status_code == 200
    assert Event.objects.count() == 16


def test_a_gzip_body_that_inflates_past_the_limit_is_a_413(tracker):
    batch = {"batch": [track(f"m-{i}", properties={"blob": "x" * 30_000}) for i in range(20)]}

    response = tracker.post("/v1/batch", batch, gzipped=True)

    assert response.status_code == 413
    assert Event.objects.count() == 0


def test_get_is_not_allowed(client):
    response = client.get("/v1/track")

    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"


def test_an_unknown_segment_path_is_a_404(tracker):
    assert tracker.post("/v1/purchase", track("m")).status_code == 404


# ---------------------------------------------------------------- write keys


def test_no_write_key_is_a_401_explaining_how_to_send_one(client):
    response = client.post(
        "/v1/track", data=json.dumps(track("m-1")), content_type="application/json"
    )

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_write_key"
    assert "Basic" in error_of(response)["message"]
    assert response["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "key",
    ["wk_unknown_secretsecret", "not-a-key", "wk__", "wk_abc"],
)
def test_an_unknown_or_malformed_write_key_is_a_401(client, web_source, key):
    response = Tracker(client, key).post("/v1/track", track("m-1"))

    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_a_write_key_with_a_wrong_secret_is_a_401(client, web_source):
    source, _key = web_source
    forged = f"wk_{source.prefix}_{'A' * 32}"

    response = Tracker(client, forged).post("/v1/track", track("m-1"))

    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_write_key"


def test_a_revoked_write_key_is_a_401(client, web_source):
    source, key = web_source
    source_revoke(prefix=source.prefix)

    response = Tracker(client, key).post("/v1/track", track("m-1"))

    assert response.status_code == 401
    assert error_of(response)["code"] == "revoked_write_key"


def test_an_api_key_is_not_a_write_key(client):
    _key, raw = apikey_create(name="server", scopes="read,write")

    response = Tracker(client, raw).post("/v1/track", track("m-1"))

    assert response.status_code == 401
    assert "API key" in error_of(response)["message"]


def test_a_write_key_cannot_use_the_rest_of_the_api(client, web_source):
    response = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {web_source[1]}"})

    assert response.status_code == 401


def test_a_header_key_and_a_different_body_key_are_refused(client, web_source):
    _other, other_key = source_create(name="App", channel="ios")

    response = Tracker(client, web_source[1]).post(
        "/v1/track", {**track("m-1"), "writeKey": other_key}
    )

    assert response.status_code == 401
    assert "differ" in error_of(response)["message"]


def test_a_bearer_header_is_not_a_write_key_but_the_body_key_still_counts(client, web_source):
    response = Tracker(client, None).post(
        "/v1/track",
        {**track("m-1"), "writeKey": web_source[1]},
        headers={"Authorization": "Bearer some-oauth-token"},
    )

    assert response.status_code == 200


def test_a_broken_basic_header_is_a_401(client):
    response = Tracker(client, None).post(
        "/v1/track", track("m-1"), headers={"Authorization": "Basic %%%"}
    )

    assert response.status_code == 401


# ---------------------------------------------------------------- CORS


@pytest.mark.parametrize("path", ["/v1/batch", "/api/v1/batch", "/api/v1/track", "/v1/t"])
def test_cross_origin_preflight_is_answered_for_any_origin(client, path):
    response = client.options(
        path,
        headers={
            "Origin": "https://thecoffee.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


def test_answers_carry_cors_headers_even_for_errors(tracker):
    ok = tracker.post("/v1/track", track("m-1"), headers={"Origin": "https://shop.example"})
    bad = tracker.post("/v1/track", "{", headers={"Origin": "https://shop.example"})

    assert ok["Access-Control-Allow-Origin"] == "*"
    assert bad["Access-Control-Allow-Origin"] == "*"


def test_tracking_needs_no_csrf_token(web_source):
    client = Client(enforce_csrf_checks=True)

    response = Tracker(client, web_source[1]).post("/api/v1/track", track("m-1"))

    assert response.status_code == 200


# ---------------------------------------------------------------- rejections log


def test_rejections_are_logged_with_their_reason_per_source(tracker, web_source):
    tracker.post("/v1/batch", {"batch": [{**track("m-1"), "event": 42}]})

    rejection = RejectedEvent.objects.get()
    assert rejection.source == web_source[0]
    assert (rejection.status, rejection.code) == (400, "invalid_event")
    assert rejection.field == "batch.0.event"
    assert '"event": 42' in rejection.excerpt


def test_a_write_key_sent_in_the_body_is_masked_in_the_rejections_log(body_tracker, web_source):
    body_tracker.post("/v1/batch", {"batch": [{**track("m-1"), "event": 42}]})

    excerpt = RejectedEvent.objects.get().excerpt
    assert web_source[1] not in excerpt
    assert '"writeKey": "wk_…"' in excerpt


def test_unknown_key_rejections_are_logged_without_a_source(client):
    Tracker(client, "wk_nope_nope").post("/v1/track", track("m-1"))

    rejection = RejectedEvent.objects.get()
    assert rejection.source is None
    assert rejection.status == 401


# ---------------------------------------------------------------- library settings


def test_segment_libraries_pointed_at_omnicrm_learn_to_send_here(client, web_source, settings):
    settings.ALLOWED_HOSTS = ["crm.thecoffee.vn"]

    response = client.get(f"/v1/projects/{web_source[1]}/settings", HTTP_HOST="crm.thecoffee.vn")

    assert response.status_code == 200
    settings = response.json()
    assert settings["integrations"]["Segment.io"] == {
        "apiKey": web_source[1],
        "apiHost": "crm.thecoffee.vn/v1",
    }
    assert settings["metrics"] == {"sampleRate": 0.0}
    assert response["Access-Control-Allow-Origin"] == "*"


def test_settings_for_an_unknown_or_revoked_key_are_a_404(client, web_source):
    source_revoke(prefix=web_source[0].prefix)

    assert client.get(f"/v1/projects/{web_source[1]}/settings").status_code == 404
    assert client.get("/v1/projects/wk_nope_nope/settings").status_code == 404


def test_the_source_remembers_when_it_last_sent_events(tracker, web_source):
    source = web_source[0]
    assert source.last_event_at is None

    tracker.post("/v1/track", track("m-1"))

    source.refresh_from_db()
    assert source.last_event_at is not None
    assert source.last_event_at == Event.objects.get().received_at
