"""`omnicrm serve` as an operator runs it: a real gunicorn with several workers.

These tests start the server in a fresh embedded (SQLite) data directory whatever database
the suite runs on: they test the process, not the database."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["OMNICRM_DATA_DIR"] = str(data_dir)
    return env


def _omnicrm(*args: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omnicrm", *args], env=env, capture_output=True, text=True, **kwargs
    )


def _wait_for(url: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return urllib.request.urlopen(url, timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_serve_refuses_an_unmigrated_database(tmp_path):
    result = _omnicrm("serve", "--port", str(_free_port()), env=_env(tmp_path), timeout=60)

    assert result.returncode != 0
    assert "unapplied migrations; run `omnicrm migrate` first" in result.stderr


def test_serve_runs_gunicorn_workers_and_serves_api_docs_and_static_files(tmp_path):
    env = _env(tmp_path)
    assert _omnicrm("migrate", "-v0", env=env, timeout=120).returncode == 0
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omnicrm",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--no-background",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        docs = _wait_for(f"http://127.0.0.1:{port}/api/docs")
        static = _wait_for(f"http://127.0.0.1:{port}/static/admin/css/base.css")

        assert docs.status == 200
        assert docs.headers["Server"].startswith("gunicorn")
        # Threaded workers keep the connection open for the client's next request.
        kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(3):
            kept.request("GET", "/healthz")
            answer = kept.getresponse()
            assert answer.status == 200
            answer.read()
            assert answer.getheader("Connection", "").lower() != "close"
        first_socket = kept.sock
        kept.request("GET", "/healthz")
        kept.getresponse().read()
        assert kept.sock is first_socket
        kept.close()
        assert static.status == 200
        assert b"body" in static.read()
        workers = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(workers) == 2
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"omnicrm serving on http://127.0.0.1:{port}/ with 2 workers x 4 threads" in output


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="SQLite's connection lifetime only",
)
def test_sqlite_connections_are_per_request_outside_omnicrm_serve():
    # Persistent SQLite connections in Django's thread-per-request servers were left behind
    # by finished threads and kept the file locked (the console browser test timed out).
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
    assert settings.SQLITE_SERVED_CONN_MAX_AGE > 0
