"""A task's candidates move from TaskAssignee rows into the task's own row
(HumanTask.candidate_users, candidate_groups): an approval offered to twenty
groups wrote twenty rows, each with its index entries and foreign-key checks,
and rewrote them when it closed. The rows are copied into the lists (in their
order) before the table goes; going back rebuilds them.

On PostgreSQL the lists are bigint[] with GIN indexes: two over open tasks
(people's queues) and two over every task (what a person may still see)."""

from django.db import migrations

import orchestration.models.fields

CHUNK = 2000
GIN = [
    ("task_open_candidate_users", "candidate_users", "WHERE status = 'open'"),
    ("task_open_candidate_groups", "candidate_groups", "WHERE status = 'open'"),
    ("task_candidate_users", "candidate_users", ""),
    ("task_candidate_groups", "candidate_groups", ""),
]


def rows_to_lists(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # One set-based statement: millions of tasks in seconds, not chunks.
        schema_editor.execute(
            "WITH firsts AS (SELECT task_id, user_id, group_id, min(id) AS id"
            " FROM orchestration_taskassignee GROUP BY task_id, user_id, group_id)"
            " UPDATE orchestration_humantask t SET candidate_users = a.users,"
            " candidate_groups = a.groups FROM (SELECT task_id,"
            " COALESCE(array_agg(user_id ORDER BY id) FILTER (WHERE user_id IS NOT NULL),"
            " '{}') AS users,"
            " COALESCE(array_agg(group_id ORDER BY id) FILTER (WHERE group_id IS NOT NULL),"
            " '{}') AS groups FROM firsts GROUP BY task_id) a WHERE t.id = a.task_id"
        )
        return
    assignee = apps.get_model("orchestration", "TaskAssignee")
    task = apps.get_model("orchestration", "HumanTask")
    db = schema_editor.connection.alias
    last = 0
    while True:
        ids = list(
            task.objects.using(db).filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CHUNK]
        )
        if not ids:
            return
        last = ids[-1]
        lists = {pk: ([], []) for pk in ids}
        rows = assignee.objects.using(db).filter(task_id__in=ids).order_by("pk")
        for task_id, user_id, group_id in rows.values_list("task_id", "user_id", "group_id"):
            users, groups = lists[task_id]
            if user_id is not None and user_id not in users:
                users.append(user_id)
            if group_id is not None and group_id not in groups:
                groups.append(group_id)
        changed = []
        for pk, (users, groups) in lists.items():
            if users or groups:
                changed.append(task(pk=pk, candidate_users=users, candidate_groups=groups))
        task.objects.using(db).bulk_update(changed, ["candidate_users", "candidate_groups"])


def lists_to_rows(apps, schema_editor):
    assignee = apps.get_model("orchestration", "TaskAssignee")
    task = apps.get_model("orchestration", "HumanTask")
    db = schema_editor.connection.alias
    last = 0
    while True:
        tasks = list(
            task.objects.using(db).filter(pk__gt=last).order_by("pk")
            .only("pk", "status", "candidate_users", "candidate_groups")[:CHUNK]
        )
        if not tasks:
            return
        last = tasks[-1].pk
        assignee.objects.using(db).bulk_create(
            [assignee(task_id=t.pk, user_id=u, open=t.status == "open") for t in tasks
             for u in t.candidate_users]
            + [assignee(task_id=t.pk, group_id=g, open=t.status == "open") for t in tasks
               for g in t.candidate_groups]
        )


def gin_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column, where in GIN:
        schema_editor.execute(
            f"CREATE INDEX {name} ON orchestration_humantask USING gin ({column}) {where}"
        )


def drop_gin_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in GIN:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("orchestration", "0027_step_run_lanes"),
    ]

    operations = [
        migrations.AddField(
            model_name="humantask",
            name="candidate_groups",
            field=orchestration.models.fields.IdListField(default=list),
        ),
        migrations.AddField(
            model_name="humantask",
            name="candidate_users",
            field=orchestration.models.fields.IdListField(default=list),
        ),
        migrations.RunPython(rows_to_lists, lists_to_rows),
        migrations.RunPython(gin_indexes, drop_gin_indexes),
        migrations.DeleteModel(
            name="TaskAssignee",
        ),
    ]
