"""Periodic jobs: apps register tasks with an interval; `omnicrm scheduler` enqueues them.

The scheduler only enqueues; workers run. Any number of schedulers may run (one per
machine for availability): the row lock on PeriodicJob makes each run enqueue once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from omnicrm.core.models import PeriodicJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    task: Any  # a django_tasks Task; enqueued with no arguments
    every: timedelta


_REGISTRY: dict[str, Periodic] = {}


def periodic_register(*, name: str, task: Any, every: timedelta) -> None:
    if every < timedelta(seconds=10):
        raise ValueError(f"periodic job {name} runs too often ({every})")
    _REGISTRY[name] = Periodic(name=name, task=task, every=every)


def periodic_jobs() -> dict[str, Periodic]:
    """Every registered job; importing each app's tasks module is what registers them."""
    autodiscover_modules("tasks")
    return dict(_REGISTRY)


def scheduler_tick(*, now: datetime | None = None) -> list[str]:
    """Enqueue every job that is due; returns the names enqueued."""
    moment = now or timezone.now()
    jobs = periodic_jobs()
    enqueued: list[str] = []
    for name in sorted(jobs):
        PeriodicJob.objects.get_or_create(name=name)
    with transaction.atomic():
        # Locks are taken in name order so concurrent schedulers cannot deadlock.
        rows = PeriodicJob.objects.select_for_update().filter(name__in=jobs).order_by("name")
        for row in rows:
            job = jobs[row.name]
            if row.last_enqueued_at is not None and moment - row.last_enqueued_at < job.every:
                continue
            row.last_enqueued_at = moment
            row.save(update_fields=["last_enqueued_at", "updated_at"])
            transaction.on_commit(job.task.enqueue)
            enqueued.append(row.name)
    if enqueued:
        logger.info("scheduler enqueued %s", ", ".join(enqueued))
    return enqueued
