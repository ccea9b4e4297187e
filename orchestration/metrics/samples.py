"""Adding to the stored samples: a tally collected in memory, written in one go."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping

from orchestration.metrics.catalogue import FAMILIES
from orchestration.models import MetricSample

Labels = Mapping[str, str]


def key_of(labels: Labels) -> str:
    """The labels as Prometheus writes them, sorted by name (a row's identity)."""
    return ",".join(f'{name}="{labels[name]}"' for name in sorted(labels))


class Tally:
    """Increments to counters and observations of histograms, kept until save()."""

    def __init__(self) -> None:
        self._add: dict[tuple[str, str], float] = defaultdict(float)
        self._labels: dict[tuple[str, str], dict[str, str]] = {}

    def __bool__(self) -> bool:
        return bool(self._add)

    def count(self, family: str, labels: Labels, by: float = 1) -> None:
        self._bump(f"{family}_total", labels, by)

    def observe(self, family: str, labels: Labels, value: float) -> None:
        """One observation: counted in the one bucket that holds it (the
        collector adds them up into Prometheus' cumulative buckets)."""
        buckets = FAMILIES[family].buckets
        at = bisect.bisect_left(buckets, value)
        bound = _bound(buckets[at]) if at < len(buckets) else "+Inf"
        self._bump(f"{family}_bucket", {**labels, "le": bound}, 1)
        self._bump(f"{family}_sum", labels, value)
        self._bump(f"{family}_count", labels, 1)

    def _bump(self, name: str, labels: Labels, by: float) -> None:
        key = (name, key_of(labels))
        self._add[key] += by
        if key not in self._labels:
            self._labels[key] = dict(labels)

    def save(self) -> None:
        """Add the tally to the stored totals: three statements however many
        samples, safe beside another writer (the rows are locked while added to)."""
        if not self._add:
            return
        MetricSample.objects.bulk_create(
            [MetricSample(name=name, key=key, labels=self._labels[(name, key)], value=0.0)
             for name, key in self._add],
            ignore_conflicts=True,
        )  # fmt: skip
        names = {name for name, _ in self._add}
        keys = {key for _, key in self._add}
        rows = [
            row
            for row in MetricSample.objects.select_for_update()
            .filter(name__in=names, key__in=keys)
            .order_by("pk")
            if (row.name, row.key) in self._add
        ]
        for row in rows:
            row.value += self._add[(row.name, row.key)]
        MetricSample.objects.bulk_update(rows, ["value"])
        self._add.clear()
        self._labels.clear()


def _bound(value: float) -> str:
    # As prometheus_client writes bucket bounds: 0.5, 1.0, 300.0.
    return repr(float(value))
