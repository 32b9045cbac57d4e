"""Console pages of the recommendations app, mounted at /recommendations/ (namespace
``recommendations``)."""

from django.urls import path

from omnicrm.recommendations import console_views, views

app_name = "recommendations"

urlpatterns = [
    # The model page: current run, evaluation, previous runs, the train button.
    path("model/", views.model_page, name="model"),
    path("model/train/", views.model_train, name="model_train"),
    path("model/status/", views.model_status, name="model_status"),
    # The Customer 360 panel (lazy-loaded) and the product page.
    path(
        "customers/<str:public_id>/panel/",
        console_views.customer_recommendations,
        name="customer_panel",
    ),
    path("products/<str:public_id>/", console_views.product_detail, name="product_detail"),
]
