"""The engine end to end on a real database: services, the worker, the clock."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from orchestration import services
from orchestration.exceptions import InstanceConflict, InvalidInput, MigrationRefused
from orchestration.models import (
    HumanTask,
    ProcessEvent,
    ProcessInstance,
    StepRun,
    TaskVote,
    Timer,
)
from tests.orchestration.engine import handlers as h
from tests.orchestration.engine.conftest import candidates, publish

pytestmark = pytest.mark.django_db

CHAIN = """
key: chain
name: Chain
variables:
  n: {type: integer, required: true}
start: a
steps:
  a: {type: service, handler: test.a, outputs: [doubled], compensate: test.undo_a,
      retry: {max_attempts: 3, backoff: 10s, max_backoff: 1m}, on_error: {nope: refused}, next: b}
  b: {type: service, handler: test.b, compensate: test.undo_b, timeout: 30s, next: ask}
  ask:
    type: approval
    title: "n is {{ n }}"
    assignees: {groups: [managers]}
    exclude: [starter]
    form:
      - {name: comment, type: text, required_for: [reject]}
      - {name: score, type: integer}
    outcomes: {approve: c, reject: undo}
  c: {type: service, handler: test.c, next: done}
  undo: {type: compensate, next: rejected}
  done: {type: end, result: done}
  refused: {type: end, result: refused, status: failed}
  rejected: {type: end, result: rejected}
