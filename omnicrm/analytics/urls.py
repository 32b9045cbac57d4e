"""Console pages of the analytics app, mounted at /analytics/ (namespace ``analytics``)."""

from django.urls import path

from omnicrm.analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("refresh/", views.refresh, name="refresh"),
    path("status/", views.refresh_status, name="status"),
    path("reorders/<slug:slug>/", views.category_reorder_detail, name="category_reorders"),
    path(
        "customers/<str:public_id>/predictions/",
        views.customer_predictions,
        name="customer_predictions",
    ),
]
