"""Sustained ingestion through /v1/batch on PostgreSQL, a COPY baseline and a crash test.

    python benchmarks/ingest_batch.py                      # the full run (60 s + crash test)
    python benchmarks/ingest_batch.py --duration 10 --no-write   # a short trial

What it does, on a fresh database (``omnicrm_ingest_bench`` next to DATABASE_URL's):

1. Starts ``omnicrm serve --workers N --no-background`` (gunicorn sync workers; processing
   is left to a worker started afterwards, so ingestion is measured alone).
2. Runs the load from separate client processes (``--clients`` processes, ``--threads``
   keep-alive connections each) sending batches of ``--batch-size`` e-commerce events,
   for ``--duration`` seconds. Every acknowledged (200) messageId is recorded; a fraction
   of the acknowledged batches (``--replay``) is sent again on purpose, as a client whose
   answer was lost would, and failed requests are retried until they succeed.
3. Checks that the table holds exactly the acknowledged messageIds, each once.
4. Measures raw COPY of the same number of rows into a copy of the table (same columns,
   indexes and unique constraint) and reports the ratio.
5. Crash test: serves again, loads it, kills the gunicorn master and workers with SIGKILL
   mid-load, then checks that every acknowledged messageId is stored.

Writes benchmarks/results/ingest_batch.md and .json (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import host  # benchmarks/host.py, beside this script
import orjson
import psycopg

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DB_NAME = "omnicrm_ingest_bench"
PRODUCTS = [
    ("ARABICA-10", "Arabica 10 pack", "24.50"),
    ("ROBUSTA-05", "Robusta 500 g", "12.00"),
    ("CULI-250", "Culi beans 250 g", "9.90"),
    ("FILTER-PHIN", "Phin filter", "6.50"),
    ("MUG-01", "The Coffee mug", "8.00"),
]
EVENT_NAMES = ["Product Viewed", "Product Added", "Products Searched", "Checkout Started"]


# ---------------------------------------------------------------- payloads


def make_event(rng: random.Random, message_id: str, now_iso: str) -> dict[str, Any]:
    """One realistic message (~400 bytes as JSON): mostly track, some page and identify."""
    visitor = rng.randrange(200_000)
    context = {
        "library": {"name": "analytics-python", "version": "2.3.2"},
        "ip": f"10.{visitor % 250}.{visitor // 250 % 250}.7",
        "userAgent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36",
        "page": {"path": "/p/arabica", "url": "https://thecoffee.example/p/arabica"},
    }
    roll = rng.random()
    base: dict[str, Any] = {
        "messageId": message_id,
        "anonymousId": f"anon-{visitor}",
        "timestamp": now_iso,
        "context": context,
    }
    if roll < 0.70:
        sku, name, price = PRODUCTS[visitor % len(PRODUCTS)]
        event = EVENT_NAMES[visitor % len(EVENT_NAMES)]
        properties: dict[str, Any] = {"product_id": sku, "sku": sku, "name": name}
        if event == "Products Searched":
            properties = {"query": "arabica"}
        else:
            properties.update(price=float(price), currency="USD", quantity=1)
        return {**base, "type": "track", "event": event, "properties": properties}
    if roll < 0.95:
        return {**base, "type": "page", "name": "Product", "properties": {"path": "/p/arabica"}}
    return {
        **base,
        "type": "identify",
        "userId": f"user-{visitor}",
        "traits": {"email": f"user{visitor}@example.com", "name": f"Customer {visitor}"},
    }


# ---------------------------------------------------------------- client processes


def _post(
    conn_box: list[http.client.HTTPConnection | None], host: str, port: int, body: bytes, auth: str
) -> int:
    if conn_box[0] is None:
        conn_box[0] = http.client.HTTPConnection(host, port, timeout=30)
    conn = conn_box[0]
    try:
        conn.request(
            "POST",
            "/v1/batch",
            body=body,
            headers={"Content-Type": "application/json", "Authorization": auth},
        )
        response = conn.getresponse()
        response.read()
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn_box[0] = None
        return response.status
    except (OSError, http.client.HTTPException):
        conn.close()
        conn_box[0] = None
        raise


def client_thread(
    *,
    worker: str,
    host: str,
    port: int,
    auth: str,
    batch_size: int,
    deadline: float,
    replay: float,
    stop_on_error: bool,
    out: dict[str, Any],
) -> None:
    rng = random.Random(worker)
    conn_box: list[http.client.HTTPConnection | None] = [None]
    acked: list[str] = []
    latencies: list[float] = []
    failures = 0
    replays = 0
    seq = 0
    pending: bytes | None = None
    pending_ids: list[str] = []
    while time.monotonic() < deadline:
        if pending is None:
            now_iso = datetime.now(UTC).isoformat()
            ids = [f"{worker}-{seq}-{i}" for i in range(batch_size)]
            seq += 1
            pending = orjson.dumps(
                {"batch": [make_event(rng, mid, now_iso) for mid in ids], "sentAt": now_iso}
            )
            pending_ids = ids
        started = time.perf_counter()
        try:
            status = _post(conn_box, host, port, pending, auth)
        except (OSError, http.client.HTTPException):
            failures += 1
            if stop_on_error:
                break
            time.sleep(0.05)
            continue
        latencies.append(time.perf_counter() - started)
        if status != 200:
            failures += 1
            if stop_on_error:
                break
            time.sleep(0.05)
            continue
        acked.extend(pending_ids)
        if rng.random() < replay:
            # The answer "was lost": send the same batch again; nothing may be stored twice.
            try:
                if _post(conn_box, host, port, pending, auth) == 200:
                    replays += 1
            except (OSError, http.client.HTTPException):
                if stop_on_error:
                    break
        pending = None
    out.update(acked=acked, latencies=latencies, failures=failures, replays=replays)


def client_process(
    index: int,
    threads: int,
    host: str,
    port: int,
    auth: str,
    batch_size: int,
    start_at: float,
    duration: float,
    replay: float,
    stop_on_error: bool,
    result_path: str,
) -> None:
    while time.time() < start_at:
        time.sleep(0.005)
    deadline = time.monotonic() + duration
    outs: list[dict[str, Any]] = [{} for _ in range(threads)]
    workers = [
        threading.Thread(
            target=client_thread,
            kwargs={
                "worker": f"c{index}t{t}-{uuid.uuid4().hex[:6]}",
                "host": host,
                "port": port,
                "auth": auth,
                "batch_size": batch_size,
                "deadline": deadline,
                "replay": replay,
                "stop_on_error": stop_on_error,
                "out": outs[t],
            },
        )
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    times = os.times()
    merged = {
        "cpu_seconds": times.user + times.system,
        "acked": [m for o in outs for m in o.get("acked", [])],
        "latencies": [x for o in outs for x in o.get("latencies", [])],
        "failures": sum(o.get("failures", 0) for o in outs),
        "replays": sum(o.get("replays", 0) for o in outs),
    }
    Path(result_path).write_bytes(orjson.dumps(merged))


def run_load(
    *,
    port: int,
    auth: str,
    clients: int,
    threads: int,
    batch_size: int,
    duration: float,
    replay: float,
    stop_on_error: bool = False,
    on_started: Any = None,
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    start_at = time.time() + 1.5
    procs = []
    for i in range(clients):
        p = ctx.Process(
            target=client_process,
            args=(
                i,
                threads,
                "127.0.0.1",
                port,
                auth,
                batch_size,
                start_at,
                duration,
                replay,
                stop_on_error,
                str(tmp / f"client{i}.json"),
            ),
        )
        p.start()
        procs.append(p)
    while time.time() < start_at:
        time.sleep(0.01)
    began = time.monotonic()
    if on_started is not None:
        on_started()
    for p in procs:
        p.join()
    elapsed = time.monotonic() - began
    acked: list[str] = []
    latencies: list[float] = []
    failures = replays = 0
    client_cpu = 0.0
    for i in range(clients):
        data = orjson.loads((tmp / f"client{i}.json").read_bytes())
        client_cpu += data["cpu_seconds"]
        acked.extend(data["acked"])
        latencies.extend(data["latencies"])
        failures += data["failures"]
        replays += data["replays"]
    return {
        "acked": acked,
        "latencies": latencies,
        "failures": failures,
        "replays": replays,
        "elapsed": elapsed,
        "client_cpu_seconds": client_cpu,
    }


# ---------------------------------------------------------------- server and database


def admin_url(database_url: str) -> str:
    return database_url.rsplit("/", 1)[0] + "/postgres"


def fresh_database(database_url: str, name: str) -> str:
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url.rsplit("/", 1)[0] + "/" + name


def omnicrm(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "omnicrm", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    log_path = Path(tempfile.mkdtemp(prefix="ingest-serve-")) / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "omnicrm",
                "serve",
                "--workers",
                str(workers),
                "--port",
                str(port),
                "--no-background",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # Generous: on a busy machine importing Django in 1 + N processes takes a while.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    output = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"the server did not start; its output ends with:\n{output}")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may hold spaces or parentheses; the ppid follows the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def stored_check(db_url: str, acked: list[str], source_prefix: str) -> dict[str, Any]:
    """Compare the table with the acknowledged messageIds of one source."""
    with psycopg.connect(db_url) as conn:
        source_id = conn.execute(
            "SELECT id FROM events_source WHERE prefix = %s", [source_prefix]
        ).fetchone()[0]
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT message_id) FROM events_event WHERE source_id = %s",
            [source_id],
        ).fetchone()
        conn.execute("CREATE TEMP TABLE acked (message_id text PRIMARY KEY)")
        unique_acked = sorted(set(acked))
        with conn.cursor().copy("COPY acked (message_id) FROM STDIN") as copy:
            for mid in unique_acked:
                copy.write_row((mid,))
        missing = conn.execute(
            "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM events_event e "
            "WHERE e.source_id = %s AND e.message_id = a.message_id)",
            [source_id],
        ).fetchone()[0]
    return {
        "acknowledged": len(acked),
        "acknowledged_unique": len(unique_acked),
        "stored": total,
        "stored_distinct": distinct,
        "missing": missing,
        "ok": missing == 0 and total == distinct,
    }


def copy_baseline(db_url: str, rows: int) -> dict[str, Any]:
    """Raw COPY of ``rows`` events into a same-shaped table; the data is prepared first."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    now_iso = now.isoformat()
    chunks: list[bytes] = []
    chunk: list[str] = []
    for i in range(rows):
        event = make_event(rng, f"copy-{i}", now_iso)
        fields = [
            "1",
            event["messageId"],
            event["type"],
            event.get("event", event.get("name", "")),
            event.get("userId", ""),
            event["anonymousId"],
            "",
            "web",
            orjson.dumps(event.get("properties", {})).decode(),
            orjson.dumps(event.get("traits", {})).decode(),
            orjson.dumps(event["context"]).decode(),
            now_iso,
            "\\N",
            now_iso,
            "0",
            "",
        ]
        chunk.append(
            "\t".join(
                f.replace("\\", "\\\\").replace("\t", "\\t") if f != "\\N" else f for f in fields
            )
            + "\n"
        )
        if len(chunk) == 10_000:
            chunks.append("".join(chunk).encode())
            chunk = []
    if chunk:
        chunks.append("".join(chunk).encode())
    columns = (
        "source_id, message_id, type, event, user_id, anonymous_id, previous_id, channel, "
        "properties, traits, context, timestamp, original_timestamp, received_at, attempts, "
        "error"
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events_event_copytest")
        conn.execute("CREATE TABLE events_event_copytest (LIKE events_event INCLUDING ALL)")
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor().copy(f"COPY events_event_copytest ({columns}) FROM STDIN") as copy,
        ):
            for data in chunks:
                copy.write(data)
        elapsed = time.perf_counter() - started
        count = conn.execute("SELECT count(*) FROM events_event_copytest").fetchone()[0]
        conn.execute("DROP TABLE events_event_copytest")
    return {"rows": count, "seconds": elapsed, "rows_per_second": count / elapsed}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def machine_info(db_url: str) -> dict[str, Any]:
    cpu = host.cpu_model()
    with psycopg.connect(db_url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("synchronous_commit", "fsync", "shared_buffers", "wal_level")
        }
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": host.memory_gib(),
        "python": platform.python_version(),
        "postgresql": pg,
        "postgresql_settings": settings,
        "kernel": platform.release(),
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores)."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]
    )
    # Idle, I/O wait and time stolen by the hypervisor are not work done here.
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def process_cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        parts = stat.rsplit(")", 1)[1].split()
        total += int(parts[11]) + int(parts[12])
    return total / CLOCK_TICKS


