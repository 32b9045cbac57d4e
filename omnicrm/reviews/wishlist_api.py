"""Wishlists and purchase ratings under /api/v1/wishlists and /api/v1/ratings."""

from __future__ import annotations

from ninja import Router

wishlists_router = Router(tags=["wishlists"])
ratings_router = Router(tags=["reviews"])
