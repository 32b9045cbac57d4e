"""Housekeeping jobs of the shared kernel."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django_tasks import task

from omnicrm.core.models import PeriodicJob
from omnicrm.core.scheduler import periodic_register

TASK_RESULT_RETENTION_DAYS = 14


@task()
def task_results_prune() -> None:
    """Delete finished task results older than the retention; safe to run any time."""
    call_command("prune_db_task_results", min_age_days=TASK_RESULT_RETENTION_DAYS, verbosity=0)


HEARTBEAT = "core.worker_heartbeat"


@task()
def worker_heartbeat() -> None:
    """Proves a worker is taking tasks: /healthz reports how long ago this last ran."""
    PeriodicJob.objects.update_or_create(
        name=HEARTBEAT, defaults={"last_finished_at": timezone.now()}
    )


periodic_register(name=HEARTBEAT, task=worker_heartbeat, every=timedelta(minutes=1))

# RQ expires its own results; only the database backend keeps them until pruned.
if settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend":
    periodic_register(
        name="core.task_results_prune", task=task_results_prune, every=timedelta(days=1)
    )
