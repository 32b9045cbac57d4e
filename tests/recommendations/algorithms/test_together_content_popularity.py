"""Association rules, TF-IDF content neighbours and non-personalized scores."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from omnicrm.recommendations.algorithms.content import content_weights, fold, tokenize
from omnicrm.recommendations.algorithms.popularity import bayesian_average, trending_scores
from omnicrm.recommendations.algorithms.together import together_rules

# orders: {0, 1}, {0, 1}, {0, 2}, {1}  -> N = 4, n0 = 3, n1 = 3, n2 = 1
BASKETS = sp.csr_matrix((np.ones(7), ([0, 0, 1, 1, 2, 2, 3], [0, 1, 0, 1, 0, 2, 1])), shape=(4, 3))


def test_together_support_confidence_lift() -> None:
    rules = together_rules(BASKETS, min_support=2, k=5)
    assert rules.product.tolist() == [0, 1]
    assert rules.neighbor.tolist() == [1, 0]
    assert rules.support.tolist() == [2, 2]
    assert rules.confidence.tolist() == pytest.approx([2 / 3, 2 / 3])
    assert rules.lift.tolist() == pytest.approx([(2 / 3) / (3 / 4)] * 2)


def test_together_ranks_by_lift_times_confidence_and_cuts_k() -> None:
    rules = together_rules(BASKETS, min_support=1, k=5)
    # product 0: 0->1 scores 0.889 x 0.667 = 0.593, 0->2 scores 1.333 x 0.333 = 0.444
    mask = rules.product == 0
    assert rules.neighbor[mask].tolist() == [1, 2]
    assert rules.lift[mask].tolist() == pytest.approx([8 / 9, 4 / 3])
    two = rules.product == 2
    assert rules.neighbor[two].tolist() == [0]
    assert rules.confidence[two].tolist() == pytest.approx([1.0])
    top1 = together_rules(BASKETS, min_support=1, k=1)
    assert top1.product.tolist() == [0, 1, 2]
    assert len(top1) == 3


def test_tokenize_folds_accents_and_splits_cjk_into_bigrams() -> None:
    assert tokenize("Cà Phê Đà Lạt, 500g") == ["ca", "phe", "da", "lat", "500g"]
    assert tokenize("绿茶叶 tea") == ["绿茶", "茶叶", "tea"]
    assert tokenize("茶") == ["茶"]
    assert fold("Đặng Lưu Hà") == "dang luu ha"


def test_content_neighbours() -> None:
    texts = ["Cà phê Arabica", "ca phe robusta", "Green tea", "绿茶 茶叶", "乌龙茶叶", ""]
    W = content_weights(texts, k=1)
    assert W.shape == (6, 6)
    assert W[0].nonzero()[1].tolist() == [1]
    assert W[1].nonzero()[1].tolist() == [0]
    assert W[3].nonzero()[1].tolist() == [4]
    assert W[2].nnz == 0
    assert W[5].nnz == 0
    assert np.all(W.diagonal() == 0)
    assert 0 < W[0, 1] < 1


def test_content_identical_texts_have_cosine_one_and_chunks_agree() -> None:
    texts = [f"product {i % 7} coffee" for i in range(30)]
    W = content_weights(texts, k=3)
    assert W[0, 7] == pytest.approx(1.0, rel=1e-6)
    assert W.getnnz(axis=1).tolist() == [3] * 30


def test_bayesian_average() -> None:
    out = bayesian_average(
        np.array([10.0, 5.0, 0.0]), np.array([2, 1, 0]), prior_mean=4.0, prior_count=2.0
    )
    assert out.tolist() == pytest.approx([4.5, 13 / 3, 4.0])


def test_trending_scores() -> None:
    out = trending_scores(
        np.array([10, 2, 0]), np.array([20, 0, 8]), recent_days=7, earlier_days=28
    )
    assert out.tolist() == pytest.approx([5 / math.sqrt(6), 2.0, -2 / math.sqrt(3)])
    with pytest.raises(ValueError):
        trending_scores(np.array([1]), np.array([1]), recent_days=0, earlier_days=1)
