"""An operator suspends an instance and resumes it later.

A suspended instance holds its work the way an instance in incident does
(engine/incidents.py): workers leave its runs (deferred), its timers do not
fire (deferred), step results and messages that reach it are kept, in
order, in its `error["replay"]`; people cannot decide its tasks. Resuming
returns it to the status it had, applies what was kept, and makes the
deferred timers and runs due at once: a timer that came due while it was
suspended fires on resume, one not yet due keeps its time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestration.audit import AuditKind
from orchestration.engine.incidents import replay_held
from orchestration.models import ProcessInstance
from orchestration.states import InstanceStatus, check_instance_transition

if TYPE_CHECKING:
    from accounts.models import User
    from orchestration.engine.runtime import Writer


def suspend(writer: Writer, instance: ProcessInstance, *, reason: str, actor: User | None) -> None:
    """Put a locked live instance on hold, keeping what it was."""
    by = actor.get_username() if actor is not None else "system"
    check_instance_transition(instance.status, InstanceStatus.SUSPENDED, instance)
    writer.record(
        instance, AuditKind.INSTANCE_SUSPENDED, actor=actor, payload={"reason": reason},
        from_status=instance.status, to_status=InstanceStatus.SUSPENDED,
    )  # fmt: skip
    instance.error = {
        "suspended": {"by": by, "reason": reason, "at": writer.now.isoformat()},
        "previous": {"status": instance.status, "error": instance.error},
        "replay": [],
    }
    instance.status = InstanceStatus.SUSPENDED
    instance.updated_at = writer.now
    writer.touch(instance)


def resume(writer: Writer, instance: ProcessInstance, *, reason: str, actor: User | None) -> None:
    """Return a locked suspended instance to where it was and apply what it kept."""
    held: dict[str, Any] = instance.error or {}
    previous = held.get("previous") or {"status": InstanceStatus.RUNNING, "error": None}
    writer.record(
        instance, AuditKind.INSTANCE_RESUMED, actor=actor,
        payload={"reason": reason, "held": len(held.get("replay", []))},
        from_status=InstanceStatus.SUSPENDED, to_status=previous["status"],
    )  # fmt: skip
    check_instance_transition(instance.status, previous["status"], instance)
    instance.status, instance.error = previous["status"], previous["error"]
    instance.updated_at = writer.now
    writer.touch(instance)
    replay_held(writer, instance, held.get("replay", []), actor=actor)
