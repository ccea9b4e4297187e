"""The retention purge runs every 15 minutes (orchestration.jobs.purge_expired)."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="orchestration.purge_expired",
        defaults={
            "func": "orchestration.jobs.purge_expired",
            "schedule_type": "I",
            "minutes": 15,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name="orchestration.purge_expired"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("orchestration", "0039_retention_and_holds")]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