"""


@pytest.fixture
def chain(db: None) -> None:
    publish(CHAIN)


def start(actor=None, **variables):
    return services.instance_start(key="chain", variables=variables or {"n": 21}, actor=actor)


def refresh(instance: ProcessInstance) -> ProcessInstance:
    instance.refresh_from_db()
    return instance


def test_start_checks_variables_field_by_field_and_creates_nothing(chain) -> None:
    with pytest.raises(InvalidInput) as raised:
        services.instance_start(key="chain", variables={"n": "x", "m": 1}, actor=None)
    assert raised.value.errors == {
        "variables.n": ["expected integer, got string"],
        "variables.m": ["unknown variable"],
    }
    with pytest.raises(InvalidInput) as raised:
        services.instance_start(key="chain", variables={}, actor=None)
    assert raised.value.errors == {"variables.n": ["this variable is required"]}
    assert (
        not ProcessInstance.objects.exists()
        and not ProcessEvent.objects.filter(instance__isnull=False).exists()
    )


def test_only_starters_may_start(chain, people, outsider) -> None:
    assert start(people["starter"]).started_by == people["starter"]
    with pytest.raises(PermissionDenied):
        start(outsider)


def test_steps_run_in_the_worker_then_a_person_decides(chain, people, worker, clock) -> None:
    instance = start(people["starter"])
    assert instance.status == "running"
    assert list(StepRun.objects.values_list("step", "status")) == [("a", "ready")]
    worker.run_until_idle()
    instance = refresh(instance)
    assert instance.status == "waiting"
    assert instance.variables["doubled"] == 42
    runs = list(StepRun.objects.values_list("step", "attempt", "status", "idempotency_key"))
    assert runs == [
        ("a", 1, "succeeded", f"pi{instance.pk}:a:1"),
        ("b", 1, "succeeded", f"pi{instance.pk}:b:1"),
    ]
    task = HumanTask.objects.get()
    assert (task.title, task.status) == ("n is 21", "open")
    assert candidates(task) == ["managers"]
    services.task_complete(
        task_id=task.pk, outcome="approve", data={"score": 5}, actor=people["manager"], now=clock()
    )
    assert refresh(instance).status == "running"
    worker.run_until_idle()
    instance = refresh(instance)
    assert (instance.status, instance.result) == ("completed", "done")
    assert instance.variables["ask"] == {"score": 5, "outcome": "approve", "decided_by": "molly"}
    assert instance.ended_at is not None
    # The decision is a vote, recorded once; the core closed the task with it.
    (vote,) = TaskVote.objects.all()
    assert (vote.task_id, vote.voter, vote.outcome, vote.data) == (
        task.pk,
        people["manager"],
        "approve",
        {"score": 5},
    )
    assert vote.created_at == clock()
    task.refresh_from_db()
    assert (task.status, task.outcome, task.decided_by) == (
        "completed",
        "approve",
        people["manager"],
    )


def test_every_status_change_is_audited(chain, people, worker) -> None:
    instance = start(people["starter"])
    worker.run_until_idle()
    # Besides transitions, the log holds the email announcing the task (outbox).
    (announce,) = ProcessEvent.objects.filter(instance=instance, kind="notification")
    assert announce.payload["reason"] == "assigned" and announce.step == "ask"
    events = ProcessEvent.objects.filter(instance=instance).exclude(kind="notification")
    events = events.order_by("pk")
    changes = [(e.from_status, e.to_status) for e in events if e.from_status != e.to_status]
    assert changes == [("", "running"), ("running", "waiting")]  # started, then waits
    # One audit row per transition, naming the steps it passed through.
    assert [(e.kind, e.step, e.payload["entered"]) for e in events] == [
        ("instance.started", "", ["a"]),
        ("step.succeeded", "a", ["b"]),
        ("step.succeeded", "b", ["ask"]),
    ]
    assert events[0].actor == people["starter"]


def test_decisions_follow_the_rules(chain, people, worker, clock, outsider) -> None:
    instance = start(people["starter"])
    worker.run_until_idle()
    task = HumanTask.objects.get()
    with pytest.raises(PermissionDenied):
        services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=outsider)
    people["starter"].groups.add(people["manager"].groups.get(name="managers"))
    with pytest.raises(PermissionDenied):  # exclude: [starter]
        services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["starter"])
    with pytest.raises(InvalidInput) as raised:
        services.task_complete(
            task_id=task.pk,
            outcome="reject",
            data={"score": "high", "x": 1},
            actor=people["manager"],
        )
    assert raised.value.errors == {
        "data.x": ["unknown field"],
        "data.comment": ["required to reject"],
        "data.score": ["expected integer"],
    }
    with pytest.raises(InvalidInput):
        services.task_complete(task_id=task.pk, outcome="maybe", data={}, actor=people["manager"])
    assert refresh(instance).status == "waiting"
    services.task_complete(
        task_id=task.pk, outcome="reject", data={"comment": "no"}, actor=people["manager"]
    )
    with pytest.raises(InstanceConflict, match="already completed"):
        services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["manager"])


def test_rejection_compensates_in_reverse_order(chain, people, worker) -> None:
    instance = start(people["starter"])
    worker.run_until_idle()
    task = HumanTask.objects.get()
    services.task_complete(
        task_id=task.pk, outcome="reject", data={"comment": "no"}, actor=people["manager"]
    )
    worker.run_until_idle()
    instance = refresh(instance)
    assert (instance.status, instance.result) == ("completed", "rejected")
    undo = list(
        StepRun.objects.filter(compensation=True).values_list("step", "status", "idempotency_key")
    )
    assert undo == [
        ("b", "succeeded", f"pi{instance.pk}:b:1:undo"),
        ("a", "succeeded", f"pi{instance.pk}:a:1:undo"),
    ]
    assert [c[0] for c in h.CALLS["test.undo_b"]] == [f"pi{instance.pk}:b:1:undo"]


def test_retries_back_off_on_the_clock(chain, worker, clock) -> None:
    h.PLAN["test.a"] = ["retry", "retry"]
    instance = start()
    worker.run_until_idle()
    retry = StepRun.objects.get(attempt=2)
    assert retry.status == "ready"
    assert 5 <= (retry.due_at - clock()).total_seconds() <= 10  # backoff 10s, jittered
    worker.run_until_idle()
    assert StepRun.objects.get(attempt=2).status == "ready"  # not due yet
    clock.advance(seconds=10)
    worker.run_until_idle()
    clock.advance(seconds=20)
    worker.run_until_idle()
    assert refresh(instance).status == "waiting"
    assert [attempt for _, attempt in h.CALLS["test.a"]] == [1, 2, 3]
    assert {key for key, _ in h.CALLS["test.a"]} == {f"pi{instance.pk}:a:1"}


def test_exhausted_retries_fail_the_instance_and_an_operator_retries(
    chain, worker, clock, people
) -> None:
    h.PLAN["test.a"] = ["retry", "retry", "retry"]
    instance = start()
    for _ in range(3):
        worker.run_until_idle()
        clock.advance(minutes=1)
    instance = refresh(instance)
    assert instance.status == "failed"
    assert instance.error["code"] == "RETRYABLE" and instance.error["step"] == "a"
    with pytest.raises(PermissionDenied):
        services.instance_retry(instance_id=instance.pk, actor=people["manager"])
    services.instance_retry(instance_id=instance.pk, actor=people["operator"], now=clock())
    worker.run_until_idle()
    assert refresh(instance).status == "waiting"
    assert StepRun.objects.filter(step="a").count() == 4


def test_business_error_takes_on_error(chain, worker) -> None:
    h.PLAN["test.a"] = ["error:nope"]
    instance = start()
    worker.run_until_idle()
    instance = refresh(instance)
    assert (instance.status, instance.result) == ("failed", "refused")
    assert instance.variables["a"] == {"error": {"code": "nope", "message": "refused"}}
    with pytest.raises(InstanceConflict):
        services.instance_retry(instance_id=instance.pk, actor=None)


def test_unrouted_business_error_fails_at_once(chain, worker) -> None:
    h.PLAN["test.b"] = ["error:ledger_closed"]
    instance = start()
    worker.run_until_idle()
    instance = refresh(instance)
    assert instance.status == "failed" and instance.error["code"] == "ledger_closed"
    assert StepRun.objects.filter(step="b").count() == 1


def test_a_dead_workers_lease_expires_and_its_late_result_is_discarded(chain, clock) -> None:
    from orchestration.engine.worker import Worker

    instance = start()
    dead, alive = Worker("dead", clock=clock), Worker("alive", clock=clock)
    (run,) = dead.claim()
    clock.advance(minutes=6)  # default timeout 5m + grace
    assert alive.expire_leases() == 1
    assert StepRun.objects.get(pk=run.pk).status == "timed_out"
    clock.advance(seconds=30)
    alive.run_until_idle()
    assert refresh(instance).status == "waiting"
    late = dead.run_all([run])
    dead.report(late)  # the dead worker comes back with a result
    discarded = ProcessEvent.objects.get(kind="step.result_discarded")
    assert discarded.payload["run"] == run.pk and discarded.payload["run_status"] == "timed_out"
    assert StepRun.objects.get(pk=run.pk).status == "timed_out"
    assert refresh(instance).status == "waiting"
    dead.close()
    alive.close()


def test_cancel_mid_flight_withdraws_work_and_compensates(chain, worker, people) -> None:
    instance = start(people["starter"])
    worker.run_until_idle()
    services.instance_cancel(instance_id=instance.pk, actor=people["operator"], reason="dup")
    assert HumanTask.objects.get().status == "cancelled"
    worker.run_until_idle()
    instance = refresh(instance)
    assert instance.status == "compensated"
    assert list(StepRun.objects.filter(compensation=True).values_list("step", flat=True)) == [
        "b",
        "a",
    ]
    with pytest.raises(InstanceConflict):
        services.instance_cancel(instance_id=instance.pk, actor=None)


def test_cancel_with_nothing_done_ends_cancelled(chain) -> None:
    instance = start()
    services.instance_cancel(instance_id=instance.pk, actor=None)
    assert refresh(instance).status == "cancelled"
    assert StepRun.objects.get().status == "cancelled"


def test_a_hung_handler_is_abandoned_after_its_timeout(db, worker) -> None:
    publish("""
