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
postgres://postgres@127.0.0.1:5432, database omnicrm_bench_import) dropped and migrated.
Times cover the import call only (not interpreter start-up or migrations). The load
average is recorded: the machine may be shared.

Writes benchmarks/results/import_throughput.md and .json (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OLIST = Path(os.environ.get("OLIST_DIR", ROOT.parent / "shared" / "datasets" / "olist"))
PG_DATABASE = "omnicrm_bench_import"
TARGET = 20_000
SEED = 2026


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def load() -> float:
    return os.getloadavg()[0]


# ---------------------------------------------------------------- worker (one import)


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """Runs inside a fresh process whose environment names the database."""
    import django

    django.setup()
    from django.db import connection

    from omnicrm.importers.services import csv_import, olist_import

    out: dict[str, Any] = {"database": connection.vendor}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            out["server"] = cursor.fetchone()[0]
    counts_before = _row_count()
    if job["kind"] == "olist":
        for name in ("first", "again"):
            started = time.perf_counter()
            result = olist_import(directory=job["path"], progress=False)
            seconds = time.perf_counter() - started
            out[name] = {
                "rows": result.rows_read,
                "created": sum(result.created.values()),
                "updated": sum(result.updated.values()),
                "seconds": seconds,
            }
    else:
        for kind in ("customers", "products", "orders"):
            started = time.perf_counter()
            result = csv_import(kind=kind, path=Path(job["path"]) / f"{kind}.csv", progress=False)
            seconds = time.perf_counter() - started
            if result.rejected:
                raise SystemExit(
                    f"{kind}: {result.rejected} rows rejected, first: {result.errors[0]}"
                )
            out[kind] = {
                "rows": result.rows,
                "created": sum(result.created.values()),
                "seconds": seconds,
            }
    out["rows_in_database"] = _row_count() - counts_before
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


def fresh_database(database: str, pg_url: str, scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "omnicrm.settings"
    data_dir = Path(tempfile.mkdtemp(prefix="import-bench-", dir=scratch))
    env["OMNICRM_DATA_DIR"] = str(data_dir)
    env.pop("DATABASE_URL", None)
    if database == "postgresql":
        import psycopg

        with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
            admin.execute(f"CREATE DATABASE {PG_DATABASE}")
        env["DATABASE_URL"] = f"{pg_url}/{PG_DATABASE}"
    subprocess.run(
        [sys.executable, "-m", "omnicrm", "migrate", "-v0"], env=env, check=True, cwd=ROOT
    )
    return env


def run_job(job: dict[str, Any], database: str, pg_url: str, scratch: Path) -> dict[str, Any]:
    env = fresh_database(database, pg_url, scratch)
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
        "| data | database | rows | db rows | seconds | rows/s | target | load before / after |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for row in results["rows"]:
        verdict = "met" if row["rows_per_second"] >= TARGET else "missed"
        if not row["headline"]:
            verdict = "-"
        lines.append(
            f"| {row['label']} | {row['database']} | {row['rows']:,} | {row['db_rows']:,} | "
            f"{row['seconds']:.1f} | {row['rows_per_second']:,} | {verdict} | {row['load']} |"
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
                {"kind": "olist", "path": str(OLIST)}, database, args.pg_url, args.scratch
            )
            results["raw"][f"olist-{database}"] = raw
            results["postgresql_version"] = raw.get("server", results.get("postgresql_version"))
            for name, label, headline in (
                ("first", "Olist (8,135 orders)", True),
                ("again", "Olist, re-run", False),
            ):
                part = raw[name]
                results["rows"].append(
                    {
                        "label": label,
                        "database": database,
                        "rows": part["rows"],
                        "seconds": part["seconds"],
                        "rows_per_second": rate(part["rows"], part["seconds"]),
                        "db_rows": part["created"],
                        "headline": headline,
                        "load": f"{raw['load_before']} / {raw['load_after']}",
                    }
                )
            print(results["rows"][-2], flush=True)
        if not args.skip_generated:
            raw = run_job(
                {"kind": "generated", "path": results["generated"]["directory"]},
                database,
                args.pg_url,
                args.scratch,
            )
            results["raw"][f"generated-{database}"] = raw
            results["postgresql_version"] = raw.get("server", results.get("postgresql_version"))
            total_rows = total_seconds = 0.0
            for kind, label, headline in (
                ("customers", "generated customers.csv", False),
                ("products", "generated products.csv", False),
                ("orders", "generated orders.csv (order lines)", True),
            ):
                part = raw[kind]
                total_rows += part["rows"]
                total_seconds += part["seconds"]
                results["rows"].append(
                    {
                        "label": label,
                        "database": database,
                        "rows": part["rows"],
                        "seconds": part["seconds"],
                        "rows_per_second": rate(part["rows"], part["seconds"]),
                        "db_rows": part["created"],
                        "headline": headline,
                        "load": f"{raw['load_before']} / {raw['load_after']}",
                    }
                )
            results["rows"].append(
                {
                    "label": "generated, all three files",
                    "database": database,
                    "rows": int(total_rows),
                    "seconds": total_seconds,
                    "rows_per_second": rate(int(total_rows), total_seconds),
                    "db_rows": sum(raw[k]["created"] for k in ("customers", "products", "orders")),
                    "headline": False,
                    "load": f"{raw['load_before']} / {raw['load_after']}",
                }
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
