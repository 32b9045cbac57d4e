"""Is omnicrm's default model as good as implicit's ALS on MovieLens 100K? A paired bootstrap.

    python benchmarks/recommendations_significance.py [--ml100k DIR] [--no-write]

NDCG@10 per returning test user is computed for the served EASE (200 weights per item), EASE
with every weight kept, and implicit's ALS (its hyper-parameters chosen on the validation slice,
exactly as in benchmarks/recommendations_eval.py), on the time and the random split. The mean
difference per user, EASE minus ALS, is resampled over users 10,000 times (seed 0); the 95%
interval says whether a gap is larger than what the choice of test users alone produces.

Writes benchmarks/results/recommendations_significance.md and .json (unless --no-write).
MovieLens is for research use only: it is read from its folder, never committed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from omnicrm.recommendations.algorithms.metrics import _hits
from omnicrm.recommendations.evaluation import models as evaluation_models
from omnicrm.recommendations.evaluation.datasets import load_ml100k
from omnicrm.recommendations.evaluation.runner import _validation, make_split

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODELS = ("ease", "ease_full", "als")
RESAMPLES = 10_000


def per_user_ndcg(recommended: np.ndarray, relevant: Any, k: int = 10) -> np.ndarray:
    hits, n_relevant = _hits(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    return (hits @ discounts) / np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]


def compare(path: Path, protocol: str) -> dict[str, Any]:
    data = load_ml100k(path)
    split = make_split(data, protocol, seed=0)
    cut = split.cut if split.cut is not None else float(data.ts[split.train_mask].max())
    context = evaluation_models.FitContext(
        data=data,
        train_mask=split.train_mask,
        X=split.train,
        cut=cut,
        validation=_validation(data, split, 0),
        seed=0,
    )
    users, relevant = split.returning_users, split.returning_relevant
    ndcg: dict[str, np.ndarray] = {}
    for name in MODELS:
        model = evaluation_models.MODELS[name]()
        model.fit(context)
        ndcg[name] = per_user_ndcg(model.recommend(users, 10), relevant)
    rng = np.random.default_rng(0)
    rows = []
    for name in ("ease", "ease_full"):
        difference = ndcg[name] - ndcg["als"]
        picks = rng.integers(0, difference.size, (RESAMPLES, difference.size))
        means = difference[picks].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        rows.append(
            {
                "model": name,
                "ndcg": round(float(ndcg[name].mean()), 4),
                "als_ndcg": round(float(ndcg["als"].mean()), 4),
                "difference": round(float(difference.mean()), 4),
                "ci95": [round(float(low), 4), round(float(high), 4)],
                "significant": bool(low > 0 or high < 0),
            }
        )
    return {"split": protocol, "users": int(users.size), "rows": rows}


def report(result: dict[str, Any]) -> str:
    lines = [
        "# Recommendations: EASE against implicit's ALS, with confidence intervals",
        "",
        f"Run {result['started']} with `python benchmarks/recommendations_significance.py` "
        f"({result['machine']}). NDCG@10 of the returning test users of MovieLens 100K; "
        "difference = EASE minus ALS, averaged per user; 95% interval of a paired bootstrap "
        f"over users ({RESAMPLES:,} resamples). 'served' is the default model as training "
        "stores it (200 weights per item on average).",
        "",
        "| split | users | model | NDCG@10 | ALS NDCG@10 | difference | 95% interval | "
        "significant |",
        "|---|---:|---|---:|---:|---:|---|---|",
    ]
    for comparison in result["comparisons"]:
        for row in comparison["rows"]:
            label = "ease (served, default)" if row["model"] == "ease" else "ease, every weight"
            low, high = row["ci95"]
            lines.append(
                f"| {comparison['split']} | {comparison['users']:,} | {label} | {row['ndcg']:.4f} "
                f"| {row['als_ndcg']:.4f} | {row['difference']:+.4f} | [{low:+.4f}, {high:+.4f}] "
                f"| {'yes' if row['significant'] else 'no'} |"
            )
    lines += [
        "",
        "An interval that contains 0 means the two models cannot be told apart on this data: "
        "the default model matches ALS. ALS is refitted with several threads, so its figures "
        "move slightly from run to run (see recommendations_eval.md).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ml100k", default="/work/shared/datasets/ml-100k")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    result = {
        "started": started,
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "loadavg": os.getloadavg(),
        "comparisons": [compare(Path(args.ml100k), p) for p in ("time", "random")],
    }
    text = report(result)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "recommendations_significance.md").write_text(text)
        (RESULTS / "recommendations_significance.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
