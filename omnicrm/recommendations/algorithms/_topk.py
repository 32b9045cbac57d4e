"""Top-k per row of a sparse or dense matrix, vectorized (no Python loop over rows)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Dense cells handled at once by topk_dense_rows (8M: 64 MB of int64 indices).
_BAND_CELLS = 8_000_000


def topk_sparse_rows(m: sp.spmatrix, k: int, *, drop_diagonal: bool = True) -> sp.csr_matrix:
    """Keep the ``k`` largest stored values of each row of ``m`` (ties: lower column first).

    Zeros are never stored in the result. Returns float32 CSR with sorted indices.
    """
    coo = sp.coo_matrix(m)
    rows, cols, vals = coo.row, coo.col, coo.data
    keep = vals != 0
    if drop_diagonal:
        keep &= rows != cols
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    if k <= 0 or rows.size == 0:
        return sp.csr_matrix(m.shape, dtype=np.float32)
    # Sort by row, then value descending, then column: the first k of each row survive.
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, rows, side="left")
    rank = np.arange(rows.size) - starts
    sel = rank < k
    out = sp.csr_matrix(
        (vals[sel].astype(np.float32), (rows[sel], cols[sel])), shape=m.shape, dtype=np.float32
    )
    out.sort_indices()
    return out


def topk_dense_rows(
    dense: np.ndarray,
    k: int,
    *,
    row_ids: np.ndarray | None = None,
    shape: tuple[int, int],
    by_magnitude: bool = False,
) -> sp.csr_matrix:
    """Top-``k`` nonzero values per row of a dense block, as CSR.

    The largest values, or with ``by_magnitude`` the largest absolute values (so strong
    negative weights are kept too).

    ``row_ids``/column positions map the block into a matrix of ``shape`` (the block may
    be a submatrix over a subset of items: its rows and columns are both ``row_ids``).
    The diagonal of the block (i == j) is expected to be zero already.
    """
    n_rows, n_cols = dense.shape
    kk = min(k, n_cols)
    if kk <= 0 or n_rows == 0:
        return sp.csr_matrix(shape, dtype=np.float32)
    # In bands of rows: argpartition makes a negated copy and an int64 index array of its
    # input, which for a 20,000-item EASE matrix at once would be gigabytes.
    step = max(1, _BAND_CELLS // n_cols)
    parts, values = [], []
    for start in range(0, n_rows, step):
        band = dense[start : start + step]
        key = -np.abs(band) if by_magnitude else -band
        part = np.argpartition(key, kk - 1, axis=1)[:, :kk]
        parts.append(part)
        values.append(np.take_along_axis(band, part, axis=1))
    rows = np.repeat(np.arange(n_rows), kk)
    cols = np.concatenate(parts).ravel()
    vals = np.concatenate(values).ravel()
    nz = vals != 0
    rows, cols, vals = rows[nz], cols[nz], vals[nz]
    if row_ids is not None:
        rows, cols = row_ids[rows], row_ids[cols]
    out = sp.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=shape, dtype=np.float32)
    out.sort_indices()
    return out


# Above this many cells the global threshold is estimated from a sample of them.
_EXACT_CELLS = 16_000_000
_SAMPLE_CELLS = 4_000_000


def budget_dense(
    dense: np.ndarray,
    per_row: int,
    *,
    row_ids: np.ndarray | None = None,
    shape: tuple[int, int],
    seed: int = 0,
) -> sp.csr_matrix:
    """The ``per_row x rows`` values of largest magnitude of a dense block, as CSR.

    One budget for the whole matrix instead of ``per_row`` in every row: a popular item with
    many strong links keeps them all and an item with only faint ones keeps none, which at
    the same storage loses less of the scores than a cut per row (MovieLens 100K, random
    split: NDCG@10 0.4447 against 0.4374 at 200 per item; unpruned 0.4441). On large blocks
    the threshold is the quantile of a random sample of cells, so the count is approximate.
    """
    n_rows, n_cols = dense.shape
    budget = per_row * n_rows
    if per_row <= 0 or n_rows == 0:
        return sp.csr_matrix(shape, dtype=np.float32)
    cells = n_rows * n_cols
    if budget >= cells:
        threshold = 0.0
    elif cells <= _EXACT_CELLS:
        magnitudes = np.abs(dense).ravel()
        threshold = float(np.partition(magnitudes, cells - budget)[cells - budget])
    else:
        rng = np.random.default_rng(seed)
        sample = np.abs(dense.ravel()[rng.integers(0, cells, _SAMPLE_CELLS)])
        threshold = float(np.quantile(sample, 1.0 - budget / cells))
    rows_out, cols_out, vals_out = [], [], []
    step = max(1, _BAND_CELLS // n_cols)
    for start in range(0, n_rows, step):
        band = dense[start : start + step]
        r, c = np.nonzero((np.abs(band) >= threshold) & (band != 0))
        rows_out.append(r + start)
        cols_out.append(c)
        vals_out.append(band[r, c])
    rows = np.concatenate(rows_out)
    cols = np.concatenate(cols_out)
    vals = np.concatenate(vals_out)
    if row_ids is not None:
        rows, cols = row_ids[rows], row_ids[cols]
    out = sp.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=shape, dtype=np.float32)
    out.sort_indices()
    return out
