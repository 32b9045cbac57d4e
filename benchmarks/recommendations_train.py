"""Full training time and memory of `recommender_train` (`omnicrm recommendations train`).

    python benchmarks/recommendations_train.py                 # Olist sample + ~1M generated
                                                               # order lines, SQLite and
                                                               # PostgreSQL; writes the results
    python benchmarks/recommendations_train.py --skip-load     # measure again on the databases
                                                               # a previous run loaded
    python benchmarks/recommendations_train.py --lines 100000 --no-write

Data:
- "olist-sample": the Olist sample that ships with omnicrm (`omnicrm import olist
  omnicrm/importers/sample/olist`): orders, order lines, reviews, customers with their
  state, products with their category.
- "generated": `omnicrm demo generate` sized to about ``--lines`` order lines (customers
  calibrated from a 20,000-customer probe), loaded with `omnicrm import csv` (customers,
  products, orders).
Loading is not measured. The databases are kept between runs (PostgreSQL ``omnicrm_c1_bench``
and ``omnicrm_c1_bench_olist``; SQLite under ``--scratch``), so ``--skip-load`` re-measures.

Measured, in a fresh process per run: the wall time of `recommender_train(now=...)` with
``now`` one day after the last order (so recency, trending and the holdout mean what they
mean in a live shop), its own per-stage seconds, and the process's peak resident memory
(ru_maxrss) beside the memory of the same process before training (Django loaded). EASE
(the default) and item-kNN are both measured, each on a database holding no earlier run
(the deletion of runs past the last three is not part of the figures). The load average
is recorded before and after: the machine may be shared with other work.

Writes benchmarks/results/recommendations_train.md and .json (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import host  # benchmarks/host.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PG_DATABASES = {"olist-sample": "omnicrm_c1_bench_olist", "generated": "omnicrm_c1_bench"}
SEED = 2026
STAGES = (
    "read_signals",
    "read_catalog",
    "signals",
    "select_l2",
    "evaluate",
    "personal",
    "similar",
    "together",
    "content",
    "lists",
    "write",
)


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
    return round(os.getloadavg()[0], 2)


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    return round(kb / 1024, 1)


# ---------------------------------------------------------------- worker (fresh process)


def worker(job: dict[str, Any]) -> dict[str, Any]:
    import django

    django.setup()
    from datetime import timedelta

    from django.db import connection
    from django.db.models import Max

    from omnicrm.orders.models import Order, OrderLine
    from omnicrm.recommendations.models import ItemList, ItemNeighbor, RecommenderModel
    from omnicrm.recommendations.training import recommender_train

    # Every run starts from the same state: no earlier runs to prune.
    ItemNeighbor.objects.all().delete()
    ItemList.objects.all().delete()
    RecommenderModel.objects.all().delete()
    last = Order.objects.aggregate(last=Max("placed_at"))["last"]
    now = (last or datetime.now(UTC)) + timedelta(days=1)
    connection.close()
    rss_before = _rss_mib()
    started = time.perf_counter()
    cpu = time.process_time()
    run = recommender_train(algorithm=job["algorithm"], now=now, trigger="benchmark")
    seconds = time.perf_counter() - started
    return {
        "database": connection.vendor,
        "algorithm": run.algorithm,
        "as_of": now.isoformat(),
        "order_lines_in_database": OrderLine.objects.count(),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "rss_before_mib": rss_before,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "stages": run.data.get("seconds", {}),
        "data": {
            key: run.data.get(key)
            for key in (
                "customers",
                "products",
                "products_with_signals",
                "orders",
                "signals",
                "personal_products",
                "neighbors",
                "lists",
                "read",
            )
        },
        "params": {k: run.params.get(k) for k in ("l2", "l2_note", "max_items")},
        "evaluation": run.evaluation,
    }


# ---------------------------------------------------------------- driver


def environment(database: str, dataset: str, pg_url: str, scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "omnicrm.settings"
    env.pop("DATABASE_URL", None)
    data_dir = scratch / f"{dataset}-sqlite"
    data_dir.mkdir(parents=True, exist_ok=True)
    env["OMNICRM_DATA_DIR"] = str(data_dir)
    if database == "postgresql":
        env["DATABASE_URL"] = f"{pg_url}/{PG_DATABASES[dataset]}"
    return env


def omnicrm(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "omnicrm", *args], env=env, check=True, cwd=ROOT)


def generate(lines: int, scratch: Path) -> dict[str, Any]:
    """The generated shop's CSV files, sized to about ``lines`` order lines (reused when
    already written with the same arguments)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnicrm.settings")
    import django

    django.setup()
    from omnicrm.importers.services import demo_shop_generate

    probe = demo_shop_generate(customers=20_000, out=scratch / "probe", seed=SEED, progress=False)
    customers = max(1000, round(1.02 * lines / (probe.order_lines / probe.customers)))
    directory = scratch / f"shop-{customers}-{SEED}"
    if not (directory / "orders.csv").exists():
        shop = demo_shop_generate(customers=customers, out=directory, seed=SEED, progress=False)
        info = {"order_lines": shop.order_lines, "orders": shop.orders, "products": shop.products}
        (directory / "info.json").write_text(json.dumps(info))
    info = json.loads((directory / "info.json").read_text())
    return {"customers": customers, "directory": str(directory), **info}


