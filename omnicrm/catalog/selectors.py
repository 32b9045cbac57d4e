"""Reads of the catalog: products and categories."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from omnicrm.catalog.models import Category, Product
from omnicrm.core.errors import NotFound


def product_get(*, public_id: str) -> Product:
    try:
        return Product.objects.select_related("category").get(public_id=public_id)
    except Product.DoesNotExist:
        raise NotFound(_("no product with id %(id)s") % {"id": public_id}, field="id") from None


def product_list(
    *,
    search: str = "",
    category_slug: str = "",
    in_stock: bool | None = None,
    include_inactive: bool = True,
) -> QuerySet[Product]:
    """Products with their category loaded. `search` matches the title or the exact SKU."""
    qs = Product.objects.select_related("category")
    term = search.strip()
    if term:
        qs = qs.filter(Q(title__icontains=term) | Q(sku__iexact=term))
    if category_slug:
        qs = qs.filter(category__slug=category_slug)
    if in_stock is True:
        qs = qs.filter(stock__gt=0)
    elif in_stock is False:
        qs = qs.filter(stock__lte=0)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return qs


def product_by_skus(*, skus: list[str]) -> dict[str, Product]:
    """The products with these SKUs, keyed by SKU; unknown SKUs are simply absent."""
    return {p.sku: p for p in Product.objects.filter(sku__in=set(skus))}


def category_get(*, slug: str) -> Category:
    try:
        return Category.objects.get(slug=slug)
    except Category.DoesNotExist:
        raise NotFound(
            _("no category with slug %(slug)s") % {"slug": slug}, field="category"
        ) from None


def category_list() -> QuerySet[Category]:
    return Category.objects.select_related("parent")
