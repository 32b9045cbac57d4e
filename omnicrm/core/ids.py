"""Public ids: a type prefix and an opaque random part (`cus_3k9d...`).

Integer keys stay internal; only public ids leave the database."""

from __future__ import annotations

import base64
import secrets

PREFIXES = {"cus", "prd", "ord", "rev", "cat", "key", "usr", "mrg", "seg", "rmd"}


def new_public_id(prefix: str) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown public id prefix {prefix!r}")
    # 80 random bits in lowercase base32: collision-free in practice and URL-safe.
    body = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return f"{prefix}_{body}"


def new_customer_id() -> str:
    return new_public_id("cus")


def new_product_id() -> str:
    return new_public_id("prd")


def new_order_id() -> str:
    return new_public_id("ord")


def new_review_id() -> str:
    return new_public_id("rev")
