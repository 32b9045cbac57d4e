"""Console URLs of profile merges, mounted inside the console (namespace console:identity)."""

from django.urls import path

from omnicrm.customers import views

app_name = "identity"

urlpatterns = [
    path("customers/<str:public_id>/merge/", views.merge_start, name="merge_start"),
    path(
        "customers/<str:public_id>/merge/<str:other_id>/",
        views.merge_preview,
        name="merge_preview",
    ),
    path("customers/merges/<str:merge_id>/split/", views.merge_split, name="merge_split"),
]
