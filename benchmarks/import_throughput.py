"""Import throughput in rows per second: the Olist data set and 1M generated order lines,
each on SQLite and on PostgreSQL, every run on a fresh database.

    python benchmarks/import_throughput.py                  # the full run, writes the results
    python benchmarks/import_throughput.py --lines 100000 --no-write   # a short trial

1. Olist (`omnicrm import olist`) on the data set in ../shared/datasets/olist (or
   OLIST_DIR): rows = the data rows read from the seven tables the import uses (orders,
   customers, items, payments, reviews, products, category translation); written = the
   database rows created. Then the same import again (nothing to change) for the
   idempotent re-run time.
2. `omnicrm demo generate` sized to about ``--lines`` order lines (customers calibrated
   from a small run), then `omnicrm import csv` of customers.csv, products.csv and
   orders.csv in that order. The headline is orders.csv: order lines per second.

Each import runs in its own Python process (`--worker`, the same script) on a database
created for it: a new SQLite file, or a PostgreSQL database (``--pg-url``, default
postgres://postgres@127.0.0.1:5432; database ``--pg-database``, default omnicrm_import_bench)
dropped and migrated.
Times cover the import call only (not interpreter start-up or migrations). The load
average is recorded: the machine may be shared.

Writes benchmarks/results/import_throughput.md and .json (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import host  # benchmarks/host.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OLIST = Path(os.environ.get("OLIST_DIR", ROOT.parent / "shared" / "datasets" / "olist"))
PG_DATABASE = "omnicrm_import_bench"
TARGET = 20_000
SEED = 2026


def machine() -> dict[str, Any]:
    cpu = host.cpu_model()
    return {
        "nproc": os.cpu_count(),
        "memory_gib": host.memory_gib(),
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def load() -> float:
    return os.getloadavg()[0]


# ---------------------------------------------------------------- worker (one import)


class ServerCpu:
    """CPU seconds used by the PostgreSQL server, read from /proc before and after a run.

    The importer opens and closes its own connections (writer threads have their own), so
    backends come and go during a run. Their time is not lost: the postmaster reaps them,
    and its children's times (cutime, cstime) grow by each one's total. The server's time
    is therefore the live server processes' times plus the postmaster's children's. That
    includes the checkpointer and the WAL writer, which work for the import too; on a
    machine with other databases in use it would include their work as well.

    No thread: the importer forks its reading process only when no other thread runs.
    """

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")

    def total(self) -> float:
        ticks = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if stat[stat.index("(") + 1 : stat.rindex(")")] != "postgres":
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
            if fields[1] == "1" or _is_postmaster(entry):
                ticks += int(fields[13]) + int(fields[14])
        return ticks / self.tick

    def close(self) -> None:
        pass


def _is_postmaster(pid: str) -> bool:
    """The server's main process: its parent is not a postgres process."""
    try:
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        name = Path(f"/proc/{parent}/comm").read_text().strip()
    except OSError:
        return False
    return name != "postgres"


