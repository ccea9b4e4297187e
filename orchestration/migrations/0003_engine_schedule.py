"""The minute schedule that keeps engine loops running (django-q2 checks schedules
about every 30 s; loops then wake on NOTIFY, so timers fire within a second)."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="orchestration.ensure_loops",
        defaults={
            "func": "orchestration.jobs.ensure_loops",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="orchestration.ensure_loops").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orchestration", "0002_instances"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
