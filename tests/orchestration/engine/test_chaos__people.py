"""Chaos with people in it: approvals with due dates and escalations, a mail
sweep with one poison row, people deciding while workers are SIGKILLed and
restarted. Every instance ends, nothing is decided twice, the poison row
fails alone, and the audit chain verifies."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import time
from collections import Counter

import pytest
from django.core import mail
from django.db import connections

from orchestration import services
from orchestration.audit import chain as audit_chain
from orchestration.models import (
    HumanTask,
    ProcessEvent,
    ProcessInstance,
    SweepFailure,
    TaskVote,
    Timer,
)
from orchestration.side_effects import mail as notifications
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

INSTANCES = 120
WORKERS = 3
CHAOS_SECONDS = 6.0

APPROVAL = """
key: chaos
name: Chaos
variables: {item: {type: string}}
start: check
steps:
  check: {type: service, handler: test.ledger, timeout: 1s, retry: {max_attempts: 50}, next: ask}
  ask:
    type: approval
    title: "Approve {{ item }}"
    assignees: {groups: [managers]}
    due: 3s
    escalation:
      - {after: 1s, action: remind}
      - {after: 2s, action: notify, to: {groups: [managers]}}
      - {after: 3s, action: decide, outcome: approve}
    outcomes: {approve: place, reject: rejected}
  place: {type: service, handler: test.ledger, timeout: 1s, retry: {max_attempts: 50}, next: done}
  done: {type: end, result: approved}
  rejected: {type: end, result: rejected}
"""


def _worker_main(deadline: float) -> None:
    from orchestration.engine.worker import Worker
    from orchestration.jobs import SIDE

    worker = Worker(batch=16, side=SIDE)
    while time.monotonic() < deadline:
        if not worker.work_once():
            open_work = ProcessInstance.objects.filter(ended_at__isnull=True).exists()
            unsent = notifications.waiting().exclude(
                pk__in=SweepFailure.objects.values("row_id")
            )  # the poison waits its turn
            if not open_work and not unsent.exists():
                break
            time.sleep(0.05)
    worker.close()
    connections.close_all()


def test_people_timers_and_a_poison_mail_under_sigkill(ledger, settings, monkeypatch) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_user("mia", "managers", email="mia@example.com")
    deciders = [make_user(n, "managers", email=f"{n}@example.com") for n in ("max", "meg")]
    publish(APPROVAL)
    made = notifications._messages

    def poisoned(row, addresses, tasks):  # inherited by the forked workers
        if "poison" in row.payload.get("title", ""):
            raise ValueError("this row's mail cannot be made")
        return made(row, addresses, tasks)

    monkeypatch.setattr(notifications, "_messages", poisoned)
    instances = [
        services.instance_start(key="chaos", variables={"item": f"thing {n}"}, actor=None)
        for n in range(INSTANCES - 1)
    ]
    instances.append(services.instance_start(key="chaos", variables={"item": "poison"}, actor=None))
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    deadline = time.monotonic() + 120
    rng = random.Random(11)

    def spawn():
        connections.close_all()  # a child must not share this process's connection
        proc = ctx.Process(target=_worker_main, args=(deadline,))
        proc.start()
        return proc

    procs = [spawn() for _ in range(WORKERS)]
    kills = decided = 0
    chaos_end = time.monotonic() + CHAOS_SECONDS
    while time.monotonic() < chaos_end:
        # People decide some open tasks while workers die under them; a
        # decision that races an escalation or a colleague is refused, once.
        for task in HumanTask.objects.filter(status="open").order_by("?")[:3]:
            try:
                services.task_complete(task_id=task.pk, outcome=rng.choice(["approve", "reject"]),
                                       data={}, actor=rng.choice(deciders))  # fmt: skip
                decided += 1
            except Exception:
                continue
        time.sleep(rng.uniform(0.1, 0.3))
        victim = rng.randrange(WORKERS)
        with contextlib.suppress(ProcessLookupError):  # it may have finished and been reaped
            os.kill(procs[victim].pid, signal.SIGKILL)
        procs[victim].join()
        kills += procs[victim].exitcode == -signal.SIGKILL
        procs[victim] = spawn()
    connections.close_all()
    for proc in procs:
        proc.join(timeout=130)
        assert proc.exitcode == 0

    assert kills >= 3 and decided >= 3, (kills, decided)
    statuses = Counter(ProcessInstance.objects.values_list("status", flat=True))
    assert sum(statuses.values()) == INSTANCES
    assert set(statuses) == {"completed"}, statuses
    # Decided once: one closing per task, at most one vote each (quorum any),
    # one end per instance, each escalation timer fired at most once.
    assert set(HumanTask.objects.values_list("status", flat=True)) == {"completed"}
    assert set(Counter(TaskVote.objects.values_list("task_id", flat=True)).values()) <= {1}
    ends = Counter(ProcessEvent.objects.filter(to_status="completed", from_status__in=[
        "running", "waiting"]).values_list("instance_id", flat=True))  # fmt: skip
    assert len(ends) == INSTANCES and set(ends.values()) == {1}
    assert not Timer.objects.filter(status="pending").exists()
    # The poison rows (its task's announcement, reminder, note) failed alone;
    # every other notification went out.
    failed = set(SweepFailure.objects.values_list("sweep", "row_id"))
    poison = set(ProcessEvent.objects.filter(kind="notification", instance=instances[-1])
                 .values_list("pk", flat=True))  # fmt: skip
    assert failed and failed <= {(notifications.MAIL, pk) for pk in poison}, failed
    unsent = notifications.waiting()
    assert set(unsent.values_list("pk", flat=True)) <= poison
    while audit_chain.seal_pending():
        pass
    verdict = audit_chain.verify()
    assert verdict.ok and verdict.unsealed == 0, verdict
    print(f"\n{kills} kills, {decided} decided by people, {len(mail.outbox)} mails in the test")
