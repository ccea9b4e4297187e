"""The http step against a local service that fails, hangs, rate-limits and refuses."""

from __future__ import annotations

import time
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
    with FlakyServer() as running:
        settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{running.port}"]
        yield running


def run_http(
    server: FlakyServer,
    path: str,
    *,
    extra: str = "",
    retry: str = "",
    timeout: str = "10s",
    request: str = "",
    who: str = "ann",
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
      {request}
    result: reply
    timeout: {timeout}
    retry: {retry or "{max_attempts: 4, backoff: 1s, max_backoff: 2s}"}
    {extra or "on_error: {unused_code: refused}"}
    next: done
  done: {{type: end, result: ok}}
  refused: {{type: end, result: refused}}
""")
    return services.instance_start(key="call", variables={"amount": 12.5, "who": who}, actor=None)


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
    with FlakyServer() as gone:
        pass  # closed: nothing listens on its port any more
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{gone.port}"]
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


def test_a_response_over_the_size_cap_is_an_error_not_a_truncation(
    server, worker, clock, settings
) -> None:
    settings.ORCHESTRATION_HTTP_MAX_RESPONSE_BYTES = 1000
    instance = run_http(server, "/big/5000")
    settle(worker, clock, rounds=1)
    instance.refresh_from_db()
    assert (instance.status, instance.error["code"]) == ("failed", "RESPONSE_TOO_LARGE")
    assert instance.error["message"] == (
        "the response is larger than 1000 bytes (ORCHESTRATION_HTTP_MAX_RESPONSE_BYTES)"
    )
    ok = run_http(server, "/big/500")
    settle(worker, clock, rounds=1)
    ok.refresh_from_db()
    assert ok.variables["reply"] == {"blob": "x" * 500}


def test_the_size_cap_counts_the_whole_streamed_body_not_each_piece(
    server, worker, clock, settings
) -> None:
    # Ten pieces of 300 bytes with no Content-Length: each under the cap, together over.
    settings.ORCHESTRATION_HTTP_MAX_RESPONSE_BYTES = 1000
    instance = run_http(server, "/pieces/3000")
    settle(worker, clock, rounds=1)
    instance.refresh_from_db()
    assert (instance.status, instance.error["code"]) == ("failed", "RESPONSE_TOO_LARGE")
    ok = run_http(server, "/pieces/900")  # four pieces, 913 bytes in all
    settle(worker, clock, rounds=1)
    ok.refresh_from_db()
    assert ok.variables["reply"] == {"blob": "x" * 900}


def test_the_timeout_is_a_deadline_for_the_whole_exchange(server, worker, clock) -> None:
    started = time.monotonic()
    instance = run_http(server, "/trickle", timeout="1s", retry="{max_attempts: 1}")
    settle(worker, clock, rounds=1)
    # Each byte came well within a second; the whole answer would take ten.
    assert time.monotonic() - started < 5
    instance.refresh_from_db()
    assert (instance.status, instance.error["code"]) == ("failed", "TIMEOUT")


def test_placeholder_values_in_the_url_are_percent_encoded(server, worker, clock) -> None:
    publish(f"""
key: path
name: Path
variables:
  who: {{type: string, required: true}}
start: call
steps:
  call:
    type: http
    request: {{method: POST, url: "{server.url("/echo/")}{{{{ who }}}}"}}
    next: done
  done: {{type: end, result: ok}}
""")
    services.instance_start(key="path", variables={"who": "a/../b?x=1#y"}, actor=None)
    settle(worker, clock, rounds=1)
    assert [call["path"] for call in server.calls] == ["/echo/a%2F..%2Fb%3Fx%3D1%23y"]


def test_a_header_value_is_never_echoed_into_an_error(server, worker, clock) -> None:
    instance = run_http(
        server, "/ok", request='headers: {X-Note: "{{ who }}"}', who="secret\r\nX-Evil: 1"
    )
    settle(worker, clock, rounds=1)
    instance.refresh_from_db()
    assert instance.error["code"] == "INVALID_REQUEST"
    assert instance.error["message"] == (
        "header X-Note: a line break is not allowed in a header value"
    )
    assert server.calls == []


def test_credentials_come_by_name_from_the_environment(
    server, worker, clock, settings, monkeypatch
) -> None:
    settings.ORCHESTRATION_SECRETS = ["CRM_TOKEN"]
    monkeypatch.setenv("CRM_TOKEN", "s3cr3t")
    instance = run_http(server, "/ok", request="auth: {bearer_secret: CRM_TOKEN}")
    settle(worker, clock, rounds=1)
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert server.calls[0]["headers"]["Authorization"] == "Bearer s3cr3t"
    assert "s3cr3t" not in str(instance.variables) and "s3cr3t" not in instance.version.source
    monkeypatch.delenv("CRM_TOKEN")
    missing = services.instance_start(key="call", variables={"amount": 1, "who": "x"}, actor=None)
    settle(worker, clock, rounds=1)
    missing.refresh_from_db()
    assert (missing.error["code"], missing.error["message"]) == (
        "SECRET_MISSING",
        "secret CRM_TOKEN is not set in the environment",
    )


def test_secrets_must_be_listed_and_credentials_never_written_in_a_definition(
    server, settings
) -> None:
    from orchestration.exceptions import DefinitionInvalid

    settings.ORCHESTRATION_SECRETS = []
    with pytest.raises(DefinitionInvalid) as raised:
        run_http(server, "/ok", request="auth: {bearer_secret: CRM_TOKEN}")
    assert raised.value.messages == [
        "steps.call.request.auth.bearer_secret: secret 'CRM_TOKEN' is not in ORCHESTRATION_SECRETS"
    ]
    with pytest.raises(DefinitionInvalid) as raised:
        run_http(server, "/ok", request='headers: {Authorization: "Bearer abc"}')
    assert raised.value.messages == [
        "steps.call.request.headers.Authorization: credentials do not belong in a definition:"
        " use auth: {bearer_secret: NAME}"
    ]


def test_an_event_attached_to_an_http_step_withdraws_it_between_attempts(
    settings, worker, clock
) -> None:
    from orchestration.models import StepRun

    with FlakyServer() as gone:
        pass  # nothing listens: every attempt fails and waits for its retry
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{gone.port}"]
    instance = run_http(
        gone, "/ok", retry="{max_attempts: 5, backoff: 60s}",
        extra="events: [{timer: 30s, next: refused}]",
    )  # fmt: skip
    worker.run_until_idle()
    clock.advance(seconds=30)
    worker.run_until_idle()
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "refused")
    assert instance.variables["call"] == {"interrupted_by": "timer", "branch": 0}
    waiting = StepRun.objects.filter(instance=instance, step="call", status="ready")
    assert not waiting.exists()  # the retry went with the step


def test_a_for_each_http_step_calls_once_per_entry_with_its_item(server, worker, clock) -> None:
    publish(f"""
key: each-call
name: Each call
variables:
  payees: {{type: array, required: true}}
start: call
steps:
  call:
    type: http
    for_each: {{items: payees, as: payee, mode: parallel}}
    request:
      method: POST
      url: "{server.url("/echo/")}{{{{ payee }}}}"
      body: {{to: "{{{{ payee }}}}"}}
    result: replies
    next: done
  done: {{type: end, result: ok}}
""")
    instance = services.instance_start(
        key="each-call", variables={"payees": ["ann", "bob"]}, actor=None
    )
    settle(worker, clock, rounds=2)
    assert sorted(call["path"] for call in server.calls) == ["/echo/ann", "/echo/bob"]
    assert len({call["key"] for call in server.calls}) == 2  # an idempotency key per entry
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert [reply["echo"] for reply in instance.variables["replies"]] == [
        {"to": "ann"},
        {"to": "bob"},
    ]
