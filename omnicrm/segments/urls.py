"""Console pages of segments (namespace ``segments``), mounted at the site root like the
other console apps."""

from django.urls import path

from omnicrm.segments import views

app_name = "segments"

urlpatterns = [
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_new, name="segment_new"),
    path("segments/preview/", views.segment_preview, name="segment_preview"),
    path("segments/<str:public_id>/", views.segment_detail, name="segment_detail"),
    path("segments/<str:public_id>/edit/", views.segment_edit, name="segment_edit"),
    path("segments/<str:public_id>/refresh/", views.segment_refresh, name="segment_refresh"),
    path("segments/<str:public_id>/delete/", views.segment_delete, name="segment_delete"),
    path("segments/<str:public_id>/export.csv", views.segment_export, name="segment_export"),
    path("segments/<str:public_id>/members/", views.segment_members, name="segment_members"),
]
