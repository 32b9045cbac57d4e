"""score_history: exact scores, causes and exclusions on a hand-built weight matrix."""

import numpy as np
import pytest
import scipy.sparse as sp

from omnicrm.recommendations.algorithms.scoring import Scored, score_history

W = sp.csr_matrix(
    np.array(
        [
            [0.0, 0.0, 0.5, 0.2],
            [0.0, 0.0, 0.3, 0.4],
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ],
        dtype=np.float32,
    )
)
EMPTY = np.array([], dtype=np.int64)


def _approx(result: list[Scored]) -> list[tuple[int, float, list[tuple[int, float]]]]:
    return [(s.item, round(s.score, 6), [(i, round(c, 6)) for i, c in s.causes]) for s in result]


def test_scores_and_causes_are_the_exact_decomposition() -> None:
    out = score_history(W, np.array([0, 1]), np.array([1.0, 2.0]), exclude=EMPTY, n=10)
    assert _approx(out) == [
        (2, 1.1, [(1, 0.6), (0, 0.5)]),
        (3, 1.0, [(1, 0.8), (0, 0.2)]),
    ]


def test_exclude_n_and_n_causes() -> None:
    out = score_history(
        W, np.array([0, 1]), np.array([1.0, 2.0]), exclude=np.array([2]), n=10, n_causes=1
    )
    assert _approx(out) == [(3, 1.0, [(1, 0.8)])]
    top1 = score_history(W, np.array([0, 1]), np.array([1.0, 2.0]), exclude=EMPTY, n=1)
    assert [s.item for s in top1] == [2]


def test_negative_strength_pushes_down_and_is_never_a_cause() -> None:
    out = score_history(W, np.array([0, 1]), np.array([1.0, -1.0]), exclude=EMPTY, n=10)
    # item 3: 0.2 - 0.4 < 0 is dropped; item 2: 0.5 - 0.3
    assert _approx(out) == [(2, 0.2, [(0, 0.5)])]


def test_duplicates_are_merged_and_empty_inputs() -> None:
    out = score_history(W, np.array([0, 0]), np.array([1.0, 1.0]), exclude=EMPTY, n=10)
    assert _approx(out) == [(2, 1.0, [(0, 1.0)]), (3, 0.4, [(0, 0.4)])]
    assert score_history(W, EMPTY, np.array([]), exclude=EMPTY, n=5) == []
    assert score_history(W, np.array([3]), np.array([1.0]), exclude=EMPTY, n=5) == []
    assert score_history(W, np.array([0]), np.array([1.0]), exclude=EMPTY, n=0) == []


def test_bad_indices_are_rejected() -> None:
    with pytest.raises(ValueError):
        score_history(W, np.array([4]), np.array([1.0]), exclude=EMPTY, n=5)
    with pytest.raises(ValueError):
        score_history(W, np.array([0, 1]), np.array([1.0]), exclude=EMPTY, n=5)


def test_matches_dense_computation_on_a_random_catalog() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    Wr = sp.random(n, n, density=0.02, format="csr", random_state=1, dtype=np.float32)
    Wr.data -= 0.3  # some negative weights
    items = rng.choice(n, 50, replace=False)
    strengths = rng.random(50) - 0.1
    exclude = items[:10]
    out = score_history(Wr, items, strengths, exclude=exclude, n=20, n_causes=3)
    dense = Wr[items].toarray().astype(np.float64).T @ strengths
    dense[exclude] = -np.inf
    expected = np.argsort(-dense, kind="stable")[:20]
    assert [s.item for s in out] == expected.tolist()
    assert [s.score for s in out] == pytest.approx(dense[expected].tolist())
    j = out[0].item
    contrib = Wr[items][:, j].toarray().ravel() * strengths
    contrib[(strengths <= 0) | (contrib <= 0)] = 0
    best = [(int(items[i]), float(contrib[i])) for i in np.argsort(-contrib)[:3] if contrib[i] > 0]
    assert [(i, pytest.approx(c)) for i, c in out[0].causes] == best
