"""The http step against a local service that fails, hangs, rate-limits and refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from orchestration import services
from orchestration.engine.http import retry_after_seconds
from orchestration.models import ProcessInstance, StepRun
from tests.orchestration.engine.conftest import publish
from tests.orchestration.engine.flaky_server import FlakyServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(settings) -> Iterator[FlakyServer]:
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    with FlakyServer() as running:
        yield running


def run_http(
    server: FlakyServer, path: str, *, extra: str = "", retry: str = "", timeout: str = "10s"
) -> ProcessInstance:
    # A generous timeout: a loopback call slowed by a loaded CI machine must not
    # become an extra attempt. Only the hanging call is meant to run out of time.
    publish(f"""
key: call
name: Call
variables:
  amount: {{type: number, required: true}}
  who: {{type: string, required: true}}
start: call
steps:
  call:
    type: http
    request:
      method: POST
      url: {server.url(path)}
      body: {{amount: "{{{{ amount }}}}", label: "pay {{{{ who }}}}"}}
    result: reply
    timeout: {timeout}
    retry: {retry or "{max_attempts: 4, backoff: 1s, max_backoff: 2s}"}
    {extra or "on_error: {unused_code: refused}"}
    next: done
  done: {{type: end, result: ok}}
  refused: {{type: end, result: refused}}
""")
    return services.instance_start(key="call", variables={"amount": 12.5, "who": "ann"}, actor=None)


def settle(worker, clock, rounds: int = 6) -> None:
    for _ in range(rounds):
        worker.run_until_idle()
        clock.advance(seconds=10)


def test_fails_then_succeeds_with_one_idempotency_key(server, worker, clock) -> None:
    instance = run_http(server, "/fail/2")
    settle(worker, clock)
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "ok")
    assert instance.variables["reply"] == {
        "ok": True,
        "echo": {"amount": 12.5, "label": "pay ann"},
        "attempt": 3,
    }
    keys = {call["key"] for call in server.calls}
    assert keys == {f"pi{instance.pk}:call:1"}
    assert list(StepRun.objects.values_list("status", flat=True)) == [
        "failed",
        "failed",
        "succeeded",
    ]
    assert StepRun.objects.first().error["code"] == "HTTP_503"


def test_a_hanging_call_is_abandoned_and_retried(server, worker, clock) -> None:
    instance = run_http(server, "/hang", timeout="2s")
    settle(worker, clock, rounds=3)
    instance.refresh_from_db()
    assert instance.status == "completed"
    first = StepRun.objects.get(attempt=1)
    assert first.error["code"] == "TIMEOUT"


def test_429_honours_retry_after(server, worker, clock) -> None:
    run_http(server, "/limit")
    worker.run_until_idle()
    retry = StepRun.objects.get(attempt=2)
    assert retry.due_at - clock() == timedelta(seconds=7)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # long past
    # An HTTP date counts from the server's own Date header, not from our clock.
    assert (
        retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", date="Wed, 21 Oct 2015 07:28:00 GMT")
        == 30.0
    )


def test_a_4xx_with_a_code_is_a_business_error_routed_by_on_error(server, worker, clock) -> None:
    instance = run_http(server, "/reject", extra="on_error: {invalid_account: refused}")
    settle(worker, clock, rounds=1)
    instance.refresh_from_db()
    assert instance.result == "refused"
    assert instance.variables["call"]["error"]["code"] == "invalid_account"
    assert len(server.calls) == 1  # never retried


def test_a_4xx_without_a_route_fails_at_once_with_http_status_code(server, worker, clock) -> None:
    instance = run_http(server, "/plain")
    settle(worker, clock, rounds=1)
    instance.refresh_from_db()
    assert instance.status == "failed" and instance.error["code"] == "HTTP_403"
    assert len(server.calls) == 1


def test_connection_errors_are_retried_then_fail(settings, worker, clock) -> None:
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    with FlakyServer() as gone:
        pass  # closed: nothing listens on its port any more
    instance = run_http(gone, "/ok", retry="{max_attempts: 2, backoff: 1s}")
    settle(worker, clock, rounds=3)
    instance.refresh_from_db()
    assert instance.status == "failed" and instance.error["code"] == "CONNECTION_ERROR"


def test_hosts_outside_the_allowlist_are_refused_at_run_time(
    server, worker, clock, settings
) -> None:
    instance = run_http(server, "/ok")
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = ["api.example.com"]  # changed after publishing
    settle(worker, clock, rounds=1)
    instance.refresh_from_db()
    assert instance.status == "failed" and instance.error["code"] == "HOST_NOT_ALLOWED"
    assert server.calls == []
