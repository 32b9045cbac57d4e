"""Every write to the catalog: products are created and changed here, with validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from omnicrm.catalog.models import Category, Product
from omnicrm.core.errors import Conflict, ValidationFailed
from omnicrm.core.money import normalize_currency, parse_amount
from omnicrm.core.services import Actor, audit_log_write

PRODUCT_FIELDS = (
    "sku",
    "title",
    "content",
    "category",
    "price",
    "currency",
    "stock",
    "attributes",
    "is_active",
)


def amount_parse_exact(value: Any, *, currency: str, field: str) -> Decimal:
    """A money amount that fits the currency's minor unit exactly and is not negative."""
    if isinstance(value, float):
        raise ValidationFailed(_("send money amounts as decimal strings"), field=field)
    try:
        amount = parse_amount(value, currency)
    except (TypeError, ValueError):
        raise ValidationFailed(
            _("%(value)s is not a number") % {"value": value}, field=field
        ) from None
    if amount != Decimal(str(value).strip()):
        raise ValidationFailed(
            _("%(value)s has more decimal places than %(currency)s allows")
            % {"value": value, "currency": currency},
            field=field,
        )
    if amount < 0:
        raise ValidationFailed(_("the amount cannot be negative"), field=field)
    return amount


def currency_clean(value: str, *, field: str = "currency") -> str:
    try:
        return normalize_currency(value)
    except ValueError:
        raise ValidationFailed(
            _("%(value)s is not an ISO 4217 currency code") % {"value": value}, field=field
        ) from None


def _category(slug: str | None) -> Category | None:
    if not slug:
        return None
    category = Category.objects.filter(slug=slug).first()
    if category is None:
        raise ValidationFailed(
            _("no category with slug %(slug)s") % {"slug": slug}, field="category"
        )
    return category


def _text(value: Any, *, field: str, max_length: int, required: bool) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValidationFailed(_("%(field)s is required") % {"field": field}, field=field)
    if len(text) > max_length:
        raise ValidationFailed(
            _("%(field)s is at most %(n)s characters") % {"field": field, "n": max_length},
            field=field,
        )
    return text


def _clean(data: dict[str, Any], *, currency_for_price: str) -> dict[str, Any]:
    unknown = sorted(set(data) - set(PRODUCT_FIELDS))
    if unknown:
        raise ValidationFailed(_("unknown field %(f)s") % {"f": unknown[0]}, field=unknown[0])
    cleaned: dict[str, Any] = {}
    if "sku" in data:
        cleaned["sku"] = _text(data["sku"], field="sku", max_length=100, required=True)
    if "title" in data:
        cleaned["title"] = _text(data["title"], field="title", max_length=300, required=True)
    if "content" in data:
        cleaned["content"] = "" if data["content"] is None else str(data["content"])
    if "category" in data:
        cleaned["category"] = _category(data["category"])
    if "currency" in data:
        cleaned["currency"] = currency_clean(data["currency"])
    if "price" in data:
        currency = cleaned.get("currency", currency_for_price)
        cleaned["price"] = amount_parse_exact(data["price"], currency=currency, field="price")
    if "stock" in data:
        if not isinstance(data["stock"], int) or isinstance(data["stock"], bool):
            raise ValidationFailed(_("stock must be a whole number"), field="stock")
        cleaned["stock"] = data["stock"]
    if "attributes" in data:
        if not isinstance(data["attributes"], dict):
            raise ValidationFailed(_("attributes must be an object"), field="attributes")
        cleaned["attributes"] = data["attributes"]
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise ValidationFailed(_("is_active must be true or false"), field="is_active")
        cleaned["is_active"] = data["is_active"]
    return cleaned


def _sku_free(sku: str, *, exclude_pk: int | None = None) -> None:
    qs = Product.objects.filter(sku=sku)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict(_("a product with SKU %(sku)s already exists") % {"sku": sku}, field="sku")


def product_create(
    *,
    sku: str,
    title: str,
    price: Decimal | str | int,
    currency: str,
    content: str = "",
    category_slug: str | None = None,
    stock: int = 0,
    attributes: dict[str, Any] | None = None,
    is_active: bool = True,
    actor: Actor = None,
    actor_label: str = "",
) -> Product:
    """Create a product. The SKU is unique (409 otherwise); the price fits the currency."""
    fields = _clean(
        {
            "sku": sku,
            "title": title,
            "price": price,
            "currency": currency,
            "content": content,
            "category": category_slug,
            "stock": stock,
            "attributes": attributes or {},
            "is_active": is_active,
        },
        currency_for_price=currency,
    )
    _sku_free(fields["sku"])
    try:
        with transaction.atomic():
            product = Product.objects.create(**fields)
            audit_log_write(
                action="product.create",
                object_type="product",
                object_id=product.public_id,
                actor=actor,
                actor_label=actor_label,
                data={"sku": product.sku},
            )
    except IntegrityError as exc:
        # A concurrent create took the SKU between the check and the insert.
        raise Conflict(
            _("a product with SKU %(sku)s already exists") % {"sku": fields["sku"]}, field="sku"
        ) from exc
    return product


def product_update(
    *, product: Product, data: dict[str, Any], actor: Actor = None, actor_label: str = ""
) -> Product:
    """Change the fields in `data` (keys of PRODUCT_FIELDS; `category` is a slug)."""
    fields = _clean(data, currency_for_price=data.get("currency") or product.currency)
    if "currency" in fields and "price" not in fields:
        # The stored price must still fit the new currency's minor unit.
        amount_parse_exact(product.price, currency=fields["currency"], field="currency")
    if "sku" in fields:
        _sku_free(fields["sku"], exclude_pk=product.pk)
    changed = {k: v for k, v in fields.items() if getattr(product, k) != v}
    if not changed:
        return product
    try:
        with transaction.atomic():
            for key, value in changed.items():
                setattr(product, key, value)
            product.save(update_fields=[*changed, "updated_at"])
            audit_log_write(
                action="product.update",
                object_type="product",
                object_id=product.public_id,
                actor=actor,
                actor_label=actor_label,
                data={"fields": sorted(changed)},
            )
    except IntegrityError as exc:
        raise Conflict(
            _("a product with SKU %(sku)s already exists") % {"sku": fields.get("sku")}, field="sku"
        ) from exc
    return product
