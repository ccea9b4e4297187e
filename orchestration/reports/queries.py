"""Reading the SLA report from the daily roll-ups: one version's numbers over
a window of days (UTC), ready for the page, the API and the CSV."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from orchestration.models import EdgeDay, ProcessVersion, StepDay
from orchestration.reports import sketch
from orchestration.reports.sla import Sla, sla_of


@dataclass
class Day:
    day: date
    started: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass
class StepFigures:
    step: str
    left: int = 0  # visits that ended in the window
    p50: float | None = None  # seconds spent in the step
    p95: float | None = None
    retries: int = 0
    failures: int = 0
    late: int = 0  # visits that left after the step's expected duration (sla.steps)
    escalations: dict[str, int] = field(default_factory=dict)  # level -> fired


@dataclass
class Report:
    version: ProcessVersion
    since: date
    until: date  # inclusive
    days: list[Day]
    started: int
    completed: int
    failed: int
    cancelled: int
    incidents: int
    late: int  # instances that ended after sla.process (not counting cancellations)
    sla: Sla | None  # the version's expected durations
    p50: float | None  # end-to-end seconds, of the instances that ended
    p95: float | None
    steps: dict[str, StepFigures]
    edges: dict[tuple[str, str], int]

    def expected_s(self, step: str) -> float | None:
        """The step's expected duration in seconds (sla.steps), if it has one."""
        limit = self.sla.steps.get(step) if self.sla else None
        return limit.total_seconds() if limit else None

    def figures(self) -> dict[str, Any]:
        """As JSON for the API (seconds as numbers, days as ISO dates)."""
        return {
            "definition": self.version.definition.key, "version": self.version.number,
            "since": self.since.isoformat(), "until": self.until.isoformat(),
            "started": self.started, "completed": self.completed, "failed": self.failed,
            "cancelled": self.cancelled, "incidents": self.incidents, "late": self.late,
            "sla": self.sla.figures() if self.sla else None,
            "duration_p50_s": self.p50, "duration_p95_s": self.p95,
            "days": [vars(d) | {"day": d.day.isoformat()} for d in self.days],
            "steps": [vars(s) | {"expected_s": self.expected_s(s.step)}
                      for s in self.steps.values()],
            "edges": [{"from": a, "to": b, "taken": n} for (a, b), n in sorted(self.edges.items())],
        }  # fmt: skip


def report_version(key: str, number: int | None = None) -> ProcessVersion | None:
    """The version a report is about: `number`, else the newest that is not a draft."""
    versions = ProcessVersion.objects.select_related("definition").filter(definition__key=key)
    if number:
        return versions.filter(number=number).first()
    return versions.exclude(status="draft").order_by("-number").first()


def report(version: ProcessVersion, *, until: date, days: int = 30) -> Report:
    """The version's report for the `days` days up to `until` (inclusive)."""
    since = until - timedelta(days=days - 1)
    window = StepDay.objects.filter(version=version, day__range=(since, until))
    rows: list[dict[str, Any]] = [
        dict(row) for row in window.values(
            "day", "step", "started", "completed", "failed", "cancelled", "incidents",
            "left", "retries", "failures", "late", "durations", "escalations",
        )
    ]  # fmt: skip
    by_day = {since + timedelta(days=i): Day(since + timedelta(days=i)) for i in range(days)}
    whole: dict[str, int] = defaultdict(int)
    durations: dict[str, list[dict[str, int]]] = defaultdict(list)
    steps: dict[str, StepFigures] = {}
    for row in rows:
        if row["step"] == "":
            day = by_day[row["day"]]
            for name in ("started", "completed", "failed", "cancelled"):
                setattr(day, name, getattr(day, name) + row[name])
            for name in ("started", "completed", "failed", "cancelled", "incidents", "late"):
                whole[name] += row[name]
        else:
            figures = steps.setdefault(row["step"], StepFigures(row["step"]))
            figures.left += row["left"]
            figures.retries += row["retries"]
            figures.failures += row["failures"]
            figures.late += row["late"]
            figures.escalations = sketch.merge([figures.escalations, row["escalations"] or {}])
        durations[row["step"]].append(row["durations"] or {})
    for step, figures in steps.items():
        merged = sketch.merge(durations[step])
        figures.p50, figures.p95 = sketch.percentile(merged, 0.5), sketch.percentile(merged, 0.95)
    overall = sketch.merge(durations[""])
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for source, target, taken in EdgeDay.objects.filter(
        version=version, day__range=(since, until)
    ).values_list("source", "target", "taken"):
        edges[(source, target)] += taken
    return Report(
        version=version, since=since, until=until, days=list(by_day.values()),
        started=whole["started"], completed=whole["completed"], failed=whole["failed"],
        cancelled=whole["cancelled"], incidents=whole["incidents"], late=whole["late"],
        sla=sla_of(version.spec.get("sla")),
        p50=sketch.percentile(overall, 0.5), p95=sketch.percentile(overall, 0.95),
        steps=steps, edges=dict(edges),
    )  # fmt: skip
