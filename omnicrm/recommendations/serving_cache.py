"""The per-process copy of the active training run that serving reads on every request.

Loading a run's neighbour rows and the catalog costs a few hundred milliseconds to a few
seconds; doing it per request would make the "for you" endpoint slow, so each web worker
keeps one :class:`Snapshot` keyed by the run's public id. Which run is active is checked
again at most every ``RECHECK_SECONDS`` (a monotonic timer, one indexed query), so a new
training is picked up by every worker within seconds without a restart.

What is cached is only what does not change between trainings: the run's weight
matrices, its lists, and each product's category (to filter by category without a query).
Titles, prices, stock and whether a product is still sold are read fresh for the few
products a response shows. A product added since is picked up at the next check too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from django.db.models import Max

from omnicrm.catalog.models import Category, Product
from omnicrm.recommendations.models import (
    ItemList,
    ItemNeighbor,
    ListKind,
    NeighborKind,
    RecommenderModel,
)

# How long a worker trusts its idea of the active run before asking the database again.
RECHECK_SECONDS = 5.0
# Categories change rarely; the tree is re-read at most this often.
CATEGORY_SECONDS = 60.0


@dataclass(frozen=True)
class ListEntries:
    """One stored list (kind, scope) as parallel arrays: catalog rows, scores, details."""

    rows: np.ndarray
    scores: np.ndarray
    details: tuple[dict, ...]


@dataclass
class Snapshot:
    """One training run (or none: ``model_pk`` None) as matrices over the whole catalog.

    Row ``r`` of every matrix is the product ``pks[r]``; ``pks`` is sorted so a product pk
    finds its row by binary search. ``personal[i, j]`` is W[i, j] of the core idea: how much
    having item i in one's history adds to the score of item j.
    """

    model_pk: int | None
    model_public_id: str | None
    algorithm: str
    finished_at: datetime | None
    pks: np.ndarray
    categories: np.ndarray  # category pk per row, -1 without a category
    personal: sp.csr_matrix
    repeat: np.ndarray  # bool per row: may be recommended again after a purchase
    newest_product: int = 0
    _matrices: dict[str, sp.csr_matrix] = field(default_factory=dict)
    _lists: dict[tuple[str, str], ListEntries] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _matrix(self, kind: str) -> sp.csr_matrix:
        """A neighbour kind other than the personal weights, read on first use: a worker
        that only serves "for you" lists never holds the content links (the largest)."""
        cached = self._matrices.get(kind)
        if cached is not None:
            return cached
        if self.model_pk is None:
            matrix = _empty_matrix(self.size)
        else:
            matrix = _neighbor_matrix(self.pks, self.model_pk, kind)
        with self._lock:
            self._matrices[kind] = matrix
        return matrix

    @property
    def similar(self) -> sp.csr_matrix:
        """Customers who bought this also bought (co-purchase and co-view item-kNN)."""
        return self._matrix(NeighborKind.SIMILAR)

    @property
    def content(self) -> sp.csr_matrix:
        """Alike by title and category (TF-IDF), for products without purchases."""
        return self._matrix(NeighborKind.CONTENT)

    @property
    def size(self) -> int:
        return len(self.pks)

    def rows_of(self, product_pks: np.ndarray | list[int]) -> np.ndarray:
        """Catalog rows of these product pks; -1 for a product the snapshot does not know."""
        wanted = np.asarray(product_pks, dtype=np.int64)
        if not len(self.pks) or not len(wanted):
            return np.full(len(wanted), -1, dtype=np.int64)
        pos = np.searchsorted(self.pks, wanted)
        pos_clipped = np.minimum(pos, len(self.pks) - 1)
        found = self.pks[pos_clipped] == wanted
        return np.where(found, pos_clipped, -1).astype(np.int64)

    def row_of(self, product_pk: int) -> int:
        return int(self.rows_of([product_pk])[0])

    def list_entries(self, kind: str, scope: str = "") -> ListEntries:
        """A stored list of this run, read once per process and kept."""
        key = (kind, scope)
        cached = self._lists.get(key)
        if cached is not None:
            return cached
        if self.model_pk is None:
            entries = ListEntries(np.empty(0, np.int64), np.empty(0), ())
        else:
            rows = list(
                ItemList.objects.filter(model_id=self.model_pk, kind=kind, scope=scope)
                .order_by("rank")
                .values_list("product_id", "score", "details")
            )
            catalog_rows = self.rows_of([r[0] for r in rows])
            keep = catalog_rows >= 0
            entries = ListEntries(
                rows=catalog_rows[keep],
                scores=np.array([r[1] for r in rows], dtype=np.float64)[keep],
                details=tuple(r[2] or {} for r, k in zip(rows, keep, strict=True) if k),
            )
        with self._lock:
            self._lists[key] = entries
        return entries


def _empty_matrix(n: int) -> sp.csr_matrix:
    return sp.csr_matrix((n, n), dtype=np.float32)


def _neighbor_matrix(snapshot_pks: np.ndarray, model_pk: int, kind: str) -> sp.csr_matrix:
    """The run's neighbour rows of one kind as a catalog x catalog CSR matrix."""
    n = len(snapshot_pks)
    triples = ItemNeighbor.objects.filter(model_id=model_pk, kind=kind).values_list(
        "product_id", "neighbor_id", "score"
    )
    data = np.array(list(triples.iterator(chunk_size=20_000)), dtype=np.float64)
    if not len(data):
        return _empty_matrix(n)
    products = data[:, 0].astype(np.int64)
    neighbors = data[:, 1].astype(np.int64)
    pos_p = np.searchsorted(snapshot_pks, products)
    pos_n = np.searchsorted(snapshot_pks, neighbors)
    # Products deleted since training cannot be served: drop their links.
    ok = (pos_p < n) & (pos_n < n)
    ok &= snapshot_pks[np.minimum(pos_p, n - 1)] == products
    ok &= snapshot_pks[np.minimum(pos_n, n - 1)] == neighbors
    matrix = sp.csr_matrix(
        (data[ok, 2].astype(np.float32), (pos_p[ok], pos_n[ok])), shape=(n, n), dtype=np.float32
    )
    matrix.sum_duplicates()
    return matrix


