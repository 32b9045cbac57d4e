"""On PostgreSQL, the (kind, value) uniqueness index also carries customer_id (INCLUDE), so
matching a batch of emails or external ids to customers, what every import does, reads
the index alone. Django's model state keeps the plain constraint: SQLite has no INCLUDE,
and Django does not create a unique constraint with one there at all."""

from __future__ import annotations

from django.db import migrations

TABLE = "customers_identity"
NAME = "identity_kind_value_unique"


def _replace(apps, schema_editor, include: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{NAME}"')
    schema_editor.execute(
        f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{NAME}" UNIQUE ("kind", "value"){include}'
    )


def cover(apps, schema_editor):
    _replace(apps, schema_editor, ' INCLUDE ("customer_id")')


def uncover(apps, schema_editor):
    _replace(apps, schema_editor, "")


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_identity_merge")]

    operations = [migrations.RunPython(cover, uncover, elidable=False)]