def prepare(database: str, dataset: str, pg_url: str, scratch: Path, shop: Path | None) -> None:
    """A fresh database holding the dataset (not timed)."""
    env = environment(database, dataset, pg_url, scratch)
    if database == "postgresql":
        import psycopg

        with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASES[dataset]}")
            admin.execute(f"CREATE DATABASE {PG_DATABASES[dataset]}")
    else:
        for path in Path(env["OMNICRM_DATA_DIR"]).glob("*.sqlite3*"):
            path.unlink()
    omnicrm(env, "migrate", "-v0")
    if dataset == "olist-sample":
        omnicrm(env, "import", "olist", str(ROOT / "omnicrm/importers/sample/olist"))
    else:
        assert shop is not None
        for kind in ("customers", "products", "orders"):
            omnicrm(env, "import", "csv", "--kind", kind, str(shop / f"{kind}.csv"))


def measure(database: str, dataset: str, algorithm: str, pg_url: str, scratch: Path) -> dict:
    env = environment(database, dataset, pg_url, scratch)
    omnicrm(env, "migrate", "-v0")
    before = load()
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps({"algorithm": algorithm})],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result |= {"dataset": dataset, "load_before": before, "load_after": load()}
    return result


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Recommendation training",
        "",
        f"Run {results['started'][:16].replace('T', ' ')} UTC with "
        "`python benchmarks/recommendations_train.py`: the full `recommender_train` "
        "(signals, EASE or item-kNN with its holdout check, similar, together, content, "
        "every list, bulk write), in a fresh process per run.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB memory, Python "
        f"{m['python']}, SQLite {m['sqlite']}. The machine was shared with other work; the "
        "1-minute load average is shown per run.",
        "",
        "| data | database | algorithm | order lines | customers | products (with signals) "
        "| seconds | CPU s | peak RSS MiB (before) | load before / after |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["runs"]:
        d = r["data"]
        lines.append(
            f"| {r['dataset']} | {r['database']} | {r['algorithm']} "
            f"| {r['order_lines_in_database']:,} | {d['customers']:,} "
            f"| {d['products']:,} ({d['products_with_signals']:,}) | {r['seconds']:.1f} "
            f"| {r['cpu_seconds']:.1f} | {r['peak_rss_mib']:,.0f} ({r['rss_before_mib']:,.0f}) "
            f"| {r['load_before']} / {r['load_after']} |"
        )
    lines += [
        "",
        "Seconds per stage, from the run's own record (commit: the rest of the wall time, "
        "mostly the commit of the written rows, where PostgreSQL checks their foreign keys):",
        "",
    ]
    lines.append("| data | database | algorithm | " + " | ".join(STAGES) + " | commit |")
    lines.append("|---|---|---|" + "---:|" * (len(STAGES) + 1))
    for r in results["runs"]:
        commit = r["seconds"] - r["stages"].get("total", 0.0)
        cells = " | ".join(f"{r['stages'].get(n, 0):.1f}" for n in STAGES) + f" | {commit:.1f}"
        lines.append(f"| {r['dataset']} | {r['database']} | {r['algorithm']} | {cells} |")
    lines += [
        "",
        "Holdout check each run made on its own data (time-based, 80/20 by purchase "
        "date; see docs/recommendations.md):",
        "",
    ]
    lines.append(
        "| data | database | algorithm | l2 | test customers | NDCG@10 (popularity) "
        "| hit rate@10 (popularity) | coverage |"
    )
    lines.append("|---|---|---|---:|---:|---:|---:|---:|")
    for r in results["runs"]:
        e = r["evaluation"]
        if e.get("skipped"):
            lines.append(
                f"| {r['dataset']} | {r['database']} | {r['algorithm']} "
                f"| {r['params'].get('l2') or '-'} | skipped: {e['skipped']} | | | |"
            )
            continue
        model, pop = e["model"], e["popularity"]
        lines.append(
            f"| {r['dataset']} | {r['database']} | {r['algorithm']} "
            f"| {r['params'].get('l2') or '-'} | {e['test_customers']:,} "
            f"| {model['ndcg@10']:.4f} ({pop['ndcg@10']:.4f}) "
            f"| {model['hit_rate@10']:.4f} ({pop['hit_rate@10']:.4f}) | {model['coverage']:.4f} |"
        )
    g = results.get("generated")
    if g:
        lines += [
            "",
            f"Generated shop: {g['customers']:,} customers, {g['products']:,} products, "
            f"{g['orders']:,} orders, {g['order_lines']:,} order lines "
            f"(`omnicrm demo generate`, seed {SEED}).",
        ]
    if results.get("notes"):
        lines += ["", *results["notes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--lines", type=int, default=1_000_000, help="Generated order lines.")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/rec/c1/bench"))
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--datasets", default="olist-sample,generated")
    parser.add_argument("--algorithms", default="ease,itemknn")
    parser.add_argument("--skip-load", action="store_true", help="Reuse the loaded databases.")
    parser.add_argument("--load-only", action="store_true", help="Load the data, measure nothing.")
    parser.add_argument("--note", action="append", default=[], help="A line for the report.")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    args.scratch.mkdir(parents=True, exist_ok=True)
    databases = args.databases.split(",")
    datasets = args.datasets.split(",")
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "runs": [],
        "notes": args.note,
    }
    shop = None
    if "generated" in datasets:
        results["generated"] = generate(args.lines, args.scratch)
        shop = Path(results["generated"]["directory"])
        print(f"generated: {results['generated']}", flush=True)
    for dataset in datasets:
        for database in databases:
            if not args.skip_load:
                started = time.perf_counter()
                prepare(database, dataset, args.pg_url, args.scratch, shop)
                print(
                    f"loaded {dataset} into {database} in {time.perf_counter() - started:.0f} s",
                    flush=True,
                )
            if args.load_only:
                continue
            for algorithm in args.algorithms.split(","):
                result = measure(database, dataset, algorithm, args.pg_url, args.scratch)
                results["runs"].append(result)
                print(
                    json.dumps(
                        {
                            k: result[k]
                            for k in (
                                "dataset",
                                "database",
                                "algorithm",
                                "seconds",
                                "peak_rss_mib",
                                "stages",
                            )
                        }
                    ),
                    flush=True,
                )
    if args.load_only:
        return
    text = report(results)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "recommendations_train.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS / "recommendations_train.md").write_text(text)


if __name__ == "__main__":
    main()
