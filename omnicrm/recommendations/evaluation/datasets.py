"""Dataset readers: each returns an ``Interactions`` table (one row per user x item event).

- ``ml-100k:PATH``: MovieLens 100K, ``u.data`` (or ``u.data.gz``) in PATH; each rating is an
  interaction and the rating is kept; item text = title + genres from ``u.item``.
- ``olist:PATH``: the Olist CSV(.gz) tables in PATH; user = customer_unique_id (the person),
  item = product_id, time = order purchase timestamp, rating = the order's review score,
  group = the customer's state; canceled and unavailable orders are left out (as in training);
  item text = the product category (English when translated).
- ``csv:PATH``: a CSV with a header and columns ``customer``, ``item``, ``timestamp`` (ISO 8601,
  with or without time zone, or Unix seconds), optional ``rating`` (number), optional
  ``group`` (e.g. country, for the popular-in-group list) and optional ``item_text`` (title /
  category words, for the content list; the first non-empty value of an item wins).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from omnicrm.core.errors import ValidationFailed

ML100K_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
# Order statuses whose lines are not purchases (the same rule as the training signals).
OLIST_SKIPPED_STATUSES = frozenset({"canceled", "unavailable"})


@dataclass
class Interactions:
    """Parallel arrays of user index, item index, Unix time and rating (NaN when unknown).

    ``user_ids``/``item_ids`` map indices back to the source's ids; ``user_group`` (one
    label per user, "" when unknown) and ``item_text`` are optional side information.
    """

    name: str
    user: np.ndarray
    item: np.ndarray
    ts: np.ndarray
    rating: np.ndarray
    user_ids: list[str]
    item_ids: list[str]
    user_group: list[str] = field(default_factory=list)
    item_text: list[str] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return int(self.user.size)

    def summary(self) -> dict[str, object]:
        start = datetime.fromtimestamp(float(self.ts.min()), UTC) if len(self) else None
        end = datetime.fromtimestamp(float(self.ts.max()), UTC) if len(self) else None
        return {
            "name": self.name,
            "interactions": len(self),
            "users": self.n_users,
            "items": self.n_items,
            "density": len(self) / max(1, self.n_users * self.n_items),
            "first": start.isoformat() if start else None,
            "last": end.isoformat() if end else None,
        }


class _Indexer:
    """Assigns dense indices to ids in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, key: str) -> int:
        idx = self.index.get(key)
        if idx is None:
            idx = self.index[key] = len(self.index)
        return idx

    def ids(self) -> list[str]:
        return list(self.index)


def _build(
    name: str,
    rows: list[tuple[str, str, float, float]],
    *,
    groups: dict[str, str] | None = None,
    texts: dict[str, str] | None = None,
) -> Interactions:
    users, items = _Indexer(), _Indexer()
    u = np.fromiter((users(r[0]) for r in rows), dtype=np.int64, count=len(rows))
    i = np.fromiter((items(r[1]) for r in rows), dtype=np.int64, count=len(rows))
    ts = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    rating = np.fromiter((r[3] for r in rows), dtype=np.float64, count=len(rows))
    user_ids, item_ids = users.ids(), items.ids()
    return Interactions(
        name=name,
        user=u,
        item=i,
        ts=ts,
        rating=rating,
        user_ids=user_ids,
        item_ids=item_ids,
        user_group=[groups.get(x, "") for x in user_ids] if groups else [],
        item_text=[texts.get(x, "") for x in item_ids] if texts else [],
    )


def _open_text(path: Path, encoding: str = "utf-8") -> io.TextIOBase:
    """Open ``path`` or ``path.gz``, whichever exists."""
    if path.exists():
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path), encoding=encoding, newline="")
        return open(path, encoding=encoding, newline="")
    gz = path.with_name(path.name + ".gz")
    if gz.exists():
        return io.TextIOWrapper(gzip.open(gz), encoding=encoding, newline="")
    raise ValidationFailed(f"{path} (or {gz.name}) not found.", field="dataset")


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with _open_text(path, "utf-8-sig") as fh:
        yield from csv.DictReader(fh)