def snapshot_build(model: RecommenderModel | None) -> Snapshot:
    """Read a run (or, for None, only the catalog) into memory: a few set-based queries."""
    catalog = list(Product.objects.order_by("pk").values_list("pk", "category_id"))
    pks = np.array([p[0] for p in catalog], dtype=np.int64)
    categories = np.array([-1 if p[1] is None else p[1] for p in catalog], dtype=np.int64).reshape(
        -1
    )
    n = len(pks)
    snapshot = Snapshot(
        newest_product=int(pks[-1]) if n else 0,
        model_pk=None,
        model_public_id=None,
        algorithm="",
        finished_at=None,
        pks=pks,
        categories=categories,
        personal=_empty_matrix(n),
        repeat=np.zeros(n, dtype=bool),
    )
    if model is None:
        return snapshot
    snapshot.model_pk = model.pk
    snapshot.model_public_id = model.public_id
    snapshot.algorithm = model.algorithm
    snapshot.finished_at = model.finished_at
    snapshot.personal = _neighbor_matrix(pks, model.pk, NeighborKind.PERSONAL)
    repeat_rows = snapshot.list_entries(ListKind.REPEAT).rows
    snapshot.repeat[repeat_rows] = True
    return snapshot


def _active_model() -> RecommenderModel | None:
    from omnicrm.recommendations.selectors import recommender_active

    return recommender_active()


class _Cache:
    """The process's snapshot and category tree, refreshed on a monotonic timer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self.checked_at = -1e18
        self.categories: dict[int, tuple[str, str, int | None]] = {}
        self.categories_at = -1e18

    def current(self) -> Snapshot:
        now = time.monotonic()
        snapshot = self.snapshot
        if snapshot is not None and now - self.checked_at < RECHECK_SECONDS:
            return snapshot
        with self.lock:
            if self.snapshot is not None and time.monotonic() - self.checked_at < RECHECK_SECONDS:
                return self.snapshot
            model = _active_model()
            public_id = model.public_id if model is not None else None
            newest = Product.objects.aggregate(newest=Max("pk"))["newest"] or 0
            if (
                self.snapshot is None
                or self.snapshot.model_public_id != public_id
                or self.snapshot.newest_product != newest
            ):
                self.snapshot = snapshot_build(model)
            self.checked_at = time.monotonic()
            return self.snapshot

    def category_tree(self) -> dict[int, tuple[str, str, int | None]]:
        """pk -> (slug, name, parent pk) of every category."""
        now = time.monotonic()
        if now - self.categories_at < CATEGORY_SECONDS:
            return self.categories
        tree: dict[int, tuple[str, str, int | None]] = {
            pk: (slug, name, parent)
            for pk, slug, name, parent in Category.objects.values_list(
                "pk", "slug", "name", "parent_id"
            )
        }
        with self.lock:
            self.categories, self.categories_at = tree, time.monotonic()
        return tree

    def clear(self) -> None:
        with self.lock:
            self.snapshot = None
            self.checked_at = -1e18
            self.categories = {}
            self.categories_at = -1e18


_CACHE = _Cache()


def snapshot_current() -> Snapshot:
    """The active run as this process has it (rebuilt when another run became active)."""
    return _CACHE.current()


def category_tree() -> dict[int, tuple[str, str, int | None]]:
    return _CACHE.category_tree()


def category_descendants(category_pk: int) -> frozenset[int]:
    """The category and every category below it."""
    tree = category_tree()
    children: dict[int, list[int]] = {}
    for pk, (_slug, _name, parent) in tree.items():
        if parent is not None:
            children.setdefault(parent, []).append(pk)
    found = {category_pk}
    stack = [category_pk]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return frozenset(found)


def serving_cache_clear() -> None:
    """Forget the cached run and categories (tests; a deployment never needs it)."""
    _CACHE.clear()
