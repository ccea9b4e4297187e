"""Persistence around the pure core: one transaction applies events to locked
instances and writes everything they cause.

A `Writer` collects the rows a batch of transitions creates or changes and
writes them with a handful of bulk statements (`flush`). The caller owns the
transaction and the instance row locks; lock order is always instance rows by
ascending id, then everything else, so batches never deadlock each other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings

from orchestration import limits, sensitive, states
from orchestration.audit import AuditKind
from orchestration.definitions.durations import parse_duration
from orchestration.engine import allocation, core, sealing, state, store
from orchestration.engine.child_writes import ChildWrites
from orchestration.engine.events import (
    Audit,
    AwaitMessage,
    CancelToken,
    ChangeAssignees,
    ChildFinished,
    CloseTask,
    Effect,
    Event,
    Finished,
    Notify,
    OpenTask,
    RunStep,
    StartChild,
    StartTimer,
    Tell,
    event_to_json,
)
from orchestration.engine.state import TimerKind, Wait
from orchestration.engine.task_writes import TaskWrites
from orchestration.engine.versions import definition_of
from orchestration.handlers import get_resolver
from orchestration.models import (
    HumanTask,
    ProcessEvent,
    ProcessInstance,
    StepRun,
    TaskExclusion,
    TaskVote,
    Timer,
)
from orchestration.states import (
    InstanceStatus,
    RunStatus,
    TaskStatus,
    TimerStatus,
    check_instance_transition,
)

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger(__name__)
# Timers whose `level` says which part of their step they are for: an
# escalation level, a `first_of` wait's branch, an attached event.
_LEVELLED = frozenset({TimerKind.ESCALATION, TimerKind.FIRST_OF, TimerKind.ATTACHED})

LEASE_GRACE = timedelta(seconds=5)

_EVENT_KINDS = {
    "Started": AuditKind.INSTANCE_STARTED,
    "StepSucceeded": AuditKind.STEP_SUCCEEDED,
    "StepFailed": AuditKind.STEP_FAILED,
    "TaskVoted": AuditKind.TASK_VOTED,
    "TimerFired": AuditKind.TIMER_FIRED,
    "MessageReceived": AuditKind.MESSAGE_RECEIVED,
    "ChildFinished": AuditKind.CHILD_FINISHED,
    "Cancel": AuditKind.INSTANCE_CANCELLED,
    "RetryFailed": AuditKind.INSTANCE_RETRIED,
    "Moved": AuditKind.INSTANCE_MIGRATED,
}


def idempotency_key(instance_id: int, step: str, execution: int, compensation: bool) -> str:
    """Same instance + step + execution gives the same key on every retry."""
    return f"pi{instance_id}:{step}:{execution}" + (":undo" if compensation else "")


def step_timeout(step: Mapping[str, Any]) -> timedelta:
    """How long one attempt may take: the step's `timeout`, or
    ORCHESTRATION_DEFAULT_STEP_TIMEOUT for steps that declare none."""
    if "timeout" in step:
        return parse_duration(step["timeout"])
    return parse_duration(settings.ORCHESTRATION_DEFAULT_STEP_TIMEOUT)


def lease(run: StepRun, instance: ProcessInstance, worker: str, now: datetime) -> None:
    """Mark a run as taken by `worker`, leased for its step's timeout plus grace."""
    step = definition_of(instance.version).step(run.step)
    states.move(run, RunStatus.RUNNING)
    run.worker = worker
    run.started_at = now
    run.lease_until = now + step_timeout(step) + LEASE_GRACE


def external_topic(instance: ProcessInstance, effect: RunStep) -> str:
    """The topic external workers fetch a run by; "" for the engine's own runs
    (a compensation is always a handler)."""
    if effect.compensation:
        return ""
    return str(definition_of(instance.version).step(effect.step).get("external", ""))


def snapshot_of(instance: ProcessInstance, event: Event) -> tuple[state.Snapshot, Event]:
    """The instance as the core sees it, sensitive values open (and the
    event, when it carries a child's sealed variables, opened too)."""
    definition = definition_of(instance.version)
    found: set[str] = set()
    variables = instance.variables
    if sensitive.holds_sealed(variables):
        variables = sealing.open_collecting(variables, found)
    held = instance.state or state.new_state()
    if (found or sealing.involved(definition, found)) and sensitive.holds_sealed(held):
        held = sealing.open_collecting(held, found)
    if isinstance(event, ChildFinished) and event.variables:
        event = replace(event, variables=sealing.open_collecting(event.variables, found))
    snapshot = state.Snapshot(
        status=instance.status,
        variables=variables,
        state=held,
        result=instance.result,
        error=instance.error,
        sealed=frozenset(found),
    )
    return snapshot, event


