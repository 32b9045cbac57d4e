from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "omnicrm.customers"
    label = "customers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system check that reports a bad OMNICRM_IDENTITY_RULES at start.
        from omnicrm.customers import rules  # noqa: F401
