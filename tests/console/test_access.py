"""Who may open which console page, login/logout with CSRF, and the navigation."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from omnicrm.console.access import view_permission
from tests.console.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "login"
TO_CUSTOMERS = "to-customers"
ROLES = ("anonymous", "nobody", "admin", "marketer", "support_agent", "analyst", "superuser")

# page -> role -> what they get. 302s to the login page keep the page in `next`.
EXPECTED = {
    "home": {
        "anonymous": LOGIN,
        "nobody": 403,
        "admin": 200,
        "marketer": 200,
        "support_agent": TO_CUSTOMERS,
        "analyst": 200,
        "superuser": 200,
    },
    "customer_list": {
        "anonymous": LOGIN,
        "nobody": 403,
        "admin": 200,
        "marketer": 200,
        "support_agent": 200,
        "analyst": 200,
        "superuser": 200,
    },
    "customer_detail": {
        "anonymous": LOGIN,
        "nobody": 403,
        "admin": 200,
        "marketer": 200,
        "support_agent": 200,
        "analyst": 200,
        "superuser": 200,
    },
}
MATRIX = [(page, role, EXPECTED[page][role]) for page in EXPECTED for role in ROLES]


def page_url(page: str, shop) -> str:
    if page == "customer_detail":
        return reverse("console:customer_detail", args=[shop.ha.public_id])
    return reverse(f"console:{page}")


@pytest.mark.parametrize(("page", "role", "expected"), MATRIX)
def test_each_role_gets_the_expected_answer_on_each_page(page, role, expected, coffee, login_as):
    client = Client() if role == "anonymous" else login_as(role)
    url = page_url(page, coffee)

    response = client.get(url)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response.url == f"{reverse('console:login')}?next={quote(url)}"
    elif expected == TO_CUSTOMERS:
        assert response.status_code == 302
        assert response.url == reverse("console:customer_list")
    else:
        assert response.status_code == expected
        if expected == 403:
            assert "console/403.html" in [t.name for t in response.templates]
            assert "no console role yet" in response.content.decode()


def _console_patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            found += _console_patterns(entry, prefix + str(entry.pattern))
        else:
            found.append((prefix + str(entry.pattern), entry))
    return found


def test_every_console_page_declares_the_permission_it_needs():
    console = next(
        r
        for r in get_resolver().url_patterns
        if isinstance(r, URLResolver) and r.namespace == "console"
    )
    # Login, logout and the language switch are for everyone; every other page checks.
    open_pages = {"login", "logout", "set_language"}

    checked = {
        pattern.name: view_permission(pattern.callback)
        for _, pattern in _console_patterns(console)
        if pattern.name not in open_pages
    }

    assert checked == {
        "home": "core.view_dashboard",
        "customer_list": "customers.view_customer",
        "customer_detail": "customers.view_customer",
        "merge_start": "customers.merge_customer",
        "merge_preview": "customers.merge_customer",
        "merge_split": "customers.merge_customer",
    }


def test_a_user_with_only_customer_access_sees_profiles_but_not_orders_or_reviews(coffee):
    user = User.objects.create_user("limited", password=PASSWORD)
    user.user_permissions.add(
        Permission.objects.get(codename="view_customer", content_type__app_label="customers")
    )
    client = Client()
    client.force_login(user)

    response = client.get(page_url("customer_detail", coffee))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Đặng Lưu Hà" in html
    assert 'id="orders"' not in html
    assert 'id="reviews"' not in html
    assert coffee.orders[0].public_id not in html


REC = "/recommendations/model/"


def nav_links(html: str) -> list[str]:
    return re.findall(r'class="nav-link[^"]*" href="([^"]+)"', html)


@pytest.mark.parametrize(
    ("role", "links"),
    [
        ("marketer", ["/", "/customers/", "/analytics/", "/segments/", REC]),
        ("analyst", ["/", "/customers/", "/analytics/", "/segments/", REC]),
        ("support_agent", ["/customers/"]),
        ("admin", ["/", "/customers/", "/sources/", "/analytics/", "/segments/", REC]),
        (
            "superuser",
            ["/", "/customers/", "/sources/", "/analytics/", "/segments/", REC, "/admin/"],
        ),
        ("nobody", []),
    ],
)
def test_navigation_offers_only_the_pages_the_role_may_open(role, links, login_as):
    client = login_as(role)

    response = client.get(reverse("console:customer_list"))

    assert nav_links(response.content.decode()) == links


def test_the_users_roles_show_in_the_user_menu(login_as):
    response = login_as("support_agent").get(reverse("console:customer_list"))

    assert "Support agent" in response.content.decode()


def test_login_form_refuses_a_post_without_csrf_token(make_staff):
    make_staff("marketer", username="mai")
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("console:login"), {"username": "mai", "password": PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_login_with_csrf_token_signs_in_and_lands_on_the_role_home(make_staff):
    make_staff("support_agent", username="sam")
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("console:login"))
    token = client.cookies["csrftoken"].value

    response = client.post(
        reverse("console:login"),
        {"username": "sam", "password": PASSWORD, "csrfmiddlewaretoken": token},
        follow=True,
    )

    assert response.redirect_chain == [("/", 302), ("/customers/", 302)]
    assert response.status_code == 200
    assert response.context["user"].username == "sam"


def test_login_with_a_wrong_password_shows_an_error_and_stays_logged_out(make_staff):
    make_staff("marketer", username="mai")
    client = Client()

    response = client.post(reverse("console:login"), {"username": "mai", "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_keeps_the_page_asked_for_in_next(make_staff, coffee):
    make_staff("analyst", username="ann")
    url = page_url("customer_detail", coffee)

    response = Client().post(
        f"{reverse('console:login')}?next={quote(url)}",
        {"username": "ann", "password": PASSWORD, "next": url},
    )

    assert response.status_code == 302
    assert response.url == url


def test_logout_refuses_a_post_without_csrf_token(make_staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_staff("marketer"))

    response = client.post(reverse("console:logout"))

    assert response.status_code == 403
    assert client.get(reverse("console:customer_list")).status_code == 200


def test_logout_with_csrf_token_ends_the_session(make_staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_staff("marketer"))
    client.get(reverse("console:customer_list"))  # the page's logout form sets the cookie
    token = client.cookies["csrftoken"].value

    response = client.post(reverse("console:logout"), {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert response.url == reverse("console:login")
    assert client.get(reverse("console:customer_list")).status_code == 302


def test_logout_by_get_is_not_allowed(make_staff):
    client = Client()
    client.force_login(make_staff("marketer"))

    response = client.get(reverse("console:logout"))

    assert response.status_code == 405
    assert client.get(reverse("console:customer_list")).status_code == 200


def test_language_switch_refuses_a_post_without_csrf_token():
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("console:set_language"), {"language": "vi"})

    assert response.status_code == 403


def test_an_anonymous_htmx_request_is_sent_to_login_by_hx_redirect():
    response = Client().get(reverse("console:customer_list"), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == reverse("console:login")


def test_a_logged_in_user_opening_login_goes_home(login_as):
    response = login_as("marketer").get(reverse("console:login"))

    assert response.status_code == 302
    assert response.url == reverse("console:home")


def test_an_unknown_url_gets_the_console_404_page(login_as):
    response = login_as("marketer").get("/no-such-page/")

    assert response.status_code == 404
    assert "We couldn" in response.content.decode()
