"""The engine's metrics as a prometheus_client collector: the stored counters
and histograms, and gauges read from the tables at scrape time."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models import Count, Max, Q
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from orchestration import clock, replica
from orchestration.metrics.catalogue import FAMILIES, Family
from orchestration.metrics.queues import queues
from orchestration.models import (
    HoldScope,
    HumanTask,
    LegalHold,
    LoopHeartbeat,
    MetricSample,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
)
from orchestration.reports.sla import over_sla, sla_of
from orchestration.states import LIVE, TaskStatus


class EngineCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = clock.now()
        yield from stored()
        yield from live(now)


def stored() -> Iterator[Metric]:
    """Counters and histograms as the fold and the webhook sender left them."""
    rows: dict[str, list[tuple[str, dict[str, str], float]]] = defaultdict(list)
    for name, labels, value in MetricSample.objects.values_list("name", "labels", "value"):
        base, _, part = name.rpartition("_")
        rows[base].append((part, labels, value))
    for family in FAMILIES.values():
        if family.kind == "counter":
            counter = CounterMetricFamily(family.name, family.help, labels=family.labels)
            for _, labels, value in rows.get(family.name, []):
                counter.add_metric(list(_values(family, labels)), value)
            yield counter
        elif family.kind == "histogram":
            yield _histogram(family, rows.get(family.name, []))


def _histogram(family: Family, parts: list[tuple[str, dict[str, str], float]]) -> Metric:
    series: dict[tuple[str, ...], dict[str, Any]] = defaultdict(lambda: {"buckets": {}})
    for part, labels, value in parts:
        entry = series[_values(family, labels)]
        if part == "bucket":
            entry["buckets"][labels.get("le", "+Inf")] = value
        else:
            entry[part] = value
    histogram = HistogramMetricFamily(family.name, family.help, labels=family.labels)
    for values, entry in series.items():
        bounds = [repr(float(b)) for b in family.buckets] + ["+Inf"]
        # Stored per bucket (each observation in the one that holds it); Prometheus
        # wants them cumulative: each bucket counts everything at or below its bound.
        buckets, running = [], 0.0
        for bound in bounds:
            running += entry["buckets"].get(bound, 0.0)
            buckets.append((bound, running))
        histogram.add_metric(list(values), buckets, entry.get("sum", 0.0))
    return histogram


def _values(family: Family, labels: dict[str, str]) -> tuple[str, ...]:
    return tuple(str(labels.get(name, "")) for name in family.labels)


def live(now: Any) -> Iterator[Metric]:
    keys = dict(ProcessDefinition.objects.values_list("pk", "key"))
    yield _live_instances(keys)
    yield from _over_sla(keys, now)
    depth = _gauge("orchestration_queue_depth")
    oldest = _gauge("orchestration_queue_oldest_seconds")
    for name, queue in sorted(queues(now).items()):
        depth.add_metric([name], queue.depth)
        oldest.add_metric([name], queue.age(now))
    yield depth
    yield oldest
    yield from _tasks(keys, now)
    window = timedelta(seconds=settings.ORCHESTRATION_READY_HEARTBEAT_SECONDS)
    beats = LoopHeartbeat.objects.aggregate(
        alive=Count("pk", filter=Q(seen_at__gte=now - window)), newest=Max("seen_at")
    )
    alive = _gauge("orchestration_worker_loops_alive")
    alive.add_metric([], beats["alive"])
    age = _gauge("orchestration_worker_heartbeat_age_seconds")
    newest = beats["newest"]
    age.add_metric([], (now - newest).total_seconds() if newest else math.inf)
    yield alive
    yield age
    holds = _gauge("orchestration_legal_holds_active")
    active = dict(LegalHold.objects.filter(lifted_at__isnull=True).values_list("scope")
                  .annotate(n=Count("pk")).order_by())  # fmt: skip
    for scope in HoldScope:
        holds.add_metric([scope.value], active.get(scope.value, 0))
    yield holds
    if replica.configured():
        lag = _gauge("orchestration_replica_lag_seconds")
        seconds = replica.lag_seconds(fresh=True)
        lag.add_metric([], math.nan if seconds is None else seconds)
        yield lag


def _live_instances(keys: dict[int, str]) -> Metric:
    gauge = _gauge("orchestration_instances_live")
    numbers = dict(ProcessVersion.objects.values_list("pk", "number"))
    counted = (
        # By status too: the (status, updated_at) index finds the few live rows
        # among millions ended (bench/reports.py: 72 ms to 16 ms at 1,000,000).
        ProcessInstance.objects.filter(ended_at__isnull=True, status__in=LIVE)
        .values_list("definition_id", "version_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for definition, version, status, n in counted:
        gauge.add_metric([keys.get(definition, ""), str(numbers.get(version, "")), status], n)
    return gauge


def _over_sla(keys: dict[int, str], now: Any) -> Iterator[Metric]:
    """Live instances past their expected durations, for the versions that set
    them (few: a query or two each, on the live rows of one version). Every
    expectation has a series, 0 when nobody is over it."""
    instances = _gauge("orchestration_instances_over_sla")
    by_step: dict[tuple[str, str], int] = defaultdict(int)
    versions = (
        ProcessVersion.objects.filter(spec__has_key="sla")
        .exclude(status="draft")
        .values_list("pk", "number", "definition_id", "spec__sla")
        .order_by("pk")
    )
    for pk, number, definition, raw in versions:
        sla = sla_of(raw)
        if sla is None:
            continue
        found = over_sla(pk, sla, now, limit=0)
        key = keys.get(definition, "")
        if sla.process is not None:
            instances.add_metric([key, str(number)], found.instances)
        for step in sla.steps:
            by_step[(key, step)] += found.steps.get(step, 0)
    yield instances
    steps = _gauge("orchestration_steps_over_sla")
    for labels, n in sorted(by_step.items()):
        steps.add_metric(list(labels), n)
    yield steps


def _tasks(keys: dict[int, str], now: Any) -> Iterator[Metric]:
    """Open and overdue tasks by definition and candidate group: a task offered
    to two groups counts in both; one offered to people only, under group ""."""
    groups = dict(Group.objects.values_list("pk", "name"))
    open_: dict[tuple[str, str], int] = defaultdict(int)
    overdue: dict[tuple[str, str], int] = defaultdict(int)
    counted = (
        # An open task's instance is live: saying so spares the join a scan of
        # every instance ever run (bench/reports.py: 147 ms to 40 ms).
        HumanTask.objects.filter(status=TaskStatus.OPEN, instance__status__in=LIVE)
        .values_list("instance__definition_id", "candidate_groups")
        .annotate(n=Count("pk"), late=Count("pk", filter=Q(due_at__lt=now)))
        .order_by()
    )
    for definition, offered, n, late in counted:
        for group in [groups.get(g, "") for g in offered or []] or [""]:
            open_[(keys.get(definition, ""), group)] += n
            overdue[(keys.get(definition, ""), group)] += late
    gauge = _gauge("orchestration_tasks_open")
    for labels, n in sorted(open_.items()):
        gauge.add_metric(list(labels), n)
    yield gauge
    gauge = _gauge("orchestration_tasks_overdue")
    for labels, n in sorted(overdue.items()):
        gauge.add_metric(list(labels), n)
    yield gauge


def _gauge(name: str) -> GaugeMetricFamily:
    family = FAMILIES[name]
    return GaugeMetricFamily(family.name, family.help, labels=family.labels)
