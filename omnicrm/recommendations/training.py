"""Training runs: read every signal, fit the models, store what serving reads.

``recommender_train`` reads orders, ratings, wishlists, events and feedback with a few
set-based queries (omnicrm.recommendations.signals), builds sparse matrices, runs the
algorithms (omnicrm.recommendations.algorithms) and writes one RecommenderModel with:

- ItemNeighbor "personal": the weights W of the selected model (EASE by default, item-kNN
  as the alternative; 200 weights per product, for EASE on average over the whole matrix):
  for-you score of j = sum_i x_ui W[i, j];
- ItemNeighbor "similar": item-to-item cosine on co-purchase and co-view, top 30;
- ItemNeighbor "together": same-order association rules with support, confidence, lift;
- ItemNeighbor "content": TF-IDF cosine over title and category path, top 20;
- ItemList: trending, best sellers, top rated, most wished, popular, repeat
  (omnicrm.recommendations.training_lists);
- ``evaluation``: figures on a time-based holdout of this shop (training_eval).

The rows and the "succeeded" status are written in one transaction, so serving (which reads
the newest succeeded run) never sees half a run; a failed run records its error and the
previous run keeps serving. The last KEEP_SUCCEEDED succeeded runs are kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from omnicrm.core.errors import ValidationFailed
from omnicrm.core.services import Actor, audit_log_write
from omnicrm.importers.bulk import BulkTable
from omnicrm.recommendations.algorithms.content import content_weights
from omnicrm.recommendations.algorithms.ease import ease_weights
from omnicrm.recommendations.algorithms.itemknn import itemknn_weights
from omnicrm.recommendations.algorithms.together import together_rules
from omnicrm.recommendations.models import (
    Algorithm,
    ItemList,
    ItemNeighbor,
    NeighborKind,
    RecommenderModel,
    TrainingStatus,
)
from omnicrm.recommendations.signals import signal_params, signal_sources, signals_combine
from omnicrm.recommendations.training_data import (
    Catalog,
    basket_matrix,
    co_interaction_matrix,
    positive_signals,
    read_audience,
    read_catalog,
)
from omnicrm.recommendations.training_eval import holdout_evaluate, select_l2
from omnicrm.recommendations.training_lists import ListEntry, RatingTotals, compute_lists
from omnicrm.reviews.models import Review

logger = logging.getLogger(__name__)

PERSONAL_K = 200
SIMILAR_K = 30
TOGETHER_K = 20
TOGETHER_MIN_SUPPORT = 2
CONTENT_K = 20
ITEMKNN_SHRINK = 10.0
EASE_L2_DEFAULT = 200.0
EASE_L2_CANDIDATES = (30.0, 100.0, 300.0, 1000.0, 3000.0)
# EASE inverts a dense items x items matrix: time grows with the cube of the items and
# memory with their square, so only the most bought products take part (see ADR 0009).
EASE_MAX_ITEMS = 3000
EASE_SELECT_MAX_ITEMS = 2000
KEEP_SUCCEEDED = 3
KEEP_FAILED = 10
# A run a dead worker left "running" no longer blocks a new one after this long.
RUN_STALE_AFTER = timedelta(hours=3)

Progress = Callable[[int, str], None]


def _algorithm(value: str | None) -> str:
    chosen = (value or settings.OMNICRM_RECOMMENDER or Algorithm.EASE).strip().lower()
    if chosen not in Algorithm.values:
        raise ValidationFailed(
            _("Unknown algorithm %(value)r: choose one of %(choices)s.")
            % {"value": chosen, "choices": ", ".join(Algorithm.values)},
            field="algorithm",
        )
    return chosen


def _run_update(run_id: int, **fields: Any) -> None:
    RecommenderModel.objects.filter(pk=run_id).update(updated_at=timezone.now(), **fields)


def recommender_queue(
    *, actor: Actor = None, trigger: str = "console", algorithm: str | None = None
) -> RecommenderModel:
    """Queue a training run (the console's button). One at a time: while a run is queued or
    training, asking again returns that run instead of queuing another."""
    from omnicrm.recommendations.tasks import recommender_train_task

    chosen = _algorithm(algorithm)
    with transaction.atomic():
        active = (
            RecommenderModel.objects.select_for_update()
            .filter(
                status__in=[TrainingStatus.QUEUED, TrainingStatus.RUNNING],
                created_at__gte=timezone.now() - RUN_STALE_AFTER,
            )
            .first()
        )
        if active is not None:
            return active
        run = RecommenderModel.objects.create(
            algorithm=chosen,
            status=TrainingStatus.QUEUED,
            trigger=trigger,
            started_at=timezone.now(),
            message=_("Waiting for a worker"),
        )
        audit_log_write(
            action="recommendations.train_queued",
            object_type="recommender_model",
            object_id=run.public_id,
            actor=actor,
            data={"algorithm": chosen},
        )
        transaction.on_commit(lambda: recommender_train_task.enqueue(run_id=run.pk))
    return run


def recommender_train(
    *,
    algorithm: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    run_id: int | None = None,
    trigger: str = "cli",
) -> RecommenderModel:
    """Train every model from the data up to ``now`` (default: now) and store them as one
    run; returns the run, succeeded. ``algorithm`` picks the personal model ("ease" or
    "itemknn"; default: settings.OMNICRM_RECOMMENDER). ``progress(percent, message)`` is
    called as work advances and the run row shows the same to the console. On failure the
    run is marked failed with the error, the previous run keeps serving, and the error is
    raised again."""
    chosen = _algorithm(algorithm)
    moment = now or timezone.now()
    fields: dict[str, Any] = {
        "algorithm": chosen,
        "status": TrainingStatus.RUNNING,
        "started_at": timezone.now(),
        "progress": 0,
        "message": _("Starting"),
        "error": "",
    }
    if run_id is None:
        run_id = RecommenderModel.objects.create(trigger=trigger, **fields).pk
    else:
        _run_update(run_id, **fields)
    last = [-1, ""]

    def step(percent: int, message: str) -> None:
        percent = max(0, min(100, percent))
        if progress is not None:
            progress(percent, message)
        if [percent, message] != last:
            last[:] = [percent, message]
            _run_update(run_id, progress=percent, message=message)

    try:
        _train(run_id, chosen, moment, step)
    except Exception as exc:
        logger.exception("recommendation training %s failed", run_id)
        _run_update(
            run_id,
            status=TrainingStatus.FAILED,
            finished_at=timezone.now(),
            message="",
            error=(f"{exc.__class__.__name__}: {exc}")[:2000],
        )
        raise
    return RecommenderModel.objects.get(pk=run_id)


def _rating_totals(catalog: Catalog) -> RatingTotals:
    """Sum and count of every review of each product, one grouped query."""
    total = np.zeros(len(catalog))
    count = np.zeros(len(catalog), np.int64)
    rows = (
        Review.objects.filter(product__isnull=False)
        .order_by()
        .values("product_id")
        .annotate(total=Sum("rating"), n=Count("id"))
        .values_list("product_id", "total", "n")
    )
    for product, rating_sum, n in rows:
        at = catalog.index(np.asarray([product], np.int64))[0]
        if at >= 0:
            total[at], count[at] = float(rating_sum), int(n)
    return RatingTotals(total=total, count=count)


def _train(run_id: int, algorithm: str, now: datetime, step: Progress) -> None:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    mark = [started]

    def timed(name: str) -> None:
        moment = time.perf_counter()
        seconds[name] = round(moment - mark[0], 3)
        mark[0] = moment

    step(1, _("Reading orders, ratings, wishlists and events"))
    sources = signal_sources(now=now)
    timed("read_signals")
    step(15, _("Reading the catalog"))
    catalog = read_catalog()
    audience = read_audience(sources.purchases.customer)
    ratings = _rating_totals(catalog)
    timed("read_catalog")

    step(20, _("Weighting the signals"))
    arrays = signals_combine(sources)
    personal_input = positive_signals(arrays, catalog)
    timed("signals")

    params: dict[str, Any] = {
        "algorithm": algorithm,
        "personal_k": PERSONAL_K,
        "similar_k": SIMILAR_K,
        "together_k": TOGETHER_K,
        "together_min_support": TOGETHER_MIN_SUPPORT,
        "content_k": CONTENT_K,
        "itemknn_shrink": ITEMKNN_SHRINK,
        "signals": signal_params(),
    }
    if algorithm == Algorithm.EASE:
        step(25, _("Choosing EASE's regularisation"))
        l2, note = select_l2(
            sources,
            catalog,
            candidates=EASE_L2_CANDIDATES,
            default=EASE_L2_DEFAULT,
            max_items=EASE_SELECT_MAX_ITEMS,
            k=PERSONAL_K,
        )
        params.update(l2=l2, l2_note=note, l2_candidates=list(EASE_L2_CANDIDATES))
        params["max_items"] = EASE_MAX_ITEMS

        def fit(X: sp.csr_matrix) -> sp.csr_matrix:
            return ease_weights(X, l2=l2, k=PERSONAL_K, max_items=EASE_MAX_ITEMS)

        timed("select_l2")
    else:

        def fit(X: sp.csr_matrix) -> sp.csr_matrix:
            return itemknn_weights(X, k=PERSONAL_K, shrink=ITEMKNN_SHRINK)

    step(40, _("Checking the model on a holdout of this shop's data"))
    evaluation = holdout_evaluate(sources, catalog, fit=fit)
    timed("evaluate")

    step(55, _("Computing the personal model"))
    personal = fit(personal_input.matrix)
    timed("personal")
    step(65, _("Computing similar products"))
    similar = itemknn_weights(
        co_interaction_matrix(sources, catalog).matrix, k=SIMILAR_K, shrink=ITEMKNN_SHRINK
    )
    timed("similar")
    step(70, _("Computing products bought together"))
    rules = together_rules(
        basket_matrix(sources.purchases, catalog), min_support=TOGETHER_MIN_SUPPORT, k=TOGETHER_K
    )
    timed("together")
    step(75, _("Comparing titles and categories"))
    content = content_weights(catalog.content_texts(), k=CONTENT_K) if len(catalog) else None
    timed("content")
    step(80, _("Computing the lists"))
    entries = compute_lists(sources=sources, catalog=catalog, audience=audience, ratings=ratings)
    timed("lists")

    step(85, _("Saving"))
    neighbor_rows = []
    neighbor_rows += _neighbor_rows(run_id, NeighborKind.PERSONAL, personal, catalog)
    neighbor_rows += _neighbor_rows(run_id, NeighborKind.SIMILAR, similar, catalog)
    neighbor_rows += _together_rows(run_id, rules, catalog)
    if content is not None:
        neighbor_rows += _neighbor_rows(run_id, NeighborKind.CONTENT, content, catalog)
    list_rows = _list_rows(run_id, entries, catalog)
    counts: dict[str, int] = {}
    for row in neighbor_rows:
        counts[row[1]] = counts.get(row[1], 0) + 1
    list_counts: dict[str, int] = {}
    for entry in entries:
        list_counts[entry.kind] = list_counts.get(entry.kind, 0) + 1

    times = sources.purchases.at
    data = {
        "as_of": now.isoformat(),
        "customers": int(personal_input.customers.shape[0]),
        "products": len(catalog),
        "active_products": int(catalog.active.sum()),
        "products_with_signals": int(np.unique(arrays.product).shape[0]),
        "orders": int(np.unique(sources.purchases.order).shape[0]),
        "signals": len(arrays),
        "negative_signals": int((arrays.weight < 0).sum()),
        "read": sources.counts,
        "first_purchase": _iso(float(times.min())) if times.shape[0] else None,
        "last_purchase": _iso(float(times.max())) if times.shape[0] else None,
        "personal_products": int((np.diff(personal.indptr) > 0).sum()),
        "neighbors": counts,
        "lists": list_counts,
    }
    with transaction.atomic():
        BulkTable(
            ItemNeighbor,
            [
                "model_id", "kind", "product_id", "neighbor_id", "rank", "score",
                "support", "confidence", "lift",
            ],
        ).insert(neighbor_rows)  # fmt: skip
        BulkTable(
            ItemList, ["model_id", "kind", "scope", "product_id", "rank", "score", "details"]
        ).insert(list_rows)
        timed("write")
        seconds["total"] = round(time.perf_counter() - started, 3)
        data["seconds"] = seconds
        _run_update(
            run_id,
            status=TrainingStatus.SUCCEEDED,
            finished_at=timezone.now(),
            progress=100,
            message="",
            params=params,
            data=data,
            evaluation=evaluation,
        )
        run = RecommenderModel.objects.get(pk=run_id)
        audit_log_write(
            action="recommendations.trained",
            object_type="recommender_model",
            object_id=run.public_id,
            data={"algorithm": algorithm, "customers": data["customers"], "seconds": seconds},
        )
        _prune()
    step(100, _("Done"))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(round(epoch), tz=UTC).isoformat()


def _ranked(matrix: sp.csr_matrix, catalog: Catalog) -> tuple[np.ndarray, ...]:
    """(row item, neighbour item, score, rank) of every stored link whose neighbour is on
    sale, best first within each row, ranks from 1."""
    coo = sp.coo_matrix(matrix)
    rows, cols, vals = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    keep = (vals != 0) & (rows != cols) & catalog.active[cols] & np.isfinite(vals)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    rank = np.arange(rows.shape[0]) - np.searchsorted(rows, rows, side="left") + 1
    return rows, cols, vals, rank


def _neighbor_rows(
    run_id: int, kind: str, matrix: sp.csr_matrix, catalog: Catalog
) -> list[tuple[Any, ...]]:
    rows, cols, vals, rank = _ranked(matrix, catalog)
    products, neighbors = catalog.pk[rows].tolist(), catalog.pk[cols].tolist()
    return [
        (run_id, kind, p, n, r, float(v), None, None, None)
        for p, n, r, v in zip(products, neighbors, rank.tolist(), vals.tolist(), strict=True)
    ]


def _together_rows(run_id: int, rules: Any, catalog: Catalog) -> list[tuple[Any, ...]]:
    keep = catalog.active[rules.neighbor] if len(rules) else np.zeros(0, bool)
    product, neighbor = rules.product[keep], rules.neighbor[keep]
    support, confidence, lift = rules.support[keep], rules.confidence[keep], rules.lift[keep]
    # Rules come best first per product; ranks restart at each product.
    rank = np.arange(product.shape[0]) - np.searchsorted(product, product, side="left") + 1
    return [
        (run_id, NeighborKind.TOGETHER, p, n, r, float(lf * c), int(s), float(c), float(lf))
        for p, n, r, s, c, lf in zip(
            catalog.pk[product].tolist(),
            catalog.pk[neighbor].tolist(),
            rank.tolist(),
            support.tolist(),
            confidence.tolist(),
            lift.tolist(),
            strict=True,
        )
    ]


def _list_rows(run_id: int, entries: list[ListEntry], catalog: Catalog) -> list[tuple[Any, ...]]:
    return [
        (run_id, e.kind, e.scope, int(catalog.pk[e.item]), e.rank, e.score, e.details)
        for e in entries
    ]


def _prune() -> None:
    """Keep the newest KEEP_SUCCEEDED succeeded runs (serving needs only the newest; the
    others are there to compare) and the newest KEEP_FAILED failed ones."""
    for status, keep in (
        (TrainingStatus.SUCCEEDED, KEEP_SUCCEEDED),
        (TrainingStatus.FAILED, KEEP_FAILED),
    ):
        old = list(
            RecommenderModel.objects.filter(status=status)
            .order_by("-finished_at", "-id")
            .values_list("pk", flat=True)[keep:]
        )
        if old:
            # The neighbour and list rows go first, in one statement each per kind of row.
            ItemNeighbor.objects.filter(model_id__in=old).delete()
            ItemList.objects.filter(model_id__in=old).delete()
            RecommenderModel.objects.filter(pk__in=old).delete()
