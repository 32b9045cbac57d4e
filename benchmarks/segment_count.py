"""Segment count over 1M customers / 5M orders, on PostgreSQL and on SQLite.

    python benchmarks/segment_count.py                       # both databases, full size
    python benchmarks/segment_count.py --customers 100000 --orders 500000 --no-write

The data is generated inside the database by one INSERT ... SELECT per table over a row
number (generate_series on PostgreSQL, a recursive CTE on SQLite), every attribute a
deterministic hash of the row number, so both databases hold exactly the same shop and
must give the same counts (checked). Shop: 20 categories (one of them "arabica"), 200
products, customers in 5 countries, orders over two years (92% delivered, 5% canceled, 3%
confirmed) from 700,000 of the customers with a loyal core, one line each, and a
CustomerMetrics row per customer with p_alive spread over [0, 1).

Timed: the count preview (`rules_compile(...).queryset().count()`, what the console's live
count runs) of a realistic multi-condition segment and of a few simpler ones, each
``--repeats`` times (median and best); one full membership refresh of the realistic
segment (INSERT ... SELECT of the members and their history); the per-customer re-check
that runs after an order. PostgreSQL's plan of the realistic count is saved beside it.

Writes benchmarks/results/segment_count.md and .json (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PG_URL = os.environ.get(
    "SEGMENT_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/omnicrm_segbench"
)
P = 2147483647  # a prime below 2**31: products of two residues fit in 64 bits

REALISTIC = {
    "any": [
        {
            "all": [
                {"field": "bought_category", "op": "eq", "value": "arabica", "within_days": 90},
                {"field": "order_count", "op": "gte", "value": 2},
                {"field": "country", "op": "eq", "value": "VN"},
            ]
        },
        {"field": "p_alive", "op": "gt", "value": 0.7},
    ]
}
SEGMENTS: dict[str, dict[str, Any]] = {
    "realistic: (bought arabica in 90 days AND order_count >= 2 AND country = VN) "
    "OR p_alive > 0.7": REALISTIC,
    "country = VN": {"all": [{"field": "country", "op": "eq", "value": "VN"}]},
    "no order in the last 90 days (order_count in 90 days = 0)": {
        "all": [{"field": "order_count", "op": "eq", "value": 0, "within_days": 90}]
    },
    "total_spent >= 500 AND last order more than 180 days ago": {
        "all": [
            {"field": "total_spent", "op": "gte", "value": 500},
            {"field": "last_order_at", "op": "not_within_last_days", "value": 180},
        ]
    },
    "bought arabica at least 3 times AND p_alive > 0.5": {
        "all": [
            {"field": "bought_category", "op": "eq", "value": "arabica", "min_times": 3},
            {"field": "p_alive", "op": "gt", "value": 0.5},
        ]
    },
}


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
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


# ------------------------------------------------------------------ data (inside a worker)


def _mix(expr: str, k: int) -> str:
    """A deterministic pseudo-random residue in [0, P) of the integer ``expr``; ``k``
    picks one of several independent-looking streams."""
    a, b, c, d = 48271 + 7919 * k, 11 + 131 * k, 69621 + 104729 * k, 7 + 17 * k
    return f"((({expr} * {a} + {b}) %% {P}) * (({expr} * {c} + {d}) %% {P}) %% {P})"


def _rows(vendor: str, n: int) -> str:
    if vendor == "postgresql":
        return f"generate_series(1::bigint, {n}) AS s(i)"
    return (
        "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "  # noqa: S608
        f"WHERE i < {n}) SELECT i FROM s) AS s"
    )


def _ago(vendor: str, seconds: str) -> str:
    """The anchor time (parameter %s) minus ``seconds``, as the column type wants it."""
    if vendor == "postgresql":
        return f"(%s::timestamptz - make_interval(secs => {seconds}))"
    return f"datetime(%s, '-' || ({seconds}) || ' seconds')"


def _columns(model: Any) -> dict[str, Any]:
    return {f.column: f for f in model._meta.concrete_fields}


def generate(*, customers: int, orders: int, anchor: datetime, log: Any) -> None:
    from django.db import connection, transaction

    from omnicrm.analytics.models import CustomerMetrics
    from omnicrm.catalog.models import Category, Product
    from omnicrm.customers.models import Customer
    from omnicrm.orders.models import Order, OrderLine

    vendor = connection.vendor
    at = anchor.strftime("%Y-%m-%d %H:%M:%S") if vendor == "sqlite" else anchor
    two_years = 730 * 86400
    loyal = min(100_000, customers // 10)
    buyers = min(700_000, customers * 7 // 10)
    with transaction.atomic(), connection.cursor() as cursor:
        for model in (OrderLine, Order, CustomerMetrics, Product, Category, Customer):
            cursor.execute(f"DELETE FROM {model._meta.db_table}", [])  # noqa: S608
        Category.objects.bulk_create(
            [
                Category(pk=k + 1, slug="arabica" if k == 0 else f"cat-{k}", name=f"C{k}")
                for k in range(20)
            ]
        )
        Product.objects.bulk_create(
            [
                Product(
                    pk=p + 1,
                    sku=f"BENCH-{p + 1}",
                    title=f"P{p + 1}",
                    category_id=p % 20 + 1,
                    price=10,
                    currency="USD",
                )
                for p in range(200)
            ]
        )
        started = time.perf_counter()
        country = _mix("i", 1)
        cursor.execute(
            f"""INSERT INTO {Customer._meta.db_table}
            (id, public_id, name, email, phone, language, timezone, country, city,
             first_seen_at, last_seen_at, created_at, updated_at)
            SELECT i, 'cus_bench' || i, 'Customer ' || i, 'c' || i || '@bench.example', '',
              'vi', '',
              CASE WHEN {country} %% 100 < 40 THEN 'VN' WHEN {country} %% 100 < 60 THEN 'US'
                   WHEN {country} %% 100 < 75 THEN 'CN' WHEN {country} %% 100 < 85 THEN 'SG'
                   ELSE 'TH' END,
              'City ' || ({_mix("i", 2)} %% 50), NULL, NULL,
              {_ago(vendor, f"{_mix('i', 3)} %% {two_years}")},
              {_ago(vendor, "0")}
            FROM {_rows(vendor, customers)}""",  # noqa: S608
            [at, at],
        )
        log(f"customers: {customers:,} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        pick = _mix("i", 4)
        status = _mix("i", 5)
        total = f"(5 + {_mix('i', 6)} %% 200)"
        cursor.execute(
            f"""INSERT INTO {Order._meta.db_table}
            (id, public_id, external_id, customer_id, channel, status, placed_at, tracking_number,
             currency, subtotal, shipping_total, discount_total, total, created_at, updated_at)
            SELECT i, 'ord_bench' || i, NULL,
              CASE WHEN {pick} %% 2 = 0 THEN 1 + {_mix("i", 7)} %% {loyal}
                   ELSE {loyal + 1} + {_mix("i", 7)} %% {buyers - loyal} END,
              'web',
              CASE WHEN {status} %% 100 < 92 THEN 'delivered' WHEN {status} %% 100 < 97
                   THEN 'canceled' ELSE 'confirmed' END,
              {_ago(vendor, f"{_mix('i', 8)} %% {two_years}")}, '', 'USD',
              {total}, 0, 0, {total}, {_ago(vendor, "0")}, {_ago(vendor, "0")}
            FROM {_rows(vendor, orders)}""",  # noqa: S608
            [at, at, at],
        )
        log(f"orders: {orders:,} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        product = f"(1 + {_mix('i', 9)} %% 200)"
        cursor.execute(
            f"""INSERT INTO {OrderLine._meta.db_table}
            (id, order_id, line_number, product_id, sku, title, quantity, unit_price, shipping,
             total, seller_ref)
            SELECT i, i, 1, {product}, 'BENCH-' || {product}, '', 1, {total}, 0, {total}, ''
            FROM {_rows(vendor, orders)}""",  # noqa: S608
            [],
        )
        log(f"order lines: {orders:,} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        cursor.execute(
            f"""INSERT INTO {CustomerMetrics._meta.db_table}
            (customer_id, order_count, revenue, currency, rfm_score, rfm_segment,
             expected_purchases_30d, p_alive, churn_risk, model, computed_at,
             category_affinity, seasonality)
            SELECT i, 0, 0, 'USD', '', '', 0.0, ({_mix("i", 10)} %% 1000) / 1000.0, '', 'bgnbd',
              {_ago(vendor, "0")}, '{{}}', '[]'
            FROM {_rows(vendor, customers)}""",  # noqa: S608
            [at],
        )
        log(f"metrics: {customers:,} in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            # Rows were inserted with explicit ids: move the sequences past them.
            for model in (Customer, Order, OrderLine, Product, Category):
                table, pk = model._meta.db_table, model._meta.pk.column
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{pk}'), "  # noqa: S608
                    f"(SELECT MAX({pk}) FROM {table}))",
                    [],
                )
            cursor.execute("VACUUM ANALYZE", [])
        else:
            cursor.execute("ANALYZE", [])
    log(f"analyze: {time.perf_counter() - started:.1f} s")


def _timed(fn: Any, repeats: int) -> tuple[list[float], Any]:
    times, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return times, value


def worker(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnicrm.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from omnicrm.customers.models import Customer
    from omnicrm.orders.models import Order
    from omnicrm.segments import services
    from omnicrm.segments.models import Segment
    from omnicrm.segments.rules import rules_compile, segment_query_settings

    def log(message: str) -> None:
        print(f"[{connection.vendor}] {message}", file=sys.stderr, flush=True)

    call_command("migrate", verbosity=0)
    anchor = datetime.fromisoformat(args.anchor)
    have = (Customer.objects.count(), Order.objects.count())
    if have != (args.customers, args.orders) or args.regenerate:
        generate(customers=args.customers, orders=args.orders, anchor=anchor, log=log)
    else:
        log("data already there: reusing it")
    result: dict[str, Any] = {
        "vendor": connection.vendor,
        "customers": Customer.objects.count(),
        "orders": Order.objects.count(),
        "load_average_at_start": loadavg(),
        "counts": {},
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            result["server_version"] = cursor.fetchone()[0]
        else:
            cursor.execute("SELECT sqlite_version()")
            result["server_version"] = cursor.fetchone()[0]
    # "Now" is the anchor the data was generated at, so both databases see the same windows.
    for label, rules in SEGMENTS.items():
        compiled = rules_compile(rules, now=anchor)
        times, count = _timed(compiled.count, args.repeats)
        result["counts"][label] = {
            "count": count,
            "median_s": round(statistics.median(times), 3),
            "best_s": round(min(times), 3),
            "runs": len(times),
        }
        log(f"{label}: {count:,} in median {statistics.median(times):.3f} s")
    if connection.vendor == "postgresql":
        qs = rules_compile(REALISTIC, now=anchor).queryset()
        sql, params = qs.order_by().values("pk").query.sql_with_params()
        with segment_query_settings(), connection.cursor() as cursor:
            cursor.execute(
                f"EXPLAIN (ANALYZE, COSTS OFF) SELECT COUNT(*) FROM ({sql}) q",  # noqa: S608
                params,
            )
            result["plan"] = "\n".join(row[0] for row in cursor.fetchall())
    Segment.objects.filter(slug="bench-realistic").delete()
    segment = services.segment_create(
        name="bench realistic", slug="bench-realistic", rules=REALISTIC
    )
    started = time.perf_counter()
    first = services.segment_refresh(segment=segment, now=anchor)
    result["refresh_first_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    again = services.segment_refresh(segment=segment, now=anchor + timedelta(minutes=1))
    result["refresh_unchanged_s"] = round(time.perf_counter() - started, 2)
    result["refresh_members"] = first.member_count
    result["refresh_second_changes"] = again.entered + again.left
    log(
        f"refresh: {first.member_count:,} members in {result['refresh_first_s']} s, "
        f"again in {result['refresh_unchanged_s']} s"
    )
    ids = list(Customer.objects.order_by("?").values_list("pk", flat=True)[:20])
    times = []
    for customer_id in ids:
        started = time.perf_counter()
        services.segment_refresh_customer(customer_id=customer_id)
        times.append(time.perf_counter() - started)
    result["customer_recheck_median_ms"] = round(statistics.median(times) * 1000, 1)
    result["customer_recheck_max_ms"] = round(max(times) * 1000, 1)
    segment.delete()
    result["load_average_at_end"] = loadavg()
    return result


# ------------------------------------------------------------------ driver


def run_one(vendor: str, args: argparse.Namespace, anchor: datetime) -> dict[str, Any]:
    env = dict(os.environ)
    if vendor == "postgresql":
        env["DATABASE_URL"] = PG_URL
        base, name = PG_URL.rsplit("/", 1)
        import psycopg

        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    else:
        env.pop("DATABASE_URL", None)
        env["OMNICRM_DATA_DIR"] = args.sqlite_dir
    env.setdefault("OMNICRM_DATA_DIR", tempfile.mkdtemp(prefix="segbench-"))
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--customers",
        str(args.customers),
        "--orders",
        str(args.orders),
        "--repeats",
        str(args.repeats),
        "--anchor",
        anchor.isoformat(),
    ] + (["--regenerate"] if args.regenerate else [])
    started = time.perf_counter()
    output = subprocess.run(
        command, env=env, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    sys.stderr.write(output.stderr)
    output.check_returncode()
    result = json.loads(output.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Segment count: 1M customers / 5M orders",
        "",
        f"Run {report['run_at']} with `python benchmarks/segment_count.py`. Machine: "
        f"{m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}; "
        "a shared machine (other jobs ran beside this one: see the load averages).",
        "",
        "Timed is the live count of the console's builder: one SQL query "
        "(`rules_compile(rules).count()`, on PostgreSQL with the session settings of "
        "`omnicrm.segments.rules.PG_SETTINGS`); the same generated data in both databases. "
        "Identical counts in every database: "
        f"**{'yes' if report.get('same_counts_in_every_database') else 'NO'}**. "
        "Indexes: those of the models, including the partial covering indexes "
        "`order_revenue_by_customer` and `order_revenue_by_time` (orders migration 0002).",
        "",
    ]
    for result in report["results"]:
        lines += [
            f"## {result['vendor']} {result['server_version']}",
            "",
            f"{result['customers']:,} customers, {result['orders']:,} orders "
            f"(and as many order lines), a metrics row per customer. Load average at start "
            f"{', '.join(map(str, result['load_average_at_start']))}, at end "
            f"{', '.join(map(str, result['load_average_at_end']))}.",
            "",
            "| segment | members | median | best | runs |",
            "|---|---|---|---|---|",
        ]
        for label, row in result["counts"].items():
            lines.append(
                f"| {label} | {row['count']:,} | {row['median_s']:.3f} s | {row['best_s']:.3f} s"
                f" | {row['runs']} |"
            )
        lines += [
            "",
            f"Full membership refresh of the realistic segment: {result['refresh_members']:,} "
            f"members written with their history in {result['refresh_first_s']} s; a second "
            f"refresh with nothing changed: {result['refresh_unchanged_s']} s "
            f"({result['refresh_second_changes']} changes). Re-check of one customer after an "
            f"order (every activity-driven segment, here one): median "
            f"{result['customer_recheck_median_ms']} ms, max {result['customer_recheck_max_ms']}"
            " ms.",
            "",
        ]
        if result.get("plan"):
            lines += [
                "PostgreSQL's plan of the realistic count:",
                "",
                "```",
                result["plan"],
                "```",
                "",
            ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--sqlite-dir", default=str(Path(tempfile.gettempdir()) / "segbench"))
    parser.add_argument("--regenerate", action="store_true", help="Rebuild the data.")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--anchor", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--render", action="store_true", help="Only rewrite the .md from the saved .json."
    )
    args = parser.parse_args()
    if args.render:
        saved = json.loads((RESULTS / "segment_count.json").read_text())
        (RESULTS / "segment_count.md").write_text(markdown(saved) + "\n")
        return
    if args.worker:
        print(json.dumps(worker(args)))
        return
    Path(args.sqlite_dir).mkdir(parents=True, exist_ok=True)
    # One anchor for both databases (whole seconds: SQLite's datetime() keeps no fraction).
    anchor = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    report: dict[str, Any] = {
        "run_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "anchor": anchor.isoformat(),
        "results": [run_one(vendor, args, anchor) for vendor in args.databases.split(",")],
    }
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        previous = RESULTS / "segment_count.json"
        if previous.exists() and len(report["results"]) < 2:
            # A run on one database keeps the other database's last results beside it.
            ran = {r["vendor"] for r in report["results"]}
            kept = [
                r for r in json.loads(previous.read_text())["results"] if r["vendor"] not in ran
            ]
            report["results"] = kept + report["results"]
        counts = [{k: v["count"] for k, v in r["counts"].items()} for r in report["results"]]
        report["same_counts_in_every_database"] = all(c == counts[0] for c in counts)
        if not report["same_counts_in_every_database"]:
            print("the databases disagree on the counts!", counts, file=sys.stderr)
        print(markdown(report))
        (RESULTS / "segment_count.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / "segment_count.md").write_text(markdown(report) + "\n")


if __name__ == "__main__":
    main()
