"""Crash test: worker processes killed with SIGKILL at random while 1,000 instances
run. After restarts every instance ends, no transition is applied twice, and
handler calls per idempotency key never exceed the attempts made."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections

from orchestration import services
from orchestration.models import ProcessEvent, ProcessInstance, StepRun
from tests.orchestration.engine import handlers as h
from tests.orchestration.engine.conftest import publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

INSTANCES = 1000
WORKERS = 4
CHAOS_SECONDS = 6.0

STEPS = """
key: crashy
name: Crashy
start: a
steps:
  a: {type: service, handler: test.ledger, timeout: 1s, retry: {max_attempts: 50}, next: b}
  b: {type: service, handler: test.ledger, timeout: 1s, retry: {max_attempts: 50}, next: c}
  c: {type: service, handler: test.ledger, timeout: 1s, retry: {max_attempts: 50}, next: done}
  done: {type: end, result: done}
"""


def _worker_main(deadline: float) -> None:
    from orchestration.engine.worker import Worker

    worker = Worker(batch=16)
    while time.monotonic() < deadline:
        if not worker.work_once():
            if not ProcessInstance.objects.filter(ended_at__isnull=True).exists():
                break
            time.sleep(0.05)  # idle: other workers' leases must expire first
    worker.close()
    connections.close_all()


def test_sigkilled_workers_lose_nothing_and_apply_nothing_twice(ledger: Path) -> None:
    publish(STEPS)
    for _ in range(INSTANCES):
        services.instance_start(key="crashy", variables={}, actor=None)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    deadline = time.monotonic() + 150
    rng = random.Random(7)

    def spawn():
        proc = ctx.Process(target=_worker_main, args=(deadline,))
        proc.start()
        return proc

    procs = [spawn() for _ in range(WORKERS)]
    kills = 0
    chaos_end = time.monotonic() + CHAOS_SECONDS
    while time.monotonic() < chaos_end:
        time.sleep(rng.uniform(0.1, 0.4))
        victim = rng.randrange(WORKERS)
        os.kill(procs[victim].pid, signal.SIGKILL)
        procs[victim].join()
        if procs[victim].exitcode == -signal.SIGKILL:  # not one that had finished
            kills += 1
        procs[victim] = spawn()  # a supervisor restarts it
    for proc in procs:
        proc.join(timeout=160)
        assert proc.exitcode == 0

    assert kills >= 3, f"only {kills} workers were killed while working"
    # Kills landed mid-step: leases of killed workers ran out and were retried.
    assert StepRun.objects.filter(status="timed_out", error__code="LEASE_EXPIRED").exists()
    statuses = Counter(ProcessInstance.objects.values_list("status", flat=True))
    assert statuses == {"completed": INSTANCES}, statuses
    # No double-applied transition: one audited success per step and instance.
    applied = Counter(
        ProcessEvent.objects.filter(kind="step.succeeded").values_list("instance_id", "step")
    )
    assert len(applied) == 3 * INSTANCES and set(applied.values()) == {1}
    succeeded = Counter(
        StepRun.objects.filter(status="succeeded").values_list("instance_id", "step")
    )
    assert len(succeeded) == 3 * INSTANCES and set(succeeded.values()) == {1}
    # Handler side effects: never more calls for a key than attempts made, never
    # the same attempt twice.
    lines = [line.split() for line in ledger.read_text().splitlines()]
    per_attempt = Counter((key, attempt) for key, attempt, _ in lines)
    assert set(per_attempt.values()) == {1}
    attempts = Counter(StepRun.objects.values_list("idempotency_key", flat=True))
    calls = Counter(key for key, _, _ in lines)
    assert all(calls[key] <= attempts[key] for key in calls)
    retried = sum(1 for key in calls if calls[key] > 1)
    print(
        f"\n{kills} kills, {sum(attempts.values()) - 3 * INSTANCES} extra attempts, "
        f"{retried} keys called more than once"
    )


GATED = """
key: gated
name: Gated
start: a
steps:
  a: {type: service, handler: test.gate, retry: {max_attempts: 3, backoff: 1s}, next: done}
  done: {type: end, result: done}
"""


def _stalled_worker(ready, done) -> None:
    from orchestration.engine.worker import Worker

    worker = Worker("stalled")
    try:
        (run,) = worker.claim()
        ready.set()  # it holds the lease; its handler waits at the gate
        done.put(worker.report(worker.run_all([run])))
    finally:
        worker.close()
        connections.close_all()


def test_a_live_worker_whose_lease_expired_has_its_late_result_fenced(ledger: Path) -> None:
    from django.utils import timezone

    from orchestration.engine.worker import Worker

    publish(GATED)
    instance = services.instance_start(key="gated", variables={}, actor=None)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    h.GATE["event"], ready, done = ctx.Event(), ctx.Event(), ctx.Queue()
    stalled = ctx.Process(target=_stalled_worker, args=(ready, done))
    stalled.start()
    try:
        assert ready.wait(30)
        # Another process, ten minutes later: the lease (5 min + grace) has run out.
        ahead = {"by": timedelta(minutes=10)}
        later = Worker("later", clock=lambda: timezone.now() + ahead["by"])
        assert later.expire_leases() == 1
        ahead["by"] += timedelta(minutes=1)  # past the retry's backoff
        later.run_until_idle()
        later.close()
        instance.refresh_from_db()
        assert (instance.status, instance.result) == ("completed", "done")
        h.GATE["event"].set()  # the stalled worker wakes with attempt 1's result
        assert done.get(timeout=30) == []
    finally:
        h.GATE["event"].set()
        stalled.join(timeout=30)
        if stalled.is_alive():  # never leave it writing into the next test
            stalled.kill()
    assert stalled.exitcode == 0

    first, second = StepRun.objects.order_by("attempt")
    assert (first.status, first.error["code"], second.status) == (
        "timed_out",
        "LEASE_EXPIRED",
        "succeeded",
    )
    discarded = ProcessEvent.objects.get(kind="step.result_discarded")
    assert discarded.payload["run"] == first.pk and discarded.payload["run_status"] == "timed_out"
    assert ProcessEvent.objects.filter(kind="step.succeeded").count() == 1
    assert [line.split()[1] for line in ledger.read_text().splitlines()] == ["2", "1"]
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "done")
