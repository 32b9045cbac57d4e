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

        self.stdout.write("1/3 Creating the database tables")
        call_command("migrate", interactive=False, verbosity=0)

        if Order.objects.exists():
            self.stdout.write("2/3 Sample data: the database already has orders, nothing loaded")
        else:
            self.stdout.write(
                "2/3 Loading the bundled Olist sample (real orders, MIT, credit Olist)"
            )
            counts = olist_import(directory=olist_sample_path(), limit=None, progress=True)
            self.stdout.write(f"    {counts}")

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
        self.stdout.write("3/3 Starting the server (Ctrl+C stops it)")
        serve_options: dict[str, Any] = {"host": options["host"], "port": options["port"]}
        if options["workers"]:
            serve_options["workers"] = options["workers"]
        call_command("serve", **serve_options)

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
