"""The role groups and their permissions exist once the database is migrated
(`manage.py setup_roles` and the demo re-apply them; both are idempotent)."""

from django.apps import apps as global_apps
from django.db import migrations


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from accounts.roles import CAPABILITIES

    # Permissions are normally created after all migrations ran; make them now.
    for app_config in global_apps.get_app_configs():
        had = app_config.models_module
        app_config.models_module = had or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = had
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, capabilities in CAPABILITIES.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for dotted in sorted(capabilities):
            app_label, codename = dotted.split(".", 1)
            found = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if found is not None:  # a model added later: its migration grants it
                wanted.append(found)
        group.permissions.set(wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_timezone_validated"),
        ("orchestration", "0014_task_comments"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
