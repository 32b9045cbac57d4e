"""The models compared by the evaluation, behind one small interface.

Every model is fitted on the training interactions only and returns, for a batch of users,
their top-n items (item indices, -1 padded) excluding the items they had in training. A
personal model whose list is short (a user with no or few neighbours) is filled with the most
popular unseen items, exactly as serving fills from the cold-start lists.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from omnicrm.recommendations.algorithms.content import content_weights
from omnicrm.recommendations.algorithms.ease import (
    DEFAULT_L2_CANDIDATES,
    ease_select_l2,
    ease_weights,
)
from omnicrm.recommendations.algorithms.itemknn import itemknn_weights
from omnicrm.recommendations.algorithms.metrics import ndcg_at_k
from omnicrm.recommendations.algorithms.popularity import bayesian_average, trending_scores
from omnicrm.recommendations.algorithms.ranking import top_n_from_scores
from omnicrm.recommendations.evaluation.datasets import Interactions
from omnicrm.recommendations.evaluation.split import Split

DAY = 86400.0
# Same windows and thresholds as the training pipeline's lists (docs/recommendations.md).
TRENDING_RECENT_DAYS = 7.0
TRENDING_EARLIER_DAYS = 28.0
TOP_RATED_MIN_AVERAGE = 4.0
TOP_RATED_MIN_COUNT = 3
PERSONAL_TOP_K = 200  # weights kept per item (EASE: on average), as stored for serving


@dataclass
class FitContext:
    """What a model may look at: the training rows, their matrix, and a validation slice."""

    data: Interactions
    train_mask: np.ndarray
    X: sp.csr_matrix
    cut: float
    # (inner split, holdout matrix) carved from the training rows only, for model selection:
    # fit on inner.train, score against the holdout.
    validation: Callable[[], tuple[Split, sp.csr_matrix]]
    seed: int = 0
    # Weights kept per item by the item-item models (training stores 100 for serving).
    personal_k: int = PERSONAL_TOP_K


class Model:
    """Base: subclasses set ``name`` and implement ``fit`` and ``scores``."""

    name = "model"
    description = ""
    personal = True

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.fit_seconds = 0.0
        self._X: sp.csr_matrix | None = None
        self._popularity: np.ndarray | None = None

    def fit(self, ctx: FitContext) -> None:
        start = time.perf_counter()
        self._X = ctx.X
        counts = np.asarray((ctx.X != 0).sum(axis=0), dtype=np.float64).ravel()
        # Normalized into [0, 0.5): below any positive personal score + 1 (see recommend).
        self._popularity = counts / (2.0 * counts.max() + 1.0)
        self._fit(ctx)
        self.fit_seconds = time.perf_counter() - start

    def _fit(self, ctx: FitContext) -> None:
        raise NotImplementedError

    def scores(self, users: np.ndarray) -> np.ndarray:
        """Dense users x items scores; > 0 means the model has an opinion."""
        raise NotImplementedError

    def recommend(self, users: np.ndarray, n: int, *, batch: int = 1024) -> np.ndarray:
        assert self._X is not None and self._popularity is not None
        out = np.full((users.size, n), -1, dtype=np.int64)
        for start in range(0, users.size, batch):
            chunk = users[start : start + batch]
            personal = self.scores(chunk)
            # Personal opinion first, then popularity for the rest of the list.
            combined = np.where(personal > 0, 1.0 + personal, self._popularity[np.newaxis, :])
            seen = self._X[chunk]
            rows = np.repeat(np.arange(chunk.size), np.diff(seen.indptr))
            combined[rows, seen.indices] = -np.inf
            out[start : start + chunk.size] = top_n_from_scores(combined, n)
        return out


class Popularity(Model):
    name = "popularity"
    description = "most bought/rated items overall (baseline)"
    personal = False

    def _fit(self, ctx: FitContext) -> None:
        pass

    def scores(self, users: np.ndarray) -> np.ndarray:
        assert self._popularity is not None
        return np.zeros((users.size, self._popularity.size))


class _StaticList(Model):
    """A non-personalized list: one score vector for everybody, popularity fills."""

    personal = False
    _vector: np.ndarray

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._vector, (users.size, self._vector.size))


class Trending(_StaticList):
    name = "trending"
    description = "velocity of the last 7 days against the previous 28 (then popular)"

    def _fit(self, ctx: FitContext) -> None:
        d, m = ctx.data, ctx.train_mask
        age = (ctx.cut - d.ts) / DAY
        recent = m & (age <= TRENDING_RECENT_DAYS)
        earlier = (
            m & (age > TRENDING_RECENT_DAYS) & (age <= TRENDING_RECENT_DAYS + TRENDING_EARLIER_DAYS)
        )
        r = np.bincount(d.item[recent], minlength=d.n_items)
        e = np.bincount(d.item[earlier], minlength=d.n_items)
        score = trending_scores(
            r, e, recent_days=TRENDING_RECENT_DAYS, earlier_days=TRENDING_EARLIER_DAYS
        )
        self._vector = np.where((score > 0) & (r > 0), score, 0.0)
        self.params = {
            "recent_days": TRENDING_RECENT_DAYS,
            "earlier_days": TRENDING_EARLIER_DAYS,
            "trending_items": int((self._vector > 0).sum()),
        }


class TopRated(_StaticList):
    name = "top_rated"
    description = "Bayesian average >= 4.0 with >= 3 ratings (then popular)"

    def _fit(self, ctx: FitContext) -> None:
        d = ctx.data
        m = ctx.train_mask & ~np.isnan(d.rating)
        total = np.bincount(d.item[m], weights=d.rating[m], minlength=d.n_items)
        count = np.bincount(d.item[m], minlength=d.n_items).astype(np.float64)
        prior = float(d.rating[m].mean()) if m.any() else 0.0
        avg = bayesian_average(total, count, prior_mean=prior, prior_count=TOP_RATED_MIN_COUNT)
        ok = (count >= TOP_RATED_MIN_COUNT) & (avg >= TOP_RATED_MIN_AVERAGE)
        self._vector = np.where(ok, np.nan_to_num(avg), 0.0)
        self.params = {"prior_mean": round(prior, 3), "rated_items": int(ok.sum())}


class PopularInGroup(Model):
    name = "popular_in_group"
    description = "most bought in the customer's group (state/country), then overall"
    personal = False

    def _fit(self, ctx: FitContext) -> None:
        d = ctx.data
        labels = sorted(set(d.user_group) - {""})
        code = {g: i + 1 for i, g in enumerate(labels)}  # 0 = unknown group
        self._user_group = np.array([code.get(g, 0) for g in d.user_group], dtype=np.int64)
        g = self._user_group[ctx.X.nonzero()[0]]
        items = ctx.X.nonzero()[1]
        self._counts = sp.csr_matrix(
            (np.ones(items.size), (g, items)), shape=(len(labels) + 1, d.n_items)
        ).toarray()
        self._counts[0] = 0
        self.params = {"groups": len(labels)}

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self._counts[self._user_group[users]]


class ContentLastItem(Model):
    name = "content_last_item"
    description = "TF-IDF neighbours of the customer's last item (title/category), then popular"

    def _fit(self, ctx: FitContext) -> None:
        d = ctx.data
        self._W = content_weights(d.item_text, k=20)
        # The most recent training item of every user (-1 when none).
        idx = np.flatnonzero(ctx.train_mask)
        order = idx[np.lexsort((d.ts[idx], d.user[idx]))]
        last = np.full(d.n_users, -1, dtype=np.int64)
        last[d.user[order]] = d.item[order]  # later rows overwrite earlier ones
        self._last = last
        self.params = {"k": 20}

    def scores(self, users: np.ndarray) -> np.ndarray:
        last = self._last[users]
        out = np.zeros((users.size, self._W.shape[1]))
        has = last >= 0
        out[has] = self._W[last[has]].toarray()
        return out


class _ItemItem(Model):
    """Models that produce an item x item W: scores = history row x W (what serving does)."""

    _W: sp.csr_matrix

    def scores(self, users: np.ndarray) -> np.ndarray:
        assert self._X is not None
        return np.asarray((self._X[users] @ self._W).toarray())


class ItemKNN(_ItemItem):
    name = "itemknn"
    description = "item-to-item cosine, top-200 neighbours (omnicrm)"

    def _fit(self, ctx: FitContext) -> None:
        self.params = {"k": ctx.personal_k, "shrink": 10.0}
        self._W = itemknn_weights(ctx.X, k=ctx.personal_k, shrink=10.0)


class Ease(_ItemItem):
    name = "ease"
    description = "EASE, l2 chosen on a validation slice of the training data (omnicrm default)"

    # False: keep every weight (unpruned); True: the context's personal_k, as served.
    pruned = True

    def __init__(self, candidates: Sequence[float] = DEFAULT_L2_CANDIDATES) -> None:
        super().__init__()
        self.candidates = tuple(candidates)

    def _fit(self, ctx: FitContext) -> None:
        inner, holdout = ctx.validation()
        fit_X = self._matrix(ctx.data, inner.train_mask, inner.cut, inner.train)
        k = ctx.personal_k if self.pruned else ctx.data.n_items
        l2 = ease_select_l2(fit_X, holdout=holdout, candidates=self.candidates, k=k)
        self.params = {"l2": l2, "l2_candidates": list(self.candidates), "k": k}
        self._Xw = self._matrix(ctx.data, ctx.train_mask, ctx.cut, ctx.X)
        self._W = ease_weights(self._Xw, l2=l2, k=k)

    def _matrix(
        self, data: Interactions, mask: np.ndarray, cut: float | None, binary: sp.csr_matrix
    ) -> sp.csr_matrix:
        """The matrix EASE learns from and scores with: binary here."""
        return binary

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self._Xw[users] @ self._W).toarray())


class EaseFull(Ease):
    name = "ease_full"
    description = "EASE with every weight kept (what the top-100 cut costs)"
    pruned = False


class EaseRecency(Ease):
    name = "ease_recency"
    description = "EASE on recency-weighted history: 0.5 ** (age / 180 days), as trained"

    HALF_LIFE_DAYS = 180.0

    def _matrix(
        self, data: Interactions, mask: np.ndarray, cut: float | None, binary: sp.csr_matrix
    ) -> sp.csr_matrix:
        """Each user x item cell = the decay of its most recent interaction before ``cut``."""
        now = cut if cut is not None else float(data.ts[mask].max())
        weight = 0.5 ** (np.maximum(0.0, now - data.ts[mask]) / DAY / self.HALF_LIFE_DAYS)
        m = sp.coo_matrix(
            (weight, (data.user[mask], data.item[mask])), shape=(data.n_users, data.n_items)
        )
        # Keep the largest weight per cell (= the latest interaction): sort so it comes last.
        order = np.lexsort((m.data, m.col, m.row))
        rows, cols, vals = m.row[order], m.col[order], m.data[order]
        last = np.ones(rows.size, dtype=bool)
        last[:-1] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        return sp.csr_matrix(
            (vals[last], (rows[last], cols[last])), shape=(data.n_users, data.n_items)
        )


def implicit_missing() -> str | None:
    """Why the implicit baselines cannot run, or None when they can."""
    try:
        import implicit  # noqa: F401
    except ImportError as exc:
        return f"the implicit package is not installed ({exc}); pip install 'implicit>=0.7'"
    return None


class _Implicit(Model):
    """implicit's factor models; hyper-parameters chosen on the same validation slice as EASE."""

    grid: tuple[dict[str, Any], ...] = ()

    def _make(self, params: dict[str, Any], seed: int) -> Any:
        raise NotImplementedError

    def _fit_model(self, X: sp.csr_matrix, params: dict[str, Any], seed: int) -> Any:
        # implicit asks for single-threaded BLAS (its own threads do the parallel work); it
        # checks at construction, so build the model inside the limit too.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            model = self._make(params, seed)
            model.fit(sp.csr_matrix(X, dtype=np.float32), show_progress=False)
        return model

    @staticmethod
    def _top(model: Any, X: sp.csr_matrix, users: np.ndarray, n: int) -> np.ndarray:
        ids, _ = model.recommend(users, X[users], N=n, filter_already_liked_items=True)
        return np.asarray(ids, dtype=np.int64)

    def _fit(self, ctx: FitContext) -> None:
        inner, holdout = ctx.validation()
        fit_X = inner.train
        users = np.flatnonzero((np.diff(holdout.indptr) > 0) & (np.diff(fit_X.indptr) > 0))
        relevant = (holdout - holdout.multiply(fit_X)).tocsr()
        best, best_params = -1.0, self.grid[0]
        if len(self.grid) > 1 and users.size:
            for params in self.grid:
                model = self._fit_model(fit_X, params, ctx.seed)
                value = ndcg_at_k(self._top(model, fit_X, users, 10), relevant[users], 10)
                if value > best + 1e-12:
                    best, best_params = value, params
        self.params = dict(best_params)
        self._model = self._fit_model(ctx.X, best_params, ctx.seed)

    def scores(self, users: np.ndarray) -> np.ndarray:
        assert self._X is not None
        model = self._model
        uf = np.asarray(model.user_factors)[users]
        out = uf @ np.asarray(model.item_factors).T
        # Users without training rows have meaningless factors: popularity for them.
        out[np.diff(self._X[users].indptr) == 0] = 0.0
        # Shift so every item the model ranks counts as an opinion (factor scores can be < 0).
        has = np.diff(self._X[users].indptr) > 0
        out[has] = out[has] - out[has].min(axis=1, keepdims=True) + 1e-9
        return out


