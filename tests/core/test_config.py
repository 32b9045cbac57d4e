from __future__ import annotations

import os
import stat

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from omnicrm.config import env_bool, env_list, secret_key


def test_secret_key_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    first = secret_key(production=False, directory=tmp_path)
    second = secret_key(production=False, directory=tmp_path)

    assert first == second
    assert len(first) >= 50
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


def test_production_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        secret_key(production=True, directory=tmp_path)
    assert not (tmp_path / "secret_key").exists()


def test_environment_secret_key_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert secret_key(production=True, directory=tmp_path) == "from-the-environment"


def test_env_bool_names_the_bad_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG", default=False)
    monkeypatch.setenv("DEBUG", "True")
    assert env_bool("DEBUG", default=False) is True


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", " shop.example , crm.example,,")
    assert env_list("ALLOWED_HOSTS", []) == ["shop.example", "crm.example"]


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode():
    if connection.vendor != "sqlite":
        pytest.skip("WAL is a SQLite setting; this run is on " + connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA foreign_keys")
        assert cursor.fetchone()[0] == 1
