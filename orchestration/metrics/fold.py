"""Counting what happened from the sealed audit log, one cursor ahead of nobody.

Every transition already writes one audit row (kind, statuses before and
after, the step, and the notes the core made: retries, escalations, votes).
This side sweep reads the rows sealed since its cursor, in chain order, and
adds them to the counters and histograms (MetricSample) in the same
transaction that moves the cursor: each row is counted once, whichever
process wrote it, and a crash counts nothing twice. The engine's own
transactions write nothing more for metrics than two numbers in a step's row
(the attempt and its seconds)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import F, Q

from orchestration import clock, sweeps
from orchestration.audit.kinds import AuditKind
from orchestration.metrics.samples import Tally
from orchestration.models import (
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ProcessVersion,
)
from orchestration.reports.rollup import Rollup
from orchestration.reports.sla import Sla, sla_of
from orchestration.side_effects import cursor as outbox
from orchestration.states import InstanceStatus

METRICS = "metrics"  # the cursor's and the sweep's name
# The payload keys fold() reads.
_KEYS = ("moves", "notes", "seconds", "lateness_s", "timer_kind", "outcome", "rule", "rows",
         "instances", "where", "values")  # fmt: skip
READ_BATCH = 5000

_ENDED = {InstanceStatus.COMPLETED, InstanceStatus.FAILED, InstanceStatus.CANCELLED,
          InstanceStatus.COMPENSATED}  # fmt: skip
_DECISIONS = {AuditKind.TASK_COMPLETED, AuditKind.TASK_FORCED, AuditKind.TASK_VOTED}
_KEEPING = {AuditKind.DATA_REMOVED, AuditKind.SUBJECT_ERASED, AuditKind.HOLD_PLACED,
            AuditKind.HOLD_LIFTED, AuditKind.SENSITIVE_VIEWED,
            AuditKind.SENSITIVE_ROTATED}  # fmt: skip
_VIEWED_WHERE = {"api", "instance_page", "task_page"}
_COUNTED = {AuditKind.INSTANCE_STARTED, AuditKind.STEP_SUCCEEDED, AuditKind.STEP_FAILED,
            AuditKind.TIMER_FIRED, *_DECISIONS, *_KEEPING}  # fmt: skip


def fold_pending(*, limit: int = READ_BATCH) -> int:
    """Count up to `limit` sealed audit rows past the cursor; return how many
    were read. One sweep at a time (the cursor row is locked; others skip)."""
    now = clock.now()
    with transaction.atomic():
        position = outbox.locked(METRICS)
        if position is None:
            return 0
        entries = outbox.read(position, limit)
        if not entries:
            return 0
        # Only rows that count (a change of the instance's status, or a kind
        # above), as plain rows: no model instances for thousands of rows.
        # Of the payload, only the keys counted (a decision's payload carries
        # its form data; a start's, the variables): the database picks them.
        rows = [
            _Row._make([*values[:7], _picked(values[9:]), *values[7:9]])
            for values in ProcessEvent.objects.filter(pk__in=[e.row_id for e in entries])
            .filter(Q(kind__in=_COUNTED) | ~Q(from_status=F("to_status")))
            .order_by("pk")
            .values_list("id", "kind", "definition_id", "version_id", "step", "from_status",
                         "to_status", "instance_id", "created_at",
                         *(f"payload__{key}" for key in _KEYS))
        ]  # fmt: skip
        names = _Names(rows)
        tally, rollup = Tally(), Rollup()
        started = _started_at(rows)
        # A row that cannot be read (a payload an older release wrote, say) is
        # recorded and skipped; it never holds back the rows behind it.
        sweeps.each(METRICS, rows, lambda row: fold(row, tally, names, rollup, started),
                    row_id=lambda r: r.pk, now=now, retry=False, savepoint=False)  # fmt: skip
        tally.save()
        rollup.save()
        outbox.advance(position, entries[-1])
    return len(entries)


def _picked(values: tuple[Any, ...]) -> dict[str, Any]:
    return {key: value for key, value in zip(_KEYS, values, strict=True) if value is not None}


class _Row(NamedTuple):
    pk: int
    kind: str
    definition_id: int | None
    version_id: int | None
    step: str
    from_status: str
    to_status: str
    payload: Any
    instance_id: int | None
    created_at: datetime


def fold(
    row: _Row, tally: Tally, names: _Names, rollup: Rollup | None = None,
    started: Mapping[int, datetime] | None = None,
) -> None:  # fmt: skip
    """Add one audit row to the metrics' tally and the report's daily roll-up."""
    sla = names.sla(row.version_id)
    payload: Mapping[str, Any] = row.payload or {}
    moves = _moves(payload)
    lasted = _lasted(row, started or {})
    # Over the expected durations: the instance as a whole (an end other than a
    # cancellation, after sla.process) and each step left after its sla.steps.
    late = bool(sla and sla.process and lasted is not None
                and row.to_status != InstanceStatus.CANCELLED
                and lasted > sla.process.total_seconds())  # fmt: skip
    late_steps = [
        source for source, _, seconds in moves
        if sla and source in sla.steps and seconds is not None
        and seconds > sla.steps[source].total_seconds()
    ]  # fmt: skip
    if rollup is not None and row.version_id is not None:
        _roll(row, rollup, moves, lasted, late, late_steps)
    definition = names.definition(row.definition_id)
    version = names.version(row.version_id)
    notes = [note for note in payload.get("notes") or [] if isinstance(note, Mapping)]
    instance = {"definition": definition, "version": version}
    if row.kind == AuditKind.INSTANCE_STARTED:
        tally.count("orchestration_instances_started", instance)
    if row.to_status != row.from_status:
        if row.to_status in _ENDED:
            tally.count("orchestration_instances_ended", {**instance, "status": row.to_status})
        elif row.to_status == InstanceStatus.INCIDENT:
            tally.count("orchestration_instances_incidents", instance)
    if late:
        tally.count("orchestration_instances_late", instance)
    for source in late_steps:
        tally.count("orchestration_step_visits_late", {"definition": definition, "step": source})
    step = {"definition": definition, "step": row.step}
    if row.kind in (AuditKind.STEP_SUCCEEDED, AuditKind.STEP_FAILED):
        result = "succeeded" if row.kind == AuditKind.STEP_SUCCEEDED else "failed"
        tally.count("orchestration_step_attempts", {**step, "result": result})
        seconds = payload.get("seconds")
        if isinstance(seconds, int | float) and seconds >= 0:
            tally.observe("orchestration_step_duration_seconds", step, float(seconds))
        retried = any(n.get("kind") == AuditKind.STEP_RETRY_SCHEDULED for n in notes)
        if row.kind == AuditKind.STEP_FAILED and not retried:
            tally.count("orchestration_step_failures", step)
    for note in notes:
        kind = note.get("kind")
        if kind == AuditKind.STEP_RETRY_SCHEDULED:
            tally.count("orchestration_step_retries",
                        {"definition": definition, "step": str(note.get("step", ""))})  # fmt: skip
        elif kind == AuditKind.TASK_ESCALATED:
            level, action = str(note.get("level", "")), str(note.get("action", ""))
            tally.count("orchestration_escalations",
                        {"definition": definition, "level": level, "action": action})  # fmt: skip
    if row.kind == AuditKind.TIMER_FIRED:
        lateness = payload.get("lateness_s")
        if isinstance(lateness, int | float):
            timer = {"kind": str(payload.get("timer_kind", ""))}
            tally.observe("orchestration_timer_lateness_seconds", timer, max(0.0, float(lateness)))
    if row.kind in _KEEPING:
        _keeping(row, payload, tally)
    if row.kind in _DECISIONS:
        outcome = payload.get("outcome") or next(
            (n.get("outcome") for n in notes if n.get("kind") == AuditKind.TASK_VOTE_RECORDED), ""
        )
        tally.count("orchestration_decisions", {**step, "outcome": str(outcome or "")})


def _keeping(row: _Row, payload: Mapping[str, Any], tally: Tally) -> None:
    """Retention, erasure, legal holds and sensitive values (orchestration/retention,
    orchestration/disclosure)."""
    if row.kind == AuditKind.DATA_REMOVED:
        rule = str(payload.get("rule") or "")
        reason = "erasure" if rule.startswith("erasure") else "retention"
        rows = sum(last - first + 1 for first, last in payload.get("rows") or []
                   if isinstance(first, int) and isinstance(last, int))  # fmt: skip
        instances = payload.get("instances")
        if isinstance(instances, list) and instances:
            tally.count("orchestration_data_removals", {"reason": reason}, len(instances))
        tally.count("orchestration_data_removed_rows", {"reason": reason}, rows)
    elif row.kind == AuditKind.SUBJECT_ERASED:
        tally.count("orchestration_subject_erasures", {})
    elif row.kind == AuditKind.SENSITIVE_VIEWED:
        where = str(payload.get("where") or "")
        tally.count("orchestration_sensitive_views",
                    {"where": where if where in _VIEWED_WHERE else "other"})  # fmt: skip
    elif row.kind == AuditKind.SENSITIVE_ROTATED:
        values = payload.get("values")
        if isinstance(values, int) and values >= 0:
            tally.count("orchestration_sensitive_values_rotated", {}, values)
    else:
        action = "placed" if row.kind == AuditKind.HOLD_PLACED else "lifted"
        tally.count("orchestration_legal_hold_changes", {"action": action})


def _moves(payload: Mapping[str, Any]) -> list[tuple[str, str, float | None]]:
    """The row's moves: (step left, "" from the start; step entered; seconds
    spent in the one left, None when not known)."""
    moves = []
    for move in payload.get("moves") or []:
        if isinstance(move, list) and len(move) == 3:
            source, target, seconds = move
            spent = float(seconds) if isinstance(seconds, int | float) else None
            moves.append((str(source or ""), str(target), spent))
    return moves


def _lasted(row: _Row, started: Mapping[int, datetime]) -> float | None:
    """Seconds from start to end of an instance that ended in this row."""
    if row.to_status == row.from_status or row.to_status not in _ENDED:
        return None
    since = started.get(row.instance_id or 0)
    return None if since is None else (row.created_at - since).total_seconds()


class _Names:
    """Definition keys, version numbers and versions' expected durations (`sla`)
    of the rows' ids, read once per sweep."""

    def __init__(self, rows: Iterable[_Row]) -> None:
        rows = list(rows)
        self._keys = dict(
            ProcessDefinition.objects.filter(pk__in={r.definition_id for r in rows})
            .values_list("pk", "key")
        )  # fmt: skip
        self._numbers: dict[int, int] = {}
        self._slas: dict[int, Sla] = {}
        for pk, number, raw in ProcessVersion.objects.filter(
            pk__in={r.version_id for r in rows}
        ).values_list("pk", "number", "spec__sla"):
            self._numbers[pk] = number
            if (sla := sla_of(raw)) is not None:
                self._slas[pk] = sla

    def definition(self, pk: int | None) -> str:
        return self._keys.get(pk, "") if pk is not None else ""

    def version(self, pk: int | None) -> str:
        return str(self._numbers.get(pk, "")) if pk is not None else ""

    def sla(self, pk: int | None) -> Sla | None:
        return self._slas.get(pk) if pk is not None else None


