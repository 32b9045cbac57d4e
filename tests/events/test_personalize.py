"""GET /api/v1/personalize/greeting: "Welcome back, Hà" in the visitor's language, and
nothing else about the profile."""

from __future__ import annotations

import pytest

from omnicrm.core.apikeys import apikey_create
from omnicrm.customers.services import consent_set
from omnicrm.events.personalize import given_name
from omnicrm.events.services import source_revoke
from tests.events.conftest import basic, error_of
from tests.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/personalize/greeting"


@pytest.fixture
def ha(db):
    customer = CustomerFactory(name="Đặng Lưu Hà", language="vi", country="VN", email="")
    IdentityFactory(customer=customer, kind="anonymous", value="anon-ha")
    IdentityFactory(customer=customer, kind="user_id", value="u-ha")
    return customer


def greet(client, key, **params):
    return client.get(URL, {"writeKey": key, **params})


def test_a_returning_visitor_is_greeted_by_name_in_the_profile_language(client, web_source, ha):
    response = greet(client, web_source[1], anonymousId="anon-ha")

    assert response.status_code == 200
    assert response.json() == {"greeting": "Chào mừng Hà quay lại", "known": True, "language": "vi"}


@pytest.mark.parametrize(
    ("language", "greeting", "code"),
    [
        ("en", "Welcome back, Hà", "en"),
        ("en-US", "Welcome back, Hà", "en"),
        ("vi-VN", "Chào mừng Hà quay lại", "vi"),
        ("zh-CN", "欢迎回来，Hà", "zh-hans"),  # noqa: RUF001
        ("zh-Hans", "欢迎回来，Hà", "zh-hans"),  # noqa: RUF001
    ],
)
def test_the_language_the_site_asks_for_wins(client, web_source, ha, language, greeting, code):
    response = greet(client, web_source[1], anonymousId="anon-ha", language=language)

    assert response.json() == {"greeting": greeting, "known": True, "language": code}


def test_an_unknown_visitor_gets_a_neutral_greeting_in_the_browser_language(client, web_source):
    response = client.get(
        URL,
        {"writeKey": web_source[1], "anonymousId": "never-seen"},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )

    expected = {"greeting": "欢迎光临！", "known": False, "language": "zh-hans"}  # noqa: RUF001
    assert response.json() == expected


def test_a_profile_without_a_name_is_welcomed_back_without_one(client, web_source):
    customer = CustomerFactory(name="", language="en")
    IdentityFactory(customer=customer, kind="anonymous", value="anon-x")

    response = greet(client, web_source[1], anonymousId="anon-x")

    assert response.json() == {"greeting": "Welcome back!", "known": True, "language": "en"}


def test_the_answer_holds_nothing_but_the_greeting(client, web_source, ha):
    body = greet(client, web_source[1], anonymousId="anon-ha").json()

    assert set(body) == {"greeting", "known", "language"}
    assert "Đặng" not in body["greeting"]
    assert ha.public_id not in str(body)


def test_a_user_id_alone_is_not_enough_with_a_public_write_key(client, web_source, ha):
    response = greet(client, web_source[1], userId="u-ha")

    assert response.json()["known"] is False


def test_a_user_id_must_name_the_same_profile_as_the_anonymous_id(client, web_source, ha):
    other = CustomerFactory(name="Trần Văn Nam")
    IdentityFactory(customer=other, kind="user_id", value="u-nam")

    same = greet(client, web_source[1], anonymousId="anon-ha", userId="u-ha")
    mixed = greet(client, web_source[1], anonymousId="anon-ha", userId="u-nam")

    assert same.json()["known"] is True
    # Not recognised: nothing of either profile is used, not even its language.
    assert mixed.json() == {"greeting": "Welcome!", "known": False, "language": "en"}


def test_the_shops_server_may_greet_by_user_id_with_a_read_api_key(client, ha):
    _key, raw = apikey_create(name="shop server", scopes="read")

    response = client.get(
        URL, {"userId": "u-ha", "language": "en"}, headers={"Authorization": f"Bearer {raw}"}
    )

    assert response.json() == {"greeting": "Welcome back, Hà", "known": True, "language": "en"}


def test_an_api_key_without_read_is_refused(client, ha):
    _key, raw = apikey_create(name="writer", scopes="write")

    response = client.get(URL, {"userId": "u-ha"}, headers={"X-API-Key": raw})

    assert response.status_code == 403


def test_a_visitor_who_withdrew_tracking_consent_gets_the_neutral_greeting(client, web_source, ha):
    consent_set(customer=ha, channel="tracking", status="withdrawn", source="test")

    response = greet(client, web_source[1], anonymousId="anon-ha")

    assert response.json() == {"greeting": "Welcome!", "known": False, "language": "en"}


@pytest.mark.parametrize("key", ["", "wk_nope_nope", "ocrm_abc_def"])
def test_without_a_valid_key_the_greeting_is_a_401(client, ha, key):
    response = greet(client, key, anonymousId="anon-ha")

    assert response.status_code == 401
    assert error_of(response)["code"] in {"invalid_write_key", "invalid_api_key"}


def test_a_revoked_write_key_cannot_ask(client, web_source, ha):
    source_revoke(prefix=web_source[0].prefix)

    assert greet(client, web_source[1], anonymousId="anon-ha").status_code == 401


def test_the_write_key_may_also_come_as_http_basic(client, web_source, ha):
    response = client.get(
        URL, {"anonymousId": "anon-ha"}, headers={"Authorization": basic(web_source[1])}
    )

    assert response.json()["known"] is True


def test_the_greeting_may_be_read_by_a_page_on_another_origin(client, web_source, ha):
    response = greet(client, web_source[1], anonymousId="anon-ha")

    assert response["Access-Control-Allow-Origin"] == "*"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("name", "language", "country", "expected"),
    [
        ("Đặng Lưu Hà", "", "", "Hà"),
        ("Nguyen Van An", "vi", "", "An"),
        ("Nguyen Van An", "", "VN", "An"),
        ("Maria Souza", "pt", "BR", "Maria"),
        ("王小明", "zh-hans", "CN", "王小明"),
        ("", "en", "", ""),
    ],
)
def test_the_greeting_uses_the_name_people_are_called_by(name, language, country, expected):
    customer = CustomerFactory.build(name=name, language=language, country=country)

    assert given_name(customer) == expected