def _own_cpu() -> float:
    """This process's CPU seconds and those of its ended children (the orders import's
    reading process)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """Runs inside a fresh process whose environment names the database."""
    import django

    django.setup()
    from django.db import connection

    from omnicrm.importers.services import csv_import, olist_import

    out: dict[str, Any] = {"database": connection.vendor}
    server: ServerCpu | None = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            out["server"] = cursor.fetchone()[0]
        server = ServerCpu()
    counts_before = _row_count()

    def timed(run: Any) -> tuple[Any, dict[str, float]]:
        started, cpu = time.perf_counter(), _own_cpu()
        server_before = server.total() if server else 0.0
        result = run()
        spent = {"seconds": time.perf_counter() - started, "cpu_seconds": _own_cpu() - cpu}
        if server:
            spent["server_cpu_seconds"] = server.total() - server_before
        return result, spent

    if job["kind"] == "olist":
        for name in ("first", "again"):
            result, spent = timed(lambda: olist_import(directory=job["path"], progress=False))
            out[name] = {
                "rows": result.rows_read,
                "created": sum(result.created.values()),
                "updated": sum(result.updated.values()),
                **spent,
            }
    else:
        for kind in ("customers", "products", "orders"):
            path = Path(job["path"]) / f"{kind}.csv"
            result, spent = timed(
                lambda kind=kind, path=path: csv_import(kind=kind, path=path, progress=False)
            )
            if result.rejected:
                raise SystemExit(
                    f"{kind}: {result.rejected} rows rejected, first: {result.errors[0]}"
                )
            out[kind] = {"rows": result.rows, "created": sum(result.created.values()), **spent}
    out["rows_in_database"] = _row_count() - counts_before
    if server:
        server.close()
    return out


def _row_count() -> int:
    from omnicrm.catalog.models import Category, Product
    from omnicrm.customers.models import Address, Consent, ConsentEvent, Customer, Identity
    from omnicrm.orders.models import Order, OrderLine, Payment
    from omnicrm.reviews.models import Review

    models = (
        Category,
        Product,
        Customer,
        Identity,
        Address,
        Consent,
        ConsentEvent,
        Order,
        OrderLine,
        Payment,
        Review,
    )
    return sum(model.objects.count() for model in models)


# ---------------------------------------------------------------- driver


def fresh_database(
    database: str, pg_url: str, scratch: Path, pg_database: str = PG_DATABASE
) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "omnicrm.settings"
    data_dir = Path(tempfile.mkdtemp(prefix="import-bench-", dir=scratch))
    env["OMNICRM_DATA_DIR"] = str(data_dir)
    env.pop("DATABASE_URL", None)
    if database == "postgresql":
        import psycopg

        with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {pg_database}")
            admin.execute(f"CREATE DATABASE {pg_database}")
        env["DATABASE_URL"] = f"{pg_url}/{pg_database}"
    subprocess.run(
        [sys.executable, "-m", "omnicrm", "migrate", "-v0"], env=env, check=True, cwd=ROOT
    )
    return env


def run_job(
    job: dict[str, Any], database: str, pg_url: str, scratch: Path, pg_database: str = PG_DATABASE
) -> dict[str, Any]:
    env = fresh_database(database, pg_url, scratch, pg_database)
    before = load()
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--worker", json.dumps(job)],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    finally:
        shutil.rmtree(env["OMNICRM_DATA_DIR"], ignore_errors=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_before"] = round(before, 2)
    result["load_after"] = round(load(), 2)
    return result


def generate(lines: int, scratch: Path) -> dict[str, Any]:
    """Generated shop sized to about `lines` order lines, cached between runs."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnicrm.settings")
    os.environ.setdefault("OMNICRM_DATA_DIR", str(scratch / "settings"))
    import django

    django.setup()
    from omnicrm.importers.services import demo_shop_generate

    probe = demo_shop_generate(customers=20_000, out=scratch / "probe", seed=SEED, progress=False)
    # 2% more customers than the probe's ratio says, so the file reaches `lines`.
    customers = max(1000, round(1.02 * lines / (probe.order_lines / probe.customers)))
    directory = scratch / f"shop-{customers}-{SEED}"
    marker = directory / "result.json"
    if marker.exists():
        return json.loads(marker.read_text())
    started = time.perf_counter()
    shop = demo_shop_generate(customers=customers, out=directory, seed=SEED, progress=False)
    info = {
        "directory": str(directory),
        "customers": shop.customers,
        "products": shop.products,
        "orders": shop.orders,
        "order_lines": shop.order_lines,
        "seconds": time.perf_counter() - started,
        "bytes": sum(p.stat().st_size for p in shop.files.values()),
    }
    marker.write_text(json.dumps(info))
    return info


def table_row(
    label: str, database: str, parts: list[dict[str, Any]], raw: dict[str, Any], headline: bool
) -> dict[str, Any]:
    rows = sum(p["rows"] for p in parts)
    seconds = sum(p["seconds"] for p in parts)
    cpu = sum(p["cpu_seconds"] for p in parts)
    server = sum(p.get("server_cpu_seconds", 0.0) for p in parts)
    return {
        "label": label,
        "database": database,
        "rows": rows,
        "db_rows": sum(p["created"] for p in parts),
        "seconds": seconds,
        "rows_per_second": rate(rows, seconds),
        "cpu": f"{cpu:.1f} + {server:.1f}" if database == "postgresql" else f"{cpu:.1f}",
        "rows_per_cpu_second": rate(rows, cpu + server),
        "headline": headline,
        "load": f"{raw['load_before']} / {raw['load_after']}",
    }


