"""OpenTelemetry traces, off unless configured (ORCHESTRATION_TRACING).

One trace follows an instance across processes: the request that starts it
(Django's instrumentation), the worker attempts that run its steps, their
outgoing HTTP calls (httpx's instrumentation sends W3C `traceparent`) and the
webhooks it causes. The trace's context is kept with the instance (its
`traceparent` column, copied to its children and its webhook deliveries),
since the worker that runs a step is another process, often another host,
and runs it later.

With tracing off nothing here imports OpenTelemetry and every call is a
no-op: the engine pays nothing for it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)
_tracer: Any = None


def configure(exporter: Any = None, *, simple: bool = False) -> bool:
    """Start tracing: with `exporter` (tests: an in-memory one), else as
    ORCHESTRATION_TRACING says ("otlp": to OTEL_EXPORTER_OTLP_ENDPOINT,
    "console": to standard output). Returns whether tracing is on."""
    global _tracer
    kind = settings.ORCHESTRATION_TRACING
    if exporter is None and not kind:
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if exporter is None:
        if kind == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        else:
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporter = ConsoleSpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        # Parent-based: a request that arrives in a sampled trace stays in it.
        sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else sampling(
            settings.ORCHESTRATION_TRACING_SAMPLE)  # fmt: skip
        provider = TracerProvider(resource=Resource.create(
            {"service.name": settings.ORCHESTRATION_TRACING_SERVICE}
        ), sampler=sampler)  # fmt: skip
        trace.set_tracer_provider(provider)
    processor = SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter)
    provider.add_span_processor(processor)
    for instrumentor in (DjangoInstrumentor(), PsycopgInstrumentor(), HTTPXClientInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
    _tracer = trace.get_tracer("orchestration")
    return True


def sampling(share: float) -> Any:
    """The head sampler: keeps `share` of new traces (by trace id), and
    follows the caller's choice for a request that arrives in a trace."""
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    return ParentBased(TraceIdRatioBased(share))


def stop() -> None:
    """Tracing off again in this process (tests): the instrumentations removed,
    spans no longer made. The provider and its exporters stay (OpenTelemetry
    sets the global provider once)."""
    global _tracer
    if _tracer is None:
        return
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    for instrumentor in (DjangoInstrumentor(), PsycopgInstrumentor(), HTTPXClientInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    _tracer = None


def enabled() -> bool:
    return _tracer is not None


def quiet() -> AbstractContextManager[object]:
    """No spans from the instrumentations within (this thread): the engine
    loop's own bookkeeping (claims, the transitions' commits, timers, the side
    sweeps) would make every statement a trace of its own, a third of a
    worker's CPU per instance (docs/performance.md). A step's attempt runs on a
    pool thread of its own, outside this, in its instance's trace."""
    if _tracer is None:
        return nullcontext()
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    return suppress_instrumentation()


def traceparent() -> str:
    """The current span's context as a W3C `traceparent` ("" when tracing is
    off or no span is active): what an instance keeps for its later steps."""
    if _tracer is None:
        return ""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent", "")


@contextmanager
def span(
    name: str, *, parent: str = "", attributes: Mapping[str, Any] | None = None
) -> Iterator[None]:
    """A span in the trace `parent` names (a kept `traceparent`), or in the
    current one; nothing when tracing is off."""
    if _tracer is None:
        yield
        return
    from opentelemetry.propagate import extract

    context = extract({"traceparent": parent}) if parent else None
    with _tracer.start_as_current_span(name, context=context,
                                       attributes=dict(attributes or {})):  # fmt: skip
        yield
