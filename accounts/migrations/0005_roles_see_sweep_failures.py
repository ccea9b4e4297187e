"""Operators and process admins read the sweeps' failures (orchestration's
SweepFailure) in the admin: the role groups again, now that the model exists."""

from django.db import migrations



def create_roles(apps, schema_editor):
    from importlib import import_module

    import_module("accounts.migrations.0004_role_groups").create_roles(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_role_groups"),
        ("orchestration", "0023_sweep_failures"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
