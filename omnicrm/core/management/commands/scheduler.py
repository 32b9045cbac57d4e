"""`omnicrm scheduler`: enqueues periodic jobs when they are due."""

from __future__ import annotations

import signal
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from omnicrm.core.scheduler import periodic_jobs, scheduler_tick


class Command(BaseCommand):
    help = "Enqueue periodic jobs when due. Safe to run on several machines at once."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--interval", type=float, default=30.0, help="Seconds between checks.")
        parser.add_argument("--once", action="store_true", help="Check once and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        jobs = periodic_jobs()
        self.stdout.write(
            "scheduler: "
            + (", ".join(f"{j.name} every {j.every}" for j in jobs.values()) or "no jobs")
        )
        running = True

        def stop(signum: int, frame: Any) -> None:
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while running:
            close_old_connections()
            for name in scheduler_tick():
                self.stdout.write(f"enqueued {name}")
            if options["once"]:
                break
            deadline = time.monotonic() + options["interval"]
            while running and time.monotonic() < deadline:
                time.sleep(0.5)
