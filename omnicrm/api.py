"""The NinjaAPI root: each app mounts its router here under /api/v1."""

from __future__ import annotations

from ninja import NinjaAPI

import omnicrm

api = NinjaAPI(
    title="omnicrm API",
    version=omnicrm.__version__,
    urls_namespace="api",
    docs_url="/docs",
    description="Customers, catalog, orders and reviews of an online store.",
)
