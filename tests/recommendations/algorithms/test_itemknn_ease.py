"""ItemKNN and EASE weights on tiny matrices whose answers are known."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from omnicrm.recommendations.algorithms.ease import ease_select_l2, ease_weights
from omnicrm.recommendations.algorithms.itemknn import itemknn_weights
from omnicrm.recommendations.algorithms.metrics import ndcg_at_k
from omnicrm.recommendations.algorithms.ranking import top_n_from_scores, top_n_unseen

X = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1]], dtype=np.float64))


def test_itemknn_cosine_with_and_without_shrink() -> None:
    W = itemknn_weights(X, k=5, shrink=0.0)
    assert W.dtype == np.float32
    assert W[0, 1] == pytest.approx(2 / math.sqrt(6), rel=1e-6)
    assert W[0, 2] == pytest.approx(1 / math.sqrt(3), rel=1e-6)
    assert W[1, 2] == 0.0
    assert W.diagonal().tolist() == [0.0, 0.0, 0.0]
    shrunk = itemknn_weights(X, k=5, shrink=1.0)
    assert shrunk[0, 1] == pytest.approx(2 / (math.sqrt(6) + 1), rel=1e-6)


def test_itemknn_keeps_top_k_per_row() -> None:
    W = itemknn_weights(X, k=1, shrink=0.0)
    assert W[0].nonzero()[1].tolist() == [1]
    assert W.getnnz(axis=1).tolist() == [1, 1, 1]


def _ease_by_column_regression(Xd: np.ndarray, l2: float) -> np.ndarray:
    """Independent answer: column j of B regresses x_j on the other items (ridge)."""
    n = Xd.shape[1]
    G = Xd.T @ Xd
    B = np.zeros((n, n))
    for j in range(n):
        others = [i for i in range(n) if i != j]
        A = G[np.ix_(others, others)] + l2 * np.eye(n - 1)
        B[others, j] = np.linalg.solve(A, G[others, j])
    return B


def test_ease_matches_constrained_ridge_regression() -> None:
    rng = np.random.default_rng(3)
    Xd = (rng.random((30, 6)) < 0.4).astype(np.float64)
    expected = _ease_by_column_regression(Xd, 5.0)
    W = ease_weights(sp.csr_matrix(Xd), l2=5.0, k=6)
    assert np.allclose(W.toarray(), expected, atol=1e-6)
    assert np.all(W.diagonal() == 0)


def test_ease_top_k_and_max_items() -> None:
    rng = np.random.default_rng(4)
    Xd = (rng.random((40, 6)) < 0.5).astype(np.float64)
    Xd[:, 5] = 0
    Xd[0, 5] = 1  # item 5: the least popular
    W = ease_weights(sp.csr_matrix(Xd), l2=2.0, k=2)
    full = _ease_by_column_regression(Xd, 2.0)
    # One budget of 2 x 6 weights for the whole matrix, the strongest by magnitude (strong
    # negative weights too), wherever they are: some rows keep more than 2, some fewer.
    strongest = np.argsort(-np.abs(full).ravel(), kind="stable")[:12]
    kept = set(zip(*W.nonzero(), strict=True))
    assert kept == {divmod(int(cell), 6) for cell in strongest}
    assert np.allclose(
        W.toarray()[tuple(np.array(sorted(kept)).T)],
        full[tuple(np.array(sorted(kept)).T)],
        atol=1e-6,
    )
    bounded = ease_weights(sp.csr_matrix(Xd), l2=2.0, k=5, max_items=5)
    assert bounded[5].nnz == 0
    assert bounded[:, 5].nnz == 0
    assert np.allclose(
        bounded[:5, :5].toarray(), _ease_by_column_regression(Xd[:, :5], 2.0), atol=1e-6
    )


def test_ease_rejects_bad_parameters_and_handles_empty() -> None:
    with pytest.raises(ValueError):
        ease_weights(X, l2=0)
    assert ease_weights(sp.csr_matrix((3, 4)), l2=1.0).nnz == 0


def test_ease_select_l2_picks_the_best_candidate_on_the_holdout() -> None:
    rng = np.random.default_rng(5)
    Xd = (rng.random((80, 15)) < 0.3).astype(np.float64)
    hold = (rng.random((80, 15)) < 0.1).astype(np.float64)
    Xs, Hs = sp.csr_matrix(Xd), sp.csr_matrix(hold)
    candidates = (1.0, 10.0, 100.0, 1000.0)
    chosen = ease_select_l2(Xs, holdout=Hs, candidates=candidates, k=15)
    relevant = sp.csr_matrix((hold > 0) & (Xd == 0), dtype=np.float64)
    values = [
        ndcg_at_k(top_n_unseen(Xs, ease_weights(Xs, l2=c, k=15), n=10), relevant, 10)
        for c in candidates
    ]
    assert chosen == candidates[int(np.argmax(values))]
    assert ease_select_l2(Xs, holdout=Hs, candidates=(42.0,)) == 42.0


def test_top_n_helpers_exclude_seen_and_non_positive() -> None:
    scores = np.array([[0.5, 2.0, -1.0, 0.0], [1.0, 1.0, 3.0, 0.2]])
    assert top_n_from_scores(scores, 3).tolist() == [[1, 0, -1], [2, 0, 1]]
    W = sp.csr_matrix(np.array([[0, 1.0, 0.5], [1.0, 0, 0.2], [0.5, 0.2, 0]]))
    Xu = sp.csr_matrix(np.array([[1.0, 0, 0], [0, 1.0, 1.0]]))
    assert top_n_unseen(Xu, W, n=2).tolist() == [[1, 2], [0, -1]]
