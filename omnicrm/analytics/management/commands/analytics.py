"""`omnicrm analytics <subcommand>`: customer analytics from the command line.

Subcommands:
  fit-csv FILE   fit BG/NBD and Gamma-Gamma on any transaction log (CSV, plain or .gz)
                 without importing it; print the parameters with confidence intervals, the
                 log-likelihoods and, with --calibration-end, the holdout comparison.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
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
    help = "Customer analytics: fit the prediction models on a CSV transaction log (fit-csv)."

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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "fit-csv":
            self.fit_csv(options)

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
