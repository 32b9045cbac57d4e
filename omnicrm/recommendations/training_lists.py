"""The non-personalized lists of a training run: trending, best sellers (overall and per
category), top rated, most wished for, popular (overall, per country, per language) and the
repeat-purchase products. Pure numpy over the arrays the run already read; how each list is
computed is documented in docs/recommendations.md."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omnicrm.recommendations.algorithms.popularity import bayesian_average, trending_scores
from omnicrm.recommendations.models import ListKind
from omnicrm.recommendations.signals import (
    SECONDS_PER_DAY,
    SignalSources,
    decay,
    distinct_rows,
)
from omnicrm.recommendations.training_data import Audience, Catalog

LIST_SIZE = 50
TRENDING_RECENT_DAYS = 7.0
TRENDING_EARLIER_DAYS = 28.0
# A product needs this many sales in the last week to be called trending at all.
TRENDING_MIN_RECENT = 2
BEST_SELLER_DAYS = 90.0
TOP_RATED_MIN_AVERAGE = 4.0
TOP_RATED_MIN_REVIEWS = 3
# Imaginary reviews at the shop's mean rating every product starts with.
TOP_RATED_PRIOR_COUNT = 5.0
REPEAT_MIN_SHARE = 0.25
REPEAT_MIN_BUYERS = 3


@dataclass(frozen=True)
class ListEntry:
    kind: str
    scope: str
    item: int  # column index in the catalog
    rank: int
    score: float
    details: dict[str, Any] = field(default_factory=dict)


def _top(scores: np.ndarray, eligible: np.ndarray, n: int = LIST_SIZE) -> np.ndarray:
    """Indices of the ``n`` best eligible scores, best first, ties to the lower index."""
    candidates = np.flatnonzero(eligible)
    if candidates.shape[0] == 0:
        return candidates
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:n]


def _entries(
    kind: str,
    scope: str,
    items: np.ndarray,
    scores: np.ndarray,
    details: dict[str, np.ndarray],
) -> list[ListEntry]:
    return [
        ListEntry(
            kind=kind,
            scope=scope,
            item=int(item),
            rank=rank,
            score=float(scores[item]),
            details={
                name: (v.item() if isinstance(v := values[item], np.generic) else v)
                for name, values in details.items()
            },
        )
        for rank, item in enumerate(items, start=1)
    ]


@dataclass(frozen=True)
class RatingTotals:
    """Sum and count of every review of each product (column order of the catalog)."""

    total: np.ndarray
    count: np.ndarray


def compute_lists(
    *,
    sources: SignalSources,
    catalog: Catalog,
    audience: Audience,
    ratings: RatingTotals,
) -> list[ListEntry]:
    """Every list of the run; inactive products are never listed."""
    n = len(catalog)
    now = sources.now
    p = sources.purchases
    items = catalog.index(p.product)
    known = items >= 0
    items, at, quantity = items[known], p.at[known], p.quantity[known]
    buyers, orders = p.customer[known], p.order[known]
    active = catalog.active
    entries: list[ListEntry] = []

    # Trending: sales of the last 7 days against the 28 days before (velocity z-score).
    day = SECONDS_PER_DAY
    recent_mask = at > now - TRENDING_RECENT_DAYS * day
    earlier_mask = ~recent_mask & (at > now - (TRENDING_RECENT_DAYS + TRENDING_EARLIER_DAYS) * day)
    recent = np.bincount(items[recent_mask], weights=quantity[recent_mask], minlength=n)
    earlier = np.bincount(items[earlier_mask], weights=quantity[earlier_mask], minlength=n)
    trending = trending_scores(
        recent, earlier, recent_days=TRENDING_RECENT_DAYS, earlier_days=TRENDING_EARLIER_DAYS
    )
    chosen = _top(trending, active & (trending > 0) & (recent >= TRENDING_MIN_RECENT))
    entries += _entries(
        ListKind.TRENDING, "", chosen, trending, {"recent": recent, "earlier": earlier}
    )

    # Best sellers: units sold in the last 90 days (all time when the window is empty),
    # for the whole shop and for every category including its subcategories.
    window = at > now - BEST_SELLER_DAYS * day
    if not window.any():
        window = np.ones(at.shape[0], bool)
    units = np.bincount(items[window], weights=quantity[window], minlength=n)
    sold = active & (units > 0)
    details = {"units": units}
    entries += _entries(ListKind.BEST_SELLERS, "", _top(units, sold), units, details)
    by_category: dict[int, list[int]] = defaultdict(list)
    for item in np.flatnonzero(sold):
        for category in catalog.category_path(int(catalog.category[item])):
            by_category[category].append(int(item))
    for category, members in sorted(by_category.items()):
        eligible = np.zeros(n, bool)
        eligible[members] = True
        scope = f"category:{catalog.categories[category].slug}"
        entries += _entries(ListKind.BEST_SELLERS, scope, _top(units, eligible), units, details)

    # Top rated: Bayesian average toward the shop's mean rating; 4 stars and up, 3 reviews.
    if ratings.count.sum() > 0:
        prior = float(ratings.total.sum() / ratings.count.sum())
        bayes = bayesian_average(
            ratings.total, ratings.count, prior_mean=prior, prior_count=TOP_RATED_PRIOR_COUNT
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            average = np.where(ratings.count > 0, ratings.total / ratings.count, 0.0)
        good = active & (ratings.count >= TOP_RATED_MIN_REVIEWS) & (bayes >= TOP_RATED_MIN_AVERAGE)
        entries += _entries(
            ListKind.TOP_RATED,
            "",
            _top(bayes, good),
            bayes,
            {"average": np.round(average, 3), "count": ratings.count},
        )

    # Most wished for: wishlist entries.
    wished_items = catalog.index(sources.wishes.product)
    wished = np.bincount(wished_items[wished_items >= 0], minlength=n).astype(np.float64)
    entries += _entries(
        ListKind.MOST_WISHED, "", _top(wished, active & (wished > 0)), wished, {"wishes": wished}
    )

    # Popular: distinct buyers, each counted by the recency of their latest purchase; for
    # the whole shop, per buyer country and per buyer language (cold start).
    entries += _popular(items, buyers, at, now, catalog, audience)

    # Repeat-purchase products: a quarter of their buyers bought them in two orders or more
    # (and at least three people did), or the shop flagged them.
    entries += _repeat(items, buyers, orders, catalog)
    return entries


def _popular(
    items: np.ndarray,
    buyers: np.ndarray,
    at: np.ndarray,
    now: float,
    catalog: Catalog,
    audience: Audience,
) -> list[ListEntry]:
    n = len(catalog)
    if items.shape[0] == 0:
        return []
    keys = buyers * n + items
    order = np.lexsort((at, keys))
    keys, at = keys[order], at[order]
    last = np.ones(keys.shape[0], bool)
    last[:-1] = keys[1:] != keys[:-1]
    pair_customer, pair_item, pair_at = keys[last] // n, keys[last] % n, at[last]
    weight = decay(now - pair_at)
    eligible = catalog.active
    entries: list[ListEntry] = []

    def add(scope: str, mask: np.ndarray) -> None:
        score = np.bincount(pair_item[mask], weights=weight[mask], minlength=n)
        count = np.bincount(pair_item[mask], minlength=n)
        chosen = _top(score, eligible & (score > 0))
        entries.extend(_entries(ListKind.POPULAR, scope, chosen, score, {"buyers": count}))

    add("", np.ones(pair_item.shape[0], bool))
    country, language = audience.lookup(pair_customer)
    for prefix, codes in (("country", country), ("language", language)):
        for code in sorted({c for c in codes.tolist() if c}):
            add(f"{prefix}:{code}", codes == code)
    return entries


def _repeat(
    items: np.ndarray, buyers: np.ndarray, orders: np.ndarray, catalog: Catalog
) -> list[ListEntry]:
    n = len(catalog)
    if items.shape[0]:
        # Orders per (customer, product): distinct (customer, product, order) triples.
        pair_keys = buyers * n + items
        distinct = distinct_rows(pair_keys, orders)
        pairs, per_pair = np.unique(pair_keys[distinct], return_counts=True)
        pair_item = pairs % n
        buyer_count = np.bincount(pair_item, minlength=n)
        repeaters = np.bincount(pair_item[per_pair >= 2], minlength=n)
    else:
        buyer_count = repeaters = np.zeros(n, np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(buyer_count > 0, repeaters / np.maximum(buyer_count, 1), 0.0)
    measured = (share >= REPEAT_MIN_SHARE) & (repeaters >= REPEAT_MIN_BUYERS)
    qualifies = catalog.active & (measured | catalog.repeat_flag)
    score = share + catalog.repeat_flag  # flagged products first
    chosen = _top(score, qualifies, n=n)
    return _entries(
        ListKind.REPEAT,
        "",
        chosen,
        score,
        {
            "buyers": buyer_count,
            "repeat_buyers": repeaters,
            "share": np.round(share, 4),
            "flagged": catalog.repeat_flag,
        },
    )
