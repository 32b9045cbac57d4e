"""What an import that changed data queues for the rest of the product."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def segments_catch_up() -> None:
    """Queue a refresh of every dynamic segment once the import's data is committed.

    Orders and events re-check their customer as they arrive; a bulk import does not (one
    task per customer would be a million tasks), so without this its customers would join
    or leave segments only at the next hourly refresh. A failure to queue is logged: the
    import is done, and the hourly refresh still catches up.
    """
    from omnicrm.segments.models import Segment, SegmentKind
    from omnicrm.segments.tasks import segments_refresh_all_task

    if not Segment.objects.filter(kind=SegmentKind.DYNAMIC).exists():
        return

    def queue() -> None:
        try:
            segments_refresh_all_task.enqueue()
        except Exception:
            logger.exception("could not queue the segments' refresh after an import")

    transaction.on_commit(queue)
