"""Reads of trained recommendation models: the run that serves, its neighbour lists and its
non-personalized lists, and the runs the console shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet

from omnicrm.recommendations.models import (
    ItemList,
    ItemNeighbor,
    RecommenderModel,
    TrainingStatus,
)


def country_code(country: str) -> str:
    """The code a customer's country is listed under: "vn" -> "VN"."""
    return (country or "").strip().upper()


def language_code(language: str) -> str:
    """The code a customer's language is listed under: "vi-VN", "vi_VN" and "VI" -> "vi"."""
    return (language or "").strip().replace("_", "-").split("-")[0].lower()


def country_scope(country: str) -> str:
    """The ItemList scope of the popular list of a customer's country ("" when unknown)."""
    code = country_code(country)
    return f"country:{code}" if code else ""


def language_scope(language: str) -> str:
    """The ItemList scope of the popular list of a customer's language ("" when unknown)."""
    code = language_code(language)
    return f"language:{code}" if code else ""


def recommender_active() -> RecommenderModel | None:
    """The run that serves: the newest one that succeeded (a run still training or one that
    failed never replaces it)."""
    return (
        RecommenderModel.objects.filter(status=TrainingStatus.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )


def recommender_running() -> RecommenderModel | None:
    """The newest run queued or training, if any."""
    return (
        RecommenderModel.objects.filter(status__in=[TrainingStatus.QUEUED, TrainingStatus.RUNNING])
        .order_by("-created_at", "-id")
        .first()
    )


def recommender_runs(*, limit: int = 20) -> QuerySet[RecommenderModel]:
    """The latest runs, newest first, whatever their status."""
    return RecommenderModel.objects.order_by("-created_at", "-id")[:limit]


def recommender_get(*, public_id: str) -> RecommenderModel | None:
    return RecommenderModel.objects.filter(public_id=public_id).first()


def item_neighbors(
    *, model: RecommenderModel, kind: str, product_pk: int, limit: int = 20
) -> list[ItemNeighbor]:
    """A product's precomputed neighbours of one kind, best first, with the neighbour
    product and its category loaded (one indexed query)."""
    return list(
        ItemNeighbor.objects.filter(model=model, kind=kind, product_id=product_pk)
        .select_related("neighbor", "neighbor__category")
        .order_by("rank")[:limit]
    )


def item_list(
    *, model: RecommenderModel, kind: str, scope: str = "", limit: int = 50
) -> list[ItemList]:
    """One non-personalized list of a run (``scope`` "" for the whole shop, or
    "category:<slug>", "country:<ISO>", "language:<code>"), best first, with the product and
    its category loaded."""
    return list(
        ItemList.objects.filter(model=model, kind=kind, scope=scope)
        .select_related("product", "product__category")
        .order_by("rank")[:limit]
    )


def item_list_products(*, model: RecommenderModel, kind: str, scope: str = "") -> list[int]:
    """The product pks of one list, best first, without loading the products (e.g. the
    repeat-purchase products serving may recommend again)."""
    return list(
        ItemList.objects.filter(model=model, kind=kind, scope=scope)
        .order_by("rank")
        .values_list("product_id", flat=True)
    )


def item_list_scopes(*, model: RecommenderModel, kind: str) -> list[str]:
    """The scopes a run computed one list kind for, e.g. every "country:<ISO>"."""
    return sorted(
        ItemList.objects.filter(model=model, kind=kind)
        .order_by()
        .values_list("scope", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class NeighborArrays:
    """Every link of one kind of a run as parallel arrays (product pk, neighbour pk, score),
    sorted by product then rank: what serving turns into a sparse matrix."""

    product: np.ndarray
    neighbor: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return int(self.product.shape[0])


def item_neighbor_arrays(*, model: RecommenderModel, kind: str) -> NeighborArrays:
    """All links of one kind of a run in one streamed query."""
    rows = (
        ItemNeighbor.objects.filter(model=model, kind=kind)
        .order_by("product_id", "rank")
        .values_list("product_id", "neighbor_id", "score")
        .iterator(chunk_size=50_000)
    )
    product: list[int] = []
    neighbor: list[int] = []
    score: list[float] = []
    for p, n, s in rows:
        product.append(p)
        neighbor.append(n)
        score.append(s)
    return NeighborArrays(
        product=np.asarray(product, np.int64),
        neighbor=np.asarray(neighbor, np.int64),
        score=np.asarray(score, np.float32),
    )
