"""Migration 0028 folds TaskAssignee rows into each task's candidate lists, in
their order and without duplicates, and going back rebuilds the rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The accounts app as it was then (its user model as the database has it; its
# later role migrations need orchestration's later permissions).
ACCOUNTS = [("accounts", "0008_translatable_names")]
BEFORE = [("orchestration", "0027_step_run_lanes"), *ACCOUNTS]
AFTER = [("orchestration", "0028_task_candidates_in_the_row"), *ACCOUNTS]


@pytest.mark.django_db(transaction=True)
def test_assignee_rows_become_lists_and_back() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    models = {
        name: old.get_model(app, name)
        for app, name in [
            ("orchestration", "ProcessDefinition"), ("orchestration", "ProcessVersion"),
            ("orchestration", "ProcessInstance"), ("orchestration", "HumanTask"),
            ("orchestration", "TaskAssignee"), ("accounts", "User"), ("auth", "Group"),
        ]
    }  # fmt: skip
    users = [models["User"].objects.create(username=f"u{n}") for n in range(3)]
    groups = [models["Group"].objects.create(name=f"g{n}") for n in range(3)]
    definition = models["ProcessDefinition"].objects.create(key="k", name="K")
    version = models["ProcessVersion"].objects.create(
        definition=definition, number=1, source="", spec={}, status="published"
    )
    instance = models["ProcessInstance"].objects.create(
        definition=definition, version=version, status="waiting"
    )
    tasks = [
        models["HumanTask"].objects.create(
            instance=instance, step="s", token=str(n), execution=1, title="t", status=status
        )
        for n, status in enumerate(["open", "completed", "open"])
    ]
    row = models["TaskAssignee"].objects.create
    # Task 0: users in the order 2, 0 (and 2 again), group 1; task 1 (closed):
    # group 2 then group 0; task 2: nobody.
    row(task=tasks[0], user=users[2])
    row(task=tasks[0], group=groups[1])
    row(task=tasks[0], user=users[0])
    row(task=tasks[0], user=users[2])
    row(task=tasks[1], group=groups[2], open=False)
    row(task=tasks[1], group=groups[0], open=False)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("orchestration", "HumanTask")
    lists = [
        (t.candidate_users, t.candidate_groups)
        for t in new.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk")
    ]
    assert lists == [
        ([users[2].pk, users[0].pk], [groups[1].pk]),
        ([], [groups[2].pk, groups[0].pk]),
        ([], []),
    ]

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    back = executor.loader.project_state(BEFORE).apps.get_model("orchestration", "TaskAssignee")
    rows = back.objects.order_by("task_id", "user_id", "group_id")
    assert sorted(rows.values_list("task_id", "user_id", "group_id", "open"), key=str) == sorted(
        [
            (tasks[0].pk, users[2].pk, None, True), (tasks[0].pk, users[0].pk, None, True),
            (tasks[0].pk, None, groups[1].pk, True),
            (tasks[1].pk, None, groups[2].pk, False), (tasks[1].pk, None, groups[0].pk, False),
        ],
        key=str,
    )  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
