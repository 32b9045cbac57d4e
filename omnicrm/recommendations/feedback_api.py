"""Customers' feedback on recommendations under /api/v1/recommendations/feedback."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["recommendations"])
