from django.contrib import admin
from django.urls import include, path

from omnicrm.api import api
from omnicrm.core.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("omnicrm.events.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("", include("omnicrm.events.console_urls")),
    path("", include("omnicrm.segments.urls")),
    path("analytics/", include("omnicrm.analytics.urls")),
    path("recommendations/", include("omnicrm.recommendations.urls")),
    path("", include("omnicrm.console.urls")),
]
