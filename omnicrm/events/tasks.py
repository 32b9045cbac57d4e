"""Background jobs of the events app: process what ingestion stored."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from omnicrm.core.scheduler import periodic_register
from omnicrm.events import processing

# One sweep handles at most this many events; the next sweep (or the per-batch tasks)
# continues, so a backlog drains without one task running for hours.
SWEEP_LIMIT = 5000


@task()
def events_process(event_ids: list[int]) -> dict[str, int]:
    """Process the given events (queued by ingestion after its commit). Running it twice
    does no harm: events already processed are skipped."""
    report = processing.events_process(event_ids=event_ids)
    return {
        "processed": report.processed,
        "failed": report.failed,
        "retried": report.retried,
        "orders_created": len(report.orders_created),
    }


@task()
def events_process_pending() -> dict[str, int]:
    """The safety net: process events whose task was never queued or failed (a crash
    between commit and enqueue, a worker that died), and retry failed attempts."""
    totals = {"processed": 0, "failed": 0, "retried": 0}
    done = 0
    after_id = 0
    while done < SWEEP_LIMIT:
        # Walking forward by id gives each event at most one attempt per sweep.
        ids = processing.events_unprocessed_ids(after_id=after_id, limit=processing.BATCH_SIZE)
        if not ids:
            break
        report = processing.events_process(event_ids=ids)
        totals["processed"] += report.processed
        totals["failed"] += report.failed
        totals["retried"] += report.retried
        done += len(ids)
        after_id = ids[-1]
    return totals


periodic_register(
    name="events.process_pending", task=events_process_pending, every=timedelta(minutes=1)
)
