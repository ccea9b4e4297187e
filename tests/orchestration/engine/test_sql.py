"""The hot-path statements return and store exactly what the ORM would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from orchestration import services
from orchestration.engine import sql
from orchestration.models import HumanTask, ProcessInstance, StepRun, TaskVote
from tests.orchestration.engine.conftest import publish

pytestmark = pytest.mark.django_db

ASK = """
key: ask
name: Ask
start: check
steps:
  check: {type: service, handler: test.a, next: ask}
  ask: {type: approval, assignees: {groups: [managers]}, outcomes: {approve: done}}
  done: {type: end, result: ok}
"""


def _fields(obj: object) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_select_returns_what_the_orm_returns(worker, clock, people) -> None:
    publish(ASK)
    instance = services.instance_start(
        key="ask", variables={}, actor=None, business_key="B-1", now=clock()
    )
    worker.run_until_idle()
    for model in (ProcessInstance, StepRun, HumanTask):
        by_orm = sorted(model.objects.all(), key=lambda o: o.pk)
        by_sql = sql.select(model, "ORDER BY id")
        assert [_fields(o) for o in by_sql] == [_fields(o) for o in by_orm], model
    locked = sql.select(ProcessInstance, "WHERE id = %s", [instance.pk], lock=True)
    assert locked[0].state == ProcessInstance.objects.get().state  # JSON comes back decoded
    run = sql.select(StepRun, f"ORDER BY {sql.table(StepRun)}.id", related="instance")[0]
    assert run.instance.business_key == "B-1"  # joined, no extra query
    (task,) = sql.select(HumanTask, "")
    managers = Group.objects.get(name="managers")
    assert (task.candidate_users, task.candidate_groups) == ([], [managers.pk])
    votes = sql.select(TaskVote, "WHERE task_id = %s", [task.pk])
    sql.prefetched(task, "votes", votes)
    assert list(task.votes.all()) == []  # set as prefetched: no query


def test_insert_and_update_store_what_the_orm_reads_back(clock) -> None:
    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=None, now=clock())
    errors = [{"code": "X", "nested": [1, None, "ü"]}, None, {"empty": [], "text": "日本"}]
    runs = [
        StepRun(
            instance=instance, step=f"check{n}", token="t9", execution=7 + n, attempt=1,
            compensation=n == 0, due_at=clock() + timedelta(seconds=n), idempotency_key=f"k{n}",
            error=error, created_at=clock(), lane=n % 2,
        )
        for n, error in enumerate(errors)
    ]  # fmt: skip
    sql.insert(StepRun, runs)
    assert all(run.pk is not None and not run._state.adding for run in runs)
    # Each object got its own row's id (the rows are told apart by step).
    for run in runs:
        assert model_to_dict(StepRun.objects.get(pk=run.pk)) == model_to_dict(run)
    run = runs[0]
    run.status, run.lease_until, run.error = "running", clock() + timedelta(seconds=30), None
    sql.update(StepRun, [run], ["status", "lease_until", "error"])
    stored = StepRun.objects.get(pk=run.pk)
    assert (stored.status, stored.lease_until, stored.error) == ("running", run.lease_until, None)
    # Several rows in one statement: each row gets its own object's values, and
    # an object listed twice is written once.
    for n, run in enumerate(runs):
        run.status, run.lease_until = ["done", "failed", "running"][n], clock() + timedelta(hours=n)
        run.error = [None, {"code": "ü", "at": [n]}, {"deep": {"x": None}}][n]
    sql.update(StepRun, [*runs, runs[1]], ["status", "lease_until", "error"])
    for run in runs:
        assert model_to_dict(StepRun.objects.get(pk=run.pk)) == model_to_dict(run)


def test_lists_of_ids_of_any_length_travel_in_one_statement(clock) -> None:
    # Several rows go as one array per column; PostgreSQL's arrays of arrays
    # must be rectangular, and an id may need all 64 bits.
    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=None, now=clock())
    lists = [([], [3]), ([2**40, 7, 1], []), ([5], [9, 8, 7, 6, 5])]
    tasks = [
        HumanTask(
            instance=instance, step="ask", token=f"t{n}", execution=1, title="x",
            candidate_users=users, candidate_groups=groups, created_at=clock(),
        )
        for n, (users, groups) in enumerate(lists)
    ]  # fmt: skip
    sql.insert(HumanTask, tasks)
    stored = HumanTask.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk")
    assert [(t.candidate_users, t.candidate_groups) for t in stored] == lists
    for task, (users, groups) in zip(tasks, lists, strict=True):
        task.candidate_users, task.candidate_groups = groups, [*users, 4]
    sql.update(HumanTask, tasks, ["candidate_users", "candidate_groups"])
    stored = HumanTask.objects.filter(pk__in=[t.pk for t in tasks]).order_by("pk")
    assert [(t.candidate_users, t.candidate_groups) for t in stored] == [
        (groups, [*users, 4]) for users, groups in lists
    ]
    # The lookup the queues use finds a list holding any of the ids.
    found = HumanTask.objects.filter(candidate_groups__overlaps=[2**40, 99])
    assert list(found.values_list("token", flat=True)) == ["t1"]
    assert not HumanTask.objects.filter(candidate_groups__overlaps=[]).exists()


def test_constraint_violations_are_djangos_errors(clock) -> None:
    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=None, now=clock())
    first = StepRun.objects.get()
    twin = StepRun(
        instance=instance, step=first.step, token=first.token, execution=first.execution,
        attempt=first.attempt, due_at=clock(), idempotency_key="dup", created_at=clock(),
    )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        sql.insert(StepRun, [twin])
    assert StepRun.objects.count() == 1


def test_statements_go_through_execute_wrappers_and_are_counted(clock) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orchestration.engine import store

    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=None, now=clock())
    seen = []

    def spy(execute, sql_text, params, many, context):
        seen.append(sql_text)
        return execute(sql_text, params, many, context)

    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(spy):
        store.lock_instances([instance.pk])
        store.withdraw(instance.pk, "nope", tasks=True, timers=True, runs=True, now=clock())
    # the lock, then tasks, timers and runs withdrawn
    expected = 4
    assert len(seen) == expected and "FROM" in seen[0] and "UPDATE" in seen[1]
    if connection.vendor == "postgresql":
        assert "FOR UPDATE" in seen[0]
    assert len(queries) == expected


def test_update_where_stores_values_as_the_orm_does(clock) -> None:
    from django.db import connection

    from orchestration.engine import store

    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=None, now=clock())
    run = StepRun.objects.get(instance=instance)
    store.withdraw(instance.pk, run.token, tasks=False, timers=False, runs=True, now=clock())
    # The same instant written by the ORM into another row, for comparison.
    StepRun.objects.filter(pk=run.pk).update(started_at=clock())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ended_at, started_at FROM {sql.table(StepRun)} WHERE id = %s", [run.pk]
        )
        ended, started = cursor.fetchone()
    assert ended == started  # same stored form (SQLite once kept an offset on one of them)
    run.refresh_from_db()
    assert run.status == "cancelled" and run.ended_at == clock()


ENGINE_MODELS = ("ProcessInstance", "StepRun", "HumanTask", "TaskVote", "Timer", "ProcessEvent")


def test_engine_models_keep_the_shape_the_fast_path_relies_on() -> None:
    """The hand-written statements assume: an `id` primary key, every default set
    in Python (no auto_now), and fields whose values need no conversion when they
    already have the right Python type. A model change that breaks one of these
    must change engine/sql.py too."""
    from django.apps import apps
    from django.db import models

    plain = {models.BooleanField, models.CharField, models.TextField, models.IntegerField,
             models.PositiveIntegerField, models.PositiveSmallIntegerField,
             models.BigIntegerField, models.ForeignKey, models.DateTimeField}  # fmt: skip
    for name in ENGINE_MODELS:
        model = apps.get_model("orchestration", name)
        pk = model._meta.pk
        assert pk.name == "id" and isinstance(pk, models.AutoField | models.BigAutoField), name
        for field in model._meta.concrete_fields:
            where = f"{name}.{field.name}"
            assert not getattr(field, "auto_now", False), where
            assert not getattr(field, "auto_now_add", False), where
            skipped = sql._kind(field, "postgresql") is not None or sql._kind(field, "sqlite")
            if skipped and not field.primary_key:
                assert type(field) in plain, f"{where}: {type(field).__name__} has its own prep"


def test_only_the_store_uses_the_hand_written_statements() -> None:
    import re
    from pathlib import Path

    from django.conf import settings

    users = []
    pattern = re.compile(r"from orchestration\.engine import .*\bsql\b|orchestration\.engine\.sql")
    for app in ("orchestration", "accounts", "tasks_ui", "config"):
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if pattern.search(path.read_text()):
                users.append(str(path.relative_to(settings.BASE_DIR)))
    assert users == ["orchestration/engine/store.py"]
