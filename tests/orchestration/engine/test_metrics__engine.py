"""/metrics after driving the engine: every engine metric read back from the
Prometheus text, as a scraper would see it."""

from __future__ import annotations

import pytest
from django.db import connection

from orchestration import jobs, services
from orchestration.metrics import fold
from orchestration.models import HumanTask, MetricSample, ProcessEvent
from tests.orchestration.engine import handlers
from tests.orchestration.engine.conftest import publish
from tests.scrape import TOKEN, value
from tests.scrape import scrape as scrape_with

pytestmark = pytest.mark.django_db

METERED = """
key: metered
name: Metered
variables: {item: {type: string}}
start: fetch
steps:
  fetch: {type: service, handler: test.a, retry: {max_attempts: 3, backoff: 10s}, next: review}
  review:
    type: approval
    title: "Approve {{ item }}"
    assignees: {groups: [managers]}
    due: 2h
    escalation:
      - {after: 1h, action: remind}
    outcomes: {approve: done, reject: refused}
  done: {type: end, result: ok}
  refused: {type: end, result: no}
"""


def settle() -> None:
    """What the side sweeps do after each round: seal, then count."""
    jobs.seal_audit()
    fold.fold_pending()


@pytest.fixture
def metered(settings, people, worker, clock):
    settings.ORCHESTRATION_METRICS_TOKEN = TOKEN
    return publish(METERED)


@pytest.fixture
def scrape(settings):
    return lambda client: scrape_with(client, settings)


def test_every_engine_metric_after_a_run(client, scrape, metered, people, worker, clock) -> None:
    handlers.PLAN["test.a"] = ["retry", "ok", "ok", "ok"]  # the first attempt fails once
    first = services.instance_start(key="metered", variables={"item": "desk"},
                                    actor=people["starter"])  # fmt: skip
    worker.run_until_idle()
    clock.advance(seconds=10)  # the retry's backoff
    worker.run_until_idle()
    second = services.instance_start(key="metered", variables={"item": "chair"},
                                     actor=people["starter"])  # fmt: skip
    worker.run_until_idle()
    settle()
    samples = scrape(client)
    metered_v1 = {"definition": "metered", "version": "1"}
    assert value(samples, "orchestration_instances_started_total", **metered_v1) == 2
    fetch = {"definition": "metered", "step": "fetch"}
    assert value(samples, "orchestration_step_attempts_total", **fetch, result="failed") == 1
    assert value(samples, "orchestration_step_attempts_total", **fetch, result="succeeded") == 2
    assert value(samples, "orchestration_step_retries_total", **fetch) == 1
    assert value(samples, "orchestration_step_failures_total", **fetch) is None
    assert value(samples, "orchestration_step_duration_seconds_count", **fetch) == 3
    assert value(samples, "orchestration_step_duration_seconds_bucket", **fetch, le="+Inf") == 3
    # Both wait in review, offered to the managers' group, none overdue yet.
    review = {"definition": "metered", "group": "managers"}
    assert value(samples, "orchestration_tasks_open", **review) == 2
    assert value(samples, "orchestration_tasks_overdue", **review) == 0
    assert value(samples, "orchestration_instances_live", **metered_v1, status="waiting") == 2
    # The retry's timer fired 0 s late on the test clock; the reminder fires after an hour.
    clock.advance(hours=1, seconds=1)
    worker.run_until_idle()
    task = HumanTask.objects.get(instance=first, status="open")
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["manager"])
    clock.advance(hours=1)  # the second is overdue now
    worker.run_until_idle()
    settle()
    samples = scrape(client)
    assert value(samples, "orchestration_escalations_total", definition="metered", level="0",
                 action="remind") == 2  # fmt: skip
    assert value(samples, "orchestration_decisions_total", definition="metered", step="review",
                 outcome="approve") == 1  # fmt: skip
    assert value(samples, "orchestration_instances_ended_total", **metered_v1,
                 status="completed") == 1  # fmt: skip
    assert value(samples, "orchestration_tasks_overdue", **review) == 1
    assert value(samples, "orchestration_instances_live", **metered_v1, status="waiting") == 1
    lateness = value(samples, "orchestration_timer_lateness_seconds_count", kind="escalation")
    assert lateness == 2
    # Counted once: a second fold over nothing new changes nothing.
    before = dict(MetricSample.objects.values_list("key", "value"))
    settle()
    assert dict(MetricSample.objects.values_list("key", "value")) == before
    assert second.pk and ProcessEvent.objects.exists()


def test_failed_steps_and_incidents_are_counted(client, scrape, metered, people, worker) -> None:
    from orchestration.models import StepRun

    handlers.PLAN["test.a"] = ["error:boom"]
    services.instance_start(key="metered", variables={"item": "x"}, actor=people["starter"])
    poison = services.instance_start(key="metered", variables={"item": "y"}, actor=None)
    StepRun.objects.filter(instance=poison).update(step="ghost")  # a row that no longer fits
    worker.run_until_idle()
    settle()
    samples = scrape(client)
    fetch = {"definition": "metered", "step": "fetch"}
    assert value(samples, "orchestration_step_failures_total", **fetch) == 1
    metered_v1 = {"definition": "metered", "version": "1"}
    assert value(samples, "orchestration_instances_ended_total", **metered_v1,
                 status="failed") == 1  # fmt: skip
    assert value(samples, "orchestration_instances_incidents_total", **metered_v1) == 1
    assert value(samples, "orchestration_instances_live", **metered_v1, status="incident") == 1