class ALS(_Implicit):
    name = "als"
    description = "implicit AlternatingLeastSquares (baseline), confidence = 1 + alpha x"
    # implicit does not scale the regularisation by the number of interactions, so useful
    # values reach 10-100 on these data sets (first grids peaked at their upper edge).
    grid = tuple(
        {"factors": f, "regularization": r, "alpha": a, "iterations": 15}
        for f in (32, 64, 128)
        for r in (1.0, 10.0, 30.0, 100.0, 300.0)
        for a in (1.0, 5.0, 20.0)
    )

    def _make(self, params: dict[str, Any], seed: int) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(random_state=seed, **params)


class BPR(_Implicit):
    name = "bpr"
    description = "implicit BayesianPersonalizedRanking (baseline)"
    grid = tuple(
        {"factors": f, "learning_rate": lr, "regularization": 0.01, "iterations": it}
        for f in (64, 128)
        for lr in (0.005, 0.01)
        for it in (50, 100)
    )

    def _make(self, params: dict[str, Any], seed: int) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(random_state=seed, **params)


MODELS: dict[str, type[Model]] = {
    m.name: m
    for m in (
        Popularity,
        ItemKNN,
        Ease,
        EaseFull,
        EaseRecency,
        ALS,
        BPR,
        PopularInGroup,
        Trending,
        TopRated,
        ContentLastItem,
    )
}
DEFAULT_MODELS = (
    "popularity",
    "itemknn",
    "ease",
    "ease_full",
    "ease_recency",
    "als",
    "bpr",
)
COLD_START_MODELS = ("popular_in_group", "trending", "top_rated", "content_last_item")
