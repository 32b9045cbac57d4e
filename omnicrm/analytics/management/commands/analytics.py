"""`omnicrm analytics <subcommand>`: customer analytics from the command line.

Subcommands:
  fit-csv FILE   fit BG/NBD and Gamma-Gamma on any transaction log (CSV, plain or .gz)
                 without importing it; print the parameters with confidence intervals, the
                 log-likelihoods and, with --calibration-end, the holdout comparison.
  refresh        recompute every customer's stored RFM scores and predictions from the
                 orders in the database, with a progress bar.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from omnicrm.analytics.clv.csvlog import read_transaction_csv
from omnicrm.analytics.clv.report import (
    FitOptions,
    fit_report,
    report_lines,
    write_predictions_csv,
)
from omnicrm.analytics.clv.summary import UNITS
from omnicrm.core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Customer analytics: refresh the stored predictions (refresh), or fit the prediction "
        "models on a CSV transaction log (fit-csv)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        fit = sub.add_parser(
            "fit-csv",
            help="Fit BG/NBD and Gamma-Gamma on a CSV transaction log (one row per order).",
        )
        fit.add_argument("file", help="CSV file, plain or gzip, with a header line.")
        fit.add_argument("--customer-col", required=True, help="Column with the customer key.")
        fit.add_argument("--date-col", required=True, help="Column with the order date.")
        fit.add_argument("--amount-col", help="Column with the order amount (optional).")
        fit.add_argument(
            "--date-format",
            help="strptime format when dates are not ISO 8601, e.g. %%d/%%m/%%Y.",
        )
        fit.add_argument("--delimiter", help="Field separator (default: guessed from the header).")
        fit.add_argument(
            "--calibration-end",
            help="Fit on orders up to this date and compare predictions with what came after.",
        )
        fit.add_argument(
            "--observation-end", help="Last day of observation (default: the last order's day)."
        )
        fit.add_argument("--unit", choices=sorted(UNITS), default="days", help="Time unit.")
        fit.add_argument(
            "--horizon-days", type=float, default=30.0, help="Prediction horizon in days."
        )
        fit.add_argument("--clv-months", type=int, default=12, help="CLV horizon in months.")
        fit.add_argument(
            "--discount-rate", type=float, default=0.01, help="Monthly discount rate for CLV."
        )
        fit.add_argument(
            "--min-repeat-buyers",
            type=int,
            default=FitOptions.min_repeat_buyers,
            help="Below this many repeat buyers the RFM fallback is used.",
        )
        fit.add_argument(
            "--interval-draws",
            type=int,
            default=100,
            help="Parameter draws for per-customer intervals (0 turns them off).",
        )
        fit.add_argument("--seed", type=int, default=0, help="Seed of the interval draws.")
        fit.add_argument("--json", dest="json_out", help="Write the whole report as JSON here.")
        fit.add_argument(
            "--predictions", help="Write one CSV row of predictions per customer here."
        )

        refresh = sub.add_parser(
            "refresh",
            help="Recompute every customer's RFM scores and predictions from the orders.",
        )
        refresh.add_argument(
            "--as-of",
            help="Compute as of this date or time, ISO 8601 (default: now); later orders "
            "are ignored.",
        )
        refresh.add_argument(
            "--no-progress", action="store_true", help="Do not draw the progress bar."
        )
        refresh.add_argument("--json", dest="json_out", help="Write the run report as JSON here.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "fit-csv":
            self.fit_csv(options)
        elif options["subcommand"] == "refresh":
            self.refresh(options)

    def refresh(self, options: dict[str, Any]) -> None:
        from datetime import UTC

        from django.utils.dateparse import parse_date, parse_datetime
        from tqdm import tqdm

        from omnicrm.analytics.services import analytics_refresh

        as_of = None
        if options["as_of"]:
            raw = options["as_of"].strip()
            try:
                moment = parse_datetime(raw)
                day = None if moment else parse_date(raw)
            except ValueError:
                moment = day = None
            if moment is None and day is None:
                raise CommandError(
                    _("--as-of: %(value)r is not an ISO 8601 date or time.") % {"value": raw}
                )
            if moment is None:
                assert day is not None
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            elif moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            as_of = moment
        bar = tqdm(
            total=100,
            unit="%",
            disable=options["no_progress"],
            file=self.stderr._out,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}",
        )

        def progress(fraction: float, message: str) -> None:
            bar.set_description_str(message, refresh=False)
            bar.update(max(0, int(fraction * 100) - bar.n))

        try:
            report = analytics_refresh(as_of=as_of, progress=progress, trigger="cli")
        finally:
            bar.close()
        data = report.as_dict()
        self.stdout.write(
            _(
                "Refreshed %(customers)d customers (%(buyers)d buyers, %(orders)d orders) "
                "in %(seconds).1f s; model: %(model)s."
            )
            % {
                "customers": report.customers,
                "buyers": report.buyers,
                "orders": report.orders,
                "seconds": report.seconds.get("total", 0.0),
                "model": report.model or "-",
            }
        )
        for note in (report.model_note, report.spend_note, report.interval_note):
            if note:
                self.stdout.write(f"  {note}")
        for segment, count in sorted(report.segments.items()):
            self.stdout.write(f"  {segment}: {count}")
        if report.replaced_values:
            self.stdout.write(
                _("Values stored as empty because they were not finite: %(values)s")
                % {"values": report.replaced_values}
            )
        if options["json_out"]:
            Path(options["json_out"]).write_text(
                json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )

    def fit_csv(self, options: dict[str, Any]) -> None:
        fit_options = FitOptions(
            unit=options["unit"],
            calibration_end=options["calibration_end"],
            observation_end=options["observation_end"],
            horizon_days=options["horizon_days"],
            clv_months=options["clv_months"],
            monthly_discount_rate=options["discount_rate"],
            min_repeat_buyers=options["min_repeat_buyers"],
            interval_draws=options["interval_draws"],
            seed=options["seed"],
        )
        try:
            log = read_transaction_csv(
                options["file"],
                customer_col=options["customer_col"],
                date_col=options["date_col"],
                amount_col=options["amount_col"],
                date_format=options["date_format"],
                delimiter=options["delimiter"],
            )
            report = fit_report(log, fit_options, source=str(options["file"]))
        except ApplicationError as exc:
            raise CommandError(f"{options['file']}: {exc.message}") from None
        for line in report_lines(report.data):
            self.stdout.write(line)
        if options["json_out"]:
            Path(options["json_out"]).write_text(
                json.dumps(report.data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            self.stdout.write(_("Report written to %(path)s") % {"path": options["json_out"]})
        if options["predictions"]:
            count = write_predictions_csv(report, options["predictions"])
            self.stdout.write(
                _("Predictions for %(n)d customers written to %(path)s")
                % {"n": count, "path": options["predictions"]}
            )
