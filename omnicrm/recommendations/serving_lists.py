"""Serving of the lists that are not about one customer: similar to a product, frequently
bought together with it, trending, best sellers, top rated, most wished for.

They come from the active training run (precomputed neighbours and lists, cached per
process); before the first run every list answers with the products most bought so far,
computed live from orders, so a new shop never gets an error or an empty page.
"""

from __future__ import annotations

from omnicrm.recommendations.models import ItemNeighbor, ListKind, NeighborKind
from omnicrm.recommendations.serving import (
    Candidate,
    Filters,
    RecommendationList,
    assemble,
    category_allowed,
    list_candidates,
)
from omnicrm.recommendations.serving_cache import snapshot_current

# The list kinds the API serves, with the reason kind their items carry.
LISTS = {
    "trending": (ListKind.TRENDING.value, "trending"),
    "best_sellers": (ListKind.BEST_SELLERS.value, "best_seller"),
    "top_rated": (ListKind.TOP_RATED.value, "top_rated"),
    "most_wished": (ListKind.MOST_WISHED.value, "most_wished"),
}
SPARE = 10


def recommend_list(*, name: str, filters: Filters, category_slug: str = "") -> RecommendationList:
    """One non-personalized list (a key of LISTS). Best sellers of a category use the run's
    own list for that category; other lists are filtered to the category."""
    kind, reason = LISTS[name]
    snapshot = snapshot_current()
    allowed = category_allowed(snapshot, filters.category_pk)
    want = filters.limit + SPARE
    scope = ""
    if kind == ListKind.BEST_SELLERS and category_slug:
        scoped = f"category:{category_slug}"
        if snapshot.list_entries(kind, scoped).rows.size:
            scope = scoped
    candidates = list_candidates(
        snapshot,
        [(kind, scope, reason)],
        want=want + (0 if allowed is None else 10 * want),
        skip=set(),
        allowed=allowed,
    )
    return RecommendationList(
        model=snapshot.model_public_id,
        trained_at=snapshot.finished_at,
        items=assemble(snapshot, candidates, filters=filters),
    )


def recommend_similar(
    *, product_pk: int, product_title: str, filters: Filters
) -> RecommendationList:
    """ "Customers who bought this also bought": the product's item-to-item neighbours; for a
    product too new to have any, the products most like it by title and category."""
    snapshot = snapshot_current()
    allowed = category_allowed(snapshot, filters.category_pk)
    row = snapshot.row_of(product_pk)
    candidates: list[Candidate] = []
    if row >= 0:
        for matrix, reason in ((snapshot.similar, "similar"), (snapshot.content, "content")):
            start, end = matrix.indptr[row], matrix.indptr[row + 1]
            if start == end:
                continue
            cols = matrix.indices[start:end]
            scores = matrix.data[start:end]
            for index in sorted(range(cols.size), key=lambda i: (-scores[i], cols[i])):
                col = int(cols[index])
                if allowed is not None and not allowed[col]:
                    continue
                candidates.append(
                    Candidate(
                        pk=int(snapshot.pks[col]),
                        score=float(scores[index]),
                        reason=reason,
                        title=product_title,
                    )
                )
            break
    return RecommendationList(
        model=snapshot.model_public_id,
        trained_at=snapshot.finished_at,
        items=assemble(snapshot, candidates, filters=filters),
    )


def recommend_together(
    *, product_pk: int, product_title: str, filters: Filters
) -> RecommendationList:
    """Frequently bought together: same-order association rules of the product, best first,
    each with its support (orders with both), confidence and lift."""
    snapshot = snapshot_current()
    candidates: list[Candidate] = []
    if snapshot.model_pk is not None:
        rows = (
            ItemNeighbor.objects.filter(
                model_id=snapshot.model_pk, kind=NeighborKind.TOGETHER, product_id=product_pk
            )
            .order_by("rank")
            .values_list("neighbor_id", "score", "support", "confidence", "lift")
        )
        candidates = [
            Candidate(
                pk=pk,
                score=score,
                reason="together",
                support=support,
                confidence=confidence,
                lift=lift,
                title=product_title,
            )
            for pk, score, support, confidence, lift in rows
        ]
    return RecommendationList(
        model=snapshot.model_public_id,
        trained_at=snapshot.finished_at,
        items=assemble(snapshot, candidates, filters=filters),
    )
