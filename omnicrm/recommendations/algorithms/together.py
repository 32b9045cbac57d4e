"""Frequently bought together: association rules product -> neighbor from the same orders.

For N orders, n_i orders containing item i and n_ij orders containing both i and j:

- support = n_ij (a count of orders, so a shop owner can read it: "bought together 12 times")
- confidence = n_ij / n_i = P(j in the order | i in the order)
- lift = confidence / (n_j / N): how much more often than chance; > 1 means attraction

Rules are ranked per product by lift x confidence, which favours neighbours that are both
surprising (lift) and frequent enough to matter (confidence), and need ``min_support`` orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class TogetherRules:
    """Parallel arrays, one entry per rule; items are column indices of the basket matrix.

    Sorted by product, then by rank (best rule first).
    """

    product: np.ndarray
    neighbor: np.ndarray
    support: np.ndarray
    confidence: np.ndarray
    lift: np.ndarray

    def __len__(self) -> int:
        return int(self.product.size)


def together_rules(baskets: sp.csr_matrix, *, min_support: int = 2, k: int = 20) -> TogetherRules:
    """Top-``k`` rules per product from an orders x items matrix (any nonzero = in the order)."""
    if k < 1:
        raise ValueError("k must be >= 1")
    if min_support < 1:
        raise ValueError("min_support must be >= 1")
    B = sp.csr_matrix(baskets != 0, dtype=np.float64)
    n_orders = B.shape[0]
    n_item = np.asarray(B.sum(axis=0)).ravel()
    C = (B.T @ B).tocoo()
    keep = (C.row != C.col) & (C.data >= min_support)
    i, j, n_ij = C.row[keep], C.col[keep], C.data[keep]
    confidence = n_ij / n_item[i]
    lift = confidence / (n_item[j] / n_orders)
    rank_key = lift * confidence
    # Per product: best lift x confidence first, then more support, then lower index.
    order = np.lexsort((j, -n_ij, -rank_key, i))
    i, j, n_ij, confidence, lift = i[order], j[order], n_ij[order], confidence[order], lift[order]
    rank = np.arange(i.size) - np.searchsorted(i, i, side="left")
    sel = rank < k
    return TogetherRules(
        product=i[sel].astype(np.int64),
        neighbor=j[sel].astype(np.int64),
        support=np.rint(n_ij[sel]).astype(np.int64),
        confidence=confidence[sel].astype(np.float64),
        lift=lift[sel].astype(np.float64),
    )
