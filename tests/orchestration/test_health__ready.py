"""/healthz answers while the process does; /readyz says what keeps it from work."""

from __future__ import annotations

import pytest
from django.db.migrations.recorder import MigrationRecorder

from orchestration import health, jobs, services
from orchestration.engine import wakeup
from tests.orchestration.engine.conftest import ONE_STEP, publish

pytestmark = pytest.mark.django_db


def ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_healthz_asks_nothing(client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_while_a_loop_beats_and_not_once_the_workers_stop(client, clock, settings) -> None:
    status, body = ready(client)
    assert status == 503 and not body["ready"]
    assert body["checks"]["workers"] == {
        "ok": False, "value": None,
        "reason": "no engine loop has a heartbeat: start a worker cluster (manage.py qcluster)",
    }  # fmt: skip
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]
    wakeup.beat("loop-1")
    status, body = ready(client)
    assert status == 200 and body["ready"], body
    settings.ORCHESTRATION_READY_HEARTBEAT_SECONDS = 60
    clock.advance(seconds=61)  # the workers stopped a minute ago
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["workers"]["reason"].startswith(
        "no engine loop heartbeat in the last 60 s (the newest was 1"
    )
    assert body["checks"]["workers"]["value"] == 61
    wakeup.beat("loop-2")  # a cluster came back
    assert ready(client)[0] == 200


def test_sealing_lag_over_its_limit_is_not_ready(client, clock, settings) -> None:
    settings.ORCHESTRATION_READY_SEALING_LAG_SECONDS = 120
    publish(ONE_STEP)  # writes audit rows, not sealed yet
    services.instance_start(key="one", variables={}, actor=None)
    clock.advance(seconds=121)
    wakeup.beat("loop-1")
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["sealing"]["ok"] is False
    assert (
        "wait to be sealed for 121 s, over the 120 s limit" in body["checks"]["sealing"]["reason"]
    )
    jobs.seal_audit()
    assert ready(client)[0] == 200


def test_a_migration_not_applied_is_named(client) -> None:
    applied = MigrationRecorder.Migration.objects.filter(app="orchestration").order_by("-id")[0]
    applied.delete()  # as after deploying code whose migration has not run yet
    health._migrated = False
    try:
        wakeup.beat("loop-1")
        status, body = ready(client)
        assert status == 503
        assert body["checks"]["migrations"]["reason"] == (
            f"1 migration(s) not applied: orchestration.{applied.name} (run manage.py migrate)"
        )
    finally:
        MigrationRecorder.Migration.objects.create(app=applied.app, name=applied.name)
        health._migrated = False
    assert ready(client)[0] == 200