def test_queues_and_heartbeats_are_gauges(
    client, scrape, metered, people, worker, clock, settings
) -> None:
    from orchestration.side_effects import webhooks

    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = ["hooks.example"]
    webhooks.subscription_create(actor=None, name="erp", url="https://hooks.example/in",
                                 events=["instance.started"])  # fmt: skip
    services.instance_start(key="metered", variables={"item": "x"}, actor=people["starter"])
    clock.advance(seconds=30)  # nobody ran it: one run due for 30 s, unsealed rows
    samples = scrape(client)
    assert value(samples, "orchestration_queue_depth", queue="runs") == 1
    assert value(samples, "orchestration_queue_oldest_seconds", queue="runs") == 30
    assert value(samples, "orchestration_queue_depth", queue="sealing") >= 2
    assert value(samples, "orchestration_queue_oldest_seconds", queue="sealing") >= 30
    assert value(samples, "orchestration_worker_loops_alive") == 0
    assert value(samples, "orchestration_worker_heartbeat_age_seconds") == float("inf")
    jobs.seal_audit()
    webhooks.fan_out()  # the start became a delivery, due now, not sent
    clock.advance(seconds=5)
    samples = scrape(client)
    assert value(samples, "orchestration_queue_depth", queue="sealing") == 0
    assert value(samples, "orchestration_queue_depth", queue="mail") >= 2  # sealed, not mailed
    assert value(samples, "orchestration_queue_oldest_seconds", queue="mail") >= 35
    assert value(samples, "orchestration_queue_depth", queue="webhooks") == 1
    assert value(samples, "orchestration_queue_oldest_seconds", queue="webhooks") == 5
    worker.run_until_idle()  # the step ran; the approval's escalation timer waits an hour
    clock.advance(hours=1, seconds=20)
    samples = scrape(client)
    assert value(samples, "orchestration_queue_depth", queue="runs") == 0
    assert value(samples, "orchestration_queue_depth", queue="timers") == 1
    assert value(samples, "orchestration_queue_oldest_seconds", queue="timers") == 20
    from orchestration.engine import wakeup

    wakeup.beat("loop-1")
    clock.advance(seconds=5)
    samples = scrape(client)
    assert value(samples, "orchestration_worker_loops_alive") == 1
    assert value(samples, "orchestration_worker_heartbeat_age_seconds") == 5


def test_metrics_are_never_public(client, scrape, metered, settings) -> None:
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    settings.ORCHESTRATION_METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403
    from orchestration import operations

    operations._networks.cache_clear()
    settings.ORCHESTRATION_METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 403
    operations._networks.cache_clear()


def test_the_web_layer_is_measured_too(client, scrape, metered) -> None:
    client.get("/healthz")
    samples = scrape(client)
    by_view = "django_http_requests_total_by_view_transport_method_total"
    assert any(dict(labels).get("view") == "healthz" for name, labels in samples if name == by_view)
    queries = [dict(labels) for name, labels in samples if name == "django_db_execute_total"]
    assert {"alias": "default", "vendor": connection.vendor} in queries


def test_a_row_that_cannot_be_counted_fails_alone(client, scrape, metered, people, worker) -> None:
    """An audit row the fold cannot read (notes that are not a list) is
    recorded as a sweep failure and given up at once: the cursor has passed it
    and it would fail the same way again. The rows around it are counted, and
    the engine goes on."""
    from orchestration.models import ProcessInstance, SweepFailure

    first = services.instance_start(key="metered", variables={"item": "a"}, actor=None)
    worker.run_until_idle()
    bad = ProcessEvent.objects.create(
        kind="step.succeeded", instance=first, definition_id=first.definition_id,
        version_id=first.version_id, step="fetch", from_status="running", to_status="waiting",
        payload={"notes": 5},
    )  # fmt: skip
    services.instance_start(key="metered", variables={"item": "b"}, actor=None)
    worker.run_until_idle()
    settle()
    failure = SweepFailure.objects.get(sweep=fold.METRICS)
    assert (failure.row_id, failure.given_up) == (bad.pk, True)
    assert "TypeError" in failure.error
    samples = scrape(client)
    metered_v1 = {"definition": "metered", "version": "1"}
    assert value(samples, "orchestration_instances_started_total", **metered_v1) == 2
    fetch = {"definition": "metered", "step": "fetch", "result": "succeeded"}
    assert value(samples, "orchestration_step_attempts_total", **fetch) == 2  # not the bad one
    assert ProcessInstance.objects.filter(status="waiting").count() == 2  # the engine went on
