"""``omnicrm recommendations evaluate``: arguments and entry point (the command delegates here).

Example::

    omnicrm recommendations evaluate --dataset ml-100k:~/data/ml-100k --json out.json
    omnicrm recommendations evaluate --dataset csv:orders.csv --models ease,popularity
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from omnicrm.core.errors import ValidationFailed
from omnicrm.recommendations.evaluation.datasets import load_dataset
from omnicrm.recommendations.evaluation.models import (
    COLD_START_MODELS,
    DEFAULT_MODELS,
    MODELS,
    PERSONAL_TOP_K,
)
from omnicrm.recommendations.evaluation.runner import evaluate, format_report

SPLITS = ("time", "random", "both")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the evaluate options to ``parser``."""
    parser.add_argument(
        "--dataset",
        action="append",
        required=True,
        metavar="KIND:PATH",
        help="ml-100k:DIR (u.data), olist:DIR (Olist CSV tables) or csv:FILE (columns "
        "customer, item, timestamp, optional rating, group, item_text). Repeatable.",
    )
    parser.add_argument("--json", metavar="OUT", help="Also write the results as JSON to OUT.")
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS + COLD_START_MODELS),
        help="Comma-separated models to compare (default: all). Known: " + ", ".join(MODELS),
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="time",
        help="time: global cut at the 80th percentile of timestamps (default); random: 20%% "
        "of each user's interactions; both.",
    )
    parser.add_argument("--k", type=int, default=10, help="List length scored (default 10).")
    parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
    parser.add_argument(
        "--personal-k",
        type=int,
        default=PERSONAL_TOP_K,
        help=f"Weights kept per item by itemknn and ease, as stored for serving "
        f"(default {PERSONAL_TOP_K}, what training stores).",
    )


def _models(raw: str) -> list[str]:
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise ValidationFailed(
            f"Unknown model(s): {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(MODELS)}.",
            field="models",
        )
    return names


def run(options: dict[str, Any], stdout: TextIO) -> None:
    """Evaluate every dataset given, print the report, write JSON when asked."""
    datasets = options["dataset"]
    if isinstance(datasets, str):
        datasets = [datasets]
    models = _models(options.get("models") or ",".join(DEFAULT_MODELS + COLD_START_MODELS))
    k = int(options.get("k") or 10)
    if not 1 <= k <= 100:
        raise ValidationFailed("k must be between 1 and 100.", field="k")
    split = options.get("split") or "time"
    if split not in SPLITS:
        raise ValidationFailed(f"split must be one of {', '.join(SPLITS)}.", field="split")
    protocols = ["time", "random"] if split == "both" else [split]
    seed = int(options.get("seed") or 0)
    personal_k = int(options.get("personal_k") or PERSONAL_TOP_K)
    if not 1 <= personal_k <= 100_000:
        raise ValidationFailed("personal-k must be between 1 and 100000.", field="personal_k")
    results = []
    for spec in datasets:
        data = load_dataset(spec)
        for protocol in protocols:
            result = evaluate(
                data, models=models, protocol=protocol, k=k, seed=seed, personal_k=personal_k
            )
            result["dataset"]["spec"] = spec.split(":", 1)[0]
            results.append(result)
            stdout.write(format_report(result) + "\n")
    out = options.get("json")
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"results": results}, indent=2) + "\n", encoding="utf-8")
        stdout.write(f"Results written to {path}\n")
