"""A definition's expected durations (`sla`) and the live instances over them.

`sla.process` is how long an instance may take from start to end, `sla.steps`
how long one may stay in a step; both wall-clock (docs/definitions.md). The
report lists the instances over them now, the metrics count them
(metrics/collector.py) and, once they moved on, the late ones (metrics/fold.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from orchestration.definitions.durations import DurationError, parse_duration
from orchestration.models import ProcessInstance
from orchestration.states import LIVE


@dataclass(frozen=True)
class Sla:
    process: timedelta | None
    steps: Mapping[str, timedelta]

    def figures(self) -> dict[str, Any]:
        return {
            "process_s": self.process.total_seconds() if self.process else None,
            "steps": {step: d.total_seconds() for step, d in sorted(self.steps.items())},
        }


def sla_of(raw: Any) -> Sla | None:
    """The `sla` of a definition as published (None: it sets none). A duration
    over a cap lowered since it was published still counts as written."""
    if not isinstance(raw, Mapping) or not raw:
        return None
    steps = {
        str(step): duration
        for step, text in (raw.get("steps") or {}).items()
        if (duration := _duration(text)) is not None
    }
    return Sla(_duration(raw.get("process")), steps)


def _duration(text: Any) -> timedelta | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_duration(text)
    except DurationError:
        # Published under a larger ORCHESTRATION_MAX_DURATION_DAYS: no expectation
        # anyone can miss in this engine's lifetime.
        return None


@dataclass(frozen=True)
class Late:
    """One instance over an expected duration: of the whole process (step "")
    or of the step it is in."""

    instance_id: int
    business_key: str
    step: str
    since: datetime
    expected: timedelta

    def over(self, now: datetime) -> timedelta:
        return now - self.since - self.expected


@dataclass
class OverSla:
    instances: int = 0  # live instances past sla.process
    steps: dict[str, int] = field(default_factory=dict)  # step -> instances in it past sla.steps
    listed: list[Late] = field(default_factory=list)  # furthest over first, at most `limit`


def over_sla(version_id: int, sla: Sla | None, now: datetime, *, limit: int = 50) -> OverSla:
    """A version's live instances past its expected durations (`sla`), now."""
    found = OverSla()
    if sla is None:
        return found
    late: list[Late] = []
    if sla.process is not None:
        over = ProcessInstance.objects.filter(
            version_id=version_id, status__in=LIVE, created_at__lt=now - sla.process
        )
        found.instances = over.count()
        if limit:
            late += [
                Late(pk, key, "", started, sla.process)
                for pk, key, started in over.order_by("created_at", "pk")
                .values_list("pk", "business_key", "created_at")[:limit]
            ]  # fmt: skip
    for step, expected in sorted(sla.steps.items()):
        count, oldest = _late_tokens(version_id, step, now - expected, limit)
        if count:
            found.steps[step] = count
        late += [Late(pk, key, step, entered, expected) for pk, key, entered in oldest]
    late.sort(key=lambda entry: (-entry.over(now).total_seconds(), entry.instance_id))
    found.listed = late[:limit]
    return found


def _late_tokens(
    version_id: int, step: str, before: datetime, limit: int
) -> tuple[int, list[tuple[int, str, datetime]]]:
    """How many of the version's live instances have a token that entered
    `step` before `before`, and the `limit` that entered first (instance,
    business key, when). The tokens live in the instance's state
    (engine/state.py); the database unpacks, compares and counts them, so
    neither the states nor the late tokens travel to Python."""
    table = connection.ops.quote_name(ProcessInstance._meta.db_table)
    statuses = ", ".join(["%s"] * len(LIVE))
    # Values travel as parameters; only placeholders and the table's name (from
    # model metadata) are joined into the text.
    if connection.vendor == "postgresql":
        raw, since = "t.value->>'since'", "(t.value->>'since')::timestamptz"
        source = f"{table} i CROSS JOIN LATERAL jsonb_each(i.state->'tokens') AS t"
        where = f"t.value->>'step' = %s AND {since} < %s"
    elif connection.vendor == "sqlite":
        raw = "json_extract(t.value, '$.since')"
        since = f"julianday({raw})"
        source = f"{table} i, json_each(i.state, '$.tokens') t"
        where = f"json_extract(t.value, '$.step') = %s AND {since} < julianday(%s)"
    else:  # the engine runs on these two (docs/architecture.md)
        raise NotImplementedError(connection.vendor)
    sql = (
        f"SELECT i.id, i.business_key, {raw}, count(*) OVER () FROM {source}"  # noqa: S608
        f" WHERE i.version_id = %s AND i.status IN ({statuses}) AND {where}"
        f" ORDER BY {since}, i.id LIMIT %s"
    )
    when = before if connection.vendor == "postgresql" else before.astimezone(UTC).isoformat()
    with connection.cursor() as cursor:
        cursor.execute(sql, [version_id, *LIVE, step, when, max(limit, 1)])
        rows = cursor.fetchall()
    count = int(rows[0][3]) if rows else 0
    oldest = [(pk, key, datetime.fromisoformat(entered)) for pk, key, entered, _ in rows[:limit]]
    return count, oldest
