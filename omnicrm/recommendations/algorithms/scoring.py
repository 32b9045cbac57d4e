"""Score a customer's history against an item x item weight matrix, with explanations.

score_j = Σ_i s_i · W[i, j] over the customer's items i with signed strengths s_i. The
explanation of j is the exact decomposition of that sum: its causes are the history items
with the largest positive contributions s_i · W[i, j]. Called on every "for you" request, so
the work is proportional to the history's neighbour lists (a few hundred rows x top-k),
never a Python loop over the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Scored:
    """One recommended item: its row/column index in W, its score, and its causes.

    ``causes`` are (history item index, contribution) pairs, largest contribution first;
    only items with a positive strength and a positive contribution are causes.
    """

    item: int
    score: float
    causes: tuple[tuple[int, float], ...]


def score_history(
    W: sp.csr_matrix,
    items: np.ndarray,
    strengths: np.ndarray,
    *,
    exclude: np.ndarray,
    n: int,
    n_causes: int = 2,
) -> list[Scored]:
    """The ``n`` best positive-scored items for a history, best first (ties: lower index).

    ``items`` are row indices of ``W`` (duplicates are merged by summing their strengths),
    ``strengths`` their signed weights (negative = disliked: pushes its neighbours down and
    is never a cause), ``exclude`` item indices never returned (already bought, not
    interested...).
    """
    items = np.asarray(items, dtype=np.int64)
    strengths = np.asarray(strengths, dtype=np.float64)
    if items.shape != strengths.shape or items.ndim != 1:
        raise ValueError("items and strengths must be 1-d arrays of the same length")
    n_rows, n_cols = W.shape
    if n <= 0 or items.size == 0:
        return []
    if items.min() < 0 or items.max() >= n_rows:
        raise ValueError("items must be row indices of W")
    if np.unique(items).size != items.size:
        items, inverse = np.unique(items, return_inverse=True)
        strengths = np.bincount(inverse, weights=strengths)
    nz = strengths != 0
    items, strengths = items[nz], strengths[nz]

    # Gather the history rows' stored entries straight from W's CSR arrays.
    starts, ends = W.indptr[items], W.indptr[items + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return []
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    cols = W.indices[offsets]
    contrib = W.data[offsets].astype(np.float64) * np.repeat(strengths, lengths)
    cause_of = np.repeat(items, lengths)

    # Dense per-catalog sums by bincount: vectorized, and cheaper than sorting the entries.
    scores = np.bincount(cols, weights=contrib, minlength=n_cols)
    exclude = np.asarray(exclude, dtype=np.int64)
    if exclude.size:
        exclude = exclude[(exclude >= 0) & (exclude < n_cols)]
        scores[exclude] = 0.0
    cand_idx = np.flatnonzero(scores > 0)
    if cand_idx.size == 0:
        return []
    if cand_idx.size > n:
        top = np.argpartition(-scores[cand_idx], n - 1)[:n]
        cand_idx = cand_idx[top]
    # Best first, ties by lower item index.
    cand_idx = cand_idx[np.lexsort((cand_idx, -scores[cand_idx]))]

    # Causes: positive contributions from positive-strength items to the chosen candidates.
    rank_of = np.full(n_cols, -1, dtype=np.int64)
    rank_of[cand_idx] = np.arange(cand_idx.size)
    entry_rank = rank_of[cols]
    sel = (entry_rank >= 0) & (contrib > 0) & (np.repeat(strengths, lengths) > 0)
    e_rank, e_cause, e_contrib = entry_rank[sel], cause_of[sel], contrib[sel]
    order = np.lexsort((e_cause, -e_contrib, e_rank))
    e_rank, e_cause, e_contrib = e_rank[order], e_cause[order], e_contrib[order]
    pos = np.arange(e_rank.size) - np.searchsorted(e_rank, e_rank, side="left")
    take = pos < n_causes
    e_rank, e_cause, e_contrib = e_rank[take], e_cause[take], e_contrib[take]
    bounds = np.searchsorted(e_rank, np.arange(cand_idx.size + 1), side="left")

    out: list[Scored] = []
    cand_items = cand_idx.tolist()
    cand_scores = scores[cand_idx].tolist()
    causes_i = e_cause.tolist()
    causes_c = e_contrib.tolist()
    for r in range(cand_idx.size):
        a, b = bounds[r], bounds[r + 1]
        out.append(
            Scored(
                item=int(cand_items[r]),
                score=float(cand_scores[r]),
                causes=tuple(zip(causes_i[a:b], causes_c[a:b], strict=True)),
            )
        )
    return out
