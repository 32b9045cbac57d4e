"""The scale-out task backend: RQ on a real Redis, driven through the same tasks API."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

redis = pytest.importorskip("redis")
REDIS_URL = os.environ.get("OMNICRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_env(tmp_path):
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {REDIS_URL}")
    client.flushdb()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(OMNICRM_DATA_DIR=str(tmp_path), REDIS_URL=REDIS_URL)
    yield env
    client.flushdb()


def _omnicrm(env, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "omnicrm", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rq_worker_runs_a_task_enqueued_through_the_tasks_api(redis_env):
    _omnicrm(redis_env, "migrate", "-v0")
    _omnicrm(
        redis_env,
        "shell",
        "-c",
        "from omnicrm.core.tasks import worker_heartbeat; worker_heartbeat.enqueue()",
    )
    assert redis.Redis.from_url(REDIS_URL).llen("rq:queue:default") == 1

    _omnicrm(redis_env, "worker", "--burst")

    seen = _omnicrm(
        redis_env,
        "shell",
        "-c",
        "from omnicrm.core.models import PeriodicJob; "
        "print(PeriodicJob.objects.get(name='core.worker_heartbeat').last_finished_at is not None)",
    )
    assert seen.strip().splitlines()[-1] == "True"
    assert redis.Redis.from_url(REDIS_URL).llen("rq:queue:default") == 0
