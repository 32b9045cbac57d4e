"""Background jobs of the analytics app: the nightly full refresh and the console's
on-demand refresh (both run analytics_refresh; running it twice does no harm)."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from omnicrm.analytics import services
from omnicrm.core.scheduler import periodic_register

NIGHTLY = "analytics.refresh"


@task()
def analytics_refresh_task(run_id: int | None = None) -> dict:
    """Refresh every customer's metrics; ``run_id`` is the queued AnalyticsRun to report on."""
    report = services.analytics_refresh(run_id=run_id, trigger="schedule" if run_id is None else "")
    return {"run_id": report.run_id, "customers": report.customers, "model": report.model}


@task()
def analytics_refresh_customer_task(customer_id: int) -> None:
    """Refresh one customer's metrics after one of their orders changed."""
    services.analytics_refresh_customer(customer_id=customer_id)


periodic_register(name=NIGHTLY, task=analytics_refresh_task, every=timedelta(days=1))
