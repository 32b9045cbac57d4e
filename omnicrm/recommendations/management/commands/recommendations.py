"""`omnicrm recommendations <subcommand>`: the recommendation models from the command line.

Subcommands:
  train      train every model from the data in the database (orders, ratings, wishlists,
             events) with a progress bar; the new run serves as soon as it succeeds.
  evaluate   offline evaluation on a dataset (ml-100k, Olist or any CSV) against baselines;
             see docs/recommendations-evaluation.md.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from omnicrm.core.errors import ApplicationError
from omnicrm.recommendations.models import Algorithm


def _evaluation_cli() -> Any:
    # Imported when used: the evaluation brings its dataset readers along.
    from omnicrm.recommendations.evaluation import cli

    return cli


def _moment(raw: str) -> datetime:
    text = raw.strip()
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise CommandError(
            _("--as-of: %(value)r is not an ISO 8601 date or time.") % {"value": raw}
        )
    if moment is None:
        assert day is not None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Recommendation models: train them from the database (train), or evaluate the "
        "algorithms offline on a dataset (evaluate)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        train = sub.add_parser(
            "train", help="Train every recommendation model from the data in the database."
        )
        train.add_argument(
            "--algorithm",
            choices=Algorithm.values,
            help="Personal model (default: the OMNICRM_RECOMMENDER setting).",
        )
        train.add_argument(
            "--as-of",
            help="Train on the data up to this date or time, ISO 8601 (default: now).",
        )
        train.add_argument(
            "--no-progress", action="store_true", help="Do not draw the progress bar."
        )
        train.add_argument("--json", dest="json_out", help="Write the run's record as JSON here.")
        evaluate = sub.add_parser(
            "evaluate",
            help="Evaluate the algorithms and baselines offline on a dataset.",
        )
        try:
            _evaluation_cli().add_arguments(evaluate)
        except ImportError as exc:  # pragma: no cover - only while the package is missing
            evaluate.set_defaults(evaluation_missing=str(exc))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "train":
            self.train(options)
        elif options["subcommand"] == "evaluate":
            if options.get("evaluation_missing"):
                raise CommandError(options["evaluation_missing"])
            try:
                _evaluation_cli().run(options, self.stdout)
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc

    def train(self, options: dict[str, Any]) -> None:
        from tqdm import tqdm

        from omnicrm.recommendations.training import recommender_train

        as_of = _moment(options["as_of"]) if options["as_of"] else None
        bar = tqdm(
            total=100,
            unit="%",
            disable=options["no_progress"],
            file=self.stderr._out,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}",
        )

        def progress(percent: int, message: str) -> None:
            bar.set_description_str(message, refresh=False)
            bar.update(max(0, percent - bar.n))

        try:
            run = recommender_train(
                algorithm=options["algorithm"], progress=progress, now=as_of, trigger="cli"
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        finally:
            bar.close()
        data = run.data
        self.stdout.write(
            _(
                "Trained %(id)s (%(algorithm)s) in %(seconds).1f s: %(customers)d customers, "
                "%(products)d products, %(signals)d signals."
            )
            % {
                "id": run.public_id,
                "algorithm": run.algorithm,
                "seconds": data.get("seconds", {}).get("total", 0.0),
                "customers": data.get("customers", 0),
                "products": data.get("products", 0),
                "signals": data.get("signals", 0),
            }
        )
        for kind, count in sorted(data.get("neighbors", {}).items()):
            self.stdout.write(_("  %(kind)s links: %(n)d") % {"kind": kind, "n": count})
        for kind, count in sorted(data.get("lists", {}).items()):
            self.stdout.write(_("  %(kind)s list entries: %(n)d") % {"kind": kind, "n": count})
        evaluation = run.evaluation
        if evaluation.get("skipped"):
            self.stdout.write(
                _("Holdout check skipped: %(reason)s") % {"reason": evaluation["skipped"]}
            )
        elif evaluation:
            model, baseline = evaluation["model"], evaluation["popularity"]
            self.stdout.write(
                _(
                    "Holdout (%(users)d customers after %(cut)s): NDCG@10 %(ndcg).4f "
                    "(popularity %(pop).4f), hit rate@10 %(hit).4f (popularity %(pop_hit).4f)."
                )
                % {
                    "users": evaluation["test_customers"],
                    "cut": evaluation["cut"][:10],
                    "ndcg": model["ndcg@10"],
                    "pop": baseline["ndcg@10"],
                    "hit": model["hit_rate@10"],
                    "pop_hit": baseline["hit_rate@10"],
                }
            )
        if options["json_out"]:
            record = {
                "public_id": run.public_id,
                "algorithm": run.algorithm,
                "status": run.status,
                "started_at": run.started_at.isoformat(),
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "params": run.params,
                "data": run.data,
                "evaluation": run.evaluation,
            }
            Path(options["json_out"]).write_text(
                json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
