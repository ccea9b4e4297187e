"""Workers take the work of instances already under way before new instances'
first steps (StepRun.lane), each lane oldest first: under more starts than the
workers can run, a person's decision goes on at once instead of behind the
backlog."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.models import User
from orchestration import services
from orchestration.engine import store
from orchestration.models import HumanTask, ProcessInstance, StepRun
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish
from tests.orchestration.engine.test_runtime__flows import CHILD, SUB

pytestmark = pytest.mark.django_db

ASK = """
key: ask
name: Ask
start: first
steps:
  first: {type: service, handler: test.a, next: ask}
  ask:
    type: approval
    title: Approve?
    assignees: {users: [bob]}
    outcomes: {approve: last}
  last: {type: service, handler: test.c, next: done}
  done: {type: end, result: done}
"""


def claimed(clock, limit: int) -> list[tuple[int, str, int]]:
    with transaction.atomic():
        runs = store.claim_ready_runs(due_by=clock(), limit=limit)
    return [(run.instance_id, run.step, run.lane) for run in runs]


def test_a_decided_instance_goes_before_older_new_instances(db, worker, clock) -> None:
    bob = make_user("bob")
    publish(ASK)
    waiting = services.instance_start(key="ask", variables={}, actor=None)
    worker.run_until_idle()
    clock.advance(minutes=1)
    new = [services.instance_start(key="ask", variables={}, actor=None).pk for _ in range(3)]
    clock.advance(minutes=1)
    task = HumanTask.objects.get(instance=waiting)
    services.task_complete(
        task_id=task.pk, outcome="approve", data={}, actor=User.objects.get(pk=bob.pk)
    )
    # The decision's step was queued last, and is taken first; then the new
    # instances, oldest first, as far as the limit leaves room.
    assert claimed(clock, 3) == [
        (waiting.pk, "last", StepRun.IN_FLIGHT),
        (new[0], "first", StepRun.NEW),
        (new[1], "first", StepRun.NEW),
    ]
    # What a claim did not take stays ready, and is not locked past its transaction.
    assert claimed(clock, 10) == [(waiting.pk, "last", 0), *[(pk, "first", 1) for pk in new]]


def test_a_run_not_yet_due_in_the_first_lane_holds_back_no_new_instance(db, worker, clock) -> None:
    publish(ASK)
    waiting = services.instance_start(key="ask", variables={}, actor=None)
    StepRun.objects.filter(instance=waiting).update(lane=StepRun.IN_FLIGHT)
    StepRun.objects.filter(instance=waiting).update(due_at=clock().replace(year=2100))
    new = services.instance_start(key="ask", variables={}, actor=None)
    assert claimed(clock, 5) == [(new.pk, "first", StepRun.NEW)]


def test_a_sub_process_carries_on_its_parents_work(db, worker, clock) -> None:
    publish(CHILD)
    publish(SUB)
    parent = services.instance_start(key="parent", variables={"n": 21}, actor=None)
    child = ProcessInstance.objects.get(parent=parent)
    assert list(StepRun.objects.filter(instance=child).values_list("lane", flat=True)) == [
        StepRun.IN_FLIGHT
    ]
    worker.run_until_idle()
    assert ProcessInstance.objects.get(pk=parent.pk).result == "done"