class BackendCpu:
    """CPU of this database's PostgreSQL backends during the run, sampled twice a second:
    a backend can end mid-run (a worker's connection is recycled after CONN_MAX_AGE), so
    reading them once at the end would miss its time."""

    def __init__(self, name: str) -> None:
        self.marker = f" {name} "
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _scan(self) -> dict[int, float]:
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if title.startswith("postgres:") and self.marker in title:
                found[int(entry.name)] = process_cpu_seconds([int(entry.name)])
        return found

    def _run(self) -> None:
        while not self.stop_event.wait(0.5):
            self.last.update(self._scan())

    def begin(self) -> BackendCpu:
        self.start = self._scan()
        self.last = dict(self.start)
        self.thread.start()
        return self

    def end(self) -> None:
        self.stop_event.set()
        self.thread.join()
        self.last.update(self._scan())

    def seconds(self) -> float:
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.last.items())


def postgres_background_pids(db_url: str) -> list[int]:
    """WAL writer, checkpointer, background writer, autovacuum: shared by every database,
    but during the run they mostly write this benchmark's WAL and pages."""
    with psycopg.connect(admin_url(db_url)) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend'"
        ).fetchall()
    return [row[0] for row in rows]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------- main


def prepare(base_url: str, name: str) -> tuple[str, dict[str, str], str, str]:
    db_url = fresh_database(base_url, name)
    env = {**os.environ, "DATABASE_URL": db_url, "OMNICRM_DATA_DIR": tempfile.mkdtemp()}
    env.pop("REDIS_URL", None)
    omnicrm(env, "migrate", "-v", "0")
    out = omnicrm(env, "source", "create", "--channel", "web", "--name", "Benchmark")
    key = next(line.strip() for line in out.splitlines() if line.startswith("wk_"))
    prefix = key.split("_")[1]
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    return db_url, env, auth, prefix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/omnicrm"),
    )
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=3, help="connections per client")
    parser.add_argument("--batch-size", type=int, default=400)
    parser.add_argument(
        "--replay",
        type=float,
        default=0.05,
        help="share of acknowledged batches sent again on purpose",
    )
    parser.add_argument(
        "--crash-after",
        type=float,
        default=8,
        help="seconds of load before kill -9 in the crash test",
    )
    parser.add_argument("--no-crash", action="store_true")
    parser.add_argument("--no-copy", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the .md from the committed .json without running anything",
    )
    args = parser.parse_args()
    if args.render_only:
        saved = json.loads((RESULTS / "ingest_batch.json").read_text())
        (RESULTS / "ingest_batch.md").write_text(render_markdown(saved))
        return

    print(f"load average before: {load_average()}", flush=True)
    db_url, env, auth, prefix = prepare(args.database_url, DB_NAME)
    port = free_port()
    server = start_server(env, port, args.workers)
    try:
        load_before = load_average()
        background = postgres_background_pids(args.database_url)
        background_before = process_cpu_seconds(background)
        server_before = process_cpu_seconds([server.pid, *children_of(server.pid)])
        backends = BackendCpu(DB_NAME).begin()
        busy_before = machine_busy_seconds()
        window_start = time.monotonic()
        load = run_load(
            port=port,
            auth=auth,
            clients=args.clients,
            threads=args.threads,
            batch_size=args.batch_size,
            duration=args.duration,
            replay=args.replay,
        )
        load_after = load_average()
        busy = machine_busy_seconds() - busy_before
        window = time.monotonic() - window_start
        # CPU spent by each part during the window; what is left of the machine's busy time
        # is other work. (A backend that ended during the run would be missed: none does.)
        server_cpu = process_cpu_seconds([server.pid, *children_of(server.pid)]) - server_before
        backends.end()
        database_cpu = backends.seconds()
        background_cpu = process_cpu_seconds(background) - background_before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    check = stored_check(db_url, load["acked"], prefix)
    unique = check["acknowledged_unique"]
    rate = unique / load["elapsed"]
    lat = load["latencies"]
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(db_url),
        "load_average": {"before": load_before, "after": load_after},
        "cpu_cores_used": {
            "machine_busy": round(busy / window, 2),
            "omnicrm_server": round(server_cpu / window, 2),
            "postgresql_backends": round(database_cpu / window, 2),
            "postgresql_background": round(background_cpu / window, 2),
            "load_clients": round(load["client_cpu_seconds"] / window, 2),
            "other_work": round(
                max(
                    0.0,
                    busy - server_cpu - database_cpu - background_cpu - load["client_cpu_seconds"],
                )
                / window,
                2,
            ),
        },
        "config": {
            "duration_s": args.duration,
            "gunicorn_workers": args.workers,
            "client_processes": args.clients,
            "connections_per_client": args.threads,
            "batch_size": args.batch_size,
            "replay_share": args.replay,
        },
        "ingest": {
            "elapsed_s": round(load["elapsed"], 2),
            "events_per_second": round(rate),
            "batches_acknowledged": len(load["acked"]) // args.batch_size,
            "batches_replayed": load["replays"],
            "failed_requests": load["failures"],
            "batch_latency_ms": {
                "p50": round(percentile(lat, 0.50) * 1000, 1),
                "p90": round(percentile(lat, 0.90) * 1000, 1),
                "p99": round(percentile(lat, 0.99) * 1000, 1),
                "mean": round(statistics.fmean(lat) * 1000, 1) if lat else 0,
            },
            "check": check,
        },
    }
    print(json.dumps(result["ingest"], indent=2), flush=True)
    print(json.dumps(result["cpu_cores_used"]), flush=True)

    if not args.no_copy:
        copy = copy_baseline(db_url, unique)
        copy["ratio_http_to_copy"] = round(rate / copy["rows_per_second"], 3)
        result["copy_baseline"] = {
            k: round(v, 2) if isinstance(v, float) else v for k, v in copy.items()
        }
        print(json.dumps(result["copy_baseline"], indent=2), flush=True)

    if not args.no_crash:
        result["crash_test"] = crash_test(args)
        print(json.dumps(result["crash_test"], indent=2), flush=True)

    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "ingest_batch.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / "ingest_batch.md").write_text(render_markdown(result))
        print(f"wrote {RESULTS / 'ingest_batch.md'}")
    ok = result["ingest"]["check"]["ok"] and result.get("crash_test", {"ok": True})["ok"]
    sys.exit(0 if ok else 1)


