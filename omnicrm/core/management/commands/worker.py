"""`omnicrm worker`: runs background tasks from the configured backend (database or RQ)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run a background task worker (database queue by default, RQ when REDIS_URL is set)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--queue", default="default", help="Queue to take tasks from.")
        parser.add_argument(
            "--max-tasks",
            type=int,
            default=None,
            help="Exit after this many tasks (database backend).",
        )
        parser.add_argument(
            "--burst", action="store_true", help="Exit when the queue is empty (RQ backend)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.REDIS_URL:
            rq_args = [options["queue"], "--job-class", "django_tasks_rq.Job"]
            if options["burst"]:
                rq_args.append("--burst")
            call_command("rqworker", *rq_args)
            return
        db_args = ["--queue-name", options["queue"], "--interval", "1", "--no-startup-delay"]
        if options["max_tasks"] is not None:
            db_args += ["--max-tasks", str(options["max_tasks"])]
        call_command("db_worker", *db_args)
