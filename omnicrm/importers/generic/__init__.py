"""The generic CSV importer: customers, products and orders in documented columns.

Each kind has a module with its COLUMNS, REQUIRED columns and an `import_<kind>` that
validates row by row and applies good rows in batches (docs/importing.md).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from omnicrm.core.errors import ValidationFailed
from omnicrm.core.services import audit_log_write
from omnicrm.importers.bulk import import_session, statistics_refresh
from omnicrm.importers.followups import segments_catch_up
from omnicrm.importers.generic import customers, orders, products
from omnicrm.importers.generic.rows import CsvFile, CsvImportResult, RowError

Importer = Callable[..., None]
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], Importer]] = {
    "customers": (customers.COLUMNS, customers.REQUIRED, customers.import_customers),
    "products": (products.COLUMNS, products.REQUIRED, products.import_products),
    "orders": (orders.COLUMNS, orders.REQUIRED, orders.import_orders),
}


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector, tuned down for the length of an import.

    An import allocates millions of short-lived tuples and lists; by default every 700
    allocations start a collection, and the older generations are rescanned again and
    again, with every module and model already loaded. Freezing what exists before the
    import and collecting the youngest objects every 50,000 allocations instead costs a
    fraction of that. Nothing is left uncollected: thresholds and the frozen objects are
    restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def csv_import(
    *,
    kind: str,
    path: str | Path,
    dry_run: bool = False,
    progress: bool = True,
    batch_size: int = 20_000,
    threaded: bool = True,
) -> CsvImportResult:
    """Validate every row of `path` and apply the good ones (none with `dry_run`).

    Bad rows are listed in `result.errors` as `line N: field F: reason`; nothing of a bad
    row (for orders: of its whole order) is written. A dry run does the whole import in a
    transaction that is rolled back, so its report is exactly what the import would do.
    With `threaded` on PostgreSQL, batches are written by a second thread while the next
    rows are checked (not inside a caller's transaction, where everything stays in that
    one).
    """
    if kind not in KINDS:
        raise ValidationFailed(
            _("unknown kind %(kind)r; use one of %(kinds)s")
            % {"kind": kind, "kinds": ", ".join(KINDS)},
            field="kind",
        )
    file_path = Path(path).expanduser()
    if not file_path.is_file():
        raise ValidationFailed(_("%(path)s is not a file") % {"path": file_path}, field="file")
    if batch_size < 1:
        raise ValidationFailed(_("batch size must be 1 or more"), field="batch_size")
    started = time.perf_counter()
    columns, required, run = KINDS[kind]
    csv_file = CsvFile(file_path, known=columns, required=required)
    result = CsvImportResult(kind=kind, path=str(file_path), dry_run=dry_run)
    if kind == "orders" and not csv_file.has("customer_email", "customer_external_id"):
        csv_file.problems.append(
            RowError(1, "customer_email", _("give a customer_email or customer_external_id column"))
        )
    if csv_file.problems:
        # A header the importer cannot read makes every row unreadable: none is applied.
        result.errors = csv_file.problems
        result.rows = result.rejected = csv_file.count()
        result.seconds = time.perf_counter() - started
        return result
    # Without --dry-run every batch commits on its own; a dry run wraps them all in one
    # transaction that is rolled back.
    outer = transaction.atomic() if dry_run else nullcontext()
    with import_session(), fewer_collections(), outer:
        run(csv_file, result, batch_size=batch_size, progress=progress, threaded=threaded)
        if dry_run:
            transaction.set_rollback(True)
    if not dry_run and result.changed:
        # After the import session: a synchronous commit, so the batches' asynchronous
        # ones are flushed before `statistics_refresh` vacuums their rows.
        with transaction.atomic():
            audit_log_write(
                action=f"import.csv.{kind}",
                object_type="import",
                object_id=file_path.name[:64],
                data={
                    "created": result.created,
                    "updated": result.updated,
                    "rejected": result.rejected,
                },
            )
        statistics_refresh()
        if kind in ("customers", "orders"):
            segments_catch_up()
    result.errors.sort(key=lambda error: (error.line, error.field))
    result.seconds = time.perf_counter() - started
    return result


__all__ = ["KINDS", "CsvImportResult", "RowError", "csv_import"]
