"""One bad instance fails alone.

Workers apply batches of events (step results, due timers, expired leases) to
many instances in one transaction. An unexpected exception while applying one
of them (a resolver that raises, a row that no longer fits its definition, a
value the database refuses) must not roll back the others or come back in
every later batch. `isolate()` runs the batch once as usual; only when it
raises does it apply it again instance by instance, each in a transaction of
its own, and hand each instance that still fails to the caller's `on_error`,
which puts it in the `incident` state (Writer.incident) and holds its work
back. The common case costs nothing extra.

An operator retries an incident (services.instance_retry -> incident_retry):
the instance returns to the status it had, the events that were held for it
are applied in order, and its held-back timers and runs come due at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import InterfaceError, OperationalError, transaction

from orchestration import sensitive
from orchestration.audit import AuditKind
from orchestration.engine import core
from orchestration.engine.events import event_from_json
from orchestration.models import ProcessInstance, StepRun, Timer
from orchestration.states import (
    InstanceStatus,
    RunStatus,
    TimerStatus,
    check_instance_transition,
)

if TYPE_CHECKING:
    from accounts.models import User
    from orchestration.engine.runtime import Writer

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

# Work held back for an instance in incident comes due again after this delay,
# doubling with every deferral up to the cap: never a tight loop, and an
# incident nobody retries costs one look an hour.
DEFER_FIRST = timedelta(seconds=30)
DEFER_CAP = timedelta(hours=1)
DEFERRED = "DEFERRED"

# Infrastructure failures are not an instance's fault: they end the round and
# the loop's supervisor starts it again.
NOT_ISOLATED = (OperationalError, InterfaceError)


def defer_delay(times: int) -> timedelta:
    """How far the `times`-th deferral of a held-back row pushes it."""
    delay: timedelta = min(DEFER_CAP, DEFER_FIRST * 2 ** max(times - 1, 0))
    return delay


def isolate(
    items: Sequence[Item],
    body: Callable[[list[Item]], list[Result]],
    on_error: Callable[[list[Item], Exception], object],
    *,
    instance_of: Callable[[Item], Hashable],
) -> list[Result]:
    """`body(items)` in one transaction; if it raises, `body` once per instance
    (the items grouped by `instance_of`), each in its own transaction, and
    `on_error(group, exc)` in a transaction of its own for a group that raises
    again. Returns what the bodies that committed returned.

    `body` must read the rows it changes itself (a retried body sees them as
    the rolled-back transaction left them).
    """
    try:
        with transaction.atomic():
            return body(list(items))
    except NOT_ISOLATED:
        raise
    except Exception as exc:
        return fall_back(items, exc, body, on_error, instance_of=instance_of)


def fall_back(
    items: Sequence[Item],
    first: Exception,
    body: Callable[[list[Item]], list[Result]],
    on_error: Callable[[list[Item], Exception], object],
    *,
    instance_of: Callable[[Item], Hashable],
) -> list[Result]:
    """The second half of isolate(), for callers whose first attempt also chose
    the items (a sweep that claims due rows with SKIP LOCKED) and raised `first`."""
    groups: dict[Hashable, list[Item]] = {}
    for item in items:
        groups.setdefault(instance_of(item), []).append(item)
    results: list[Result] = []
    failures: list[tuple[list[Item], Exception]] = []
    if len(groups) == 1:  # the batch was this one instance: no need to try it twice
        failures.append((next(iter(groups.values())), first))
    else:
        log.warning("a batch of %d raised; applying it instance by instance", len(items))
        for group in groups.values():
            try:
                with transaction.atomic():
                    results += body(group)
            except NOT_ISOLATED:
                raise
            except Exception as exc:
                failures.append((group, exc))
    for group, error in failures:
        log.error("instance %s failed alone", instance_of(group[0]), exc_info=error)
        try:
            with transaction.atomic():
                on_error(group, error)
        except NOT_ISOLATED:
            raise
        except Exception:
            # Its rows stay as they were; the next round meets them again.
            log.exception("could not record the incident of %s", instance_of(group[0]))
    return results


def incident_retry(writer: Writer, instance: ProcessInstance, *, actor: User | None) -> None:
    """Return a locked instance in incident to the status it had, apply the events
    held for it in order, and make its held-back timers and runs due now.

    An event that no longer applies is recorded as ignored. An unexpected error
    propagates (the caller puts the instance back in incident)."""
    error = instance.error or {}
    previous = error.get("previous") or {"status": InstanceStatus.RUNNING, "error": None}
    writer.record(
        instance,
        AuditKind.INSTANCE_INCIDENT_RETRIED,
        actor=actor,
        step=error.get("step", ""),
        payload={"type": error.get("type"), "message": error.get("message")},
        from_status=InstanceStatus.INCIDENT,
        to_status=previous["status"],
    )
    check_instance_transition(instance.status, previous["status"], instance)
    instance.status, instance.error = previous["status"], previous["error"]
    instance.updated_at = writer.now
    writer.touch(instance)
    replay_held(writer, instance, error.get("replay", []), actor=actor)


def replay_held(
    writer: Writer,
    instance: ProcessInstance,
    replay: list[dict[str, Any]],
    *,
    actor: User | None,
) -> None:
    """Apply the events held for an instance (in incident, or suspended) in
    order, and make its held-back timers and runs due now. An event that no
    longer applies is recorded as ignored."""
    for kept in replay:
        data = sensitive.open_(kept)  # sealed whole when the instance has sensitive values
        if "dropped" in data:
            writer.record(instance, AuditKind.EVENT_IGNORED, payload={"event": data["event"],
                                                              "why": data["dropped"]})  # fmt: skip
            continue
        event = event_from_json(data)
        try:
            writer.apply(instance, event, actor=actor)
        except core.EngineError as exc:
            writer.record(
                instance, AuditKind.EVENT_IGNORED, step=getattr(event, "step", ""),
                payload={"event": type(event).__name__, "why": str(exc)},
            )  # fmt: skip
    Timer.objects.filter(
        instance=instance, status=TimerStatus.PENDING, payload__has_key="deferred"
    ).update(due_at=writer.now)
    StepRun.objects.filter(instance=instance, status=RunStatus.READY, error__code=DEFERRED).update(
        due_at=writer.now, error=None
    )
