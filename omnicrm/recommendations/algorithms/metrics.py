"""Top-k ranking metrics, vectorized over users.

Common inputs:

- ``recommended``: int array users x n of item indices, best first; ``-1`` pads a short list
  (a padded slot is never a hit). Only the first ``k`` columns are read.
- ``relevant``: users x items sparse matrix; a nonzero cell means the item is relevant to the
  user (in offline evaluation: the user's test items not seen in training).

Users without any relevant item carry no signal and are left out of every mean. Definitions
(``hit_r`` = 1 when the item at rank r is relevant, ``R`` = number of relevant items):

- precision@k = Σ_{r≤k} hit_r / k
- recall@k = Σ_{r≤k} hit_r / R
- NDCG@k = DCG / IDCG with DCG = Σ_{r≤k} hit_r / log2(r + 1) and IDCG the DCG of a perfect
  list (min(R, k) hits on top)
- MAP@k = mean over users of AP@k = Σ_{r≤k} precision@r · hit_r / min(R, k)
- hit rate@k = share of users with at least one hit in the top k
- catalog coverage = distinct items recommended to anyone / number of items in the catalog
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _hits(recommended: np.ndarray, relevant: sp.spmatrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean users x k hit matrix and the number of relevant items of each kept user."""
    if k < 1:
        raise ValueError("k must be >= 1")
    recs = np.asarray(recommended, dtype=np.int64)
    if recs.ndim != 2 or recs.shape[0] != relevant.shape[0]:
        raise ValueError("recommended must be users x n with one row per row of relevant")
    rel = sp.csr_matrix(relevant)
    rel.eliminate_zeros()
    recs = recs[:, :k]
    if recs.shape[1] < k:
        recs = np.pad(recs, ((0, 0), (0, k - recs.shape[1])), constant_values=-1)
    n_rel = np.diff(rel.indptr)
    keep = n_rel > 0
    recs, rel, n_rel = recs[keep], rel[keep], n_rel[keep]
    if recs.shape[0] == 0:
        return np.zeros((0, k), dtype=bool), n_rel
    valid = recs >= 0
    rows = np.repeat(np.arange(recs.shape[0]), k)
    cols = np.where(valid, recs, 0).ravel()
    looked = np.asarray(rel[rows, cols]).ravel().reshape(recs.shape) != 0
    return looked & valid, n_rel


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else 0.0


def precision_at_k(recommended: np.ndarray, relevant: sp.spmatrix, k: int = 10) -> float:
    """Mean share of the top ``k`` slots holding a relevant item."""
    hits, _ = _hits(recommended, relevant, k)
    return _mean(hits.sum(axis=1) / k)


def recall_at_k(recommended: np.ndarray, relevant: sp.spmatrix, k: int = 10) -> float:
    """Mean share of each user's relevant items found in the top ``k``."""
    hits, n_rel = _hits(recommended, relevant, k)
    return _mean(hits.sum(axis=1) / n_rel)


def ndcg_at_k(recommended: np.ndarray, relevant: sp.spmatrix, k: int = 10) -> float:
    """Mean normalized discounted cumulative gain with binary relevance."""
    hits, n_rel = _hits(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discounts
    ideal = np.cumsum(discounts)[np.minimum(n_rel, k) - 1]
    return _mean(dcg / ideal)


def map_at_k(recommended: np.ndarray, relevant: sp.spmatrix, k: int = 10) -> float:
    """Mean average precision at ``k`` (AP normalized by min(R, k))."""
    hits, n_rel = _hits(recommended, relevant, k)
    precision_at_r = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    ap = (precision_at_r * hits).sum(axis=1) / np.minimum(n_rel, k)
    return _mean(ap)


def hit_rate_at_k(recommended: np.ndarray, relevant: sp.spmatrix, k: int = 10) -> float:
    """Share of users with at least one relevant item in the top ``k``."""
    hits, _ = _hits(recommended, relevant, k)
    return _mean(np.asarray(hits.any(axis=1), dtype=np.float64))


def catalog_coverage(recommended: np.ndarray, n_items: int, k: int = 10) -> float:
    """Distinct items appearing in anyone's top ``k`` divided by the catalog size."""
    if n_items <= 0:
        return 0.0
    recs = np.asarray(recommended, dtype=np.int64)[:, :k]
    distinct = np.unique(recs[recs >= 0])
    return float(distinct.size / n_items)


def all_metrics(
    recommended: np.ndarray, relevant: sp.spmatrix, *, n_items: int, k: int = 10
) -> dict[str, float]:
    """Every metric above in one dict, keyed ``precision@10`` ... ``coverage``."""
    return {
        f"precision@{k}": precision_at_k(recommended, relevant, k),
        f"recall@{k}": recall_at_k(recommended, relevant, k),
        f"ndcg@{k}": ndcg_at_k(recommended, relevant, k),
        f"map@{k}": map_at_k(recommended, relevant, k),
        f"hit_rate@{k}": hit_rate_at_k(recommended, relevant, k),
        "coverage": catalog_coverage(recommended, n_items, k),
    }
