"""Operators and auditors place and lift legal holds; operators erase a data
subject's data (orchestration/retention): the role groups again, now that
the permissions exist."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from importlib import import_module

    import_module("accounts.migrations.0004_role_groups").create_roles(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_translatable_names"),
        ("orchestration", "0039_retention_and_holds"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
