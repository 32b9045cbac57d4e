"""/api/v1/customers/{id}/predictions, /api/v1/analytics/reorders and /api/v1/analytics/rfm:
the stored predictions and RFM figures of the last refresh."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from omnicrm.analytics import reports
from omnicrm.analytics.explain import explain_predictions
from omnicrm.analytics.schemas import (
    CustomerPredictionsOut,
    ReorderQuery,
    ReordersOut,
    RFMGridOut,
)
from omnicrm.catalog.models import Category
from omnicrm.core.api_errors import error_responses
from omnicrm.core.errors import NotFound
from omnicrm.customers import selectors as customers
from omnicrm.customers.services import customer_ensure_live

router = Router(tags=["analytics"])


@router.get(
    "/customers/{customer_id}/predictions",
    response={200: CustomerPredictionsOut, **error_responses(404, 409)},
)
def customer_predictions(request: HttpRequest, customer_id: str) -> dict[str, Any]:
    """RFM scores, segment and predictions of one customer as of the last refresh, with a
    plain-language explanation. 404 `not_found` before the customer's first refresh."""
    customer = customers.customer_profile(public_id=customer_id)
    customer_ensure_live(customer)
    m = reports.customer_metrics(customer_id=customer.pk)
    if m is None:
        raise NotFound(
            _("No predictions for this customer yet: run a refresh (omnicrm analytics refresh)."),
            field="customer_id",
        )
    reorders = reports.customer_category_reorders(customer_id=customer.pk, limit=50)
    affinity_ids = [int(key) for key in m.category_affinity]
    slugs = dict(Category.objects.filter(pk__in=affinity_ids).values_list("pk", "slug"))
    explanation = explain_predictions(m, name=customer.name)
    return {
        "customer_id": customer.public_id,
        "computed_at": m.computed_at,
        "model": m.model,
        "order_count": m.order_count,
        "revenue": m.revenue,
        "currency": m.currency,
        "first_order_at": m.first_order_at,
        "last_order_at": m.last_order_at,
        "recency_days": m.recency_days,
        "rfm_r": m.rfm_r,
        "rfm_f": m.rfm_f,
        "rfm_m": m.rfm_m,
        "rfm_score": m.rfm_score,
        "rfm_segment": m.rfm_segment,
        "expected_purchases_30d": m.expected_purchases_30d,
        "expected_purchases_30d_interval": (
            {"low": m.expected_purchases_30d_low, "high": m.expected_purchases_30d_high}
            if m.expected_purchases_30d_low is not None
            and m.expected_purchases_30d_high is not None
            else None
        ),
        "p_alive": m.p_alive,
        "p_order_30d": m.p_order_30d,
        "expected_order_value": m.expected_order_value,
        "clv_12m": m.clv_12m,
        "clv_12m_interval": (
            {"low": m.clv_12m_low, "high": m.clv_12m_high}
            if m.clv_12m_low is not None and m.clv_12m_high is not None
            else None
        ),
        "next_order_at": m.next_order_at,
        "churn_risk": m.churn_risk,
        "top_category": m.top_category.slug if m.top_category else None,
        "category_affinity": [
            {"category": slugs[int(key)], "share": share}
            for key, share in m.category_affinity.items()
            if int(key) in slugs
        ],
        "seasonality": list(m.seasonality),
        "category_reorders": [
            {
                "category": r.category.slug,
                "expected_reorders_30d": r.expected_reorders_30d,
                "probability": r.probability,
            }
            for r in reorders
        ],
        "explanation": " ".join(explanation.sentences),
    }


@router.get("/analytics/reorders", response={200: ReordersOut, **error_responses(404, 422)})
def reorder_forecast(request: HttpRequest, query: Query[ReorderQuery]) -> dict[str, Any]:
    """Expected reorders of a category in the next `days` (stored for 30 days; other windows
    are scaled) and its likeliest customers, most likely first."""
    report = reports.category_reorders(slug=query.category, days=query.days, limit=query.limit)
    return {
        "category": report.category.slug,
        "category_name": report.category.name,
        "days": report.days,
        "expected_reorders": report.expected_reorders,
        "buyers": report.buyers,
        "customers": [
            {
                "customer_id": c.public_id,
                "name": c.name,
                "email": c.email,
                "probability": c.probability,
                "expected_reorders": c.expected_reorders,
            }
            for c in report.customers
        ],
    }


@router.get("/analytics/rfm", response={200: RFMGridOut, **error_responses()})
def rfm_grid(request: HttpRequest) -> dict[str, Any]:
    """Customers per (R, F) score cell with their average revenue, and per named segment."""
    grid = reports.rfm_grid()
    return {
        "scored_customers": grid.scored,
        "currency": grid.currency,
        "cells": [
            {
                "r": c.r,
                "f": c.f,
                "segment": c.segment,
                "customers": c.customers,
                "average_revenue": c.average_revenue,
            }
            for row in grid.rows
            for c in row
        ],
        "segments": [
            {"segment": slug, "label": label, "customers": n} for slug, label, n in grid.segments
        ],
    }
