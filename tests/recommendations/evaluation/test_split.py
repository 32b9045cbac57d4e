"""Time-based and random splits on a hand-built interaction table."""

import numpy as np
import pytest

from omnicrm.recommendations.evaluation.datasets import Interactions
from omnicrm.recommendations.evaluation.split import random_split, time_split

# (user, item, time): rows at t <= 7 train, t >= 8 test with a 0.7 quantile cut (7.3).
ROWS = [
    (0, 0, 1), (0, 1, 2), (1, 0, 3), (1, 2, 4), (0, 2, 5), (1, 1, 6), (2, 0, 7),
    (0, 1, 8),  # user 0 buys again an item they had: not a new relevant item
    (1, 3, 9),  # user 1 buys a new item: relevant
    (3, 2, 10),  # user 3 is first seen after the cut: a new user
]  # fmt: skip


def _data(rows: list[tuple[int, int, int]] = ROWS) -> Interactions:
    arr = np.array(rows, dtype=np.int64)
    n_users, n_items = int(arr[:, 0].max()) + 1, int(arr[:, 1].max()) + 1
    return Interactions(
        name="tiny",
        user=arr[:, 0],
        item=arr[:, 1],
        ts=arr[:, 2].astype(np.float64),
        rating=np.full(len(rows), np.nan),
        user_ids=[f"u{i}" for i in range(n_users)],
        item_ids=[f"i{i}" for i in range(n_items)],
    )


def test_time_split_cut_users_and_relevant_items() -> None:
    split = time_split(_data(), quantile=0.7)
    assert split.cut == pytest.approx(7.3)
    assert split.train_mask.tolist() == [True] * 7 + [False] * 3
    assert split.test_mask.tolist() == [False] * 7 + [True] * 3
    assert split.train.toarray().tolist() == [
        [1, 1, 1, 0],
        [1, 1, 1, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 0],
    ]
    assert split.returning_users.tolist() == [1]
    assert split.returning_relevant.toarray().tolist() == [[0, 0, 0, 1]]
    assert split.new_users.tolist() == [3]
    assert split.new_relevant.toarray().tolist() == [[0, 0, 1, 0]]
    assert split.describe()["test_interactions"] == 3


def test_validation_slice_stays_inside_the_training_rows() -> None:
    data = _data()
    outer = time_split(data, quantile=0.7)
    inner = time_split(data, quantile=0.5, within=outer.train_mask)
    assert inner.cut == pytest.approx(4.0)
    assert np.flatnonzero(inner.train_mask).tolist() == [0, 1, 2]
    assert np.flatnonzero(inner.test_mask).tolist() == [3, 4, 5, 6]
    # user 0 gains item 2, user 1 gains items 2 and 1, user 2 is new with item 0
    assert inner.returning_users.tolist() == [0, 1]
    assert inner.returning_relevant.toarray().tolist() == [[0, 0, 1, 0], [0, 1, 1, 0]]
    assert inner.new_users.tolist() == [2]


def test_random_split_per_user_fraction() -> None:
    rows = [(u, i, u * 10 + i) for u in range(3) for i in range(u * 5 + 1)]  # 1, 6, 11 rows
    data = _data(rows)
    split = random_split(data, test_fraction=0.2, seed=7)
    test_per_user = np.bincount(data.user[split.test_mask], minlength=3).tolist()
    assert test_per_user == [0, 1, 2]  # a lone interaction stays in training
    assert not (split.train_mask & split.test_mask).any()
    assert (split.train_mask | split.test_mask).all()
    again = random_split(data, test_fraction=0.2, seed=7)
    assert again.test_mask.tolist() == split.test_mask.tolist()
    assert split.returning_users.tolist() == [1, 2]
    assert split.new_users.size == 0


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        time_split(_data(), quantile=1.0)
    with pytest.raises(ValueError):
        random_split(_data(), test_fraction=0.0)
