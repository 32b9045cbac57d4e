"""Offline evaluation of the recommenders on every dataset, with machine and timing facts.

    python benchmarks/recommendations_eval.py              # the full run, writes the results
    python benchmarks/recommendations_eval.py --no-write   # a trial

Datasets (the same code path as ``omnicrm recommendations evaluate``):

1. MovieLens 100K (``ML100K_DIR``, default /work/shared/datasets/ml-100k; research use only,
   never copied into the repository): time split and the usual random per-user 80/20 split.
2. The Olist sample (``OLIST_DIR``): time split; few buyers return, so the new-user table
   (cold-start and non-personalized lists) is the one that matters.
3. A shop none of the models was written for: ``omnicrm demo generate --customers 20000``
   (seed 0), its orders turned into a CSV dataset (customer, item = SKU, timestamp = placed at,
   group = the customer's country, item_text = title + category; canceled orders left out).

Writes benchmarks/results/recommendations_eval.md and .json (unless ``--no-write``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import host  # benchmarks/host.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared" / "datasets"
ML100K = Path(os.environ.get("ML100K_DIR", SHARED / "ml-100k"))
OLIST = Path(os.environ.get("OLIST_DIR", SHARED / "olist"))
SKIPPED_STATUSES = {"canceled", "unavailable"}


def machine() -> dict[str, Any]:
    versions = {}
    for pkg in ("numpy", "scipy", "implicit", "threadpoolctl"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "cpus": os.cpu_count(),
        "cpu": host.cpu_model(),
        "memory_gib": host.memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def demo_dataset(workdir: Path, customers: int) -> Path:
    """Generate the demo shop and write its purchases as an evaluation CSV."""
    out = workdir / "shop"
    subprocess.run(
        [sys.executable, "-m", "omnicrm.cli", "demo", "generate", "--customers", str(customers),
         "--out", str(out), "--seed", "0", "--no-progress"],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    with open(out / "customers.csv", encoding="utf-8", newline="") as fh:
        country = {r["external_id"]: r["country"] for r in csv.DictReader(fh)}
    with open(out / "products.csv", encoding="utf-8", newline="") as fh:
        text = {r["sku"]: f"{r['title']} {r['category_name']}" for r in csv.DictReader(fh)}
    path = workdir / "demo-shop.csv"
    with (
        open(out / "orders.csv", encoding="utf-8", newline="") as src,
        open(path, "w", encoding="utf-8", newline="") as dst,
    ):
        writer = csv.writer(dst)
        writer.writerow(["customer", "item", "timestamp", "group", "item_text"])
        for r in csv.DictReader(src):
            if r["status"] in SKIPPED_STATUSES or not r["sku"]:
                continue
            customer = r["customer_external_id"]
            writer.writerow(
                [
                    customer,
                    r["sku"],
                    r["placed_at"],
                    country.get(customer, ""),
                    text.get(r["sku"], ""),
                ]
            )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--customers", type=int, default=20000, help="demo shop size")
    parser.add_argument(
        "--markdown-only",
        action="store_true",
        help="Rewrite the .md from the committed .json without running anything.",
    )
    args = parser.parse_args()
    if args.markdown_only:
        sys.path.insert(0, str(ROOT))
        from omnicrm.recommendations.evaluation.runner import format_report

        payload = json.loads((RESULTS / "recommendations_eval.json").read_text())
        (RESULTS / "recommendations_eval.md").write_text(markdown(payload, format_report))
        return

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnicrm.settings")
    from omnicrm.recommendations.evaluation.datasets import load_dataset
    from omnicrm.recommendations.evaluation.models import COLD_START_MODELS, DEFAULT_MODELS
    from omnicrm.recommendations.evaluation.runner import evaluate, format_report

    started = datetime.now(UTC)
    load_start = loadavg()
    models = list(DEFAULT_MODELS + COLD_START_MODELS)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rec-eval-") as tmp:
        demo = demo_dataset(Path(tmp), args.customers)
        plan = [
            (f"ml-100k:{ML100K}", ("time", "random")),
            (f"olist:{OLIST}", ("time",)),
            (f"csv:{demo}", ("time",)),
        ]
        for spec, protocols in plan:
            t0 = time.perf_counter()
            data = load_dataset(spec)
            load_seconds = time.perf_counter() - t0
            if spec.startswith("csv:"):
                data.name = f"generated shop ({args.customers:,} customers)"
            for protocol in protocols:
                print(f"{data.name} / {protocol} ...", flush=True)
                result = evaluate(data, models=models, protocol=protocol, k=10, seed=0)
                result["dataset"]["spec"] = spec.split(":", 1)[0]
                result["load_seconds"] = round(load_seconds, 2)
                result["loadavg_after"] = loadavg()
                runs.append(result)
                print(format_report(result), flush=True)
                if spec.startswith("ml-100k"):
                    # What storing 200 weights per item instead of 100 would buy.
                    extra = evaluate(
                        data, models=["itemknn", "ease"], protocol=protocol, personal_k=200
                    )
                    result["personal_k_200"] = {
                        name: {**res["metrics"]["returning"], "fit_seconds": res["fit_seconds"]}
                        for name, res in extra["models"].items()
                    }
    payload = {
        "benchmark": "recommendations_eval",
        "started": started.isoformat(timespec="seconds"),
        "command": "python benchmarks/recommendations_eval.py",
        "machine": machine(),
        "loadavg_start": load_start,
        "loadavg_end": loadavg(),
        "results": runs,
    }
    if args.no_write:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "recommendations_eval.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / "recommendations_eval.md").write_text(markdown(payload, format_report))
    print(f"wrote {RESULTS / 'recommendations_eval.md'} and .json")


def markdown(payload: dict[str, Any], format_report: Any) -> str:
    m = payload["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        "# Recommendations: offline evaluation",
        "",
        f"Run {payload['started'].replace('T', ' ')[:16]} UTC with `{payload['command']}`. "
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB; python {m['python']}, "
        f"{versions}. Load average at start {', '.join(map(str, payload['loadavg_start']))}, "
        f"at the end {', '.join(map(str, payload['loadavg_end']))} (a shared machine: other "
        "jobs ran beside this one, so fit times are upper bounds; the quality figures do not "
        "depend on load).",
        "",
        "How to read these tables, the split and every metric: docs/recommendations-evaluation.md. "
        "Fit time includes each model's own hyper-parameter selection on the validation slice "
        "of the training data (EASE: 9 values of l2; ALS: 45 configurations; BPR: 8).",
        "",
    ]
    lines += ["## Summary (NDCG@10)", "", summary(payload), ""]
    for run in payload["results"]:
        lines.append(format_report(run))
        if "personal_k_200" in run:
            lines.append(
                "With 200 weights kept per item instead of 100 (`--personal-k 200`), returning "
                "users: "
                + "; ".join(
                    f"{name} NDCG@10 {m['ndcg@10']:.4f}, hit rate {m['hit_rate@10']:.4f}"
                    for name, m in run["personal_k_200"].items()
                )
                + "."
            )
            lines.append("")
        lines.append(
            f"Sizes: {run['dataset']['interactions']:,} interactions, density "
            f"{run['dataset']['density']:.4%}; dataset read in {run['load_seconds']} s; "
            f"run {run['seconds']} s; load average after "
            f"{', '.join(map(str, run['loadavg_after']))}."
        )
        lines.append("")
    return "\n".join(lines)


def summary(payload: dict[str, Any]) -> str:
    rows = [
        "| dataset / split / users | popularity | itemknn | ease (default) | ease_full "
        "| ease_recency | als | bpr | best cold-start list |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in payload["results"]:
        models = run["models"]
        for pop in ("returning", "new"):
            if pop not in models["popularity"]["metrics"]:
                continue

            def cell(name: str, pop: str = pop, models: dict[str, Any] = models) -> str:
                res = models.get(name)
                return f"{res['metrics'][pop]['ndcg@10']:.4f}" if res else "skipped"

            # The best non-personalized list, when one beats popularity (lists fall back to
            # popularity, so on new users a tie means the list added nothing).
            base = models["popularity"]["metrics"][pop]["ndcg@10"]
            cold = [
                (models[n]["metrics"][pop]["ndcg@10"], n)
                for n in ("popular_in_group", "trending", "top_rated", "content_last_item")
                if n in models and models[n]["metrics"][pop]["ndcg@10"] > base
            ]
            best = max(cold) if cold else None
            rows.append(
                f"| {run['dataset']['name']} / {run['split']['protocol']} / {pop} "
                f"({run['split'][pop + '_users']:,}) | {cell('popularity')} | {cell('itemknn')} | "
                f"**{cell('ease')}** | {cell('ease_full')} | {cell('ease_recency')} | "
                f"{cell('als')} | {cell('bpr')} | "
                + (f"{best[1]} {best[0]:.4f}" if best else "none beats popularity")
                + " |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
