"""What a training run reads besides the signals, and the sparse matrices it builds.

Every product has one column index: its position in ``Catalog.pk`` (sorted primary keys),
so a matrix column, an ItemNeighbor row and a list entry all name the same product. All
reads are set-based ``values_list`` queries; nothing loops over customers in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from omnicrm.catalog.models import Category, Product
from omnicrm.customers.models import Customer
from omnicrm.recommendations.selectors import country_code, language_code
from omnicrm.recommendations.signals import PurchaseRows, SignalArrays, SignalSources, TouchRows


@dataclass(frozen=True)
class CategoryInfo:
    slug: str
    name: str
    parent: int | None


@dataclass(frozen=True)
class Catalog:
    """Every product: ``pk`` sorted (the column order of every matrix) with its title,
    category pk (0 when none), whether it is on sale, and whether the shop flagged it as a
    repeat-purchase product (``attributes["repeat_purchase"]``)."""

    pk: np.ndarray
    title: list[str]
    category: np.ndarray
    active: np.ndarray
    repeat_flag: np.ndarray
    categories: dict[int, CategoryInfo]

    def __len__(self) -> int:
        return int(self.pk.shape[0])

    def index(self, pks: np.ndarray) -> np.ndarray:
        """Column index of each product pk (-1 for a pk not in the catalog)."""
        if self.pk.shape[0] == 0:
            return np.full(pks.shape[0], -1, np.int64)
        at = np.minimum(np.searchsorted(self.pk, pks), self.pk.shape[0] - 1)
        return np.where(self.pk[at] == pks, at, -1).astype(np.int64)

    def category_path(self, category_pk: int) -> list[int]:
        """The category and its ancestors, nearest first (cycles cut short)."""
        path: list[int] = []
        current: int | None = category_pk or None
        while current is not None and current not in path and current in self.categories:
            path.append(current)
            current = self.categories[current].parent
        return path

    def content_texts(self) -> list[str]:
        """Title plus category path ("Arabica Beans 1kg Arabica Coffee") per product."""
        names: dict[int, str] = {}
        texts = []
        for title, category in zip(self.title, self.category.tolist(), strict=True):
            if category not in names:
                names[category] = " ".join(
                    self.categories[c].name for c in self.category_path(category)
                )
            texts.append(f"{title} {names[category]}".strip())
        return texts


def read_catalog() -> Catalog:
    """Every product and category, in two queries."""
    categories = {
        pk: CategoryInfo(slug=slug, name=name, parent=parent)
        for pk, slug, name, parent in Category.objects.order_by().values_list(
            "pk", "slug", "name", "parent_id"
        )
    }
    rows = list(
        Product.objects.order_by("pk").values_list(
            "pk", "title", "category_id", "is_active", "attributes__repeat_purchase"
        )
    )
    n = len(rows)
    return Catalog(
        pk=np.fromiter((r[0] for r in rows), np.int64, n),
        title=[r[1] for r in rows],
        category=np.fromiter((r[2] or 0 for r in rows), np.int64, n),
        active=np.fromiter((bool(r[3]) for r in rows), bool, n),
        repeat_flag=np.fromiter((r[4] is True for r in rows), bool, n),
        categories=categories,
    )


@dataclass(frozen=True)
class Audience:
    """Country and language codes of customers (sorted pks), for the cold-start lists."""

    pk: np.ndarray
    country: np.ndarray
    language: np.ndarray

    def lookup(self, customers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(country, language) of each customer pk ("" when unknown)."""
        empty = np.full(customers.shape[0], "", dtype=object)
        if self.pk.shape[0] == 0:
            return empty, empty.copy()
        at = np.minimum(np.searchsorted(self.pk, customers), self.pk.shape[0] - 1)
        found = self.pk[at] == customers
        return (
            np.where(found, self.country[at], ""),
            np.where(found, self.language[at], ""),
        )


