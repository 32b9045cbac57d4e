"""Ranking metrics against hand-computed values."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from omnicrm.recommendations.algorithms.metrics import (
    all_metrics,
    catalog_coverage,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

# user 0: relevant {2, 7}, recommended [1, 2, 3] -> one hit at rank 2
# user 1: relevant {9}, recommended [4, 5, pad] -> no hit
# user 2: nothing relevant -> left out of every mean
RECS = np.array([[1, 2, 3], [4, 5, -1], [9, 8, 7]])
REL = sp.csr_matrix(
    (np.ones(3), ([0, 0, 1], [2, 7, 9])),
    shape=(3, 10),
)


def test_precision_recall_hit_rate() -> None:
    assert precision_at_k(RECS, REL, 3) == pytest.approx((1 / 3 + 0) / 2)
    assert recall_at_k(RECS, REL, 3) == pytest.approx((1 / 2 + 0) / 2)
    assert hit_rate_at_k(RECS, REL, 3) == pytest.approx(0.5)


def test_ndcg_and_map() -> None:
    dcg = 1 / math.log2(3)
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(RECS, REL, 3) == pytest.approx((dcg / idcg) / 2)
    # AP of user 0 = precision@2 x hit / min(2, 3) = (1/2) / 2
    assert map_at_k(RECS, REL, 3) == pytest.approx(0.25 / 2)


def test_perfect_list_scores_one() -> None:
    recs = np.array([[7, 2, 0]])
    rel = sp.csr_matrix((np.ones(2), ([0, 0], [2, 7])), shape=(1, 10))
    for metric in (recall_at_k, ndcg_at_k, map_at_k, hit_rate_at_k):
        assert metric(recs, rel, 3) == pytest.approx(1.0)
    assert precision_at_k(recs, rel, 3) == pytest.approx(2 / 3)


def test_k_cuts_the_list_and_short_lists_are_padded() -> None:
    recs = np.array([[1, 2]])
    rel = sp.csr_matrix((np.ones(1), ([0], [2])), shape=(1, 5))
    assert hit_rate_at_k(recs, rel, 1) == 0.0
    assert precision_at_k(recs, rel, 4) == pytest.approx(1 / 4)


def test_coverage_counts_distinct_items() -> None:
    assert catalog_coverage(RECS, 20, 3) == pytest.approx(len({1, 2, 3, 4, 5, 9, 8, 7}) / 20)
    assert catalog_coverage(RECS, 20, 1) == pytest.approx(3 / 20)
    assert catalog_coverage(RECS, 0) == 0.0


def test_all_metrics_keys_and_no_users() -> None:
    out = all_metrics(RECS, REL, n_items=10, k=3)
    assert list(out) == ["precision@3", "recall@3", "ndcg@3", "map@3", "hit_rate@3", "coverage"]
    empty = sp.csr_matrix((3, 10))
    assert ndcg_at_k(RECS, empty, 3) == 0.0


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError):
        ndcg_at_k(RECS[:2], REL, 3)
