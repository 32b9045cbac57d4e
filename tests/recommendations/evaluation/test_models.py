"""Evaluation models on a hand-built table: recency weights, lists and the popularity fill."""

import numpy as np
import pytest

from omnicrm.recommendations.evaluation.datasets import Interactions
from omnicrm.recommendations.evaluation.models import (
    DAY,
    EaseRecency,
    FitContext,
    PopularInGroup,
    Popularity,
    TopRated,
    Trending,
)
from omnicrm.recommendations.evaluation.split import interaction_matrix, time_split

CUT = 400 * DAY


def _data() -> Interactions:
    # (user, item, day, rating)
    rows = [
        (0, 0, 40, 5), (0, 0, 220, 5), (0, 1, 400 - 180, np.nan), (1, 1, 399, 4),
        (1, 2, 398, 2), (2, 2, 395, 1), (2, 1, 397, 5), (3, 1, 300, 4), (3, 3, 100, 5),
    ]  # fmt: skip
    arr = np.array(rows, dtype=np.float64)
    return Interactions(
        name="t",
        user=arr[:, 0].astype(np.int64),
        item=arr[:, 1].astype(np.int64),
        ts=arr[:, 2] * DAY,
        rating=arr[:, 3],
        user_ids=["a", "b", "c", "d"],
        item_ids=["i0", "i1", "i2", "i3"],
        user_group=["VN", "VN", "CN", ""],
    )


def _ctx(data: Interactions) -> FitContext:
    mask = np.ones(len(data), dtype=bool)
    inner = time_split(data, within=mask)
    return FitContext(
        data=data,
        train_mask=mask,
        X=interaction_matrix(data, mask),
        cut=CUT,
        validation=lambda: (inner, interaction_matrix(data, inner.test_mask)),
    )


def test_recency_matrix_keeps_the_latest_interaction_decayed() -> None:
    data = _data()
    m = EaseRecency()._matrix(data, np.ones(len(data), dtype=bool), CUT, None)  # type: ignore[arg-type]
    # user 0 bought item 0 on days 40 and 220: the later one counts, 180 days old -> 0.5
    assert m[0, 0] == pytest.approx(0.5)
    assert m[0, 1] == pytest.approx(0.5)
    assert m[1, 1] == pytest.approx(0.5 ** (1 / 180))
    assert m.nnz == 8


def test_trending_top_rated_and_group_lists() -> None:
    data = _data()
    ctx = _ctx(data)
    trending = Trending()
    trending.fit(ctx)
    # last 7 days: item 1 x2, item 2 x2; nothing in the 28 days before -> z = 2 for both
    assert trending._vector.tolist() == pytest.approx([0, 2, 2, 0])
    top = TopRated()
    top.fit(ctx)
    # item 1: ratings 4, 5, 4 (>= 3 ratings), prior = mean of all 8 ratings = 31 / 8
    prior = 31 / 8
    expected = (13 + prior * 3) / 6
    assert top._vector.tolist() == pytest.approx([0, expected, 0, 0])
    group = PopularInGroup()
    group.fit(ctx)
    scores = group.scores(np.array([0, 2, 3]))
    assert scores.tolist() == [[1, 2, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]


def test_recommend_excludes_seen_and_fills_with_popularity() -> None:
    data = _data()
    ctx = _ctx(data)
    pop = Popularity()
    pop.fit(ctx)
    # buyers: item 1: 4, item 2: 2, item 0: 1, item 3: 1 (tie: lower index first)
    assert pop.recommend(np.array([0, 3]), 3).tolist() == [[2, 3, -1], [2, 0, -1]]
    group = PopularInGroup()
    group.fit(ctx)
    # user 2 (CN) had items 1, 2: nothing else bought in CN, popularity fills
    assert group.recommend(np.array([2]), 2).tolist() == [[0, 3]]
