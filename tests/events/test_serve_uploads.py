"""Uploads as Segment's mobile libraries send them, through the real server (gunicorn).

Segment's Android library streams its batches gzip-compressed with chunked transfer
encoding, so there is no Content-Length; Django's test client cannot send that, so these
tests start `omnicrm serve` and talk HTTP to it."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.events.conftest import basic, track

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A served omnicrm on a fresh SQLite data directory, with one web source."""
    data_dir = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["OMNICRM_DATA_DIR"] = str(data_dir)

    def omnicrm(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "omnicrm", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return result.stdout

    omnicrm("migrate", "-v0")
    created = omnicrm("source", "create", "--channel", "android", "--name", "Android app")
    key = next(line for line in created.splitlines() if line.startswith("wk_"))
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omnicrm",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-background",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    yield {"port": port, "key": key, "db": Path(data_dir) / "omnicrm.sqlite3"}
    process.terminate()
    process.wait(timeout=20)


def _chunked_post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.putrequest("POST", path)
    for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    for start in range(0, len(body), 1000):
        piece = body[start : start + 1000]
        conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def _stored(db: Path, message_id: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT count(*) FROM events_event WHERE message_id = ?", [message_id]
        ).fetchone()[0]


def test_a_gzip_batch_streamed_in_chunks_is_stored(server):
    body = gzip.compress(json.dumps({"batch": [track("chunked-1"), track("chunked-2")]}).encode())

    status, answer = _chunked_post(
        server["port"],
        "/v1/b",
        body,
        {
            "Authorization": basic(server["key"]),
            "Content-Type": "text/plain",
            "Content-Encoding": "gzip",
        },
    )

    assert (status, answer) == (200, {"success": True, "received": 2, "duplicates": 0})
    assert _stored(server["db"], "chunked-1") == 1


def test_a_chunked_upload_over_the_limit_is_a_413(server):
    batch = {"batch": [track(f"big-{i}", properties={"x": "y" * 30_000}) for i in range(20)]}

    status, answer = _chunked_post(
        server["port"],
        "/v1/batch",
        json.dumps(batch).encode(),
        {"Authorization": basic(server["key"]), "Content-Type": "application/json"},
    )

    assert status == 413
    assert answer["error"]["code"] == "payload_too_large"
    assert _stored(server["db"], "big-0") == 0
