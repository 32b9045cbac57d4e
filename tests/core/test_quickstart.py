"""The README's first command, as a newcomer runs it: `omnicrm quickstart` on a fresh machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

OMNICRM = Path(sys.executable).parent / "omnicrm"


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OMNICRM), *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_quickstart_loads_the_sample_creates_admin_and_keeps_both_on_rerun(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["OMNICRM_DATA_DIR"] = str(tmp_path)

    first = _run("quickstart", "--no-serve", env=env)

    assert first.returncode == 0, first.stderr
    assert "Console:  http://127.0.0.1:8000/" in first.stdout
    assert "API docs: http://127.0.0.1:8000/api/docs" in first.stdout
    assert "3/4 Computing predictions and training recommendations as of 2018-" in first.stdout
    password = re.search(r"Log in as 'admin' with password '([^']+)'", first.stdout)
    assert password, first.stdout
    counts = _run(
        "shell",
        "-c",
        "from omnicrm.orders.models import Order; from omnicrm.customers.models import Customer;"
        "from omnicrm.analytics.models import CustomerMetrics;"
        "from omnicrm.recommendations.models import ItemNeighbor, RecommenderModel;"
        "from django.contrib.auth import authenticate;"
        f"print(Order.objects.count(), Customer.objects.count(),"
        f" CustomerMetrics.objects.count(), RecommenderModel.objects.count(),"
        f" ItemNeighbor.objects.count(),"
        f" authenticate(username='admin', password={password.group(1)!r}) is not None)",
        env=env,
    ).stdout.split()[-6:]
    orders, customers, metrics, runs, links = (int(n) for n in counts[:5])
    assert orders >= 2000
    assert 0 < customers <= orders
    assert metrics == customers
    assert runs == 1
    assert links > 0
    assert counts[5] == "True"

    second = _run("quickstart", "--no-serve", env=env)

    assert second.returncode == 0, second.stderr
    assert "the database already has orders, nothing loaded" in second.stdout
    assert "3/4 Predictions and recommendations: already computed" in second.stdout
    assert "(unchanged; `omnicrm changepassword admin` resets it)" in second.stdout
    again = _run(
        "shell",
        "-c",
        "from omnicrm.orders.models import Order;"
        "from omnicrm.recommendations.models import RecommenderModel;"
        "print(Order.objects.count(), RecommenderModel.objects.count())",
        env=env,
    ).stdout.split()[-2:]
    assert [int(n) for n in again] == [orders, 1]
