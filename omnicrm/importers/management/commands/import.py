"""`omnicrm import olist DIR` and `omnicrm import csv --kind KIND FILE`: bring data in."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from omnicrm.core.errors import ApplicationError
from omnicrm.importers.services import csv_import, olist_import


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Import the Olist data set or a generic CSV file (see docs/importing.md)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
        olist = sources.add_parser(
            "olist", help="The Olist Brazilian e-commerce data set (.csv or .csv.gz files)."
        )
        olist.add_argument("directory", metavar="DIR", help="Directory holding the Olist files.")
        olist.add_argument(
            "--limit", type=_positive, metavar="N", help="Import only the first N orders."
        )
        generic = sources.add_parser(
            "csv", help="Customers, products or orders in omnicrm's columns."
        )
        generic.add_argument(
            "--kind",
            required=True,
            choices=["customers", "products", "orders"],
            help="What the file holds.",
        )
        generic.add_argument("file", metavar="FILE", help="A .csv or .csv.gz file.")
        generic.add_argument(
            "--dry-run", action="store_true", help="Check every row and report, write nothing."
        )
        for sub in (olist, generic):
            sub.add_argument(
                "--no-progress", action="store_true", help="Do not draw progress bars."
            )
            sub.add_argument(
                "--batch-size",
                type=_positive,
                default=None,
                metavar="N",
                help="Rows per transaction.",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["source"] == "olist":
                self._olist(options)
            else:
                self._csv(options)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

    def _olist(self, options: dict[str, Any]) -> None:
        extra = {"batch_size": options["batch_size"]} if options["batch_size"] else {}
        result = olist_import(
            directory=options["directory"],
            limit=options["limit"],
            progress=not options["no_progress"],
            **extra,
        )
        self.stdout.write(
            _("Imported from Olist in %(seconds).1f s (%(rows)s rows read):")
            % {"seconds": result.seconds, "rows": f"{result.rows_read:,}"}
        )
        self._tables(
            result.created,
            result.updated,
            {
                "categories": result.categories,
                "products": result.products,
                "customers": result.customers,
                "addresses": result.addresses,
                "orders": result.orders,
                "order_lines": result.order_lines,
                "payments": result.payments,
                "reviews": result.reviews,
            },
        )

    def _csv(self, options: dict[str, Any]) -> None:
        extra = {"batch_size": options["batch_size"]} if options["batch_size"] else {}
        result = csv_import(
            kind=options["kind"],
            path=options["file"],
            dry_run=options["dry_run"],
            progress=not options["no_progress"],
            **extra,
        )
        for error in result.errors:
            self.stderr.write(str(error))
        for note in result.notes:
            self.stdout.write(note)
        heading = (
            _(
                "Dry run of %(file)s: nothing was written. %(applied)s rows would be applied, "
                "%(rejected)s rejected."
            )
            if result.dry_run
            else _(
                "Imported %(file)s in %(seconds).1f s: %(applied)s rows applied, "
                "%(rejected)s rejected."
            )
        )
        self.stdout.write(
            heading
            % {
                "file": options["file"],
                "seconds": result.seconds,
                "applied": f"{result.applied:,}",
                "rejected": f"{result.rejected:,}",
            }
        )
        self._tables(result.created, result.updated, {})
        if result.rejected:
            raise CommandError(
                _("%(n)s rows were rejected (listed above as line, field and reason)")
                % {"n": f"{result.rejected:,}"},
                returncode=1,
            )

    def _tables(
        self, created: dict[str, int], updated: dict[str, int], totals: dict[str, int]
    ) -> None:
        tables = list(dict.fromkeys([*totals, *created, *updated]))
        for table in tables:
            parts = []
            if table in totals:
                parts.append(_("%(n)s in the import") % {"n": f"{totals[table]:,}"})
            parts.append(_("%(n)s created") % {"n": f"{created.get(table, 0):,}"})
            parts.append(_("%(n)s updated") % {"n": f"{updated.get(table, 0):,}"})
            self.stdout.write(f"  {table}: {', '.join(parts)}")