key: hang
name: Hang
start: slow
steps:
  slow:
    {type: service, handler: test.slow, timeout: 1s, retry: {max_attempts: 2}, next: done}
  done: {type: end}
""")
    h.PLAN["test.slow"] = ["hang", "ok"]
    instance = services.instance_start(key="hang", variables={}, actor=None)
    worker.work_once()  # waits one real second for the hung handler
    h.RELEASE.set()
    first = StepRun.objects.get(attempt=1)
    assert first.status == "failed" and first.error["code"] == "TIMEOUT"
    worker.clock.advance(seconds=2)
    worker.run_until_idle()
    assert refresh(instance).status == "completed"


WAITS = """
key: waits
name: Waits
variables:
  at: {type: datetime, required: true}
start: nap
steps:
  nap: {type: wait, timer: 2h, next: until}
  until: {type: wait, until: at, next: post}
  post: {type: wait, message: paid, timeout: 1d, on_timeout: late, next: done}
  late: {type: end, result: late}
  done: {type: end, result: paid}
"""


def test_timers_and_messages(db, worker, clock) -> None:
    publish(WAITS)
    at = clock.now.replace(hour=14).isoformat()
    instance = services.instance_start(key="waits", variables={"at": at}, actor=None, now=clock())
    worker.run_until_idle()
    assert refresh(instance).status == "waiting"
    assert Timer.objects.get().kind == "wait"
    clock.advance(hours=2)
    worker.run_until_idle()
    timers = list(Timer.objects.order_by("pk").values_list("status", "due_at"))
    assert timers[0][0] == "fired" and timers[1] == ("pending", clock.now.replace(hour=14))
    clock.advance(hours=3)
    worker.run_until_idle()
    assert Timer.objects.filter(kind="message_timeout", status="pending").exists()
    with pytest.raises(InstanceConflict):
        services.instance_send_message(
            instance_id=instance.pk, name="refund", payload={}, actor=None
        )
    services.instance_send_message(
        instance_id=instance.pk, name="paid", payload={"amount": 3}, actor=None, now=clock()
    )
    instance = refresh(instance)
    assert (instance.status, instance.result) == ("completed", "paid")
    assert instance.variables["post"] == {"amount": 3}
    assert Timer.objects.get(kind="message_timeout").status == "cancelled"
    fired = ProcessEvent.objects.filter(kind="timer.fired").values_list("payload", flat=True)
    assert all(p["lateness_s"] == 0 for p in fired)


def test_message_wait_times_out(db, worker, clock) -> None:
    publish(WAITS)
    instance = services.instance_start(
        key="waits", variables={"at": clock.now.isoformat()}, actor=None, now=clock()
    )
    clock.advance(hours=2)
    worker.run_until_idle()
    worker.run_until_idle()
    clock.advance(days=1)
    worker.run_until_idle()
    assert refresh(instance).result == "late"


SUB = """
key: parent
name: Parent
variables:
  n: {type: integer, required: true}
