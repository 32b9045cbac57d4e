from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    # Permissions are created by post_migrate, so role groups can only be synced after it.
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    from omnicrm.core.roles import roles_ensure

    using = kwargs.get("using", "default")
    # post_migrate reaches core before the apps after it have their permissions; create
    # them all first (idempotent) so the role groups can reference them.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    roles_ensure()


class CoreConfig(AppConfig):
    name = "omnicrm.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="omnicrm.core.sync_roles")