def parse_timestamp(value: str) -> float:
    """Unix seconds from ISO 8601 (naive = UTC) or from a number of seconds."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def load_ml100k(path: Path) -> Interactions:
    """MovieLens 100K: every rating is an interaction at its timestamp."""
    rows: list[tuple[str, str, float, float]] = []
    with _open_text(path / "u.data", "latin-1") as fh:
        for line in fh:
            parts = line.split("\t")
            if len(parts) >= 4:
                rows.append((parts[0], parts[1], float(parts[3]), float(parts[2])))
    texts: dict[str, str] = {}
    item_file = path / "u.item"
    if item_file.exists() or item_file.with_name("u.item.gz").exists():
        with _open_text(item_file, "latin-1") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("|")
                if len(parts) >= 24:
                    genres = [
                        g for g, flag in zip(ML100K_GENRES, parts[5:24], strict=True) if flag == "1"
                    ]
                    texts[parts[0]] = " ".join([parts[1], *genres])
    return _build("ml-100k", rows, texts=texts or None)


def load_olist(path: Path) -> Interactions:
    """Olist orders: person x product at the purchase time, rated by the order's review."""
    person: dict[str, str] = {}
    state: dict[str, str] = {}
    for r in _csv_rows(path / "olist_customers_dataset.csv"):
        person[r["customer_id"]] = r["customer_unique_id"]
        state[r["customer_unique_id"]] = r["customer_state"]
    orders: dict[str, tuple[str, float]] = {}
    for r in _csv_rows(path / "olist_orders_dataset.csv"):
        if r["order_status"] in OLIST_SKIPPED_STATUSES or not r["order_purchase_timestamp"]:
            continue
        orders[r["order_id"]] = (
            person[r["customer_id"]],
            parse_timestamp(r["order_purchase_timestamp"]),
        )
    score: dict[str, float] = {}
    for r in _csv_rows(path / "olist_order_reviews_dataset.csv"):
        if r["review_score"]:
            score[r["order_id"]] = float(r["review_score"])
    rows: list[tuple[str, str, float, float]] = []
    seen: set[tuple[str, str]] = set()
    for r in _csv_rows(path / "olist_order_items_dataset.csv"):
        order = orders.get(r["order_id"])
        # One row per order x product: several units of a product are one interaction.
        if order is None or (r["order_id"], r["product_id"]) in seen:
            continue
        seen.add((r["order_id"], r["product_id"]))
        rows.append((order[0], r["product_id"], order[1], score.get(r["order_id"], np.nan)))
    english = {
        r["product_category_name"]: r["product_category_name_english"]
        for r in _csv_rows(path / "product_category_name_translation.csv")
    }
    texts = {
        r["product_id"]: english.get(
            r["product_category_name"], r["product_category_name"]
        ).replace("_", " ")
        for r in _csv_rows(path / "olist_products_dataset.csv")
    }
    rows.sort(key=lambda row: row[2])
    return _build("olist", rows, groups=state, texts=texts)


def load_csv(path: Path) -> Interactions:
    """Generic CSV: customer, item, timestamp[, rating][, group][, item_text]."""
    if not path.exists():
        raise ValidationFailed(f"{path} not found.", field="dataset")
    rows: list[tuple[str, str, float, float]] = []
    groups: dict[str, str] = {}
    texts: dict[str, str] = {}
    with _open_text(path, "utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"customer", "item", "timestamp"} - set(reader.fieldnames or [])
        if missing:
            raise ValidationFailed(
                f"{path.name}: missing column(s) {', '.join(sorted(missing))}; expected "
                "customer, item, timestamp and optionally rating, group, item_text.",
                field="dataset",
            )
        for line_no, r in enumerate(reader, start=2):
            try:
                ts = parse_timestamp(r["timestamp"])
                rating = float(r["rating"]) if r.get("rating") else np.nan
            except ValueError as exc:
                raise ValidationFailed(
                    f"{path.name} line {line_no}: {exc}", field="dataset"
                ) from exc
            if not r["customer"] or not r["item"]:
                raise ValidationFailed(
                    f"{path.name} line {line_no}: empty customer or item.", field="dataset"
                )
            rows.append((r["customer"], r["item"], ts, rating))
            if r.get("group"):
                groups[r["customer"]] = r["group"]
            if r.get("item_text") and r["item"] not in texts:
                texts[r["item"]] = r["item_text"]
    return _build(path.stem, rows, groups=groups or None, texts=texts or None)


LOADERS = {"ml-100k": load_ml100k, "olist": load_olist, "csv": load_csv}


def load_dataset(spec: str) -> Interactions:
    """Load ``KIND:PATH`` with KIND one of ml-100k, olist, csv."""
    kind, sep, raw_path = spec.partition(":")
    if not sep or kind not in LOADERS or not raw_path:
        raise ValidationFailed(
            f"Unknown dataset {spec!r}: use ml-100k:PATH, olist:PATH or csv:PATH.", field="dataset"
        )
    path = Path(raw_path).expanduser()
    if kind != "csv" and not path.is_dir():
        raise ValidationFailed(f"{path} is not a directory.", field="dataset")
    data = LOADERS[kind](path)
    if len(data) == 0:
        raise ValidationFailed(f"{spec}: no interactions found.", field="dataset")
    return data
