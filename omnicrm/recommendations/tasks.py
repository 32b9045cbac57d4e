"""Background jobs of the recommendations app: the nightly training and the console's
on-demand training (both run recommender_train; running it twice does no harm, it only
makes a newer run that serves instead)."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from omnicrm.core.scheduler import periodic_register
from omnicrm.recommendations import training
from omnicrm.recommendations.models import RecommenderModel, TrainingStatus

NIGHTLY = "recommendations.train"


@task()
def recommender_train_task(run_id: int | None = None) -> dict:
    """Train the recommendation models; ``run_id`` is the queued run to fill in (the
    console's), None for the nightly run. A queued run that already started or finished (a
    second delivery of the same job) is left alone."""
    if run_id is not None:
        status = RecommenderModel.objects.filter(pk=run_id).values_list("status", flat=True).first()
        if status != TrainingStatus.QUEUED:
            return {"run_id": run_id, "status": status or "missing", "skipped": True}
        algorithm = (
            RecommenderModel.objects.filter(pk=run_id).values_list("algorithm", flat=True).first()
        )
        run = training.recommender_train(algorithm=algorithm, run_id=run_id, trigger="console")
    else:
        run = training.recommender_train(trigger="schedule")
    return {"run_id": run.pk, "public_id": run.public_id, "status": run.status}


periodic_register(name=NIGHTLY, task=recommender_train_task, every=timedelta(days=1))
