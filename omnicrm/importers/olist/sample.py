"""Cutting a consistent subset out of the Olist data set (how the bundled sample was made).

    DJANGO_SETTINGS_MODULE=omnicrm.settings \
        python -m omnicrm.importers.olist.sample SOURCE_DIR DEST_DIR [--orders 3000]

The subset keeps every order of the people who ordered more than once (so the merge of
Olist's per-order customer ids into one person shows), then the first orders of the
orders file up to the count. Every table is trimmed to the rows those orders reach:
customers, items, payments, reviews, products and sellers of the items, geolocation rows
of the customers' and sellers' zip prefixes, and the whole category translation. Files
are written gzip-compressed with a fixed timestamp, so the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from omnicrm.importers.files import locate_table, open_text
from omnicrm.importers.olist.source import FILES, UNUSED_FILES

ALL_FILES = {**FILES, **UNUSED_FILES}


def _read(directory: Path, name: str) -> tuple[list[str], list[list[str]]]:
    path = locate_table(directory, ALL_FILES[name])
    assert path is not None
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def _write(
    destination: Path, name: str, header: list[str], rows: list[list[str]], *, bom: bool = False
) -> Path:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = ("\ufeff" if bom else "") + text.getvalue()
    path = destination / f"{ALL_FILES[name]}.csv.gz"
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as packed,
    ):
        packed.write(data.encode("utf-8"))
    return path


def olist_sample_write(*, source: Path, destination: Path, orders: int = 3000) -> dict[str, int]:
    """Write the subset of `source` to `destination`; returns the rows written per table."""
    destination.mkdir(parents=True, exist_ok=True)
    tables = {name: _read(source, name) for name in ALL_FILES}

    def column(name: str, field: str) -> Callable[[list[str]], str]:
        index = tables[name][0].index(field)
        return lambda row: row[index]

    order_id, order_customer = column("orders", "order_id"), column("orders", "customer_id")
    customer_id, unique_id = (
        column("customers", "customer_id"),
        column("customers", "customer_unique_id"),
    )
    person_of = {customer_id(row): unique_id(row) for row in tables["customers"][1]}
    order_rows = tables["orders"][1]
    counts = Counter(person_of[order_customer(row)] for row in order_rows)
    repeat = [row for row in order_rows if counts[person_of[order_customer(row)]] > 1]
    chosen = {order_id(row) for row in repeat}
    for row in order_rows:
        if len(chosen) >= orders:
            break
        chosen.add(order_id(row))
    kept: dict[str, list[list[str]]] = {
        "orders": [row for row in order_rows if order_id(row) in chosen]
    }
    customers = {order_customer(row) for row in kept["orders"]}
    kept["customers"] = [row for row in tables["customers"][1] if customer_id(row) in customers]
    for name in ("items", "payments", "reviews"):
        of_order = column(name, "order_id")
        kept[name] = [row for row in tables[name][1] if of_order(row) in chosen]
    item_product, item_seller = column("items", "product_id"), column("items", "seller_id")
    products = {item_product(row) for row in kept["items"]}
    sellers = {item_seller(row) for row in kept["items"]}
    kept["products"] = [
        row for row in tables["products"][1] if column("products", "product_id")(row) in products
    ]
    kept["sellers"] = [
        row for row in tables["sellers"][1] if column("sellers", "seller_id")(row) in sellers
    ]
    customer_zip, seller_zip = (
        column("customers", "customer_zip_code_prefix"),
        column("sellers", "seller_zip_code_prefix"),
    )
    zips = {customer_zip(row) for row in kept["customers"]} | {
        seller_zip(row) for row in kept["sellers"]
    }
    geo_zip = column("geolocation", "geolocation_zip_code_prefix")
    kept["geolocation"] = [row for row in tables["geolocation"][1] if geo_zip(row) in zips]
    kept["translation"] = tables["translation"][1]
    for name, rows in kept.items():
        _write(destination, name, tables[name][0], rows, bom=name == "translation")
    return {name: len(rows) for name, rows in kept.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("destination", type=Path)
    parser.add_argument("--orders", type=int, default=3000)
    args = parser.parse_args(argv)
    for name, count in olist_sample_write(
        source=args.source, destination=args.destination, orders=args.orders
    ).items():
        print(f"{ALL_FILES[name]}: {count:,} rows")


if __name__ == "__main__":
    main()
