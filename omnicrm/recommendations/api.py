"""Serving API under /api/v1/recommendations (lists with score, reason and cause items)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["recommendations"])
