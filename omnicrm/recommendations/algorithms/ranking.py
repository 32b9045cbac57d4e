"""Ranking helpers shared by model selection and offline evaluation (batched, vectorized)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _score_block(X: sp.csr_matrix, W: sp.csr_matrix | np.ndarray) -> np.ndarray:
    scores = X @ W
    return np.asarray(scores.toarray() if sp.issparse(scores) else scores)


def top_n_unseen(X: sp.csr_matrix, W: sp.csr_matrix, *, n: int, batch: int = 2048) -> np.ndarray:
    """For each row of ``X``: the ``n`` best-scored items (X @ W) not in the row, -1 padded.

    Only items with a positive score are returned. Batched so memory stays users-batch x items.
    """
    X = sp.csr_matrix(X)
    n_users = X.shape[0]
    out = np.full((n_users, n), -1, dtype=np.int64)
    for start in range(0, n_users, batch):
        block = X[start : start + batch]
        scores = _score_block(block, W).astype(np.float64, copy=False)
        rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        scores[rows, block.indices] = -np.inf
        out[start : start + block.shape[0]] = top_n_from_scores(scores, n)
    return out


def top_n_from_scores(scores: np.ndarray, n: int) -> np.ndarray:
    """Column indices of the ``n`` highest positive scores per row, best first, -1 padded."""
    n_rows, n_cols = scores.shape
    out = np.full((n_rows, n), -1, dtype=np.int64)
    nn = min(n, n_cols)
    if nn == 0 or n_rows == 0:
        return out
    part = np.argpartition(-scores, nn - 1, axis=1)[:, :nn]
    vals = np.take_along_axis(scores, part, axis=1)
    # Best first; a stable sort keeps argpartition's order among equal scores.
    idx = np.argsort(-vals, axis=1, kind="stable")
    part = np.take_along_axis(part, idx, axis=1)
    vals = np.take_along_axis(vals, idx, axis=1)
    part[~(vals > 0)] = -1
    out[:, :nn] = part
    return out
