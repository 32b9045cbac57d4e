from django.urls import include, path

from omnicrm.console import views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.ConsoleLoginView.as_view(), name="login"),
    path("logout/", views.ConsoleLogoutView.as_view(), name="logout"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/<str:public_id>/", views.customer_detail, name="customer_detail"),
    path("", include("omnicrm.customers.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
