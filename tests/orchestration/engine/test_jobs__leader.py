"""One engine loop leads (listens, takes new work at once); the others help with
work that has waited, and one of them takes over when the leader goes."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connections

from orchestration import jobs, services
from orchestration.engine.wakeup import Listener
from orchestration.models import ProcessEvent, ProcessInstance, StepRun
from tests.orchestration.engine.conftest import ONE_STEP, THREE_STEPS, publish


@pytest.mark.django_db
def test_a_helping_worker_takes_only_steps_that_have_waited(worker, clock) -> None:
    publish(ONE_STEP)
    services.instance_start(key="one", variables={}, actor=None, now=clock())
    assert worker.claim(waited=0.05) == []  # due just now: the leader's
    clock.advance(seconds=0.06)
    runs = worker.claim(waited=0.05)
    assert [run.step for run in runs] == ["a"]


@pytest.mark.django_db
def test_a_helper_backs_off_while_it_finds_nothing(settings) -> None:
    settings.ORCHESTRATION_HELP_AFTER_MS = 25
    listener = Listener()
    try:
        pauses = []
        for _ in range(8):
            listener.helped(False)
            pauses.append(listener.pause)
        assert pauses == [0.05, 0.1, 0.2, 0.25, 0.25, 0.25, 0.25, 0.25]
        listener.helped(True)
        assert listener.pause == 0.025
    finally:
        listener.close()


class _OwnLock(Listener):
    # A lock key of this test's own: an engine loop of an earlier test that is
    # still shutting down may hold the real one for a moment.
    LEAD_LOCK = 0x0E4C_7E57


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_loop_leads_and_another_takes_over_when_it_goes() -> None:
    first, second = _OwnLock(), _OwnLock()
    try:
        assert first.try_lead()
        assert not second.try_lead()
        assert first.try_lead()  # leading is kept, not re-won each round
        first.close()  # the leader's process ended: its connection, and lock, are gone
        # The server releases the lock when the closed connection's backend
        # exits, a moment after the client hangs up: the next round takes over.
        took_over, give_up = second.try_lead(), time.monotonic() + 5
        while not took_over and time.monotonic() < give_up:
            time.sleep(0.02)
            took_over = second.try_lead()
        assert took_over
    finally:
        second.close()


def _loop() -> None:
    def finished() -> bool:
        return not ProcessInstance.objects.filter(ended_at__isnull=True).exists()

    try:
        jobs.engine_loop(seconds=60, stop=finished)
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_engine_loops_finish_every_instance_once(settings, ledger: Path) -> None:
    settings.ORCHESTRATION_LOOPS = 4
    publish(THREE_STEPS)
    ids = [services.instance_start(key="three", variables={}, actor=None).pk for _ in range(200)]
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_loop) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=90)
        assert proc.exitcode == 0
    statuses = Counter(ProcessInstance.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {"completed": 200}
    runs = Counter(StepRun.objects.values_list("instance_id", "step", "status"))
    assert set(runs.values()) == {1} and len(runs) == 600
    applied = Counter(
        ProcessEvent.objects.filter(kind="step.succeeded").values_list("instance_id", "step")
    )
    assert set(applied.values()) == {1} and len(applied) == 600
    calls = Counter(line.split()[0] for line in ledger.read_text().splitlines())
    assert set(calls.values()) == {1} and len(calls) == 600


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_leader_whose_connection_breaks_reconnects_and_leads_again() -> None:
    listener = Listener()
    try:
        assert listener.try_lead()
        pid = listener.conn.info.backend_pid
        with connections["default"].cursor() as cursor:  # the database restarts, say
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        listener.wait(0.05)  # the broken connection shows here
        assert not listener.leading
        assert listener.try_lead()  # reconnected; nobody else led, so it leads again
        assert listener.conn.info.backend_pid != pid
    finally:
        listener.close()
