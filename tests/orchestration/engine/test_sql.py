"""The hot-path statements return and store exactly what the ORM would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from orchestration import services
from orchestration.engine import sql
from orchestration.models import HumanTask, ProcessInstance, StepRun, TaskAssignee
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
    for model in (ProcessInstance, StepRun, HumanTask, TaskAssignee):
        by_orm = sorted(model.objects.all(), key=lambda o: o.pk)
        by_sql = sql.select(model, "ORDER BY id")
        assert [_fields(o) for o in by_sql] == [_fields(o) for o in by_orm], model
    locked = sql.select(ProcessInstance, "WHERE id = %s", [instance.pk], lock=True)
    assert locked[0].state == ProcessInstance.objects.get().state  # JSON comes back decoded
    run = sql.select(StepRun, f"ORDER BY {sql.table(StepRun)}.id", related="instance")[0]
    assert run.instance.business_key == "B-1"  # joined, no extra query
    task = HumanTask.objects.get()
    assignees = sql.select(TaskAssignee, "WHERE task_id = %s", [task.pk])
    sql.prefetched(task, "assignees", assignees)
    assert [a.group.name for a in task.assignees.all()] == ["managers"]


def test_insert_and_update_store_what_the_orm_reads_back(clock) -> None:
    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=None, now=clock())
    run = StepRun(
        instance=instance, step="check", token="t9", execution=7, attempt=1,
        compensation=True, due_at=clock(), idempotency_key="k",
        error={"code": "X", "nested": [1, None, "ü"]}, created_at=clock(),
    )  # fmt: skip
    sql.insert(StepRun, [run])
    assert run.pk is not None and not run._state.adding
    stored = StepRun.objects.get(pk=run.pk)
    assert model_to_dict(stored) == model_to_dict(run)
    run.status, run.lease_until, run.error = "running", clock() + timedelta(seconds=30), None
    sql.update(StepRun, [run], ["status", "lease_until", "error"])
    stored = StepRun.objects.get(pk=run.pk)
    assert (stored.status, stored.lease_until, stored.error) == ("running", run.lease_until, None)


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
