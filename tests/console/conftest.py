from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.console.scenario import CoffeeShop, build_the_coffee

PASSWORD = "pw-for-tests-123"


@pytest.fixture
def login_as(make_staff):
    """A logged-in test client for a role, "nobody" (no role) or "superuser"."""

    def login(role: str) -> Client:
        if role == "superuser":
            user = User.objects.create_superuser("root", "root@example.com", PASSWORD)
        elif role == "nobody":
            user = User.objects.create_user("nobody", "nobody@example.com", PASSWORD)
        else:
            user = make_staff(role)
        client = Client()
        client.force_login(user)
        return client

    return login


@pytest.fixture
def coffee(db) -> CoffeeShop:
    return build_the_coffee()
