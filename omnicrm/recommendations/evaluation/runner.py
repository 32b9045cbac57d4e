"""Run the evaluation: split, fit every model, rank, score, and format the results."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from omnicrm.recommendations.algorithms.metrics import all_metrics
from omnicrm.recommendations.evaluation.datasets import Interactions
from omnicrm.recommendations.evaluation.models import (
    MODELS,
    PERSONAL_TOP_K,
    FitContext,
    Model,
    implicit_missing,
)
from omnicrm.recommendations.evaluation.split import (
    Split,
    interaction_matrix,
    random_split,
    time_split,
)

POPULATIONS = ("returning", "new", "all")


def make_split(data: Interactions, protocol: str, *, seed: int = 0) -> Split:
    if protocol == "time":
        return time_split(data)
    if protocol == "random":
        return random_split(data, seed=seed)
    raise ValueError(f"unknown split protocol {protocol!r}")


def _validation(
    data: Interactions, split: Split, seed: int
) -> Callable[[], tuple[Split, sp.csr_matrix]]:
    """The same protocol applied inside the training rows; computed once, on first use.

    Returns the inner split (its ``train`` is the fit matrix) and the holdout matrix.
    """
    cache: list[tuple[Split, sp.csr_matrix]] = []

    def get() -> tuple[Split, sp.csr_matrix]:
        if not cache:
            if split.protocol == "time":
                inner = time_split(data, within=split.train_mask)
            else:
                inner = random_split(data, seed=seed + 1, within=split.train_mask)
            cache.append((inner, interaction_matrix(data, inner.test_mask)))
        return cache[0]

    return get


def evaluate(
    data: Interactions,
    *,
    models: Sequence[str],
    protocol: str = "time",
    k: int = 10,
    seed: int = 0,
    personal_k: int = PERSONAL_TOP_K,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit and score ``models`` on ``data``; returns a JSON-ready result dict."""
    started = time.perf_counter()
    split = make_split(data, protocol, seed=seed)
    cut = split.cut if split.cut is not None else float(data.ts[split.train_mask].max())
    ctx = FitContext(
        data=data,
        train_mask=split.train_mask,
        X=split.train,
        cut=cut,
        validation=_validation(data, split, seed),
        seed=seed,
        personal_k=personal_k,
    )
    users = {
        "returning": split.returning_users,
        "new": split.new_users,
        "all": np.concatenate([split.returning_users, split.new_users]),
    }
    relevant = {
        "returning": split.returning_relevant,
        "new": split.new_relevant,
        "all": sp.vstack([split.returning_relevant, split.new_relevant], format="csr"),
    }
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    missing = implicit_missing()
    for name in models:
        cls = MODELS[name]
        if name in ("als", "bpr") and missing:
            skipped[name] = missing
            continue
        if name in ("popular_in_group",) and not any(data.user_group):
            skipped[name] = "the dataset has no customer groups"
            continue
        if name == "content_last_item" and not any(data.item_text):
            skipped[name] = "the dataset has no item texts"
            continue
        if log:
            log(f"{data.name}/{protocol}: fitting {name}")
        model: Model = cls()
        model.fit(ctx)
        recs = model.recommend(users["all"], k)
        n_ret = users["returning"].size
        per_pop = {
            "returning": recs[:n_ret],
            "new": recs[n_ret:],
            "all": recs,
        }
        results[name] = {
            "description": model.description,
            "personal": model.personal,
            "fit_seconds": round(model.fit_seconds, 3),
            "params": model.params,
            "metrics": {
                pop: _rounded(all_metrics(per_pop[pop], relevant[pop], n_items=data.n_items, k=k))
                for pop in POPULATIONS
                if users[pop].size
            },
        }
    return {
        "dataset": data.summary(),
        "split": split.describe(),
        "k": k,
        "seed": seed,
        "personal_k": personal_k,
        "models": results,
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 4) for key, value in metrics.items()}


def format_table(result: dict[str, Any], population: str) -> str:
    """A Markdown table of one population's metrics, one row per model."""
    k = result["k"]
    cols = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"map@{k}", f"hit_rate@{k}", "coverage"]
    header = "| model | " + " | ".join(cols) + " | fit s |"
    lines = [header, "|" + "---|" * (len(cols) + 2)]
    for name, res in result["models"].items():
        m = res["metrics"].get(population)
        if m is None:
            continue
        cells = " | ".join(f"{m[c]:.4f}" for c in cols)
        lines.append(f"| {name} | {cells} | {res['fit_seconds']:.2f} |")
    return "\n".join(lines)


def format_report(result: dict[str, Any]) -> str:
    """Human-readable report: dataset, split, one table per population, skipped models."""
    d, s = result["dataset"], result["split"]
    out = [
        f"## {d['name']} — {s['protocol']} split",
        "",
        f"{d['interactions']:,} interactions, {d['users']:,} users, {d['items']:,} items "
        f"({d['first']} to {d['last']}); train {s['train_interactions']:,} / test "
        f"{s['test_interactions']:,} interactions; {s['returning_users']:,} returning test "
        f"users, {s['new_users']:,} new test users.",
    ]
    labels = {
        "returning": "Returning users (history before the cut, new items after it)",
        "new": "New users (first seen after the cut: no history)",
        "all": "All test users",
    }
    for pop in POPULATIONS:
        table = format_table(result, pop)
        if table.count("\n") > 1:
            out += ["", f"### {labels[pop]}", "", table]
    params = [
        f"- {name}: {res['params']}" for name, res in result["models"].items() if res["params"]
    ]
    if params:
        out += ["", "Chosen parameters:", "", *params]
    for name, reason in result["skipped"].items():
        out.append(f"- {name} skipped: {reason}")
    return "\n".join(out) + "\n"
