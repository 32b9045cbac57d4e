"""Ratings and reviews of products by customers."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from omnicrm.catalog.models import Product
from omnicrm.core.ids import new_review_id
from omnicrm.core.models import TimeStampedModel
from omnicrm.customers.models import Customer
from omnicrm.orders.models import Order


class Review(TimeStampedModel):
    """A 1-5 star rating with optional text. `verified_purchase`: the customer bought it."""

    public_id = models.CharField(max_length=40, unique=True, default=new_review_id, editable=False)
    external_id = models.CharField(max_length=120, null=True, blank=True, unique=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.CASCADE, related_name="reviews"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    rating = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    verified_purchase = models.BooleanField(default=False)
    reviewed_at = models.DateTimeField()

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"
            ),
        ]
        indexes = [models.Index(fields=["product", "rating"])]

    def __str__(self) -> str:
        return f"{self.rating}* {self.title}"


class WishlistItem(TimeStampedModel):
    """A product a customer wants one day. One row per customer and product; ``created_at``
    is when it was added, so the list reads newest first."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="wishlist_items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="wishlist_items")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "product"], name="wishlist_item_unique")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} wishes {self.product_id}"
