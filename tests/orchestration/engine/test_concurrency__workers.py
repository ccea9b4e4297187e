"""Several worker processes against one PostgreSQL: no transition applied twice,
no step attempt run twice at once, no timer fired twice, one decision per task."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from orchestration import services
from orchestration.models import HumanTask, ProcessEvent, ProcessInstance, StepRun, TaskVote, Timer
from tests.orchestration.engine.conftest import THREE_STEPS, publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROCESSES = 4
INSTANCES = 200


def _work_until_done(barrier, deadline: float) -> None:
    from orchestration.engine.worker import Worker

    worker = Worker(batch=8)
    barrier.wait()
    try:
        while time.monotonic() < deadline:
            if (
                not worker.work_once()
                and not ProcessInstance.objects.filter(ended_at__isnull=True).exists()
            ):
                break
    finally:
        worker.close()
        connections.close_all()


def _run_workers(target, *args) -> None:
    connections.close_all()  # children must not share the parent's socket
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    deadline = time.monotonic() + 90
    procs = [ctx.Process(target=target, args=(barrier, deadline, *args)) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0


def _race(target, task_id: int, per_process: list[str]) -> list[str]:
    """Start one process per entry of `per_process`, released together at a
    barrier, each calling target(barrier, 0, task_id, entry, queue); return
    what they put on the queue, in the order they answered."""
    connections.close_all()  # children must not share the parent's socket
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(len(per_process)), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(barrier, 0, task_id, entry, queue))
        for entry in per_process
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    return results


def test_four_workers_apply_every_transition_once(ledger: Path) -> None:
    publish(THREE_STEPS)
    ids = [
        services.instance_start(key="three", variables={}, actor=None).pk for _ in range(INSTANCES)
    ]
    _run_workers(_work_until_done)
    statuses = Counter(ProcessInstance.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {"completed": INSTANCES}
    runs = Counter(StepRun.objects.values_list("instance_id", "step", "status"))
    assert set(runs.values()) == {1} and len(runs) == 3 * INSTANCES
    applied = Counter(
        ProcessEvent.objects.filter(kind="step.succeeded").values_list("instance_id", "step")
    )
    assert set(applied.values()) == {1} and len(applied) == 3 * INSTANCES
    assert not ProcessEvent.objects.filter(
        kind__in=["step.result_discarded", "event.ignored"]
    ).exists()
    calls = Counter(line.split()[0] for line in ledger.read_text().splitlines())
    assert len(calls) == 3 * INSTANCES and set(calls.values()) == {1}
    pids = {line.split()[2] for line in ledger.read_text().splitlines()}
    assert len(pids) > 1  # the work really was shared


WAIT = """
key: nap
name: Nap
start: nap
steps:
  nap: {type: wait, timer: 1s, next: done}
  done: {type: end, result: woke}
"""


def test_four_workers_fire_every_timer_once() -> None:
    publish(WAIT)
    for _ in range(INSTANCES):
        services.instance_start(
            key="nap", variables={}, actor=None, now=timezone.now() - timezone.timedelta(seconds=5)
        )
    _run_workers(_work_until_done)
    assert Timer.objects.filter(status="fired").count() == INSTANCES
    fired = Counter(
        ProcessEvent.objects.filter(kind="timer.fired").values_list("instance_id", flat=True)
    )
    assert len(fired) == INSTANCES and set(fired.values()) == {1}
    assert set(ProcessInstance.objects.values_list("result", flat=True)) == {"woke"}
    # A second firing finds its token gone and is recorded as ignored, naming
    # the timer: none may exist, and every timer is named exactly once.
    assert not ProcessEvent.objects.filter(kind="event.ignored").exists()
    firings = Counter(
        ProcessEvent.objects.filter(payload__has_key="timer").values_list("payload__timer")
    )
    assert len(firings) == INSTANCES and set(firings.values()) == {1}


def _decide(barrier, deadline, task_id: int, outcome: str, queue) -> None:
    from accounts.models import User
    from orchestration.exceptions import InstanceConflict

    barrier.wait()
    try:
        services.task_complete(
            task_id=task_id, outcome=outcome, data={}, actor=User.objects.get(username="boss")
        )
        queue.put("won")
    except InstanceConflict:
        queue.put("lost")
    finally:
        connections.close_all()


def test_one_decision_wins_when_four_approvers_click_at_once() -> None:
    from tests.conftest import make_user

    make_user("boss", "managers")
    publish("""
key: ok
name: OK
start: ask
steps:
  ask: {type: approval, assignees: {users: [boss]}, outcomes: {approve: yes, reject: no}}
  yes: {type: end, result: approved}
  no: {type: end, result: rejected}
""")
    instance = services.instance_start(key="ok", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    results = sorted(_race(_decide, task.pk, ["approve", "reject", "approve", "reject"]))
    assert results == ["lost", "lost", "lost", "won"]
    task.refresh_from_db()
    instance.refresh_from_db()
    assert instance.result == {"approve": "approved", "reject": "rejected"}[task.outcome]
    assert ProcessEvent.objects.filter(kind="task.completed").count() == 1


def _vote(barrier, deadline, task_id: int, username: str, queue) -> None:
    from accounts.models import User
    from orchestration.exceptions import InstanceConflict

    barrier.wait()
    try:
        task = services.task_complete(
            task_id=task_id, outcome="approve", data={}, actor=User.objects.get(username=username)
        )
        queue.put("closed" if task.status == "completed" else "counted")
    except InstanceConflict as exc:
        queue.put(exc.code)
    finally:
        connections.close_all()


def test_racing_votes_under_a_quorum_count_each_person_once_and_close_once() -> None:
    from tests.conftest import make_user

    names = [f"voter{n}" for n in range(PROCESSES)]
    for name in names:
        make_user(name, "board")
    publish("""
key: two
name: Two of four
start: ask
steps:
  ask: {type: approval, assignees: {groups: [board]}, quorum: 2, outcomes: {approve: yes}}
  yes: {type: end, result: approved}
""")
    instance = services.instance_start(key="two", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    results = sorted(_race(_vote, task.pk, names))
    # Votes serialise on the instance lock: one counts, the second closes the
    # task, the others find it closed.
    assert results == ["closed", "counted", "task_closed", "task_closed"]
    assert TaskVote.objects.filter(task=task).count() == 2
    assert ProcessEvent.objects.filter(instance=instance, to_status="completed").count() == 1
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "approved")


def _claim(barrier, deadline, task_id: int, username: str, queue) -> None:
    from django.core.exceptions import PermissionDenied

    from accounts.models import User

    barrier.wait()
    try:
        services.task_claim(task_id=task_id, actor=User.objects.get(username=username))
        queue.put("won")
    except PermissionDenied as exc:
        queue.put(str(exc))
    finally:
        connections.close_all()


def test_four_candidates_claim_at_once_and_exactly_one_wins() -> None:
    from tests.conftest import make_user

    names = [f"clerk{n}" for n in range(PROCESSES)]
    for name in names:
        make_user(name, "clerks")
    publish("""
key: claimme
name: Claim me
start: ask
steps:
  ask: {type: approval, assignees: {groups: [clerks]}, outcomes: {ok: done}}
  done: {type: end, result: ok}
""")
    instance = services.instance_start(key="claimme", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    results = _race(_claim, task.pk, names)
    task.refresh_from_db()
    winner = task.claimed_by.username
    assert results.count("won") == 1
    # The others are told who has it.
    assert sorted(r for r in results if r != "won") == [
        f"task {task.pk} is claimed by {winner}"
    ] * (PROCESSES - 1)
    assert ProcessEvent.objects.filter(kind="task.claimed").count() == 1