start: call
steps:
  call: {type: subprocess, definition: child, input: {n: n + 1}, result: sub, next: check}
  check:
    type: decision
    branches: [{when: "sub.variables.doubled == 44", next: done}]
    default: odd
  done: {type: end, result: done}
  odd: {type: end, result: odd}
"""
CHILD = """
key: child
name: Child
variables:
  n: {type: integer, required: true}
start: a
steps:
  a: {type: service, handler: test.a, outputs: [doubled], next: done}
  done: {type: end, result: child-done}
"""


def test_subprocess_result_passes_to_the_parent(db, worker) -> None:
    publish(CHILD)
    publish(SUB)
    parent = services.instance_start(key="parent", variables={"n": 21}, actor=None)
    child = ProcessInstance.objects.get(parent=parent)
    assert child.variables == {"n": 22} and child.parent_step == "call"
    worker.run_until_idle()
    parent, child = refresh(parent), refresh(child)
    assert child.status == "completed"
    assert (parent.status, parent.result) == ("completed", "done")
    assert parent.variables["sub"] == {
        "result": "child-done",
        "status": "completed",
        "variables": {"n": 22, "doubled": 44},
    }


def test_a_subprocess_started_by_a_worker_runs_at_once(db, worker) -> None:
    # The child is created inside the worker's transaction and its first step
    # is claimed for chaining there (the demo's loan approval found this path).
    publish(CHILD)
    publish(
        SUB.replace("start: call", "start: first").replace(
            "steps:\n", "steps:\n  first: {type: service, handler: test.b, next: call}\n"
        )
    )
    parent = services.instance_start(key="parent", variables={"n": 21}, actor=None)
    worker.run_until_idle()
    assert refresh(parent).result == "done"
    assert ProcessInstance.objects.get(parent=parent).status == "completed"


def test_cancelling_a_parent_cancels_its_child(db, worker) -> None:
    publish(
        CHILD.replace(
            "a: {type: service, handler: test.a, outputs: [doubled], next: done}",
            "a: {type: wait, message: go, next: done}",
        )
    )
    publish(SUB)
    parent = services.instance_start(key="parent", variables={"n": 1}, actor=None)
    child = ProcessInstance.objects.get(parent=parent)
    services.instance_cancel(instance_id=parent.pk, actor=None)
    worker.run_until_idle()
    assert refresh(parent).status == "cancelled"
    assert refresh(child).status == "cancelled"


def test_parallel_branches_and_join(db, worker, clock) -> None:
    publish("""
key: par
name: Par
start: split
steps:
  split: {type: parallel, branches: [x, y]}
  x: {type: service, handler: test.a, next: meet}
  y: {type: service, handler: test.b, next: meet}
  meet: {type: join, next: after}
  after: {type: service, handler: test.c, next: done}
  done: {type: end, result: joined}
""")
    instance = services.instance_start(key="par", variables={}, actor=None)
    assert sorted(StepRun.objects.values_list("step", flat=True)) == ["x", "y"]
    worker.run_until_idle()
    instance = refresh(instance)
    assert (instance.status, instance.result) == ("completed", "joined")
    assert len(h.CALLS["test.c"]) == 1


def test_migrate_waiting_instances(chain, worker, people) -> None:
    instance = start(people["starter"])
    worker.run_until_idle()
    publish(CHAIN.replace("  ask:\n", "  review:\n").replace("next: ask", "next: review"))
    with pytest.raises(MigrationRefused) as refused:
        services.instance_migrate(key="chain", source=1, target=2, mapping={}, actor=None)
    assert refused.value.problems == {instance.pk: "step 'ask' has no counterpart in version 2"}
    assert refresh(instance).version.number == 1
    moved = services.instance_migrate(
        key="chain", source=1, target=2, mapping={"ask": "review"}, actor=None
    )
    assert moved == [instance.pk]
    instance = refresh(instance)
    assert instance.version.number == 2
    task = HumanTask.objects.get()
    assert task.step == "review"
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["manager"])
    worker.run_until_idle()
    assert refresh(instance).status == "completed"