def read_audience(customers: np.ndarray) -> Audience:
    """Country and language of the given customers (the buyers), streamed in one query."""
    wanted = np.unique(customers)
    if wanted.shape[0] == 0:
        return Audience(np.zeros(0, np.int64), np.zeros(0, object), np.zeros(0, object))
    qs = (
        Customer.objects.exclude(country="", language="")
        .order_by("pk")
        .values_list("pk", "country", "language")
    )
    pks: list[int] = []
    countries: list[str] = []
    languages: list[str] = []
    for pk, country, language in qs.iterator(chunk_size=50_000):
        pks.append(pk)
        countries.append(country_code(country))
        # "vi-VN" and "vi" are one audience.
        languages.append(language_code(language))
    pk_arr = np.asarray(pks, np.int64)
    keep = np.isin(pk_arr, wanted)
    return Audience(
        pk=pk_arr[keep],
        country=np.asarray(countries, dtype=object)[keep],
        language=np.asarray(languages, dtype=object)[keep],
    )


# ---------------------------------------------------------------------------------------
# Matrices


@dataclass(frozen=True)
class UserItems:
    """A customers x products matrix with the customer pk of each row."""

    matrix: sp.csr_matrix
    customers: np.ndarray


def user_item_matrix(
    customer: np.ndarray, items: np.ndarray, values: np.ndarray, n_items: int
) -> UserItems:
    """Sum ``values`` into a customers x items CSR matrix (rows: unique customers, sorted)."""
    keep = items >= 0
    customer, items, values = customer[keep], items[keep], values[keep]
    customers, rows = np.unique(customer, return_inverse=True)
    matrix = sp.csr_matrix(
        (values.astype(np.float64), (rows, items)), shape=(customers.shape[0], n_items)
    )
    matrix.sum_duplicates()
    return UserItems(matrix=matrix, customers=customers)


def positive_signals(arrays: SignalArrays, catalog: Catalog) -> UserItems:
    """What the personal models learn from: positive signal weights only. A disliked
    product is no evidence of what goes with what; serving uses its negative weight."""
    keep = arrays.weight > 0
    return user_item_matrix(
        arrays.customer[keep],
        catalog.index(arrays.product[keep]),
        arrays.weight[keep],
        len(catalog),
    )


def co_interaction_matrix(sources: SignalSources, catalog: Catalog) -> UserItems:
    """What "customers who bought this also bought" learns from: who bought (1), put in the
    cart (0.5) or viewed (0.25) each product, once per customer and product."""
    parts = [
        (sources.purchases.customer, sources.purchases.product, 1.0),
        (sources.carts.customer, sources.carts.product, 0.5),
        (sources.views.customer, sources.views.product, 0.25),
    ]
    customer = np.concatenate([p[0] for p in parts])
    product = np.concatenate([p[1] for p in parts])
    value = np.concatenate([np.full(p[0].shape[0], p[2]) for p in parts])
    if customer.shape[0] == 0:
        return user_item_matrix(customer, product, value, len(catalog))
    # The strongest touch of each pair counts once: sort so it comes first, keep the first.
    base = int(product.max()) + 1
    keys = customer * base + product
    order = np.lexsort((-value, keys))
    keys, value = keys[order], value[order]
    first = np.ones(keys.shape[0], bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, value = keys[first], value[first]
    return user_item_matrix(keys // base, catalog.index(keys % base), value, len(catalog))


def basket_matrix(purchases: PurchaseRows, catalog: Catalog) -> sp.csr_matrix:
    """Orders x products, 1 where the order holds the product: frequently bought together."""
    items = catalog.index(purchases.product)
    keep = items >= 0
    if not keep.any():
        return sp.csr_matrix((0, len(catalog)), dtype=np.float64)
    _, rows = np.unique(purchases.order[keep], return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum())), (rows, items[keep])), shape=(int(rows.max()) + 1, len(catalog))
    )
    # Two lines of one product in one order were summed: the basket holds it once.
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def touches_before(rows: TouchRows, cut: float) -> TouchRows:
    return rows.take(rows.at <= cut)


def sources_before(sources: SignalSources, cut: float) -> SignalSources:
    """The same sources as they were at time ``cut`` (epoch seconds): for holdouts."""
    purchases = sources.purchases.take(sources.purchases.at <= cut)
    return SignalSources(
        purchases=purchases,
        ratings=touches_before(sources.ratings, cut),
        wishes=touches_before(sources.wishes, cut),
        carts=touches_before(sources.carts, cut),
        views=touches_before(sources.views, cut),
        excluded=sources.excluded,
        now=cut,
        counts={},
    )
