"""What the Writer does for what reaches an instance from elsewhere: starting
a sub-process and telling its parent how it ended, and taking a message that
arrived before the instance waited for it.

A mixin of runtime.Writer, kept apart so that the writer's core (applying
events, work rows, flushing) stays readable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings

from orchestration.engine import sealing, state
from orchestration.engine.events import AwaitMessage, StartChild, Started
from orchestration.engine.state import TimerKind
from orchestration.engine.versions import definition_of, version_for_start
from orchestration.models import BufferedMessage, ProcessInstance, Timer
from orchestration.retention.subjects import subject_key, subject_of
from orchestration.states import InstanceStatus

if TYPE_CHECKING:
    from accounts.models import User


class SubprocessDepthExceeded(Exception):
    """A chain of sub-processes deeper than ORCHESTRATION_SUBPROCESS_DEPTH (a runaway)."""

    def __init__(self, message: str, *, step: str) -> None:
        super().__init__(message)
        self.step = step


class ChildWrites:
    now: datetime
    notify: bool
    _new_timers: list[Timer]

    apply: Callable[..., Any]  # runtime.Writer's

    def _take_buffered(self, instance: ProcessInstance, effect: AwaitMessage) -> None:
        """Deliver the oldest live message buffered for one of this wait's names
        and the instance's business key, through a timer due now (the event
        is applied in its own transition, like every other). One at most: of
        a `first_of` wait's messages the oldest comes first."""
        if not instance.business_key:
            return
        buffered = (
            BufferedMessage.objects.select_for_update(skip_locked=True)
            .filter(
                name__in=effect.names,
                business_key=instance.business_key,
                consumed_at__isnull=True,
                expires_at__gt=self.now,
            )
            .order_by("pk")
            .first()
        )
        if buffered is None:
            return
        buffered.consumed_at, buffered.consumed_by = self.now, instance
        buffered.save(update_fields=["consumed_at", "consumed_by"])
        self._new_timers.append(
            Timer(
                instance=instance,
                token=effect.token,
                step=effect.step,
                kind=TimerKind.MESSAGE,
                due_at=self.now,
                created_at=self.now,
                payload={
                    "name": buffered.name,
                    "payload": buffered.payload,
                    "buffered": buffered.pk,
                },
            )
        )
        self.notify = True

    def _start_child(self, parent: ProcessInstance, effect: StartChild, actor: User | None) -> None:
        from orchestration.engine.variables import validate_variables
        from orchestration.exceptions import VersionNotFound

        depth = state.depth(parent.state) + 1
        limit = settings.ORCHESTRATION_SUBPROCESS_DEPTH
        if depth > limit:
            raise SubprocessDepthExceeded(
                f"sub-process depth limit {limit} reached (ORCHESTRATION_SUBPROCESS_DEPTH)",
                step=effect.step,
            )
        bound = definition_of(parent.version).step(effect.step).get("max_depth")
        if bound is not None and depth > bound:
            # A recursion's own bound (the step's max_depth, counted from the
            # top-level instance): the step fails, as an unknown version does.
            self._child_failed(parent, effect, f"max_depth {bound} reached (depth {depth})")
            return
        try:
            version = version_for_start(key=effect.definition, number=effect.version)
        except VersionNotFound as exc:
            self._child_failed(parent, effect, str(exc))
            return
        variables, errors = validate_variables(version.spec, effect.variables)
        if errors:
            self._child_failed(parent, effect, f"invalid input: {errors}")
            return
        child = ProcessInstance(
            definition=version.definition,
            version=version,
            status=InstanceStatus.RUNNING,
            variables=sealing.carried(variables, parent.variables),
            state=state.new_state(depth=depth),
            started_by=parent.started_by,
            parent=parent,
            parent_token=effect.token,
            parent_step=effect.step,
            business_key=parent.business_key,
            traceparent=parent.traceparent,
            subject_key=subject_key(subject_of(version.spec, parent.business_key, variables)),
            created_at=self.now,
            updated_at=self.now,
        )
        self.apply(child, Started(), actor=actor, payload={"parent": parent.pk})

    def _child_failed(self, parent: ProcessInstance, effect: StartChild, why: str) -> None:
        self._tell_parent(
            parent.pk,
            effect.token,
            effect.step,
            {"status": "failed", "result": "", "variables": {}, "error": why},
        )

    def _tell_parent(self, parent_id: int, token: str, step: str, payload: dict[str, Any]) -> None:
        """A child's outcome reaches its parent as a timer due now."""
        self._new_timers.append(
            Timer(
                instance_id=parent_id,
                token=token,
                step=step,
                kind=TimerKind.CHILD_FINISHED,
                due_at=self.now,
                created_at=self.now,
                payload=payload,
            )
        )
        self.notify = True
