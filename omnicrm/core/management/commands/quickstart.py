"""`omnicrm quickstart`: a running shop with real sample data in one command."""

from __future__ import annotations

import secrets
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from omnicrm.core.roles import ADMIN

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Migrate, load the bundled Olist sample, create an admin user and serve on :8000."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=None)
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Prepare everything but do not start the server.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from omnicrm.importers.services import olist_import, olist_sample_path
        from omnicrm.orders.models import Order

        self.stdout.write("1/4 Creating the database tables")
        call_command("migrate", interactive=False, verbosity=0)

        if Order.objects.exists():
            self.stdout.write("2/4 Sample data: the database already has orders, nothing loaded")
        else:
            self.stdout.write(
                "2/4 Loading the bundled Olist sample (real orders, MIT, credit Olist)"
            )
            counts = olist_import(directory=olist_sample_path(), limit=None, progress=True)
            self.stdout.write(f"    {counts}")
        self._derive()

        password = self._ensure_admin()
        base = f"http://{options['host']}:{options['port']}"
        lines = [
            "",
            "omnicrm is ready.",
            f"  Console:  {base}/",
            f"  API docs: {base}/api/docs",
            f"  Log in as {ADMIN_USERNAME!r} with password "
            + (
                repr(password)
                if password
                else "(unchanged; `omnicrm changepassword admin` resets it)"
            ),
            "",
        ]
        self.stdout.write("\n".join(lines))
        if options["no_serve"]:
            return
        self.stdout.write("4/4 Starting the server (Ctrl+C stops it)")
        serve_options: dict[str, Any] = {"host": options["host"], "port": options["port"]}
        if options["workers"]:
            serve_options["workers"] = options["workers"]
        call_command("serve", **serve_options)

    def _derive(self) -> None:
        """Predictions and recommendations, the first time only, so the console shows them at
        once instead of after the first nightly run.

        They are computed as of the last order: the sample is history (Olist, 2016-2018),
        and "as of today" every one of its customers would look long gone.
        """
        from django.db.models import Max

        from omnicrm.analytics.models import AnalyticsRun, RunStatus
        from omnicrm.analytics.services import analytics_refresh
        from omnicrm.orders.models import Order
        from omnicrm.recommendations.selectors import recommender_active
        from omnicrm.recommendations.training import recommender_train

        last_order = Order.objects.aggregate(last=Max("placed_at"))["last"]
        needs_analytics = not AnalyticsRun.objects.filter(status=RunStatus.SUCCEEDED).exists()
        needs_recommendations = recommender_active() is None
        if last_order is None or not (needs_analytics or needs_recommendations):
            self.stdout.write("3/4 Predictions and recommendations: already computed")
            return
        self.stdout.write(
            f"3/4 Computing predictions and training recommendations as of {last_order:%Y-%m-%d}"
        )
        if needs_analytics:
            analytics_refresh(as_of=last_order, trigger="quickstart")
        if needs_recommendations:
            recommender_train(now=last_order, trigger="quickstart")

    @transaction.atomic
    def _ensure_admin(self) -> str | None:
        """Create the admin user on first run; never reset an existing password."""
        if User.objects.filter(username=ADMIN_USERNAME).exists():
            return None
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(
            username=ADMIN_USERNAME, email="admin@localhost", password=password
        )
        user.groups.add(Group.objects.get(name=ADMIN))
        return password
