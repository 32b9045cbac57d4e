"""Segment count over 1M customers / 5M orders, on PostgreSQL and on SQLite.

    python benchmarks/segment_count.py                       # both databases, full size
    python benchmarks/segment_count.py --customers 20000 --orders 100000 --no-write

The shop is made by the product itself (benchmarks/shop_data.py): `omnicrm demo generate
--customers N --orders M --seed 2026` writes the CSV files, `omnicrm import csv` loads them
into a template database per engine (built once, cached; import times reported, not
measured). This benchmark works on its own copy of the template, on which it runs one full
`analytics_refresh` as of 2026-01-01 (the day after the generated period) so the rules can
use p_alive; the copy is kept and reused by later runs (``--rebuild`` makes it again).

Both databases hold the same imported shop, so the rules on orders and profiles must give
the same counts (checked). Rules on predictions (p_alive) come from a model fitted in each
database; they are compared too, and a difference is reported rather than hidden.

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
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import shop_data  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ARABICA_CAU_DAT = ["CF-ARA-CD-250", "CF-ARA-CD-500", "CF-ARA-CD-1K"]

REALISTIC = {
    "any": [
        {
            "all": [
                {
                    "field": "bought_category",
                    "op": "eq",
                    "value": "coffee-beans",
                    "within_days": 90,
                },
                {"field": "order_count", "op": "gte", "value": 2},
                {"field": "country", "op": "eq", "value": "VN"},
            ]
        },
        {"field": "p_alive", "op": "gt", "value": 0.7},
    ]
}
SEGMENTS: dict[str, dict[str, Any]] = {
    "realistic: (bought coffee beans in 90 days AND order_count >= 2 AND country = VN) "
    "OR p_alive > 0.7": REALISTIC,
    "country = VN": {"all": [{"field": "country", "op": "eq", "value": "VN"}]},
    "no order in the last 90 days (order_count in 90 days = 0)": {
        "all": [{"field": "order_count", "op": "eq", "value": 0, "within_days": 90}]
    },
    "total_spent >= 300 AND last order more than 180 days ago": {
        "all": [
            {"field": "total_spent", "op": "gte", "value": 300},
            {"field": "last_order_at", "op": "not_within_last_days", "value": 180},
        ]
    },
    "bought Arabica Cầu Đất (3 SKUs) at least 3 times AND p_alive > 0.5": {
        "all": [
            {"field": "bought_product", "op": "in", "value": ARABICA_CAU_DAT, "min_times": 3},
            {"field": "p_alive", "op": "gt", "value": 0.5},
        ]
    },
    "email consent granted AND bought filters or brewing equipment in 180 days": {
        "all": [
            {"field": "consent_email", "op": "eq", "value": "granted"},
            {
                "field": "bought_category",
                "op": "in",
                "value": ["filters-accessories", "brewing-equipment"],
                "within_days": 180,
            },
        ]
    },
}
# Whose members depend on a model fitted separately in each database.
USES_PREDICTIONS = {label for label, rules in SEGMENTS.items() if "p_alive" in json.dumps(rules)}


def loadavg() -> list[float]:
    return shop_data.loadavg()


# ------------------------------------------------------------------ worker (a fresh process)


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Predictions for every customer (the rules on p_alive read them), then statistics."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnicrm.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from omnicrm.analytics.models import CustomerMetrics
    from omnicrm.analytics.services import analytics_refresh

    out: dict[str, Any] = {}
    if not args.no_refresh:
        started = time.perf_counter()
        report = analytics_refresh(as_of=shop_data.AS_OF, trigger="benchmark")
        out["refresh_s"] = round(time.perf_counter() - started, 1)
        out["model"] = report.model
    out["metrics_rows"] = CustomerMetrics.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE", [])
    return out


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
    from django.db import connection

    from omnicrm.customers.models import Customer
    from omnicrm.orders.models import Order, OrderLine
    from omnicrm.segments import services
    from omnicrm.segments.models import Segment
    from omnicrm.segments.rules import rules_compile, segment_query_settings

    def log(message: str) -> None:
        print(f"[{connection.vendor}] {message}", file=sys.stderr, flush=True)

    anchor = datetime.fromisoformat(args.anchor)
    result: dict[str, Any] = {
        "vendor": connection.vendor,
        "customers": Customer.objects.count(),
        "orders": Order.objects.count(),
        "order_lines": OrderLine.objects.count(),
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
    # "Now" is the day after the generated period, the same in both databases.
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


def _worker(env: dict[str, str], *extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", *extra]
    output = subprocess.run(
        command, env=env, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    sys.stderr.write(output.stderr)
    output.check_returncode()
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def run_one(vendor: str, args: argparse.Namespace, anchor: datetime) -> dict[str, Any]:
    shop = shop_data.Shop(args.customers, args.orders, args.seed)

    def log(message: str) -> None:
        print(f"[{vendor}] {message}", file=sys.stderr, flush=True)

    template = shop_data.template(vendor, shop, log)
    # The working copy with its predictions is kept between runs; its manifest says it is
    # complete (a copy whose refresh did not finish is made again).
    manifest_path = shop_data.CACHE / f"segments_{vendor}_{shop.label}.json"
    env = None if args.rebuild else shop_data.existing_copy(vendor, shop, "segments")
    prepared = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if (env is None or prepared is None) and args.adopt_refresh_copy:
        # The copy analytics_refresh.py refreshed (as of the same moment) already holds
        # every prediction: take it over instead of copying and refreshing again.
        manifest_path.unlink(missing_ok=True)
        env = shop_data.adopt_copy(vendor, shop, "refresh", "segments")
        log("took over the refreshed copy of benchmarks/analytics_refresh.py")
        prepared = {"copy_s": "-", "refresh_s": "done by analytics_refresh.py"}
        prepared.update(_worker(env, "--prepare", "--no-refresh"))
        prepared["at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        manifest_path.write_text(json.dumps(prepared, indent=2) + "\n")
    if env is None or prepared is None:
        manifest_path.unlink(missing_ok=True)
        env, copy_s = shop_data.working_copy(vendor, shop, "segments", log)
        log("analytics refresh (preparation, not measured)")
        prepared = {"copy_s": round(copy_s, 1), **_worker(env, "--prepare")}
        prepared["at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        manifest_path.write_text(json.dumps(prepared, indent=2) + "\n")
        log(f"prepared: {prepared}")
    if args.prepare_only:
        return {"vendor": vendor, "template": template, "prepared": prepared}
    started = time.perf_counter()
    result = _worker(env, "--repeats", str(args.repeats), "--anchor", anchor.isoformat())
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["template"] = template
    result["prepared"] = prepared
    return result


def _seconds(value: Any) -> str:
    return f"{value} s" if isinstance(value, int | float) else str(value)


def _load(values: list[float]) -> str:
    return ", ".join(map(str, values))


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    results = report["results"]
    data = results[0]["template"]["data"]
    lines = [
        "# Segment count: 1M customers / 5M orders",
        "",
        *([report["preface"], ""] if report.get("preface") else []),
        f"Run {report['run_at']} with `python benchmarks/segment_count.py`. Machine: "
        f"{m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}; "
        "the load averages at the start and end of each database's run are given below.",
        "",
        "Data: the product's own generator and importer (benchmarks/shop_data.py): "
        f"`{data['command'].replace(' --no-progress', '').split(' --out')[0]}` wrote "
        f"{data['customers']:,} customers ({data['buyers']:,} of them buyers), "
        f"{data['products']:,} products and {data['orders']:,} orders with "
        f"{data['order_lines']:,} order lines in {data['generate_seconds']} s; "
        "`omnicrm import csv` loaded them into each database with zero rejected rows. "
        "Then one `analytics_refresh` as of "
        f"{report['anchor'][:10]} stored every customer's predictions (p_alive). "
        '"Now" for every rule is that same moment, the day after the generated period.',
        "",
        "Timed is the live count of the console's builder: one SQL query "
        "(`rules_compile(rules).count()`, on PostgreSQL with the session settings of "
        "`omnicrm.segments.rules.PG_SETTINGS`). Identical counts in every database for the "
        "rules on orders and profiles: "
        f"**{'yes' if report.get('same_counts_without_predictions') else 'NO'}**; for the "
        "rules that read p_alive (fitted separately in each database): "
        f"**{'yes' if report.get('same_counts_with_predictions') else 'no'}**. "
        "Indexes: those of the models, including the partial covering indexes "
        "`order_revenue_by_customer` and `order_revenue_by_time` (orders migration 0002).",
        "",
        "Loading (not measured, for scale):",
        "",
        "| database | import customers | products | orders | analyze | size | "
        "copy for this run | analytics refresh |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        seconds = result["template"]["import_seconds"]
        prepared = result["prepared"]
        lines.append(
            f"| {result['vendor']} | {seconds['customers']} s | {seconds['products']} s "
            f"| {seconds['orders']} s "
            f"| {seconds.get('vacuum_analyze', seconds.get('analyze', 0))} s "
            f"| {result['template']['bytes'] / 2**30:.1f} GiB | {_seconds(prepared['copy_s'])} "
            f"| {_seconds(prepared['refresh_s'])} |"
        )
    lines.append("")
    for result in results:
        lines += [
            f"## {result['vendor']} {result['server_version']}",
            "",
            f"{result['customers']:,} customers, {result['orders']:,} orders, "
            f"{result['order_lines']:,} order lines, a metrics row per customer. Load average "
            f"at start {_load(result['load_average_at_start'])}, at end "
            f"{_load(result['load_average_at_end'])}.",
            "",
            "| segment | members | median | best | runs |",
            "|---|---|---|---|---|",
        ]
        if result.get("kept_from"):
            lines[-2:-2] = [
                f"Not re-run: kept from the run of {result['kept_from']}, so these figures are "
                "those of the segment compiler of that time, not of the current one.",
                "",
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
    for note in report.get("notes", []):
        lines += [note, ""]
    return "\n".join(lines)


def _same_shop(data: dict[str, Any]) -> dict[str, Any]:
    """What identifies a generated shop: its sizes (the seed fixes the rest), not where or
    how fast it was generated."""
    keys = ("customers", "buyers", "products", "orders", "order_lines")
    return {key: data.get(key) for key in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=shop_data.SEED)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument(
        "--rebuild", action="store_true", help="Copy the template and refresh it again."
    )
    parser.add_argument(
        "--prepare-only", action="store_true", help="Build the databases, measure nothing."
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-refresh", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--adopt-refresh-copy",
        action="store_true",
        help="Take over the copy benchmarks/analytics_refresh.py refreshed (saves a refresh).",
    )
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
        print(json.dumps(prepare(args) if args.prepare else worker(args)))
        return
    anchor = shop_data.AS_OF
    report: dict[str, Any] = {
        "run_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": shop_data.machine(),
        "anchor": anchor.isoformat(),
        "results": [run_one(vendor, args, anchor) for vendor in args.databases.split(",")],
    }
    if args.prepare_only:
        print(json.dumps(report, indent=2))
        return
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        previous = RESULTS / "segment_count.json"
        if previous.exists() and len(report["results"]) < 2:
            # A run on one database keeps the other database's last results beside it
            # (when they were made from the same shop).
            ran = {r["vendor"] for r in report["results"]}
            earlier = json.loads(previous.read_text())
            shop = _same_shop(report["results"][0]["template"]["data"])
            kept = [
                r
                for r in earlier.get("results", [])
                if r["vendor"] not in ran
                and _same_shop(r.get("template", {}).get("data", {})) == shop
            ]
            for result in kept:
                # Not re-run: its figures are those of the code as it was then.
                result.setdefault("kept_from", earlier["run_at"])
            if kept:
                report["run_at"] = f"{earlier['run_at']} and {report['run_at']}"
            report["results"] = kept + report["results"]
    counts = [{k: v["count"] for k, v in r["counts"].items()} for r in report["results"]]
    plain = [{k: v for k, v in c.items() if k not in USES_PREDICTIONS} for c in counts]
    report["same_counts_without_predictions"] = all(c == plain[0] for c in plain)
    report["same_counts_with_predictions"] = all(c == counts[0] for c in counts)
    if not report["same_counts_without_predictions"]:
        print("the databases disagree on the counts!", counts, file=sys.stderr)
    print(markdown(report))
    if not args.no_write:
        (RESULTS / "segment_count.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / "segment_count.md").write_text(markdown(report) + "\n")


if __name__ == "__main__":
    main()
