"""`omnicrm demo generate`: a synthetic shop in the generic CSV format."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from omnicrm.importers.generator.shop import DEFAULT_END, DEFAULT_START, RATES
from omnicrm.importers.services import demo_shop_generate


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise ArgumentTypeError("must be 1 or more")
    return number


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a date like 2025-12-31") from None


class Command(BaseCommand):
    help = "Generate a realistic synthetic shop (customers, products, orders) as CSV files."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        generate = actions.add_parser(
            "generate",
            help="Write customers.csv, products.csv and orders.csv for `omnicrm import csv`.",
        )
        generate.add_argument("--customers", type=_positive, required=True, metavar="N")
        generate.add_argument(
            "--out", default="omnicrm-demo", metavar="DIR", help="Default: ./omnicrm-demo"
        )
        generate.add_argument(
            "--seed", type=int, default=0, help="Same seed, same files (default 0)."
        )
        generate.add_argument(
            "--products",
            type=_positive,
            metavar="N",
            help="Catalog size (default: customers/50, 120-5000).",
        )
        generate.add_argument(
            "--start", type=_day, default=DEFAULT_START, help=f"Default {DEFAULT_START}."
        )
        generate.add_argument(
            "--end", type=_day, default=DEFAULT_END, help=f"Default {DEFAULT_END}."
        )
        generate.add_argument("--currency", default="USD", choices=sorted(RATES))
        generate.add_argument(
            "--orders",
            type=_positive,
            metavar="N",
            help="About N orders in total: purchase rates are scaled to reach it "
            "(default: the natural volume, about 1.3 orders per customer).",
        )
        generate.add_argument(
            "--no-progress", action="store_true", help="Do not draw progress bars."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = demo_shop_generate(
                customers=options["customers"],
                out=options["out"],
                seed=options["seed"],
                products=options["products"],
                start=options["start"],
                end=options["end"],
                currency=options["currency"],
                orders=options["orders"],
                progress=not options["no_progress"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            _(
                "Wrote %(customers)s customers (%(buyers)s buyers), %(products)s products, "
                "%(orders)s orders with %(lines)s lines to %(dir)s in %(seconds).1f s."
            )
            % {
                "customers": f"{result.customers:,}",
                "buyers": f"{result.buyers:,}",
                "products": f"{result.products:,}",
                "orders": f"{result.orders:,}",
                "lines": f"{result.order_lines:,}",
                "dir": result.directory,
                "seconds": result.seconds,
            }
        )
        for kind in ("customers", "products", "orders"):
            self.stdout.write(f"  omnicrm import csv --kind {kind} {result.files[kind]}")