def _started_at(rows: list[_Row]) -> dict[int, datetime]:
    """When the instances that ended in these rows started (for their duration)."""
    ended = {
        r.instance_id
        for r in rows
        if r.to_status != r.from_status and r.to_status in _ENDED and r.instance_id
    }
    if not ended:
        return {}
    return dict(ProcessInstance.objects.filter(pk__in=ended).values_list("pk", "created_at"))


def _roll(
    row: _Row, rollup: Rollup, moves: list[tuple[str, str, float | None]],
    lasted: float | None, late: bool, late_steps: list[str],
) -> None:  # fmt: skip
    """The row in the SLA report's daily roll-ups (days in UTC)."""
    day, version = row.created_at.astimezone(UTC).date(), int(row.version_id or 0)
    payload: Mapping[str, Any] = row.payload or {}
    if row.kind == AuditKind.INSTANCE_STARTED:
        rollup.count(day, version, "", "started")
    if row.to_status != row.from_status:
        if row.to_status in _ENDED:
            how = {"completed": "completed", "failed": "failed"}  # else cancelled or compensated
            rollup.count(day, version, "", how.get(row.to_status, "cancelled"))
            if lasted is not None:
                rollup.duration(day, version, "", lasted)
        elif row.to_status == InstanceStatus.INCIDENT:
            rollup.count(day, version, "", "incidents")
    if late:
        rollup.count(day, version, "", "late")
    for source, target, seconds in moves:
        rollup.edge(day, version, source, target)
        if source and seconds is not None:
            rollup.count(day, version, source, "left")
            rollup.duration(day, version, source, seconds)
    for source in late_steps:
        rollup.count(day, version, source, "late")
    notes = [note for note in payload.get("notes") or [] if isinstance(note, Mapping)]
    retried = False
    for note in notes:
        if note.get("kind") == AuditKind.STEP_RETRY_SCHEDULED:
            rollup.count(day, version, str(note.get("step", "")), "retries")
            retried = True
        elif note.get("kind") == AuditKind.TASK_ESCALATED:
            rollup.escalation(day, version, str(note.get("step", "")), str(note.get("level", "")))
    if row.kind == AuditKind.STEP_FAILED and not retried:
        rollup.count(day, version, row.step, "failures")
