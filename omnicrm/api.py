"""The NinjaAPI root: each app mounts its router here under /api/v1.

Docs are served at /api/docs and the schema at /api/openapi.json. Every operation needs
an API key (see omnicrm.core.api_auth); every error is rendered by omnicrm.core.api_errors.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.parser import Parser

import omnicrm
from omnicrm.analytics.api import router as analytics_router
from omnicrm.catalog.api import categories_router, products_router
from omnicrm.core.api_auth import api_key_auth
from omnicrm.core.api_errors import install_error_handlers
from omnicrm.customers.api import router as customers_router
from omnicrm.events.api import router as tracking_router
from omnicrm.orders.api import router as orders_router
from omnicrm.recommendations.api import router as recommendations_router
from omnicrm.recommendations.feedback_api import router as feedback_router
from omnicrm.reviews.api import router as reviews_router
from omnicrm.reviews.wishlist_api import ratings_router, wishlists_router
from omnicrm.segments.api import router as segments_router


class DecimalJSONParser(Parser):
    """JSON numbers with a fraction become Decimal, not float, so money stays exact."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return json.loads(request.body, parse_float=Decimal)


DESCRIPTION = """Customers, catalog, orders and reviews of an online store.

Authenticate with an API key (`omnicrm apikey create --name N --scopes read,write`) sent as
`Authorization: Bearer <key>` or `X-API-Key: <key>`. GET needs the `read` scope; POST,
PATCH and DELETE need `write`. Errors are `{"error": {"code", "message", ...}}`; lists are
cursor-paginated (`limit`, `cursor`, `next_cursor`). See docs/api.md.
"""

api = NinjaAPI(
    title="omnicrm API",
    version=omnicrm.__version__,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    description=DESCRIPTION,
    auth=api_key_auth(),
    parser=DecimalJSONParser(),
)
install_error_handlers(api)

api.add_router("/v1/customers", customers_router)
api.add_router("/v1/products", products_router)
api.add_router("/v1/categories", categories_router)
api.add_router("/v1/orders", orders_router)
api.add_router("/v1/reviews", reviews_router)
api.add_router("/v1/segments", segments_router)
api.add_router("/v1/wishlists", wishlists_router)
api.add_router("/v1/ratings", ratings_router)
# Feedback is mounted before the serving router so its fixed prefix wins over path params.
api.add_router("/v1/recommendations/feedback", feedback_router)
api.add_router("/v1/recommendations", recommendations_router)
api.add_router("/v1", tracking_router)
api.add_router("/v1", analytics_router)