def clear_variables(instance: ProcessInstance) -> dict[str, Any]:
    """An instance's variables with sensitive values open, for handlers and
    `where` expressions (read only: nothing may store them)."""
    opened: dict[str, Any] = sensitive.opened(instance.variables)
    return opened


def _storable(data: dict[str, Any]) -> dict[str, Any]:
    """An event kept for replay, or, when the database could not store it (what
    made the write fail may be in it), a marker saying why it was dropped."""
    problem = limits.json_problem(data)
    return data if problem is None else {"event": data["event"], "dropped": problem}


# A task's token withdrawn where the step has neither `due` nor `escalation`:
# no timer can exist for it, so only tasks are touched.
TASK_ONLY = "task-only"


def failed_step(exc: BaseException, default: str = "") -> str:
    """The step an unexpected error happened at, where the engine knows it."""
    return str(getattr(exc, "step", "") or getattr(exc, "engine_step", "") or default)


@dataclass
class Writer(TaskWrites, ChildWrites):
    now: datetime
    worker: str = ""  # when set, automated steps due now are claimed for this worker
    _instances: dict[int, ProcessInstance] = field(default_factory=dict)
    _new_runs: list[StepRun] = field(default_factory=list)
    _claimed: list[StepRun] = field(default_factory=list)
    _changed_runs: list[StepRun] = field(default_factory=list)
    _decided: list[HumanTask] = field(default_factory=list)
    _votes: list[TaskVote] = field(default_factory=list)
    # Tasks a service holds in memory: closing one updates that object too.
    _tasks_at_hand: dict[int, HumanTask] = field(default_factory=dict)
    _new_tasks: list[HumanTask] = field(default_factory=list)
    _new_timers: list[Timer] = field(default_factory=list)
    _cancelled: list[tuple[int, str, dict[str, bool]]] = field(default_factory=list)
    _events: list[ProcessEvent] = field(default_factory=list)
    _fired: list[Timer] = field(default_factory=list)
    _exclusions: list[tuple[HumanTask, dict[int, str]]] = field(default_factory=list)
    _announce: list[tuple[ProcessEvent, HumanTask]] = field(default_factory=list)
    # (task, user ids, group ids, replace the current ones?)
    _candidate_changes: list[tuple[HumanTask, list[int], list[int], bool]] = field(
        default_factory=list
    )
    _deferred_timers: list[Timer] = field(default_factory=list)
    _deferred_runs: list[StepRun] = field(default_factory=list)
    # Users and groups named as assignees, by name, resolved once per writer.
    _user_ids: dict[str, int] = field(default_factory=dict)
    _group_ids: dict[str, int] = field(default_factory=dict)
    _away: dict[int, int | None] | None = None  # who is absent now (read once)
    notify: bool = False

    # ---- applying events ----------------------------------------------------------------
    def apply(
        self,
        instance: ProcessInstance,
        event: Event,
        *,
        actor: User | None = None,
        kind: AuditKind | None = None,
        payload: dict[str, Any] | None = None,
    ) -> core.Transition:
        """Run the core on a locked instance and queue what it caused, with exactly
        one audit row for the transition (kind, actor, status before and after,
        the steps it entered and the notes the core made).

        Raises core.EngineError (nothing queued) when the event does not apply."""
        definition = definition_of(instance.version)
        before, event = snapshot_of(instance, event)
        result = core.transition(definition, before, event, now=self.now, key=str(instance.pk))
        snap = result.snapshot
        check_instance_transition(instance.status, snap.status, instance)
        entered, moves, notes = [], [], []
        for effect in result.effects:
            if isinstance(effect, Audit):
                if effect.kind == AuditKind.STEP_ENTERED:
                    entered.append(effect.step)
                    # [from, to, seconds in from]: the metrics fold's edges and durations.
                    moves.append([effect.payload.get("from", ""), effect.step,
                                  effect.payload.get("seconds")])  # fmt: skip
                else:
                    notes.append({"kind": effect.kind, "step": effect.step, **effect.payload})
        audit = ProcessEvent(
            kind=kind or _EVENT_KINDS.get(type(event).__name__, AuditKind.INSTANCE_EVENT),
            actor=actor,
            definition_id=instance.definition_id,
            version_id=instance.version_id,
            step=getattr(event, "step", ""),
            from_status=_before(instance),
            to_status=snap.status,
            payload={
                **(payload or {}),
                "entered": entered,
                **({"moves": moves} if moves else {}),
                **({"notes": notes} if notes else {}),
            },
            created_at=self.now,
        )
        instance.status = snap.status
        instance.result = snap.result
        instance.variables = sealing.seal_variables(definition, snap.variables, before.sealed)
        instance.state = sealing.seal_state(definition, snap.state, before.sealed)
        instance.error = snap.error
        instance.updated_at = self.now
        if state.is_final(snap) and instance.ended_at is None:
            instance.ended_at = self.now
        if instance.pk is None:
            # A new instance is inserted once, already carrying its first transition.
            store.insert_instance(instance)
        else:
            self._instances[instance.pk] = instance
        audit.instance_id = instance.pk
        self._events.append(audit)
        for effect in result.effects:
            try:
                self._effect(instance, effect, actor)
            except Exception as exc:
                if not hasattr(exc, "engine_step"):  # where it happened, for the incident
                    exc.engine_step = getattr(effect, "step", "")  # type: ignore[attr-defined]
                raise
        return result

    def record(
        self, instance: ProcessInstance, kind: AuditKind, *, actor: User | None = None,
        step: str = "", payload: dict[str, Any] | None = None, from_status: str = "",
        to_status: str = "",
    ) -> None:  # fmt: skip
        """An audit row that is not a transition of the core (or one the runtime makes)."""
        self._events.append(
            ProcessEvent(
                kind=kind,
                actor=actor,
                instance_id=instance.pk,
                definition_id=instance.definition_id,
                version_id=instance.version_id,
                step=step,
                from_status=from_status,
                to_status=to_status,
                payload=payload or {},
                created_at=self.now,
            )
        )

    def incident(
        self, instance: ProcessInstance, exc: BaseException, *, step: str, source: str,
        replay: Iterable[Event] = (), actor: User | None = None,
    ) -> None:  # fmt: skip
        """Put an instance in the incident state instead of applying what failed.

        The error (type, message, step, where it happened) is kept with what the
        instance was before and the events to apply again when an operator
        retries (incidents.incident_retry). Audited like any status change.
        """
        again = instance.status == InstanceStatus.INCIDENT
        earlier = instance.error or {}
        error = {
            "type": type(exc).__name__,
            "message": limits.storable_text(str(exc) or repr(exc)),
            "step": step,
            "source": source,
            "at": self.now.isoformat(),
            "previous": earlier["previous"]
            if again
            else {"status": instance.status, "error": instance.error},
            "replay": [*(earlier.get("replay", []) if again else []),
                       *sealing.seal_events(definition_of(instance.version), instance.variables,
                                            (_storable(event_to_json(e)) for e in replay))],
        }  # fmt: skip
        check_instance_transition(instance.status, InstanceStatus.INCIDENT, instance)
        self._events.append(
            ProcessEvent(
                kind=AuditKind.INSTANCE_INCIDENT,
                actor=actor,
                instance_id=instance.pk,
                definition_id=instance.definition_id,
                version_id=instance.version_id,
                step=step,
                from_status=_before(instance),
                to_status=InstanceStatus.INCIDENT,
                payload={k: error[k] for k in ("type", "message", "source")},
                created_at=self.now,
            )
        )
        instance.status, instance.error, instance.updated_at = (
            InstanceStatus.INCIDENT, error, self.now
        )  # fmt: skip
        if instance.pk is None:
            # An instance that failed on its first transition still holds its input as given.
            instance.variables = sealing.seal_variables(
                definition_of(instance.version), instance.variables, ()
            )
            store.insert_instance(instance)
            self._events[-1].instance_id = instance.pk
        else:
            self._instances[instance.pk] = instance

    # ---- named operations on work rows (statuses change only here) ----------------------
    @property
    def claimed(self) -> list[StepRun]:
        """Runs this transaction leased to this worker: it runs them next."""
        return list(self._claimed)

    def touch(self, instance: ProcessInstance) -> None:
        """Write this instance's columns at flush."""
        self._instances[instance.pk] = instance

    def end_run(self, run: StepRun, status: str, error: dict[str, Any] | None = None) -> None:
        """An attempt ended (succeeded, failed, timed out)."""
        states.move(run, status)
        run.ended_at, run.lease_until = self.now, None
        if error is not None:
            run.error = error
        self._changed_runs.append(run)

    def fire(self, timer: Timer) -> None:
        states.move(timer, TimerStatus.FIRED)
        timer.fired_at = self.now
        self._fired.append(timer)

    def defer_timer(self, timer: Timer, delay: timedelta) -> None:
        """Push a pending timer forward (its instance is in incident), counting how often."""
        timer.payload = {**timer.payload, "deferred": int(timer.payload.get("deferred", 0)) + 1}
        timer.due_at = self.now + delay
        self._deferred_timers.append(timer)

    def defer_run(self, run: StepRun, delay: timedelta, code: str) -> None:
        """Push a ready run forward (it cannot be claimed now), counting how often."""
        times = int((run.error or {}).get("times", 0)) + 1
        run.due_at, run.error = self.now + delay, {"code": code, "times": times}
        self._deferred_runs.append(run)

    def hold(self, instance: ProcessInstance, event: Event, *, step: str) -> None:
        """Keep an event for an instance in incident, to be applied when it is retried."""
        error = dict(instance.error or {})
        error["replay"] = [
            *error.get("replay", []),
            *sealing.seal_events(
                definition_of(instance.version), instance.variables, [event_to_json(event)]
            ),
        ]
        instance.error = error
        self._instances[instance.pk] = instance
        self.record(
            instance, AuditKind.EVENT_HELD, step=step, payload={"event": type(event).__name__}
        )

    def _effect(self, instance: ProcessInstance, effect: Effect, actor: User | None) -> None:
        if isinstance(effect, RunStep):
            self._run_step(instance, effect)
        elif isinstance(effect, OpenTask):
            task = HumanTask(
                instance=instance,
                step=effect.step,
                token=effect.token,
                execution=effect.execution,
                title=effect.title[:500],
                priority=effect.priority,
                due_at=effect.due_at,
                form=effect.form,
                outcomes=effect.outcomes,
                entry=effect.entry,
                exclude=effect.exclude,
                created_at=self.now,
            )
            # Resolvers run here, while the transition is applied, so that their
            # errors belong to this instance and not to the batch's write.
            resolved = (
                [
                    user.pk
                    for user in get_resolver(effect.resolver)(
                        starter=instance.started_by, instance=instance
                    )
                ]
                if effect.resolver
                else []
            )
            users, groups = self._assignee_ids(effect.users, effect.groups)
            missing = [u for u in effect.users if u not in users] + [
                g for g in effect.groups if g not in groups
            ]
            if missing:
                log.warning("task of instance %s: unknown assignees %s", instance.pk, missing)
                self.record(
                    instance, AuditKind.TASK_UNKNOWN_ASSIGNEES, step=effect.step,
                    payload={"missing": missing},
                )  # fmt: skip
            excluded = self._excluded(instance, effect.exclude)
            people = self._route_absent(
                instance,
                effect.step,
                [users[u] for u in effect.users if u in users] + resolved,
                excluded,
            )
            group_ids = [groups[g] for g in effect.groups if g in groups]
            why_stranded = "it is offered to nobody"
            if effect.where or effect.policy:
                people, group_ids = self._allocate(instance, effect, task, people, group_ids,
                                                   excluded)  # fmt: skip
                why_stranded = "nobody qualifies under its assignees' where rule"
            if not group_ids and not set(people) - set(excluded):
                # Nobody named may decide it (the starter alone, under four-eyes):
                # said out loud; its escalation, or an operator, can move it.
                self.record(
                    instance, AuditKind.TASK_STRANDED, step=effect.step,
                    payload={"why": "every person it is offered to is excluded from deciding it"
                             if people else why_stranded},
                )  # fmt: skip
            task.candidate_users, task.candidate_groups = people, group_ids
            self._new_tasks.append(task)
            # Tell the assignees (the task's id is filled in when it is written).
            self.record(
                instance, AuditKind.NOTIFICATION, step=effect.step,
                payload={"reason": "assigned", "title": task.title, "users": people,
                         "groups": group_ids, "message": ""},
            )  # fmt: skip
            self._announce.append((self._events[-1], task))
            self._exclusions.append((task, excluded))
        elif isinstance(effect, CloseTask):
            # A vote names its task; the process's own decision (task 0: an
            # escalation's `decide`) closes every open task of the token.
            held = self._tasks_at_hand.get(effect.task)
            for task in [held] if held else self._open_tasks(instance, effect.token):
                states.move(task, TaskStatus.COMPLETED)
                task.outcome = effect.outcome
                task.data = sealing.seal_answers(
                    definition_of(instance.version), effect.step, effect.data
                )
                task.decided_by_id, task.decided_at = effect.voter_id, self.now
                self._decided.append(task)
        elif isinstance(effect, StartTimer):
            self._new_timers.append(
                Timer(
                    instance=instance,
                    token=effect.token,
                    step=effect.step,
                    kind=effect.kind,
                    due_at=effect.due_at,
                    created_at=self.now,
                    payload={"level": effect.level} if effect.kind in _LEVELLED else {},
                )
            )
            self.notify = True
        elif isinstance(effect, AwaitMessage):
            self._take_buffered(instance, effect)
        elif isinstance(effect, Tell):
            self._tell(instance, effect)
        elif isinstance(effect, ChangeAssignees):
            users, groups = self._assignee_ids(effect.users, effect.groups)
            for task in self._open_tasks(instance, effect.token):
                self._candidate_changes.append(
                    (task, [users[u] for u in effect.users if u in users],
                     [groups[g] for g in effect.groups if g in groups], effect.replace)
                )  # fmt: skip
                self.record(
                    instance, AuditKind.TASK_ASSIGNEES_CHANGED, step=effect.step,
                    payload={"task": task.pk, "users": effect.users, "groups": effect.groups,
                             "replace": effect.replace},
                )  # fmt: skip
        elif isinstance(effect, Notify):
            self._notify(instance, effect)
        elif isinstance(effect, StartChild):
            self._start_child(instance, effect, actor)
        elif isinstance(effect, CancelToken):
            wait = effect.wait
            if wait == Wait.TASK and effect.step:
                step = definition_of(instance.version).step(effect.step)
                if "due" not in step and "escalation" not in step:
                    wait = TASK_ONLY  # no timer can exist for it
            self._cancel_token(instance, effect.token, wait, withdrawn=effect.withdrawn)
        elif isinstance(effect, Finished) and instance.parent_id and instance.parent_token:
            # The parent learns through a timer due now, so this transaction never
            # locks the parent (child-then-parent would invert the parent's lock order).
            # A child started with `wait: false` has no token to report to.
            self._tell_parent(
                instance.parent_id,
                instance.parent_token,
                instance.parent_step,
                {
                    "status": effect.status,
                    "result": effect.result,
                    "variables": instance.variables,
                    "child": instance.pk,
                },
            )

    def _allocate(
        self, instance: ProcessInstance, effect: OpenTask, task: HumanTask, people: list[int],
        group_ids: list[int], excluded: dict[int, str],
    ) -> tuple[list[int], list[int]]:  # fmt: skip
        """`assignees.where` narrows the people (group members included) to those
        who qualify; `policy` allocates the task to one of them. Neither offers
        it to anyone away or excluded."""
        from accounts.selectors import absent_at

        if self._away is None:
            self._away = absent_at(self.now)
        found = allocation.allocate(
            definition=definition_of(instance.version).spec["key"], step=effect.step,
            token_key=f"{instance.pk}:{effect.step}:{effect.execution}:{effect.entry}",
            variables=clear_variables(instance), users=people, groups=group_ids,
            leave_out={*excluded, *self._away}, where=effect.where, policy=effect.policy,
        )  # fmt: skip
        if found.chosen is not None:
            task.claimed_by_id = found.chosen
        self.record(
            instance, AuditKind.TASK_ALLOCATED, step=effect.step,
            payload={"policy": effect.policy, "where": effect.where,
                     "qualified": len(found.qualified), "to": found.chosen,
                     **({"unreadable": found.unreadable} if found.unreadable else {})},
        )  # fmt: skip
        return ([found.chosen] if found.chosen is not None else found.qualified), []

    def _lane_of(self, instance: ProcessInstance) -> int:
        """StepRun.lane: NEW for a top-level instance this writer is creating (it
        was inserted, not kept in _instances like every instance already under
        way); a sub-process carries on its parent's work."""
        if instance.parent_id is None and instance.pk not in self._instances:
            return StepRun.NEW
        return StepRun.IN_FLIGHT

    def _run_step(self, instance: ProcessInstance, effect: RunStep) -> None:
        run = StepRun(
            instance=instance,
            step=effect.step,
            token=effect.token,
            execution=effect.execution,
            attempt=effect.attempt,
            compensation=effect.compensation,
            due_at=effect.due_at,
            idempotency_key=idempotency_key(
                instance.pk, effect.step, effect.execution, effect.compensation
            ),
            created_at=self.now,
            topic=external_topic(instance, effect),
            lane=self._lane_of(instance),
        )
        if self.worker and effect.due_at <= self.now and not run.topic:
            # Chain: the worker that applied this transition runs the next step itself,
            # without a round trip through the queue.
            lease(run, instance, self.worker, self.now)
            self._claimed.append(run)
        else:
            self.notify = True
        self._new_runs.append(run)

    def _cancel_token(
        self, instance: ProcessInstance, token: str, wait: str = "", *, withdrawn: bool = False
    ) -> None:
        # Rows queued earlier in this same batch are simply dropped.
        def keep(row: Any) -> bool:
            return not (row.instance_id == instance.pk and row.token == token)

        self._new_runs = [r for r in self._new_runs if keep(r)]
        self._claimed = [r for r in self._claimed if keep(r)]
        self._new_timers = [
            t for t in self._new_timers if keep(t) or t.kind == TimerKind.CHILD_FINISHED
        ]
        self._new_tasks = [t for t in self._new_tasks if keep(t)]
        everything = wait not in {*Wait, TASK_ONLY} - {Wait.COMPENSATING, Wait.FAILED}
        parts = {
            "tasks": everything or wait in {Wait.TASK, TASK_ONLY},
            "timers": everything or wait in {Wait.TASK, Wait.TIMER, Wait.MESSAGE},
            "runs": everything or wait == Wait.STEP,
            "withdrawn": withdrawn,
        }
        self._cancelled.append((instance.pk, token, parts))
        if everything or wait == Wait.CHILD:
            for child in ProcessInstance.objects.filter(
                parent=instance, parent_token=token, ended_at__isnull=True
            ):
                self._new_timers.append(
                    Timer(
                        instance=child,
                        kind=TimerKind.CANCEL,
                        due_at=self.now,
                        created_at=self.now,
                        payload={"reason": f"parent #{instance.pk} cancelled it"},
                    )
                )
                self.notify = True

    # ---- writing ------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything queued, in a few statements sent together, and nothing
        else: every decision was made while applying. Call inside the transaction."""
        with store.batch():
            store.insert_votes(self._votes)
            # Decided tasks first: withdrawing their token cancels only the others.
            store.save_decided_tasks(self._decided)
            for instance_id, token, parts in self._cancelled:
                store.withdraw(instance_id, token, now=self.now, **parts)
            store.save_instances(self._instances.values())
            store.save_run_results(self._changed_runs)
            store.save_deferred_runs(self._deferred_runs)
            # Only runs this worker claimed need their ids back (it runs them next).
            store.insert_runs(self._claimed, with_ids=True)
            store.insert_runs(
                [r for r in self._new_runs if r.status == RunStatus.READY], with_ids=False
            )
            if self._new_tasks:
                store.insert_tasks(self._new_tasks)
                for event, task in self._announce:
                    event.payload["task"] = task.pk
                store.insert_exclusions(
                    [TaskExclusion(task_id=task.pk, user_id=user, reason=why)
                     for task, excluded in self._exclusions for user, why in excluded.items()]
                )  # fmt: skip
            for task, user_ids, group_ids, replace in self._candidate_changes:
                store.change_candidates(task, user_ids, group_ids, replace=replace)
            store.save_fired_timers(self._fired)
            store.save_deferred_timers(self._deferred_timers)
            store.insert_timers(self._new_timers)
            store.insert_events(self._events)
            if self.notify:
                store.notify_workers()
        for queued in (
            self._announce, self._candidate_changes, self._exclusions, self._cancelled,
            self._changed_runs,
            self._new_runs, self._decided, self._votes, self._new_tasks, self._new_timers,
            self._events, self._fired, self._deferred_timers, self._deferred_runs,
        ):  # fmt: skip
            queued.clear()
        self._tasks_at_hand.clear()
        self._instances.clear()


def _before(instance: ProcessInstance) -> str:
    """The status an audit row records as "before": none for an instance that
    is being created (its first row is its start, not running -> running)."""
    return "" if instance._state.adding else instance.status
