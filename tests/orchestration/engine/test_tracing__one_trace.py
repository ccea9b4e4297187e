"""One trace follows an instance: the request that starts it, the attempt that
runs its http step and that step's call, and the webhook it causes (the called
service and the webhook target get the W3C traceparent)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from api import keys
from orchestration import jobs, tracing
from orchestration.models import ProcessInstance
from orchestration.side_effects import webhooks
from tests.orchestration.engine.conftest import publish
from tests.orchestration.engine.flaky_server import FlakyServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def spans() -> Iterator[object]:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    assert tracing.configure(exporter, simple=True)
    try:
        yield exporter
    finally:
        tracing.stop()
        exporter.clear()


@pytest.fixture
def server(settings) -> Iterator[FlakyServer]:
    with FlakyServer() as running:
        settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{running.port}"]
        yield running


def trace_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def test_the_request_its_steps_calls_and_webhooks_share_one_trace(
    spans, server, people, worker
) -> None:
    publish(f"""
key: traced
name: Traced
start: pay
steps:
  pay:
    type: http
    request: {{method: POST, url: "{server.url("/pay")}"}}
    next: done
  done: {{type: end, result: paid}}
""")
    webhooks.subscription_create(actor=None, name="erp", url=server.url("/hooks"),
                                 events=["instance.completed"])  # fmt: skip
    _, token = keys.issue(name="shop", user=people["starter"], scopes=["instances:start"])
    started = Client().post("/api/v1/instances", {"definition": "traced"},
                            content_type="application/json",
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert started.status_code == 201, started.content
    request = next(s for s in spans.get_finished_spans() if s.kind.name == "SERVER")
    trace = format(request.context.trace_id, "032x")
    instance = ProcessInstance.objects.get(pk=started.json()["id"])
    assert trace_of(instance.traceparent) == trace  # kept with the instance, for the worker

    worker.run_until_idle()  # another process in production: it reads the kept context
    jobs.seal_audit()
    webhooks.fan_out()
    webhooks.deliver_due(seconds=5)

    by_path = {call["path"]: call["headers"] for call in server.calls}
    headers = {path: {k.lower(): v for k, v in h.items()} for path, h in by_path.items()}
    assert trace_of(headers["/pay"]["traceparent"]) == trace  # the http step's call
    assert trace_of(headers["/hooks"]["traceparent"]) == trace  # the webhook
    names = {s.name: s for s in spans.get_finished_spans()}
    step, hook = names["step pay"], names["webhook instance.completed"]
    assert format(step.context.trace_id, "032x") == trace
    assert format(hook.context.trace_id, "032x") == trace
    assert step.attributes["orchestration.instance"] == instance.pk
    assert step.attributes["orchestration.attempt"] == 1


def test_without_tracing_nothing_is_kept(server, people, worker) -> None:
    from orchestration import services

    publish("""
key: plain
name: Plain
start: done
steps:
  done: {type: end, result: ok}
""")
    instance = services.instance_start(key="plain", variables={}, actor=None)
    assert instance.traceparent == "" and not tracing.enabled()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_engine_loops_bookkeeping_is_not_traced(spans, settings) -> None:
    """The loop's claims, commits, timers and side sweeps make no spans (each
    statement would be a trace of its own); a step's attempt is one, with the
    statements its handler runs inside it."""
    from orchestration import services
    from orchestration.handlers import handler

    @handler("test.reads")
    def reads(variables: object, context: object) -> dict[str, int]:
        from django.db import connection

        try:
            return {"n": ProcessInstance.objects.count()}
        finally:
            connection.close()  # the pool thread's own: the test database goes after

    from django.db import connections

    settings.ORCHESTRATION_LOOPS = 5  # this loop runs whatever else the test run left
    # Tracing instruments the connections made from now on: make them anew.
    connections.close_all()
    publish("""
key: looped
name: Looped
start: read
steps:
  read: {type: service, handler: test.reads, next: done}
  done: {type: end, result: ok}
""")
    instance = services.instance_start(key="looped", variables={}, actor=None)
    spans.clear()  # the start's own statements, made outside any loop
    done = ProcessInstance.objects.filter(pk=instance.pk, status="completed")
    jobs.engine_loop(seconds=20, stop=done.exists)
    finished = spans.get_finished_spans()  # before this test's own statements below
    assert done.exists()
    (step,) = [s for s in finished if s.name == "step read"]
    statements = [s for s in finished if "db.system" in (s.attributes or {})]
    assert statements, "the handler's query is traced"
    loose = [s.name for s in statements if s.parent is None]
    assert not loose, loose[:5]
    assert all(s.parent.span_id == step.context.span_id for s in statements)


def test_the_head_sampler_keeps_its_share_and_follows_the_caller() -> None:
    from opentelemetry.sdk.trace.sampling import Decision
    from opentelemetry.trace import (
        NonRecordingSpan,
        SpanContext,
        TraceFlags,
        set_span_in_context,
    )

    from orchestration.tracing import sampling

    tenth = sampling(0.1)
    # TraceIdRatioBased keeps a trace when the low 64 bits of its id fall under
    # share x 2^64: a tenth keeps 0x...0100 and drops 0x...ffff.
    low, high = 0x100, (1 << 64) - 1
    assert tenth.should_sample(None, low, "start").decision == Decision.RECORD_AND_SAMPLE
    assert tenth.should_sample(None, high, "start").decision == Decision.DROP
    # A request inside a sampled trace stays in it, whatever the share; an
    # unsampled caller's request is not sampled either.
    for flags, expected in ((TraceFlags.SAMPLED, Decision.RECORD_AND_SAMPLE),
                            (TraceFlags.DEFAULT, Decision.DROP)):  # fmt: skip
        parent = SpanContext(
            trace_id=high, span_id=7, is_remote=True, trace_flags=TraceFlags(flags)
        )
        context = set_span_in_context(NonRecordingSpan(parent))
        assert sampling(0.0).should_sample(context, high, "step").decision == expected
        assert tenth.should_sample(context, high, "step").decision == expected
