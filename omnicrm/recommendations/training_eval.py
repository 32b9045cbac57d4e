"""A training run's own check on this shop's data: a time-based holdout.

Purchases are split at the 80th percentile of their dates: the model is fitted on every
signal up to that moment (weighted as of then) and asked for ten products per customer; the
products those customers bought afterwards, and had not touched before, are the right
answers. The same is done for plain popularity, so the figures read against a baseline.

EASE's regularisation ``l2`` is chosen before that, on the training part only: purchases up
to the cut are split again at their own 80th percentile and the candidate with the best
NDCG@10 on that validation slice wins. The test slice never takes part in the choice, and
the same automatic procedure works on any shop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp

from omnicrm.recommendations.algorithms.ease import ease_select_l2
from omnicrm.recommendations.algorithms.metrics import all_metrics
from omnicrm.recommendations.algorithms.ranking import top_n_from_scores, top_n_unseen
from omnicrm.recommendations.signals import SignalSources, signals_combine
from omnicrm.recommendations.training_data import (
    Catalog,
    UserItems,
    positive_signals,
    sources_before,
)

K = 10
CUT_QUANTILE = 0.8
MIN_TEST_USERS = 10
MIN_PURCHASES = 50
MAX_TEST_USERS = 5000
SEED = 0
MAX_GRID_EXTENSIONS = 2

Fit = Callable[[sp.csr_matrix], sp.csr_matrix]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(round(epoch), tz=UTC).isoformat()


def _split(sources: SignalSources, catalog: Catalog, cut: float) -> tuple[UserItems, sp.csr_matrix]:
    """Training matrix as of ``cut`` and, over the same rows, the products each customer
    bought after ``cut`` (up to the sources' own ``now``) and had not touched by then."""
    before = sources_before(sources, cut)
    train = positive_signals(signals_combine(before), catalog)
    p = sources.purchases
    later = (p.at > cut) & (p.at <= sources.now)
    customers, items = p.customer[later], catalog.index(p.product[later])
    n_rows = train.customers.shape[0]
    if n_rows == 0 or customers.shape[0] == 0:
        return train, sp.csr_matrix((n_rows, len(catalog)))
    at = np.minimum(np.searchsorted(train.customers, customers), n_rows - 1)
    known = (train.customers[at] == customers) & (items >= 0)
    relevant = sp.csr_matrix(
        (np.ones(int(known.sum())), (at[known], items[known])), shape=(n_rows, len(catalog))
    )
    relevant.sum_duplicates()
    relevant.data[:] = 1.0
    # Products already touched before the cut are not news: they are never recommended.
    relevant = relevant - relevant.multiply(train.matrix != 0)
    relevant.eliminate_zeros()
    return train, sp.csr_matrix(relevant)


def _cut(times: np.ndarray) -> float | None:
    if times.shape[0] < MIN_PURCHASES:
        return None
    cut = float(np.quantile(times, CUT_QUANTILE))
    return cut if cut < float(times.max()) else None


def select_l2(
    sources: SignalSources,
    catalog: Catalog,
    *,
    candidates: tuple[float, ...],
    default: float,
    max_items: int,
    k: int,
) -> tuple[float, str]:
    """EASE's ``l2`` chosen on a validation slice of the data before the test cut, with a
    note saying how (or why the default was kept)."""
    test_cut = _cut(sources.purchases.at)
    if test_cut is None:
        return default, "too few purchases to choose l2: default kept"
    earlier = sources.purchases.at[sources.purchases.at <= test_cut]
    validation_cut = _cut(earlier)
    if validation_cut is None:
        return default, "too few purchases to choose l2: default kept"
    before_test = sources_before(sources, test_cut)
    fit, holdout = _split(before_test, catalog, validation_cut)
    users = int((np.diff(holdout.indptr) > 0).sum())
    if users < MIN_TEST_USERS:
        return default, f"only {users} customers in the validation slice: default l2 kept"
    tried = list(candidates)
    chosen = ease_select_l2(
        fit.matrix, holdout=holdout, candidates=candidates, k=k, max_items=max_items
    )
    # Big shops want more regularisation than any fixed grid foresees: while the largest
    # candidate wins, go on upwards (x3, x10) a few times, the winner competing again.
    for _ in range(MAX_GRID_EXTENSIONS):
        if chosen < max(tried):
            break
        more = (chosen, chosen * 3, chosen * 10)
        tried += list(more[1:])
        chosen = ease_select_l2(
            fit.matrix, holdout=holdout, candidates=more, k=k, max_items=max_items
        )
    return chosen, f"best NDCG@10 of {tried} on {users} validation customers"


def _popularity_recs(train: sp.csr_matrix, users: np.ndarray, n: int) -> np.ndarray:
    """Most bought products each customer has not touched yet (the baseline)."""
    popularity = np.asarray((train != 0).sum(axis=0), dtype=np.float64).ravel()
    out = np.full((users.shape[0], n), -1, np.int64)
    for start in range(0, users.shape[0], 1024):
        block = train[users[start : start + 1024]]
        scores = np.tile(popularity, (block.shape[0], 1))
        rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        scores[rows, block.indices] = -np.inf
        out[start : start + block.shape[0]] = top_n_from_scores(scores, n)
    return out


def holdout_evaluate(sources: SignalSources, catalog: Catalog, *, fit: Fit) -> dict[str, Any]:
    """Figures of the model ``fit`` builds, and of popularity, on the time-based holdout;
    ``{"skipped": reason}`` when the shop has too little history for them to mean much."""
    times = sources.purchases.at
    cut = _cut(times)
    if cut is None:
        return {
            "skipped": f"too little history: {times.shape[0]} order lines "
            f"(at least {MIN_PURCHASES} over more than one moment are needed)"
        }
    train, relevant = _split(sources, catalog, cut)
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    if users.shape[0] < MIN_TEST_USERS:
        return {
            "skipped": f"only {users.shape[0]} customers bought something new after "
            f"{_iso(cut)[:10]} (at least {MIN_TEST_USERS} are needed)",
            "cut": _iso(cut),
        }
    sampled = users.shape[0] > MAX_TEST_USERS
    if sampled:
        rng = np.random.default_rng(SEED)
        users = np.sort(rng.choice(users, MAX_TEST_USERS, replace=False))
    W = fit(train.matrix)
    recommended = top_n_unseen(train.matrix[users], W, n=K)
    wanted = relevant[users]
    n_items = len(catalog)
    return {
        "split": "time",
        "cut": _iso(cut),
        "k": K,
        "train_customers": int(train.customers.shape[0]),
        "train_pairs": int(train.matrix.nnz),
        "test_customers": int(users.shape[0]),
        "test_customers_sampled": sampled,
        "test_pairs": int(wanted.nnz),
        "model": _rounded(all_metrics(recommended, wanted, n_items=n_items, k=K)),
        "popularity": _rounded(
            all_metrics(_popularity_recs(train.matrix, users, K), wanted, n_items=n_items, k=K)
        ),
    }


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {name: round(float(value), 5) for name, value in metrics.items()}
