"""`omnicrm apikey create|list|revoke`: manage the keys of the HTTP API."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from omnicrm.core.apikeys import SCOPES, apikey_create, apikey_list, apikey_revoke
from omnicrm.core.errors import ApplicationError


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


class Command(BaseCommand):
    help = "Create, list and revoke API keys. A new key is printed once and never again."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="Create a key and print it once.")
        create.add_argument("--name", required=True, help="What the key is for, e.g. 'web shop'.")
        create.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated scopes: {', '.join(SCOPES)} (write does not imply read).",
        )
        listing = actions.add_parser("list", help="List keys (prefix, name, scopes, last use).")
        listing.add_argument("--active", action="store_true", help="Hide revoked keys.")
        revoke = actions.add_parser("revoke", help="Revoke a key by its prefix.")
        revoke.add_argument("prefix", help="The prefix shown by `omnicrm apikey list`.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except ApplicationError as exc:
            # Name the option at fault; a positional argument needs no prefix.
            where = f"--{exc.field}: " if exc.field in {"name", "scopes"} else ""
            raise CommandError(f"{where}{exc.message}") from exc

    def _create(self, options: dict[str, Any]) -> None:
        key, raw = apikey_create(name=options["name"], scopes=options["scopes"])
        self.stdout.write(
            _("Created API key %(prefix)s (%(name)s) with scopes %(scopes)s.")
            % {"prefix": key.prefix, "name": key.name, "scopes": ",".join(key.scopes)}
        )
        self.stdout.write(raw)
        self.stdout.write(
            _(
                "Store it now: it is not shown again (only its hash is kept). Send it as "
                "'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
            )
        )

    def _list(self, options: dict[str, Any]) -> None:
        keys = list(apikey_list(include_revoked=not options["active"]))
        if not keys:
            self.stdout.write(
                _(
                    "No API keys. Create one with: omnicrm apikey create --name N "
                    "--scopes read,write"
                )
            )
            return
        header = (
            f"{'PREFIX':<10} {'NAME':<24} {'SCOPES':<11} {'CREATED':<21} {'LAST USED':<21} STATUS"
        )
        self.stdout.write(header)
        for key in keys:
            status = (
                _("revoked %(when)s") % {"when": _when(key.revoked_at)}
                if key.revoked_at
                else _("active")
            )
            self.stdout.write(
                f"{key.prefix:<10} {key.name[:24]:<24} {','.join(key.scopes):<11} "
                f"{_when(key.created_at):<21} {_when(key.last_used_at):<21} {status}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        already = apikey_list().filter(prefix=options["prefix"], revoked_at__isnull=False).exists()
        key = apikey_revoke(prefix=options["prefix"])
        if already:
            self.stdout.write(_("API key %(prefix)s was already revoked.") % {"prefix": key.prefix})
        else:
            self.stdout.write(
                _("Revoked API key %(prefix)s (%(name)s); requests with it now get 401.")
                % {"prefix": key.prefix, "name": key.name}
            )
