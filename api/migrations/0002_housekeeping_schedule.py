"""The hourly schedule that forgets old idempotency keys and kept messages."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="api.housekeeping",
        defaults={
            "func": "api.jobs.housekeeping",
            "schedule_type": "I",
            "minutes": 60,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="api.housekeeping").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
