"""The catalog: a category tree and products."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from omnicrm.core.ids import new_product_id
from omnicrm.core.models import TimeStampedModel
from omnicrm.core.money import currency_field, money_field


class Category(TimeStampedModel):
    """A node of the category tree. `slug` is the stable key importers match on."""

    slug = models.SlugField(max_length=120, unique=True)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(TimeStampedModel):
    """Something the shop sells. `content` is the long text that search reads."""

    public_id = models.CharField(max_length=40, unique=True, default=new_product_id, editable=False)
    sku = models.CharField(max_length=100, unique=True)
    title = models.CharField(max_length=300)
    content = models.TextField(blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    price = money_field()
    currency = currency_field()
    stock = models.IntegerField(default=0)
    attributes = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.title
