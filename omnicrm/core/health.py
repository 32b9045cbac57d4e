"""GET /healthz: is the database reachable, and is a worker taking tasks?"""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

import omnicrm
from omnicrm.core.models import PeriodicJob
from omnicrm.core.tasks import HEARTBEAT


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Public and cheap: answers load balancers; reveals no shop data."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        heartbeat = PeriodicJob.objects.filter(name=HEARTBEAT).values_list(
            "last_finished_at", flat=True
        )
        last = heartbeat.first()
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse(
        {
            "status": "ok",
            "version": omnicrm.__version__,
            "database": connection.vendor,
            "tasks_backend": "rq" if settings.REDIS_URL else "database",
            "worker_last_seen_seconds": (
                round((timezone.now() - last).total_seconds()) if last else None
            ),
        }
    )
