"""The engine loop job: runs due work, and steps aside when enough loops run."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest
from django.db import connections
from django.utils import timezone

from orchestration import jobs, services
from orchestration.models import LoopHeartbeat, ProcessInstance
from tests.orchestration.engine.conftest import ONE_STEP, publish

pytestmark = pytest.mark.django_db


# Transactional: the loop closes its connection at the end, as a django-q2 job must.
@pytest.mark.django_db(transaction=True)
def test_a_loop_runs_due_work_and_leaves_no_heartbeat_behind(settings) -> None:
    settings.ORCHESTRATION_LOOPS = 1
    publish(ONE_STEP)
    instance = services.instance_start(key="one", variables={}, actor=None)
    handled = jobs.engine_loop(seconds=0.5)
    assert handled >= 1
    assert ProcessInstance.objects.get(pk=instance.pk).result == "ok"
    assert not LoopHeartbeat.objects.exists()


def test_a_surplus_loop_exits_at_once(settings) -> None:
    settings.ORCHESTRATION_LOOPS = 1
    LoopHeartbeat.objects.create(name="busy", seen_at=timezone.now())
    publish(ONE_STEP)
    services.instance_start(key="one", variables={}, actor=None)
    assert jobs.engine_loop(seconds=5) == 0
    assert ProcessInstance.objects.get().status == "running"  # left to the live loop


def _loop_in_a_worker() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as django-q2's worker processes have it
    jobs.engine_loop(seconds=30)
    os._exit(3)  # reached only if the loop swallowed the signal


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sigterm_ends_the_loop_cleanly_then_the_process_as_it_would_have(settings) -> None:
    settings.ORCHESTRATION_LOOPS = 1
    connections.close_all()
    proc = multiprocessing.get_context("fork").Process(target=_loop_in_a_worker)
    proc.start()
    deadline = time.monotonic() + 20
    while not LoopHeartbeat.objects.exists():  # the loop is running, its handler installed
        assert time.monotonic() < deadline, "the loop never started"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGTERM)
    proc.join(timeout=10)
    assert proc.exitcode == -signal.SIGTERM
    assert not LoopHeartbeat.objects.exists()  # it finished its round and cleaned up first


def test_the_side_thread_goes_on_when_a_sweep_raises(monkeypatch) -> None:
    """The thread that runs the side sweeps beside the engine's rounds: one
    sweep that raises every time is logged, and the others still run, round
    after round."""
    calls = {"broken": 0, "fine": 0}

    def broken() -> int:
        calls["broken"] += 1
        raise RuntimeError("a bug in the sweep itself")

    def fine() -> int:
        calls["fine"] += 1
        return 0

    monkeypatch.setattr(jobs, "SIDE", ((broken,), (fine,)))
    side = jobs._SideLoop(interval=0.01)
    side.start()
    try:
        for _ in range(500):
            if calls["fine"] >= 3:
                break
            side.stopping.wait(0.01)
    finally:
        side.stop()
    assert calls["fine"] >= 3 and calls["broken"] >= 3 and not side.is_alive()