def rate(rows: int, seconds: float) -> int:
    return round(rows / seconds) if seconds else 0


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Import throughput",
        "",
        f"Run {results['when']} with `python benchmarks/import_throughput.py` "
        f"(target: {TARGET:,} rows/s on this machine).",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB memory, "
        f"Python {m['python']}, SQLite {m['sqlite']}, "
        f"PostgreSQL {results.get('postgresql_version', '-')}. "
        "The machine was shared with other work; the 1-minute load average is shown per run.",
        "",
        "| data | database | rows | db rows | seconds | rows/s | target "
        "| CPU s (import + server) | rows per CPU s | load before / after |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for row in results["rows"]:
        verdict = "met" if row["rows_per_second"] >= TARGET else "missed"
        if not row["headline"]:
            verdict = "-"
        lines.append(
            f"| {row['label']} | {row['database']} | {row['rows']:,} | {row['db_rows']:,} | "
            f"{row['seconds']:.1f} | {row['rows_per_second']:,} | {verdict} | "
            f"{row['cpu']} | {row['rows_per_cpu_second']:,} | {row['load']} |"
        )
    g = results.get("generated")
    if g:
        lines += [
            "",
            f"Generated shop: {g['customers']:,} customers, {g['products']:,} products, "
            f"{g['orders']:,} orders, {g['order_lines']:,} order lines "
            f"({g['bytes'] / 1e6:.0f} MB of CSV), written by `omnicrm demo generate` in "
            f"{g['seconds']:.1f} s (seed {SEED}).",
        ]
    lines += [
        "",
        "Rows: Olist counts the data rows read from the seven tables it imports; the generated "
        "files count CSV data rows (orders.csv has one row per order line). 'db rows' is what "
        "the import created (customers with their identities, addresses and consents; orders "
        "with lines and payments; reviews). The re-run of Olist changes nothing and is timed "
        "for idempotency. Each import ran in a fresh process on a fresh database.",
        "",
        "CPU s: processor time of the importing process (all its threads, and the process "
        "that reads and checks an orders file; on SQLite this includes the database engine) "
        "plus, on PostgreSQL, of the server's processes (backends, checkpointer, WAL "
        "writer), read from /proc before and after. 'rows per CPU s' is what one otherwise "
        "idle core achieves; the orders import runs on both cores (a reading process, and on "
        "PostgreSQL the server), and on a shared machine the wall-clock rate is lower by the "
        "time spent waiting for a CPU (see the load averages).",
        "",
    ]
    for note in results.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lines", type=int, default=1_000_000, help="Generated order lines (about)."
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--pg-database",
        default=PG_DATABASE,
        help="Database created (and dropped first) for each PostgreSQL run.",
    )
    parser.add_argument(
        "--scratch", type=Path, default=Path(tempfile.gettempdir()) / "omnicrm-import-bench"
    )
    parser.add_argument("--skip-olist", action="store_true")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(worker(json.loads(args.worker))))
        return

    args.scratch.mkdir(parents=True, exist_ok=True)
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    results: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "rows": [],
        "raw": {},
    }
    print(f"machine: {results['machine']}", flush=True)
    if not args.skip_generated:
        results["generated"] = generate(args.lines, args.scratch)
        print(f"generated: {results['generated']}", flush=True)
    for database in databases:
        if not args.skip_olist:
            raw = run_job(
                {"kind": "olist", "path": str(OLIST)},
                database,
                args.pg_url,
                args.scratch,
                args.pg_database,
            )
            results["raw"][f"olist-{database}"] = raw
            results["postgresql_version"] = raw.get("server", results.get("postgresql_version"))
            results["rows"].append(
                table_row("Olist (8,135 orders)", database, [raw["first"]], raw, True)
            )
            results["rows"].append(table_row("Olist, re-run", database, [raw["again"]], raw, False))
            print(results["rows"][-2], flush=True)
        if not args.skip_generated:
            job = {"kind": "generated", "path": results["generated"]["directory"]}
            raw = run_job(job, database, args.pg_url, args.scratch, args.pg_database)
            results["raw"][f"generated-{database}"] = raw
            results["postgresql_version"] = raw.get("server", results.get("postgresql_version"))
            for kind, label, headline in (
                ("customers", "generated customers.csv", False),
                ("products", "generated products.csv", False),
                ("orders", "generated orders.csv (order lines)", True),
            ):
                results["rows"].append(table_row(label, database, [raw[kind]], raw, headline))
            parts = [raw[k] for k in ("customers", "products", "orders")]
            results["rows"].append(
                table_row("generated, all three files", database, parts, raw, False)
            )
            print(results["rows"][-2], flush=True)
    text = report(results)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "import_throughput.md").write_text(text)
        (RESULTS / "import_throughput.json").write_text(
            json.dumps(results, indent=2, default=str) + "\n"
        )
    shutil.rmtree(args.scratch / "probe", ignore_errors=True)


if __name__ == "__main__":
    main()
