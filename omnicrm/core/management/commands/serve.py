"""`omnicrm serve`: the production web server (gunicorn, static files by WhiteNoise), plus,
in the embedded mode, a task worker and the scheduler beside it so one command runs all."""

from __future__ import annotations

import os
import subprocess
import sys
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


def default_workers() -> int:
    return max(2, min(2 * (os.cpu_count() or 1) + 1, 8))


# Threads per worker (gunicorn's gthread worker): a request waiting on the database does not
# hold a whole process, and connections are kept alive between requests, so an API client
# with a connection pool (a shop's backend) pays for TCP setup once, not per request.
DEFAULT_THREADS = 4
# Seconds an idle kept-alive connection stays open: longer than a busy client's gap between
# requests, short enough that idle clients do not pile up.
DEFAULT_KEEPALIVE = 5


def pending_migrations() -> list[str]:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


class Command(BaseCommand):
    help = "Serve the console and API with several worker processes (not Django's runserver)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=os.environ.get("OMNICRM_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=default_workers())
        parser.add_argument("--timeout", type=int, default=60)
        parser.add_argument(
            "--threads",
            type=int,
            default=DEFAULT_THREADS,
            help="Threads per worker; 1 = gunicorn's sync workers (one request per process, "
            "no keep-alive).",
        )
        parser.add_argument(
            "--keepalive",
            type=int,
            default=DEFAULT_KEEPALIVE,
            help="Seconds an idle client connection is kept open (threaded workers).",
        )
        parser.add_argument(
            "--no-background",
            action="store_true",
            help="Do not start the embedded task worker and scheduler (run them elsewhere).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pending = pending_migrations()
        if pending:
            raise CommandError(
                f"the database has {len(pending)} unapplied migrations; run `omnicrm migrate` first"
            )
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        if options["threads"] < 1:
            raise CommandError("--threads must be at least 1")
        if settings.PRODUCTION:
            call_command("collectstatic", interactive=False, verbosity=0)

        children: list[subprocess.Popen[bytes]] = []
        if not options["no_background"] and not settings.REDIS_URL:
            # Embedded mode: no separate machines, so the worker and scheduler live here.
            for command in (["worker"], ["scheduler"]):
                children.append(subprocess.Popen([sys.executable, "-m", "omnicrm", *command]))  # noqa: S603
        # Connections opened while checking must not be shared with forked workers.
        connections.close_all()
        if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
            # gunicorn's threads live as long as their worker, so each keeps one connection
            # open instead of paying the PRAGMAs and a WAL checkpoint on every request.
            settings.DATABASES["default"]["CONN_MAX_AGE"] = settings.SQLITE_SERVED_CONN_MAX_AGE
        bind = f"{options['host']}:{options['port']}"
        self.stdout.write(
            f"omnicrm serving on http://{bind}/ with {options['workers']} workers "
            f"x {options['threads']} threads"
        )
        try:
            run_gunicorn(
                bind=bind,
                workers=options["workers"],
                threads=options["threads"],
                keepalive=options["keepalive"],
                timeout=options["timeout"],
            )
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()


def run_gunicorn(*, bind: str, workers: int, threads: int, keepalive: int, timeout: int) -> None:
    from gunicorn.app.base import BaseApplication

    from omnicrm.wsgi import application

    class OmnicrmServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
            self.cfg.set("threads", threads)
            self.cfg.set("keepalive", keepalive)
            self.cfg.set("timeout", timeout)
            self.cfg.set("accesslog", "-" if settings.DEBUG else None)
            self.cfg.set("errorlog", "-")
            self.cfg.set("proc_name", "omnicrm")

        def load(self) -> Any:
            return application

    OmnicrmServer().run()
