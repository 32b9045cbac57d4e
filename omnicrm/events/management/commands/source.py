"""`omnicrm source create|list|revoke`: manage event sources and their write keys."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from omnicrm.core.errors import ApplicationError
from omnicrm.events.models import SourceChannel
from omnicrm.events.selectors import source_list
from omnicrm.events.services import source_create, source_revoke


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


class Command(BaseCommand):
    help = (
        "Create, list and revoke event sources (web, ios, android, pos, voice, partner, "
        "email, support). A new write key is printed once and never again."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="Create a source and print its write key.")
        create.add_argument(
            "--channel",
            required=True,
            help=f"Where its events come from: {', '.join(SourceChannel.values)}.",
        )
        create.add_argument("--name", required=True, help="What it is, e.g. 'Website'.")
        listing = actions.add_parser("list", help="List sources (prefix, channel, last event).")
        listing.add_argument("--active", action="store_true", help="Hide revoked sources.")
        revoke = actions.add_parser("revoke", help="Revoke a source's write key by its prefix.")
        revoke.add_argument("prefix", help="The key prefix shown by `omnicrm source list`.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except ApplicationError as exc:
            where = f"--{exc.field}: " if exc.field in {"name", "channel"} else ""
            raise CommandError(f"{where}{exc.message}") from exc

    def _create(self, options: dict[str, Any]) -> None:
        source, raw = source_create(name=options["name"], channel=options["channel"])
        self.stdout.write(
            _("Created source %(name)s (%(channel)s) with key prefix %(prefix)s. Write key:")
            % {"name": source.name, "channel": source.channel, "prefix": source.prefix}
        )
        self.stdout.write(raw)
        self.stdout.write(
            _(
                "Store it now: it is not shown again (only its hash is kept). It can only "
                "write events: send it as the HTTP Basic username or as writeKey in the body "
                "(see docs/tracking.md)."
            )
        )

    def _list(self, options: dict[str, Any]) -> None:
        sources = list(source_list(include_revoked=not options["active"]))
        if not sources:
            self.stdout.write(
                _("No sources. Create one with: omnicrm source create --channel web --name Website")
            )
            return
        self.stdout.write(
            f"{'PREFIX':<10} {'CHANNEL':<8} {'NAME':<24} {'CREATED':<21} {'LAST EVENT':<21} STATUS"
        )
        for source in sources:
            status = (
                _("revoked %(when)s") % {"when": _when(source.revoked_at)}
                if source.revoked_at
                else _("active")
            )
            self.stdout.write(
                f"{source.prefix:<10} {source.channel:<8} {source.name[:24]:<24} "
                f"{_when(source.created_at):<21} {_when(source.last_event_at):<21} {status}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        already = source_list().filter(prefix=options["prefix"], revoked_at__isnull=False).exists()
        source = source_revoke(prefix=options["prefix"])
        if already:
            self.stdout.write(
                _("The write key of %(prefix)s was already revoked.") % {"prefix": source.prefix}
            )
        else:
            self.stdout.write(
                _(
                    "Revoked the write key of %(name)s (%(prefix)s); its requests now get 401. "
                    "Its events stay."
                )
                % {"name": source.name, "prefix": source.prefix}
            )
