"""`--kind products`: one row per product, matched on sku.

A blank cell leaves the stored value alone (new products get the model defaults). A
category is named by its slug; a slug the shop does not have yet is created, named after
`category_name` or, without one, after the slug itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from omnicrm.catalog.models import Category, Product
from omnicrm.importers.bulk import BulkTable, fetch_by, sync
from omnicrm.importers.generic import fields as f
from omnicrm.importers.generic.rows import CsvFile, CsvImportResult, import_rows

COLUMNS = (
    "sku",
    "title",
    "price",
    "currency",
    "category",
    "category_name",
    "content",
    "stock",
    "is_active",
    "attributes",
)
REQUIRED = ("sku",)
FIELDS = (
    "sku",
    "title",
    "content",
    "category_id",
    "price",
    "currency",
    "stock",
    "is_active",
    "attributes",
)


@dataclass
class ProductRow:
    line: int
    sku: str
    values: dict[str, Any]
    category: str | None
    category_name: str | None


def parse(line: int, cell: list[str], col: dict[str, int]) -> ProductRow:
    sku = f.required(cell[col["sku"]], "sku", 100)
    values: dict[str, Any] = {}
    if value := f.text(cell[col["title"]], "title", 300):
        values["title"] = value
    currency = None
    if value := cell[col["currency"]].strip():
        currency = values["currency"] = f.currency(value, "currency")
    if value := cell[col["price"]].strip():
        if currency is None:
            raise f.BadCell("currency", _("is required when price is given"))
        values["price"] = f.amount(value, "price", currency)
    elif currency is not None:
        raise f.BadCell("price", _("is required when currency is given"))
    if value := cell[col["content"]].strip():
        values["content"] = value
    if value := cell[col["stock"]].strip():
        values["stock"] = f.integer(value, "stock", -(2**31), 2**31 - 1)
    if value := cell[col["is_active"]].strip():
        values["is_active"] = f.boolean(value, "is_active")
    if value := cell[col["attributes"]].strip():
        values["attributes"] = f.json_object(value, "attributes")
    category = f.slug(value, "category") if (value := cell[col["category"]].strip()) else None
    category_name = f.text(cell[col["category_name"]], "category_name", 200) or None
    if category_name and not category:
        raise f.BadCell("category", _("is required when category_name is given"))
    return ProductRow(line, sku, values, category, category_name)


class ProductWriter:
    def __init__(self, result: CsvImportResult):
        self.result = result
        self.categories = BulkTable(Category, ["slug", "name"])
        self.products = BulkTable(Product, FIELDS)

    def apply(self, rows: list[ProductRow]) -> None:
        slugs = {row.category for row in rows if row.category}
        stored_categories = {
            slug: (pk, (slug, name))
            for pk, slug, name in fetch_by(Category, "slug", slugs, ("pk", "slug", "name"))
        }
        wanted: dict[str, tuple[str, str]] = {}
        for row in rows:
            if not row.category:
                continue
            if row.category_name:
                wanted[row.category] = (row.category, row.category_name)
            elif row.category not in wanted:
                current = stored_categories.get(row.category)
                label = row.category.replace("-", " ").replace("_", " ").strip().capitalize()
                wanted[row.category] = current[1] if current else (row.category, label)
        category_pks, counts = sync(self.categories, wanted, stored_categories)
        self.result.count("categories", created=counts.created, updated=counts.updated)

        stored = {
            r[1]: (r[0], r[1:])
            for r in fetch_by(Product, "sku", [r.sku for r in rows], ("pk", *FIELDS))
        }
        desired: dict[str, tuple[Any, ...]] = {}
        for row in rows:
            if row.sku in stored:
                values = dict(zip(FIELDS, stored[row.sku][1], strict=True))
            else:
                missing = [name for name in ("title", "price") if name not in row.values]
                if missing:
                    self.result.reject(row.line, missing[0], _("is required for a new product"))
                    continue
                values = {
                    "content": "",
                    "category_id": None,
                    "stock": 0,
                    "is_active": True,
                    "attributes": {},
                }
            values.update(row.values, sku=row.sku)
            if row.category:
                values["category_id"] = category_pks[row.category]
            desired[row.sku] = tuple(values[name] for name in FIELDS)
            self.result.applied += 1
        _pks, counts = sync(self.products, desired, stored)
        self.result.count("products", created=counts.created, updated=counts.updated)


def import_products(
    csv_file: CsvFile, result: CsvImportResult, *, batch_size: int, progress: bool, threaded: bool
) -> None:
    import_rows(
        csv_file,
        result,
        label=_("products"),
        duplicate=_("same product as line %(line)d"),
        parse=parse,
        keys=lambda row: [("sku", row.sku)],
        make_writer=ProductWriter,
        batch_size=batch_size,
        progress=progress,
        threaded=threaded,
    )
