"""Adding a batch of audit rows to the daily roll-ups (StepDay, EdgeDay):
collected in memory, written in a few statements, safe beside another writer."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from orchestration.models import EdgeDay, StepDay
from orchestration.reports import sketch

_COUNTERS = ("started", "completed", "failed", "cancelled", "incidents", "left",
             "retries", "failures", "late")  # fmt: skip


class Rollup:
    def __init__(self) -> None:
        self._steps: dict[tuple[date, int, str], dict[str, Any]] = defaultdict(
            lambda: {"durations": {}, "escalations": {}}
        )
        self._edges: dict[tuple[date, int, str, str], int] = defaultdict(int)

    def count(self, day: date, version: int, step: str, field: str, n: int = 1) -> None:
        entry = self._steps[(day, version, step)]
        entry[field] = entry.get(field, 0) + n

    def duration(self, day: date, version: int, step: str, seconds: float) -> None:
        entry = self._steps[(day, version, step)]
        entry["durations"] = sketch.add(entry["durations"], seconds)

    def escalation(self, day: date, version: int, step: str, level: str) -> None:
        escalations = self._steps[(day, version, step)]["escalations"]
        escalations[level] = escalations.get(level, 0) + 1

    def edge(self, day: date, version: int, source: str, target: str) -> None:
        self._edges[(day, version, source, target)] += 1

    def save(self) -> None:
        if self._steps:
            self._save_steps()
        if self._edges:
            self._save_edges()

    def _save_steps(self) -> None:
        StepDay.objects.bulk_create(
            [StepDay(day=d, version_id=v, step=s) for d, v, s in self._steps], ignore_conflicts=True
        )
        rows = list(
            StepDay.objects.select_for_update()
            .filter(day__in={d for d, _, _ in self._steps},
                    version_id__in={v for _, v, _ in self._steps},
                    step__in={s for _, _, s in self._steps})
            .order_by("pk")
        )  # fmt: skip
        changed = []
        for row in rows:
            entry = self._steps.get((row.day, row.version_id, row.step))
            if entry is None:
                continue
            for field in _COUNTERS:
                setattr(row, field, getattr(row, field) + entry.get(field, 0))
            row.durations = sketch.merge([row.durations or {}, entry["durations"]])
            row.escalations = sketch.merge([row.escalations or {}, entry["escalations"]])
            changed.append(row)
        StepDay.objects.bulk_update(changed, [*_COUNTERS, "durations", "escalations"])
        self._steps.clear()

    def _save_edges(self) -> None:
        EdgeDay.objects.bulk_create(
            [EdgeDay(day=d, version_id=v, source=s, target=t) for d, v, s, t in self._edges],
            ignore_conflicts=True,
        )
        rows = list(
            EdgeDay.objects.select_for_update()
            .filter(day__in={k[0] for k in self._edges}, version_id__in={k[1] for k in self._edges},
                    target__in={k[3] for k in self._edges})
            .order_by("pk")
        )  # fmt: skip
        changed = []
        for row in rows:
            n = self._edges.get((row.day, row.version_id, row.source, row.target))
            if n:
                row.taken += n
                changed.append(row)
        EdgeDay.objects.bulk_update(changed, ["taken"])
        self._edges.clear()
