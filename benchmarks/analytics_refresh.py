"""Full prediction refresh (`omnicrm analytics refresh`) on a large generated shop.

    python benchmarks/analytics_refresh.py                       # 1M customers on PostgreSQL
                                                                 # and 200k on SQLite; writes
                                                                 # the results
    python benchmarks/analytics_refresh.py --customers 20000 --sqlite-customers 20000 --no-write

Data: customers drawn from BG/NBD and Gamma-Gamma (omnicrm.analytics.clv.simulate, daily
rates r=0.5, alpha=20, a=1, b=4; spend p=6, q=4, v=60; ages uniform over two years), written
as orders (status delivered, USD) whose repeat purchases are spread evenly up to the
customer's last purchase, one order line each on one of 200 products in 20 categories. The
rows are loaded with COPY (PostgreSQL) or executemany (SQLite) straight into a database made
for the run (migrated by `omnicrm migrate`): loading is not what is measured.

Measured: `analytics_refresh()` in a fresh process, twice (the second run replaces every row
of the first, the nightly case). The headline is the first run's wall time; the target is
under 5 minutes for 1M customers on PostgreSQL. The load average is recorded before and
after: the machine may be shared with other work.

Writes benchmarks/results/analytics_refresh.md and .json (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
PG_DATABASE = "omnicrm_bench_analytics"
TARGET_SECONDS = 300
SEED = 2026
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = 20
PRODUCTS = 200


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


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


# ---------------------------------------------------------------- data (inside a worker)


def _columns(table: str) -> list[tuple[str, str, bool]]:
    """(column, Django field type, needs a value) of each column of the model stored in
    ``table``: every NOT NULL column but the auto primary key."""
    from django.apps import apps
    from django.db import models

    model = next(m for m in apps.get_models() if m._meta.db_table == table)
    return [
        (f.column, f.get_internal_type(), not f.null and not isinstance(f, models.AutoField))
        for f in model._meta.concrete_fields
    ]


def _filler(kind: str, now: str) -> Any:
    if kind == "BooleanField":
        return False
    if kind == "JSONField":
        return "{}"
    if kind in ("DateTimeField", "DateField"):
        return now
    if "Integer" in kind or kind in ("DecimalField", "FloatField"):
        return 0
    return ""


def _load(table: str, given: dict[str, Any], n: int, now: str) -> None:
    """Write ``n`` rows: the given columns (sequences or constants), every other required
    column filled with an empty value of its type, in batches of 200k rows."""
    from django.db import connection

    names = []
    columns: list[Any] = []
    for name, kind, required in _columns(table):
        if name in given:
            names.append(name)
            columns.append(given[name])
        elif required:
            names.append(name)
            columns.append(_filler(kind, now))
    batch = 200_000
    with connection.cursor() as cursor:
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            parts = [
                c[start:stop] if isinstance(c, list) else [c] * (stop - start) for c in columns
            ]
            rows = zip(*parts, strict=True)
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(names))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",  # noqa: S608
                    list(rows),
                )


def generate(customers: int) -> dict[str, int]:
    import numpy as np
    from django.db import connection, transaction

    from omnicrm.analytics.clv.simulate import simulate_customers
    from omnicrm.analytics.metrics_write import datetime_strings

    rng = np.random.default_rng(SEED)
    ages = rng.uniform(1, 730, customers).round()
    sim = simulate_customers(
        customers,
        bgnbd_params=(0.5, 20.0, 1.0, 4.0),
        gamma_gamma_params=(6.0, 4.0, 60.0),
        age=ages,
        rng=rng,
    )
    x = sim.frequency
    per_customer = x + 1
    n_orders = int(per_customer.sum())
    owner = np.repeat(np.arange(customers), per_customer)
    k = np.arange(n_orders) - np.repeat(np.cumsum(per_customer) - per_customer, per_customer)
    step = np.where(x > 0, sim.recency / np.maximum(x, 1), 0.0)[owner]
    end = AS_OF.timestamp()
    first = end - ages[owner] * 86_400 + 3_600
    placed = first + k * step * 86_400
    value = np.where(k == 0, 40.0, sim.monetary_value[owner])
    value = np.maximum(value, 1.0).round(2)
    now = str(datetime_strings(np.array([time.time()]))[0])

    with transaction.atomic():
        _load(
            "catalog_category",
            {
                "id": list(range(1, CATEGORIES + 1)),
                "slug": [f"bench-cat-{i}" for i in range(1, CATEGORIES + 1)],
                "name": [f"Category {i}" for i in range(1, CATEGORIES + 1)],
            },
            CATEGORIES,
            now,
        )
        _load(
            "catalog_product",
            {
                "id": list(range(1, PRODUCTS + 1)),
                "public_id": [f"prd_bench{i:06d}" for i in range(1, PRODUCTS + 1)],
                "sku": [f"BENCH-{i:05d}" for i in range(1, PRODUCTS + 1)],
                "title": [f"Product {i}" for i in range(1, PRODUCTS + 1)],
                "category_id": [1 + i % CATEGORIES for i in range(PRODUCTS)],
                "price": "10.00",
                "currency": "USD",
                "is_active": True,
            },
            PRODUCTS,
            now,
        )
        ids = list(range(1, customers + 1))
        _load(
            "customers_customer",
            {
                "id": ids,
                "public_id": [f"cus_bench{i:08d}" for i in ids],
                "name": [f"Customer {i}" for i in ids],
                "email": [f"c{i}@bench.example" for i in ids],
            },
            customers,
            now,
        )
        order_ids = list(range(1, n_orders + 1))
        totals = [f"{v:.2f}" for v in value.tolist()]
        products = (rng.integers(0, PRODUCTS, customers)[owner] + k % 3) % PRODUCTS + 1
        _load(
            "orders_order",
            {
                "id": order_ids,
                "public_id": [f"ord_bench{i:09d}" for i in order_ids],
                "customer_id": (owner + 1).tolist(),
                "channel": "web",
                "status": "delivered",
                "placed_at": datetime_strings(placed).tolist(),
                "currency": "USD",
                "subtotal": totals,
                "total": totals,
            },
            n_orders,
            now,
        )
        _load(
            "orders_orderline",
            {
                "id": order_ids,
                "order_id": order_ids,
                "line_number": 1,
                "product_id": products.tolist(),
                "sku": [f"BENCH-{p:05d}" for p in products.tolist()],
                "quantity": 1,
                "unit_price": totals,
                "total": totals,
            },
            n_orders,
            now,
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for table in (
                    "catalog_category",
                    "catalog_product",
                    "customers_customer",
                    "orders_order",
                    "orders_orderline",
                ):
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {table}))"
                    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"customers": customers, "orders": n_orders, "order_lines": n_orders}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnicrm.settings")
    django.setup()
    from omnicrm.analytics.services import analytics_refresh

    out: dict[str, Any] = {}
    if args.generate:
        started = time.perf_counter()
        out["data"] = generate(args.generate)
        out["generate_seconds"] = round(time.perf_counter() - started, 1)
        return out
    runs = []
    for _ in range(args.repeat):
        before = load()
        started = time.perf_counter()
        cpu = time.process_time()
        report = analytics_refresh(as_of=AS_OF, trigger="benchmark")
        runs.append(
            {
                "seconds": round(time.perf_counter() - started, 1),
                "process_cpu_seconds": round(time.process_time() - cpu, 1),
                "phases": report.seconds,
                "customers": report.customers,
                "buyers": report.buyers,
                "orders": report.orders,
                "order_lines": report.order_lines,
                "metrics_rows": report.metrics_rows,
                "reorder_rows": report.reorder_rows,
                "model": report.model,
                "model_note": report.model_note,
                "spend_model": report.spend_model,
                "segments": report.segments,
                "replaced_values": report.replaced_values,
                "load_before": before,
                "load_after": load(),
            }
        )
    out["runs"] = runs
    return out


# ---------------------------------------------------------------- driver


def _run_worker(env: dict[str, str], *extra: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", *extra],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"worker failed ({result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "omnicrm", "migrate", "-v0"], env=env, cwd=ROOT, check=True
    )


def bench(
    database: str, customers: int, pg_url: str, repeat: int, *, reuse: bool = False
) -> dict[str, Any]:
    env = dict(os.environ)
    env.setdefault("OMNICRM_DATA_DIR", tempfile.mkdtemp(prefix="bench-analytics-"))
    if database == "postgresql":
        import psycopg

        env["DATABASE_URL"] = f"{pg_url}/{PG_DATABASE}"
        if not reuse:
            with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
                conn.execute(f"CREATE DATABASE {PG_DATABASE}")
    else:
        path = Path(tempfile.mkdtemp(prefix="bench-analytics-sqlite-")) / "bench.sqlite3"
        env["DATABASE_URL"] = f"sqlite:///{path}"
    if reuse and database == "postgresql":
        # The data of an earlier run with the same --customers (generation is deterministic).
        _migrate(env)
        generated: dict[str, Any] = {"data": {"reused": True}, "generate_seconds": None}
    else:
        _migrate(env)
        generated = _run_worker(env, "--generate", str(customers))
    print(f"{database}: generated {generated['data']} in {generated['generate_seconds']} s")
    measured = _run_worker(env, "--repeat", str(repeat))
    for run in measured["runs"]:
        print(f"{database}: refresh {run['seconds']} s {run['phases']} load {run['load_after']}")
    return {"database": database, **generated, **measured}


def write_results(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "analytics_refresh.json").write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    lines = [
        "# Full prediction refresh (`omnicrm analytics refresh`)",
        "",
        f"Run {results['date']} by `python benchmarks/analytics_refresh.py`. Machine: "
        f"{m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB memory, Python {m['python']}, "
        f"SQLite {m['sqlite']}. The machine was shared with other work: see the load "
        "averages (1, 5, 15 minutes).",
        "",
        "| database | customers | orders | order lines | model | refresh (s) | CPU of the "
        "refresh process (s) | 2nd run (s) | read orders | read lines | compute | write "
        "| load before -> after |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["databases"]:
        first = r["runs"][0]
        second = r["runs"][1]["seconds"] if len(r["runs"]) > 1 else "-"
        ph = first["phases"]
        lines.append(
            f"| {r['database']} | {first['customers']:,} | {first['orders']:,} "
            f"| {first['order_lines']:,} | {first['model']} | {first['seconds']} "
            f"| {first['process_cpu_seconds']} | {second} "
            f"| {ph.get('read_orders', 0):.1f} | {ph.get('read_lines', 0):.1f} "
            f"| {ph.get('compute', 0):.1f} | {ph.get('write', 0):.1f} "
            f"| {first['load_before']} -> {first['load_after']} |"
        )
    for r in results["databases"]:
        if r.get("data", {}).get("reused"):
            lines.append(
                f"\n{r['database']}: the data was generated by an earlier run of this script "
                "(`--reuse-postgresql`; same seed, so the same rows)."
            )
        elif r.get("generate_seconds") is not None:
            lines.append(
                f"\n{r['database']}: generating and loading the data took "
                f"{r['generate_seconds']} s (not part of the measurement)."
            )
    lines += [
        "",
        f"Target: under {TARGET_SECONDS} s for 1M customers on PostgreSQL.",
        "",
        "Phases: `read orders` is the one streamed query over the orders and its conversion "
        "to arrays; `read lines` the same for order lines (category reorder, affinity); "
        "`compute` the summary, RFM, the BG/NBD and Gamma-Gamma fits, predictions with "
        "intervals and the category figures; `write` the replacement of every "
        "CustomerMetrics and CategoryReorder row (TRUNCATE + COPY on PostgreSQL, "
        "DELETE + executemany on SQLite).",
        "",
        "The CPU column is the refresh process's own CPU time; the rest of the wall time is "
        "the database server's work (reading, COPY, index maintenance) and waiting for a CPU "
        "on a shared machine. At this size the per-customer intervals are skipped (too many "
        "distinct histories to simulate, see docs/predictions.md); point predictions are "
        "complete.",
        "",
        "Data: see the docstring of benchmarks/analytics_refresh.py; the segments of the "
        "first PostgreSQL run: "
        + ", ".join(
            f"{k} {v:,}" for k, v in sorted(results["databases"][0]["runs"][0]["segments"].items())
        )
        + ".",
    ]
    (RESULTS / "analytics_refresh.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--sqlite-customers", type=int, default=200_000)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--reuse-postgresql",
        action="store_true",
        help="Keep the PostgreSQL data of an earlier run with the same --customers.",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="Add to the committed results instead of replacing them.",
    )
    parser.add_argument(
        "--render", action="store_true", help="Rewrite the .md from the committed .json."
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.render:
        write_results(json.loads((RESULTS / "analytics_refresh.json").read_text()))
        return
    results: dict[str, Any] = {
        "date": datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_at_start": load(),
        "databases": [],
    }
    if not args.no_postgresql:
        results["databases"].append(
            bench(
                "postgresql",
                args.customers,
                args.pg_url,
                args.repeat,
                reuse=args.reuse_postgresql,
            )
        )
    if not args.no_sqlite:
        results["databases"].append(
            bench("sqlite", args.sqlite_customers, args.pg_url, args.repeat)
        )
    results["load_at_end"] = load()
    if args.merge and (RESULTS / "analytics_refresh.json").exists():
        # Keep the committed results of the databases not run this time.
        earlier = json.loads((RESULTS / "analytics_refresh.json").read_text())
        ran = {(r["database"], r["runs"][0]["customers"]) for r in results["databases"]}
        kept = [
            r for r in earlier["databases"] if (r["database"], r["runs"][0]["customers"]) not in ran
        ]
        results["databases"] = kept + results["databases"]
        results["date"] = f"{earlier['date']} and {results['date']}"
    if not args.no_write and results["databases"]:
        write_results(results)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
