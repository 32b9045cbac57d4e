"""Trained recommendation models, what they precomputed, and customers' feedback on them.

Everything here except RecommendationFeedback is derived data: a training run reads orders,
ratings, wishlists and events (the source of truth) and writes one RecommenderModel with its
neighbour lists and non-personalized lists. Serving reads the newest succeeded run, so a new
training never leaves the shop without recommendations halfway through.
"""

from __future__ import annotations

from django.db import models

from omnicrm.core.ids import new_public_id
from omnicrm.core.models import TimeStampedModel


def new_recommender_model_id() -> str:
    return new_public_id("rmd")


class Algorithm(models.TextChoices):
    EASE = "ease", "EASE (linear item-item autoencoder)"
    ITEMKNN = "itemknn", "Item-to-item collaborative filtering"


class TrainingStatus(models.TextChoices):
    # Queued from the console or the scheduler, waiting for a worker.
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RecommenderModel(TimeStampedModel):
    """One training run: which algorithm, on what data, with which figures.

    ``params`` holds the hyperparameters actually used (k, l2, signal weights, half-life),
    ``data`` what the run saw (customers, products, interactions per signal, date range) and
    ``evaluation`` the offline figures measured on a time-based holdout of this shop's data.
    """

    public_id = models.CharField(
        max_length=40, unique=True, default=new_recommender_model_id, editable=False
    )
    algorithm = models.CharField(max_length=20, choices=Algorithm.choices)
    status = models.CharField(
        max_length=12, choices=TrainingStatus.choices, default=TrainingStatus.RUNNING
    )
    params = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)
    evaluation = models.JSONField(default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    # What the run is doing now ("Computing EASE weights"), shown beside the progress bar.
    message = models.CharField(max_length=200, blank=True)
    # Who asked for it: "console", "schedule" or "cli".
    trigger = models.CharField(max_length=20, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("train_recommendermodel", "Can train the recommendation model")]
        indexes = [models.Index(fields=["status", "-finished_at"], name="rec_model_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="rec_model_progress_lte_100"
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.algorithm} {self.status}"


class NeighborKind(models.TextChoices):
    # The weights of the selected personal model: for-you score = history row x weights.
    PERSONAL = "personal", "For you (model weights)"
    SIMILAR = "similar", "Customers who bought this also bought"
    TOGETHER = "together", "Frequently bought together"
    CONTENT = "content", "Similar by title and category"


class ItemNeighbor(models.Model):
    """One precomputed product-to-product link of a training run, top-K per product.

    ``support``, ``confidence`` and ``lift`` are filled for frequently-bought-together links
    (orders containing both, P(neighbor | product), confidence / P(neighbor)). Rows belong to
    their run and go with it; they carry no timestamps of their own.
    """

    # No index of its own: the unique constraint and the lookup index both start with it.
    model = models.ForeignKey(
        RecommenderModel, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=10, choices=NeighborKind.choices)
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    neighbor = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    support = models.PositiveIntegerField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    lift = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["model", "kind", "product", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "kind", "product", "neighbor"], name="rec_neighbor_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(product=models.F("neighbor")), name="rec_neighbor_not_self"
            ),
        ]
        indexes = [
            models.Index(fields=["model", "kind", "product", "rank"], name="rec_neighbor_lookup")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.product_id} -> {self.neighbor_id} ({self.score:.3f})"


class ListKind(models.TextChoices):
    TRENDING = "trending", "Trending"
    BEST_SELLERS = "best_sellers", "Best sellers"
    TOP_RATED = "top_rated", "Top rated"
    MOST_WISHED = "most_wished", "Most wished for"
    POPULAR = "popular", "Popular"
    # Products the same customers buy again and again (coffee): "for you" may show them again.
    REPEAT = "repeat", "Bought again and again"


class ItemList(models.Model):
    """One entry of a non-personalized list of a training run.

    ``scope`` narrows the list: "" is the whole shop, "category:<slug>", "country:<ISO>" or
    "language:<code>" are the cold-start lists. ``details`` keeps the figures behind the score
    (units sold, rating average and count, velocity) so the reason can be shown.
    """

    # No index of its own: the unique constraint and the lookup index both start with it.
    model = models.ForeignKey(
        RecommenderModel, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=14, choices=ListKind.choices)
    scope = models.CharField(max_length=140, blank=True)
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    score = models.FloatField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["model", "kind", "scope", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "kind", "scope", "product"], name="rec_list_unique"
            )
        ]
        indexes = [models.Index(fields=["model", "kind", "scope", "rank"], name="rec_list_lookup")]

    def __str__(self) -> str:
        return f"{self.kind} {self.scope or 'all'} #{self.rank} {self.product_id}"


class FeedbackKind(models.TextChoices):
    NOT_INTERESTED = "not_interested", "Not interested"
    # "Don't use for recommendations": a gift, say. The purchase stays; it stops being a signal.
    EXCLUDE_PURCHASE = "exclude_purchase", "Don't use for recommendations"


class RecommendationFeedback(TimeStampedModel):
    """What a customer told us about one product, applied at once by serving."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="recommendation_feedback"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=FeedbackKind.choices)

    class Meta:
        ordering = ["customer", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "product", "kind"], name="rec_feedback_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.product_id}"
