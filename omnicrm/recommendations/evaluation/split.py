"""Train/test splits.

Time-based (the default, and the only honest one for a shop: the past predicts the future):
all interactions are cut at one global moment, the ``quantile`` (0.8) of their timestamps.
Interactions strictly before the cut train the models; those at or after it are the test.
Test users are the users with at least one training interaction and at least one test
interaction on an item they did not have in training ("returning" users); their relevant
items are those new test items. Users first seen after the cut ("new" users) are scored
separately, on all their test items, which only non-personalized lists can serve.

Random per-user (the usual MovieLens protocol, reported for comparison with papers): each
user's interactions are shuffled and ``test_fraction`` of them (rounded, at least one when the
user has two or more) go to the test; there are no new users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from omnicrm.recommendations.evaluation.datasets import Interactions


@dataclass
class Split:
    """Masks over the interactions and the derived matrices (users x items, binary)."""

    protocol: str
    train_mask: np.ndarray
    test_mask: np.ndarray
    cut: float | None
    train: sp.csr_matrix
    returning_users: np.ndarray
    returning_relevant: sp.csr_matrix
    new_users: np.ndarray
    new_relevant: sp.csr_matrix

    def describe(self) -> dict[str, object]:
        return {
            "protocol": self.protocol,
            "cut": self.cut,
            "train_interactions": int(self.train_mask.sum()),
            "test_interactions": int(self.test_mask.sum()),
            "returning_users": int(self.returning_users.size),
            "returning_relevant": int(self.returning_relevant.nnz),
            "new_users": int(self.new_users.size),
            "new_relevant": int(self.new_relevant.nnz),
        }


def interaction_matrix(data: Interactions, mask: np.ndarray) -> sp.csr_matrix:
    """Binary users x items matrix of the masked interactions (repeats count once)."""
    m = sp.csr_matrix(
        (np.ones(int(mask.sum())), (data.user[mask], data.item[mask])),
        shape=(data.n_users, data.n_items),
    )
    m.data[:] = 1.0
    return m


def _finish(
    data: Interactions,
    protocol: str,
    train_mask: np.ndarray,
    test_mask: np.ndarray,
    cut: float | None,
) -> Split:
    train = interaction_matrix(data, train_mask)
    test = interaction_matrix(data, test_mask)
    has_train = np.diff(train.indptr) > 0
    # Relevant = test items the user did not already have in training.
    new_items = (test - test.multiply(train)).tocsr()
    new_items.eliminate_zeros()
    has_new = np.diff(new_items.indptr) > 0
    returning = np.flatnonzero(has_train & has_new)
    new = np.flatnonzero(~has_train & has_new)
    return Split(
        protocol=protocol,
        train_mask=train_mask,
        test_mask=test_mask,
        cut=cut,
        train=train,
        returning_users=returning,
        returning_relevant=new_items[returning],
        new_users=new,
        new_relevant=new_items[new],
    )


def time_split(
    data: Interactions, *, quantile: float = 0.8, within: np.ndarray | None = None
) -> Split:
    """Global time cut at the ``quantile`` of the timestamps (of ``within`` rows when given).

    With ``within`` (a mask, e.g. the training rows) the split only uses those rows: this is
    how the validation slice for model selection is carved out of the training data.
    """
    if not 0 < quantile < 1:
        raise ValueError("quantile must be between 0 and 1")
    rows = np.ones(len(data), dtype=bool) if within is None else within
    cut = float(np.quantile(data.ts[rows], quantile)) if rows.any() else 0.0
    train_mask = rows & (data.ts < cut)
    return _finish(data, "time", train_mask, rows & ~train_mask, cut)


def random_split(
    data: Interactions,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    within: np.ndarray | None = None,
) -> Split:
    """Per-user random split: ``test_fraction`` of each user's interactions go to the test."""
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be between 0 and 1")
    rows = np.ones(len(data), dtype=bool) if within is None else within
    idx = np.flatnonzero(rows)
    rng = np.random.default_rng(seed)
    shuffled = idx[rng.permutation(idx.size)]
    order = shuffled[np.argsort(data.user[shuffled], kind="stable")]
    users = data.user[order]
    pos = np.arange(order.size) - np.searchsorted(users, users, side="left")
    counts = np.bincount(users, minlength=data.n_users)[users]
    n_test = np.where(counts >= 2, np.maximum(1, np.rint(counts * test_fraction)), 0)
    train_mask = rows.copy()
    train_mask[order[pos < n_test]] = False
    return _finish(data, "random", train_mask, rows & ~train_mask, None)