def crash_test(args: argparse.Namespace) -> dict[str, Any]:
    db_url, env, auth, prefix = prepare(args.database_url, DB_NAME + "_crash")
    port = free_port()
    server = start_server(env, port, args.workers)
    killed: dict[str, Any] = {}

    def kill_later() -> None:
        time.sleep(args.crash_after)
        pids = [server.pid, *children_of(server.pid)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed.update(pids=pids, at=time.monotonic())

    load = run_load(
        port=port,
        auth=auth,
        clients=args.clients,
        threads=args.threads,
        batch_size=args.batch_size,
        duration=args.crash_after + 5,
        replay=0.0,
        stop_on_error=True,
        on_started=lambda: threading.Thread(target=kill_later, daemon=True).start(),
    )
    server.wait(timeout=10)
    check = stored_check(db_url, load["acked"], prefix)
    with psycopg.connect(admin_url(args.database_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}_crash" WITH (FORCE)')
    return {
        "killed_processes": len(killed.get("pids", [])),
        "load_seconds_before_kill": args.crash_after,
        "acknowledged_unique": check["acknowledged_unique"],
        "stored": check["stored"],
        "missing": check["missing"],
        "stored_but_not_acknowledged": check["stored"] - check["acknowledged_unique"],
        "ok": check["missing"] == 0 and check["stored"] == check["stored_distinct"],
    }


def per_event(cores: float, events_per_second: float) -> int:
    return round(cores / events_per_second * 1_000_000) if events_per_second else 0


def render_markdown(r: dict[str, Any]) -> str:
    m, c, i, u = r["machine"], r["config"], r["ingest"], r["cpu_cores_used"]
    rate = i["events_per_second"]
    own = u["omnicrm_server"] + u["postgresql_backends"] + u["postgresql_background"]
    own += u["load_clients"]
    ceiling = int(round(m["cores"] * rate / own, -3)) if own else 0
    lines = [
        "# Event ingestion benchmark (/v1/batch on PostgreSQL)",
        "",
        f"Run {r['when']} with `python benchmarks/ingest_batch.py` "
        f"(reproduce it; the numbers below are this run's).",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory_gb']} GB; kernel {m['kernel']}",
        f"- PostgreSQL {m['postgresql']} on the same machine "
        f"({', '.join(f'{k}={v}' for k, v in m['postgresql_settings'].items())}); "
        f"Python {m['python']}",
        f"- Load average (1, 5, 15 min) before the run: {r['load_average']['before']}, "
        f"after: {r['load_average']['after']}",
        f"- CPU cores used on average during the run: machine {u['machine_busy']} of "
        f"{m['cores']}; omnicrm server {u['omnicrm_server']}, PostgreSQL backends "
        f"{u['postgresql_backends']} (+ {u['postgresql_background']} in its WAL writer, "
        f"checkpointer and autovacuum), load clients {u['load_clients']}, "
        f"**other work on the machine {u['other_work']}** (processes outside this "
        "benchmark, e.g. other test runs, and the kernel's share of the networking)",
        f"- CPU per acknowledged event: omnicrm server {per_event(u['omnicrm_server'], rate)} "
        f"µs, PostgreSQL {per_event(u['postgresql_backends'] + u['postgresql_background'], rate)}"
        f" µs, load clients {per_event(u['load_clients'], rate)} µs. At that cost, "
        f"{m['cores']} cores free of other work would allow about {ceiling:,} events/s: an "
        "estimate from CPU time (the kernel's networking share is not in it), not a "
        "measurement: re-run on a quiet machine to measure.",
        "",
        "## Setup",
        "",
        f"- `omnicrm serve --workers {c['gunicorn_workers']} --no-background` (gunicorn sync "
        "workers; events are processed afterwards, not during the run)",
        f"- {c['client_processes']} client processes x {c['connections_per_client']} "
        f"connections, batches of {c['batch_size']} events (~400 bytes each), "
        f"{c['duration_s']:.0f} s; {c['replay_share']:.0%} of acknowledged batches sent "
        "again on purpose; failed requests retried",
        "",
        "## Results",
        "",
        "| Measure | Value |",
        "|---|---|",
        f"| Events acknowledged per second | **{i['events_per_second']:,}** |",
        f"| Batch latency p50 / p90 / p99 | {i['batch_latency_ms']['p50']} / "
        f"{i['batch_latency_ms']['p90']} / {i['batch_latency_ms']['p99']} ms |",
        f"| Batches acknowledged / replayed / failed | {i['batches_acknowledged']:,} / "
        f"{i['batches_replayed']:,} / {i['failed_requests']:,} |",
        f"| Unique messageIds acknowledged | {i['check']['acknowledged_unique']:,} |",
        f"| Rows stored / distinct messageIds | {i['check']['stored']:,} / "
        f"{i['check']['stored_distinct']:,} |",
        f"| Acknowledged but missing | {i['check']['missing']} |",
        f"| Nothing lost, nothing duplicated | {'yes' if i['check']['ok'] else 'NO'} |",
    ]
    if "copy_baseline" in r:
        cb = r["copy_baseline"]
        lines += [
            f"| Raw COPY of the same rows (same table shape and indexes) | "
            f"{cb['rows_per_second']:,.0f} rows/s ({cb['rows']:,} rows in {cb['seconds']} s) |",
            f"| HTTP ingestion / raw COPY | {cb['ratio_http_to_copy']:.0%} |",
        ]
    if "crash_test" in r:
        ct = r["crash_test"]
        lines += [
            "",
            "## Crash test",
            "",
            f"After {ct['load_seconds_before_kill']:.0f} s of the same load, the gunicorn master "
            f"and workers ({ct['killed_processes']} processes) were killed with SIGKILL. "
            f"{ct['acknowledged_unique']:,} messageIds had been acknowledged; "
            f"{ct['missing']} of them are missing from the table "
            f"({ct['stored']:,} rows stored; {ct['stored_but_not_acknowledged']:,} were committed "
            "but their answer never reached the client, which a retry would deduplicate). "
            f"Result: {'every acknowledged event survived' if ct['ok'] else 'FAILED'}.",
        ]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
