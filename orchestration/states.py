"""Statuses and the only code that changes them.

Each status field has a TextChoices and an allowed-transitions table;
`transition()` checks the table, writes the status and its timestamp, and
appends the audit event in the caller's transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from orchestration import clock
from orchestration.audit import AuditKind
from orchestration.exceptions import TransitionNotAllowed

if TYPE_CHECKING:
    from accounts.models import User
    from orchestration.models import ProcessVersion


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    DEPRECATED = "deprecated", _("Deprecated")  # runs, and starts only when pinned
    RETIRED = "retired", _("Retired")  # starts nothing new; running instances finish


VERSION_TRANSITIONS: dict[str, frozenset[str]] = {
    VersionStatus.DRAFT: frozenset({VersionStatus.PUBLISHED}),
    VersionStatus.PUBLISHED: frozenset({VersionStatus.DEPRECATED}),
    VersionStatus.DEPRECATED: frozenset({VersionStatus.PUBLISHED, VersionStatus.RETIRED}),
    VersionStatus.RETIRED: frozenset(),
}

_TIMESTAMP_FIELD = {
    VersionStatus.PUBLISHED: "published_at",
    VersionStatus.DEPRECATED: "deprecated_at",
    VersionStatus.RETIRED: "retired_at",
}


def transition_version(
    version: ProcessVersion,
    to: VersionStatus,
    *,
    actor: User | None,
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> None:
    """Move a version to `to`; raise TransitionNotAllowed when the table forbids it.

    The caller holds the version's row lock inside a transaction; this writes the
    status and appends a ProcessEvent there.
    """
    from orchestration.models import ProcessEvent, ProcessVersion

    source = version.status
    if to not in VERSION_TRANSITIONS[source]:
        raise TransitionNotAllowed(version, source, to)
    now = clock.now()
    fields: dict[str, Any] = {"status": to}
    if to in _TIMESTAMP_FIELD:
        fields[_TIMESTAMP_FIELD[to]] = now
    if to == VersionStatus.PUBLISHED and version.published_by_id is None:
        fields["published_by"] = actor
    # A queryset update, so that ProcessVersion.save()'s immutability guard stays
    # strict: status is the one thing that changes after publishing, and only here.
    ProcessVersion.objects.filter(pk=version.pk).update_status(**fields)
    for name, value in fields.items():
        setattr(version, name, value)
    ProcessEvent.objects.create(
        kind=AuditKind(f"version.{to}"),
        actor=actor,
        definition_id=version.definition_id,
        version=version,
        from_status=source,
        to_status=to,
        reason=reason,
        payload=payload or {},
        created_at=now,
    )


class InstanceStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting")
    COMPENSATING = "compensating", _("Compensating")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    COMPENSATED = "compensated", _("Compensated")
    # An unexpected error while applying an event to this instance: nothing of
    # that transition was written, work for it is held back, an operator retries.
    INCIDENT = "incident", _("Incident")
    # An operator put it on hold: work is held back as for an incident until resumed.
    SUSPENDED = "suspended", _("Suspended")


# The one set of ended statuses (engine/state.py reads it from here).
ENDED = frozenset({InstanceStatus.COMPLETED, InstanceStatus.CANCELLED, InstanceStatus.COMPENSATED})
# The others, as a list for `status__in` and SQL parameters: naming them lets
# PostgreSQL find the few live rows among millions ended through a status index.
LIVE = [str(status) for status in InstanceStatus if status not in ENDED]
# What an operator's retry acts on (services.instance_retry).
RETRYABLE = frozenset({InstanceStatus.FAILED, InstanceStatus.INCIDENT})
# Statuses whose work (runs, timers, results, messages) is held back, not applied.
HOLDING = frozenset({InstanceStatus.INCIDENT, InstanceStatus.SUSPENDED})
# What an operator may suspend.
SUSPENDABLE = frozenset({InstanceStatus.RUNNING, InstanceStatus.WAITING,
                         InstanceStatus.COMPENSATING, InstanceStatus.FAILED})  # fmt: skip
_S = InstanceStatus
# The core computes the next status; the runtime refuses any pair not listed
# here. What really happens: a cancellation with something to undo goes through
# compensating (compensated is reached only from there); one with nothing to
# undo ends cancelled; a compensation cannot be cancelled; any live or failed
# instance can become an incident, and an incident returns to where it was.
INSTANCE_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.RUNNING: frozenset(
        {
            _S.WAITING,
            _S.COMPENSATING,
            _S.COMPLETED,
            _S.FAILED,
            _S.CANCELLED,
            _S.INCIDENT,
            _S.SUSPENDED,
        }
    ),
    _S.WAITING: frozenset(
        {
            _S.RUNNING,
            _S.COMPENSATING,
            _S.COMPLETED,
            _S.FAILED,
            _S.CANCELLED,
            _S.INCIDENT,
            _S.SUSPENDED,
        }
    ),
    _S.COMPENSATING: frozenset(
        {_S.RUNNING, _S.WAITING, _S.COMPLETED, _S.FAILED, _S.COMPENSATED, _S.INCIDENT, _S.SUSPENDED}
    ),
    # failed: a step failed for good; retry resumes it, cancel compensates or ends it
    _S.FAILED: frozenset(
        {
            _S.RUNNING,
            _S.WAITING,
            _S.COMPENSATING,
            _S.COMPLETED,
            _S.CANCELLED,
            _S.INCIDENT,
            _S.SUSPENDED,
        }
    ),
    # suspended: resume returns to where it was (cancel resumes it first)
    _S.SUSPENDED: frozenset({_S.RUNNING, _S.WAITING, _S.COMPENSATING, _S.FAILED}),
    # incident: retry returns to where it was, cancel compensates or ends it
    _S.INCIDENT: frozenset({_S.RUNNING, _S.WAITING, _S.COMPENSATING, _S.FAILED, _S.CANCELLED}),
    _S.COMPLETED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.COMPENSATED: frozenset(),
}


def check_instance_transition(source: str, target: str, obj: object) -> None:
    """Raise TransitionNotAllowed unless `source -> target` is in the table (or unchanged)."""
    if source != target and target not in INSTANCE_TRANSITIONS[source]:
        raise TransitionNotAllowed(obj, source, target)


class RunStatus(models.TextChoices):
    READY = "ready", _("Ready")  # waits for a worker (from due_at on)
    RUNNING = "running", _("Running")  # leased to a worker until lease_until
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    TIMED_OUT = "timed_out", _("Timed out")  # lease expired: the worker died or hung
    CANCELLED = "cancelled", _("Cancelled")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    # Closed by an event attached to its step (the request was withdrawn).
    WITHDRAWN = "withdrawn", _("Withdrawn")


class TimerStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    FIRED = "fired", _("Fired")
    CANCELLED = "cancelled", _("Cancelled")


# What really happens to the engine's work rows; the Writer's named operations
# (and engine/store.withdraw, which cancels only rows in a listed source
# status) are the only code that changes these statuses.
RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    RunStatus.READY: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),
    # back to ready: a worker that chained too long hands its claims back
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.TIMED_OUT,
            RunStatus.CANCELLED,
            RunStatus.READY,
        }
    ),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.TIMED_OUT: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}
TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    TaskStatus.OPEN: frozenset({TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.WITHDRAWN}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
    TaskStatus.WITHDRAWN: frozenset(),
}
TIMER_TRANSITIONS: dict[str, frozenset[str]] = {
    TimerStatus.PENDING: frozenset({TimerStatus.FIRED, TimerStatus.CANCELLED}),
    TimerStatus.FIRED: frozenset(),
    TimerStatus.CANCELLED: frozenset(),
}
_TABLES: dict[str, dict[str, frozenset[str]]] = {
    "StepRun": RUN_TRANSITIONS,
    "HumanTask": TASK_TRANSITIONS,
    "Timer": TIMER_TRANSITIONS,
}


def move(obj: Any, to: str) -> None:
    """Set a run's, task's or timer's status after checking its table; raise
    TransitionNotAllowed (nothing changed) for a pair the table does not list."""
    source = obj.status
    if to not in _TABLES[type(obj).__name__][source]:
        raise TransitionNotAllowed(obj, source, to)
    obj.status = to
