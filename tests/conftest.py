"""Fixtures shared by the whole suite. The database is whatever DATABASE_URL names
(SQLite by default); scripts/test runs the suite once per database."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from omnicrm.core import roles


@pytest.fixture
def make_staff(db):
    """A staff user holding one role (admin, marketer, support_agent, analyst)."""

    def make(role: str, username: str | None = None, password: str = "pw-for-tests-123") -> User:
        roles.roles_ensure()
        user = User.objects.create_user(
            username=username or f"{role}-user", password=password, email=f"{role}@example.com"
        )
        user.groups.add(Group.objects.get(name=role))
        return user

    return make
