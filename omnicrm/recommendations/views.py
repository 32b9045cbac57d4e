"""Console page of the recommendation model: the run that serves (when it was trained, on
what data, with which parameters and evaluation figures), the previous runs, the progress of
a running one, and the button that queues a new training."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from omnicrm.console.access import staff_view
from omnicrm.console.rendering import render_page
from omnicrm.recommendations import selectors
from omnicrm.recommendations.models import RecommenderModel
from omnicrm.recommendations.training import RUN_STALE_AFTER, recommender_queue

VIEW_PERMISSION = "recommendations.view_recommendermodel"
TRAIN_PERMISSION = "recommendations.train_recommendermodel"
# The figures the page shows, in this order, with their labels.
METRICS = (
    ("precision@10", gettext_lazy("Precision@10")),
    ("recall@10", gettext_lazy("Recall@10")),
    ("ndcg@10", gettext_lazy("NDCG@10")),
    ("map@10", gettext_lazy("MAP@10")),
    ("hit_rate@10", gettext_lazy("Hit rate@10")),
    ("coverage", gettext_lazy("Catalog coverage")),
)


def _status_context(request: HttpRequest) -> dict[str, Any]:
    from django.utils import timezone

    running = selectors.recommender_running()
    if running is not None and running.created_at < timezone.now() - RUN_STALE_AFTER:
        running = None
    return {
        "running": running,
        "active": selectors.recommender_active(),
        "can_train": request.user.has_perm(TRAIN_PERMISSION),
    }


def _evaluation_rows(run: RecommenderModel | None) -> list[dict[str, Any]]:
    if run is None or not run.evaluation or run.evaluation.get("skipped"):
        return []
    model = run.evaluation.get("model", {})
    baseline = run.evaluation.get("popularity", {})
    return [
        {"label": label, "model": model.get(key), "popularity": baseline.get(key)}
        for key, label in METRICS
        if key in model
    ]


@staff_view(permission=VIEW_PERMISSION)
def model_page(request: HttpRequest) -> HttpResponse:
    context = _status_context(request)
    active = context["active"]
    runs = list(selectors.recommender_runs(limit=20))
    for run in runs:
        # Templates cannot read the key "ndcg@10".
        run.ndcg10 = (run.evaluation or {}).get("model", {}).get("ndcg@10")  # type: ignore[attr-defined]
    context |= {
        "runs": runs,
        "evaluation_rows": _evaluation_rows(active),
        "duration": (
            (active.finished_at - active.started_at).total_seconds()
            if active and active.finished_at
            else None
        ),
    }
    return render_page(request, "recommendations/model.html", context)


@require_POST
@staff_view(permission=TRAIN_PERMISSION)
def model_train(request: HttpRequest) -> HttpResponse:
    run = recommender_queue(actor=request.user, trigger="console")
    messages.success(request, _("Training is queued; this page shows its progress as it runs."))
    if getattr(request, "htmx", False):
        return render(
            request,
            "recommendations/partials/_train_status.html",
            _status_context(request) | {"queued": run},
        )
    return redirect("recommendations:model")


@staff_view(permission=VIEW_PERMISSION)
def model_status(request: HttpRequest) -> HttpResponse:
    return render(request, "recommendations/partials/_train_status.html", _status_context(request))
