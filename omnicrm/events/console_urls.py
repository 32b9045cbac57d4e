"""Console pages of the events app, mounted under the console (namespace ``tracking``)."""

from django.urls import path

from omnicrm.events import views

app_name = "tracking"

urlpatterns = [
    path("sources/", views.source_list, name="source_list"),
    path("sources/<str:prefix>/", views.source_detail, name="source_detail"),
    path("sources/<str:prefix>/revoke/", views.source_revoke, name="source_revoke"),
    path("customers/<str:public_id>/timeline/", views.customer_timeline, name="customer_timeline"),
]
