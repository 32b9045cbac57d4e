"""Non-API URLs of the events app: Segment's paths and the tracking snippet."""

from django.urls import path

from omnicrm.events import views
from omnicrm.events.ingest import http

app_name = "events"

urlpatterns = [
    path("v1/<str:kind>", http.segment_view, name="segment"),
    path("v1/projects/<str:write_key>/settings", views.segment_settings, name="segment_settings"),
    path("t.js", views.snippet, name="snippet"),
]
