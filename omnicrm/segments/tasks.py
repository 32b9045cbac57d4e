"""Background jobs of segments: refresh one segment, all of them on a schedule, and re-check
the customers an order or an event just changed."""

from __future__ import annotations

import logging
from datetime import timedelta

from django_tasks import task

from omnicrm.core.scheduler import periodic_register
from omnicrm.segments import services
from omnicrm.segments.models import Segment

logger = logging.getLogger(__name__)

# Time-based rules ("no order in the last 90 days") change with the clock alone: a full
# refresh of every dynamic segment runs this often.
REFRESH_EVERY = timedelta(hours=1)


@task()
def segments_refresh_task(segment_id: int) -> dict[str, int]:
    """Refresh one segment; a segment deleted in the meantime is skipped."""
    segment = Segment.objects.filter(pk=segment_id, kind="dynamic").first()
    if segment is None:
        return {"entered": 0, "left": 0, "member_count": 0}
    result = services.segment_refresh(segment=segment)
    return {"entered": result.entered, "left": result.left, "member_count": result.member_count}


@task()
def segments_refresh_all_task() -> dict[str, int]:
    results = services.segment_refresh_all()
    return {slug: result.member_count for slug, result in results.items()}


@task()
def segments_refresh_customer_task(customer_ids: list[int]) -> int:
    """Re-evaluate these customers against the segments their activity can change;
    returns how many memberships changed. Running it twice does no harm."""
    changed = 0
    for customer_id in dict.fromkeys(customer_ids):
        changed += len(services.segment_refresh_customer(customer_id=customer_id))
    return changed


def segments_customer_changed(customer_id: int) -> None:
    """Queue the re-check of one customer. Called by orders and events processing through
    ``transaction.on_commit``, so a rolled-back change queues nothing."""
    try:
        segments_refresh_customer_task.enqueue(customer_ids=[customer_id])
    except Exception:
        # The order or event is committed; the scheduled refresh catches the segment up.
        logger.exception("could not queue the segment re-check of customer %s", customer_id)


periodic_register(name="segments.refresh_all", task=segments_refresh_all_task, every=REFRESH_EVERY)
