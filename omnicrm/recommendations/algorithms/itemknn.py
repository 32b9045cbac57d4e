"""Item-to-item collaborative filtering (the Amazon "customers who bought this also bought").

Similarity of items i and j is the shrunk cosine of their user columns::

    s(i, j) = x_i . x_j / (||x_i|| * ||x_j|| + shrink)

The shrink term pulls down similarities computed from few shared customers, which are
mostly noise on small shops. Only the ``k`` most similar neighbours of each item are kept.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from omnicrm.recommendations.algorithms._topk import topk_sparse_rows


def itemknn_weights(X: sp.csr_matrix, *, k: int = 50, shrink: float = 10.0) -> sp.csr_matrix:
    """Item x item weights from a users x items matrix: shrunk cosine, top-``k`` per row.

    Returns float32 CSR of shape (items, items) with an empty diagonal. Row ``i`` holds the
    neighbours of item ``i``; W is symmetric before the per-row cut.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    if shrink < 0:
        raise ValueError("shrink must be >= 0")
    Xc = sp.csc_matrix(X, dtype=np.float64)
    n_items = Xc.shape[1]
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel())
    G = (Xc.T @ Xc).tocoo()
    denom = norms[G.row] * norms[G.col] + shrink
    # An all-zero column has norm 0 and only appears with 0 co-occurrence: avoid 0/0.
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = np.where(denom > 0, G.data / denom, 0.0)
    S = sp.coo_matrix((vals, (G.row, G.col)), shape=(n_items, n_items))
    return topk_sparse_rows(S, k, drop_diagonal=True)
