"""Writes for instances and human tasks.

Each function opens one transaction, locks the instance row, applies one event
through the engine runtime, writes the audit events with it, and wakes the
workers after commit. Views, the API, commands and email links all call these.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts import permissions
from orchestration import clock, limits, selectors, sensitive, tracing
from orchestration.audit import AuditKind
from orchestration.definitions.patterns import full_match
from orchestration.definitions.validate import COMMENT_FIELD
from orchestration.engine import (
    core,
    incidents,
    quorum,
    sealing,
    state,
    store,
    suspension,
    wakeup,
)  # fmt: skip
from orchestration.engine.events import (
    Cancel,
    Event,
    Jumped,
    MessageReceived,
    RetryFailed,
    Started,
    TaskVoted,
    VariablesChanged,
)
from orchestration.engine.incidents import incident_retry
from orchestration.engine.runtime import Writer, failed_step
from orchestration.engine.store import lock_instances
from orchestration.engine.variables import changed_variable_errors, validate_variables
from orchestration.engine.versions import definition_of
from orchestration.exceptions import (
    InstanceConflict,
    InvalidInput,
    MigrationRefused,
    TransitionNotAllowed,
    VersionNotFound,
)
from orchestration.models import (
    HumanTask,
    ProcessInstance,
)
from orchestration.retention.subjects import subject_key, subject_of
from orchestration.services.reasons import required_reason
from orchestration.services.tasks import task_comment
from orchestration.states import SUSPENDABLE, InstanceStatus, TaskStatus

if TYPE_CHECKING:
    from accounts.models import User

# What services raise on purpose: they reach the caller unchanged. Anything else
# while applying an event is the instance's incident.
_DOMAIN_ERRORS = (
    PermissionDenied,
    InstanceConflict,
    InvalidInput,
    MigrationRefused,
    TransitionNotAllowed,
    VersionNotFound,
    ObjectDoesNotExist,
    *incidents.NOT_ISOLATED,
)


def instance_start(
    *,
    key: str,
    variables: dict[str, Any] | None,
    actor: User | None,
    business_key: str = "",
    version: int | None = None,
    now: datetime | None = None,
) -> ProcessInstance:
    """Start an instance of the newest published version of `key` (or the pinned one).

    Raises VersionNotFound, PermissionDenied, or InvalidInput with field errors;
    in each case nothing is created.
    """
    target = selectors.version_for_start(key=key, number=version)
    permissions.require(actor, permissions.start_refusal(actor, target.spec))
    values, errors = validate_variables(target.spec, variables)
    if len(business_key) > 200:
        errors["business_key"] = [_("at most 200 characters")]
    if errors:
        raise InvalidInput(errors)
    if sealing.involved(definition_of(target), ()) and not sensitive.configured():
        raise InstanceConflict("encryption_keys_missing", _(
            "this process keeps sensitive values and ORCHESTRATION_ENCRYPTION_KEYS is empty: "
            "nothing can start until an operator sets it"
        ))  # fmt: skip
    now = now or clock.now()

    def new() -> ProcessInstance:
        return ProcessInstance(
            definition=target.definition,
            version=target,
            business_key=business_key,
            status=InstanceStatus.RUNNING,
            variables=values,
            state=state.new_state(),
            started_by=actor,
            created_at=now,
            updated_at=now,
            traceparent=tracing.traceparent(),
            subject_key=subject_key(subject_of(target.spec, business_key, values)),
        )

    try:
        with transaction.atomic():
            instance = new()
            writer = Writer(now)
            writer.apply(
                instance,
                Started(),
                actor=actor,
                payload={"version": target.number, "business_key": business_key},
            )
            writer.flush()
            transaction.on_commit(wakeup.nudge)
        return instance
    except _DOMAIN_ERRORS:
        raise
    except Exception as exc:  # the instance exists, as an incident an operator retries
        with transaction.atomic():
            instance = new()
            writer = Writer(now)
            writer.incident(
                instance, exc, step=failed_step(exc, target.spec["start"]), source="start",
                replay=[Started()], actor=actor,
            )  # fmt: skip
            writer.flush()
        return instance


def _transition(
    writer: Writer, instance: ProcessInstance, event: Event, *, actor: User | None,
    kind: AuditKind, payload: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Apply one event to a locked instance, write what it caused and wake the
    workers at commit. An event that does not apply raises InstanceConflict."""
    try:
        writer.apply(instance, event, actor=actor, kind=kind, payload=payload)
    except core.EngineError as exc:
        raise InstanceConflict(exc.code, str(exc)) from None
    writer.flush()
    transaction.on_commit(wakeup.nudge)


def _apply(
    instance_id: int, event: Event, *, actor: User | None, now: datetime | None,
    kind: AuditKind, payload: dict[str, Any] | None = None,
) -> ProcessInstance:  # fmt: skip
    now = now or clock.now()

    def apply(instance: ProcessInstance, writer: Writer) -> None:
        if isinstance(event, RetryFailed) and instance.status == InstanceStatus.INCIDENT:
            incident_retry(writer, instance, actor=actor)
            writer.flush()
            transaction.on_commit(wakeup.nudge)
            return
        if instance.status == InstanceStatus.SUSPENDED:
            if isinstance(event, MessageReceived):
                # Kept for the resume, like a step's result: a system that sent
                # it is not asked to send it again.
                writer.hold(instance, event, step="")
                writer.flush()
                return
            if isinstance(event, Cancel):  # what it kept counts (a step that finished)
                suspension.resume(writer, instance, reason="cancelled", actor=actor)
        _refuse_incident(instance, event)
        _transition(writer, instance, event, actor=actor, kind=kind, payload=payload)

    def held(instance: ProcessInstance, writer: Writer) -> list[Event]:
        return [] if isinstance(event, RetryFailed) else [event]

    return _guarded(lambda: _locked(instance_id), apply, held, actor=actor, now=now)


def _locked(instance_id: int) -> ProcessInstance:
    instance = lock_instances([instance_id]).get(instance_id)
    if instance is None:
        raise ProcessInstance.DoesNotExist(f"no instance {instance_id}")
    return instance


def _refuse_incident(instance: ProcessInstance, event: Event) -> None:
    """Nothing but a cancel or a retry reaches an instance in incident; a
    suspended instance takes nothing from people until it is resumed."""
    if instance.status == InstanceStatus.SUSPENDED:
        held = (instance.error or {}).get("suspended") or {}
        raise InstanceConflict(
            "suspended",
            _(
                "instance %(id)s is suspended (by %(by)s: %(reason)s); an operator must resume it"
                " first"
            )
            % {"id": instance.pk, "by": held.get("by"), "reason": held.get("reason")},
        )
    if instance.status == InstanceStatus.INCIDENT and not isinstance(event, Cancel | RetryFailed):
        error = instance.error or {}
        raise InstanceConflict(
            "incident",
            _(
                "instance %(id)s has an incident (%(type)s at step %(step)r); an operator must"
                " retry or cancel it first"
            )
            % {"id": instance.pk, "type": error.get("type"), "step": error.get("step")},
        )


def _guarded(
    lock: Callable[[], ProcessInstance],
    apply: Callable[[ProcessInstance, Writer], None],
    held: Callable[[ProcessInstance, Writer], list[Event]],
    *,
    actor: User | None,
    now: datetime,
) -> ProcessInstance:
    """`apply` to the instance `lock` returns, in one transaction. An unexpected
    error rolls that back and, in a transaction of its own, makes the instance an
    incident holding the events `held` returns (it may also write what stands,
    such as the decision that led there). Domain errors (conflicts, bad input,
    permissions) propagate unchanged."""
    try:
        with transaction.atomic():
            instance = lock()
            apply(instance, Writer(now))
        return instance
    except _DOMAIN_ERRORS:
        raise
    except Exception as exc:
        with transaction.atomic():
            instance = lock()
            writer = Writer(now)
            replay = held(instance, writer)
            default = getattr(replay[0], "step", "") if replay else ""
            writer.incident(
                instance, exc, step=failed_step(exc, default), source="service",
                replay=replay, actor=actor,
            )  # fmt: skip
            writer.flush()
        return instance


def instance_cancel(
    *, instance_id: int, actor: User | None, reason: str = "", now: datetime | None = None
) -> ProcessInstance:
    """Cancel: withdraw open tasks, timers and queued steps, then compensate every
    completed step that declares a compensation, newest first. Ends `cancelled`
    (nothing to undo) or `compensated`. Raises InstanceConflict when finished."""
    permissions.require(actor, permissions.operate_refusal(actor))
    return _apply(
        instance_id,
        Cancel(reason),
        actor=actor,
        now=now,
        kind=AuditKind.INSTANCE_CANCELLED_BY,
        payload={"reason": reason},
    )


def instance_retry(
    *, instance_id: int, actor: User | None, now: datetime | None = None
) -> ProcessInstance:
    """Retry the step that failed (or the compensation that failed). InstanceConflict
    unless the instance is failed."""
    permissions.require(actor, permissions.operate_refusal(actor))
    return _apply(
        instance_id, RetryFailed(), actor=actor, now=now, kind=AuditKind.INSTANCE_RETRY_REQUESTED
    )


def instance_suspend(
    *, instance_id: int, reason: str, actor: User | None, now: datetime | None = None
) -> ProcessInstance:
    """Put a live (or failed) instance on hold: its runs and timers wait, step
    results and messages that reach it are kept for the resume, people cannot
    decide its tasks. InstanceConflict when it is not running, waiting,
    compensating or failed."""
    permissions.require(actor, permissions.operate_refusal(actor))
    reason = required_reason(reason, gettext_noop("say why the instance is put on hold"))
    with transaction.atomic():
        instance = _locked(instance_id)
        if instance.status not in SUSPENDABLE:
            raise InstanceConflict(
                "not_suspendable",
                _(
                    "instance %(id)s is %(status)s: only a running, waiting, compensating or failed"
                    " instance can be suspended"
                )
                % {"id": instance.pk, "status": instance.status},
            )
        writer = Writer(now or clock.now())
        suspension.suspend(writer, instance, reason=reason, actor=actor)
        writer.flush()
    return instance


def instance_resume(
    *, instance_id: int, reason: str, actor: User | None, now: datetime | None = None
) -> ProcessInstance:
    """Take a suspended instance off hold: it returns to the status it had,
    what it kept is applied in order, and timers that came due meanwhile
    fire now. InstanceConflict unless it is suspended."""
    permissions.require(actor, permissions.operate_refusal(actor))
    reason = required_reason(reason, gettext_noop("say why the instance goes on"))

    def lock() -> ProcessInstance:
        instance = _locked(instance_id)
        if instance.status != InstanceStatus.SUSPENDED:
            raise InstanceConflict(
                "not_suspended",
                _("instance %(id)s is %(status)s, not suspended")
                % {"id": instance.pk, "status": instance.status},
            )
        return instance

    def apply(instance: ProcessInstance, writer: Writer) -> None:
        suspension.resume(writer, instance, reason=reason, actor=actor)
        writer.flush()
        transaction.on_commit(wakeup.nudge)

    return _guarded(lock, apply, lambda instance, writer: [], actor=actor,
                    now=now or clock.now())  # fmt: skip


def instance_move(
    *, instance_id: int, source: str, target: str, reason: str, actor: User | None,
    now: datetime | None = None,
) -> ProcessInstance:  # fmt: skip
    """Move the flow parked at step `source` to step `target`: what waited at
    `source` is withdrawn and `target` is entered afresh. Moving back to an
    earlier step is a redo (its task opens again); a failed step may be moved
    past. Within one region and, inside a parallel, within its branches.
    InvalidInput for an unknown step, InstanceConflict when the flow is not
    at `source` or cannot go to `target` from there."""
    permissions.require(actor, permissions.operate_refusal(actor))
    reason = required_reason(reason, gettext_noop("say why the flow is moved"))
    instance = ProcessInstance.objects.select_related("version").filter(pk=instance_id).first()
    if instance is None:
        raise ProcessInstance.DoesNotExist(f"no instance {instance_id}")
    steps = definition_of(instance.version).steps
    named = {"from": source, "to": target}
    errors = {k: [f"unknown step {v!r}"] for k, v in named.items() if v not in steps}
    if errors:
        raise InvalidInput(errors)
    return _apply(
        instance_id, Jumped(source, target, reason), actor=actor, now=now,
        kind=AuditKind.INSTANCE_MOVED, payload={"from": source, "to": target, "reason": reason},
    )  # fmt: skip


def instance_set_variables(
    *, instance_id: int, values: dict[str, Any], reason: str, actor: User | None,
    now: datetime | None = None,
) -> ProcessInstance:  # fmt: skip
    """An operator corrects some of a live instance's declared variables (each
    checked against its declaration); conditions waiting on them are checked
    at once. The audit row keeps the values before and after, and the reason."""
    permissions.require(actor, permissions.operate_refusal(actor))
    reason = required_reason(reason, gettext_noop("say why the variables change"))
    instance = ProcessInstance.objects.select_related("version").filter(pk=instance_id).first()
    if instance is None:
        raise ProcessInstance.DoesNotExist(f"no instance {instance_id}")
    errors = changed_variable_errors(instance.version.spec, values)
    if errors:
        raise InvalidInput(errors)
    secret = definition_of(instance.version).sensitive_variables

    def kept(name: str, value: Any) -> Any:  # the audit log never holds a sensitive value
        return sensitive.MASK if name in secret or sensitive.is_sealed(value) else value

    before = {name: kept(name, instance.variables.get(name)) for name in values}
    after = {name: kept(name, value) for name, value in values.items()}
    return _apply(
        instance_id, VariablesChanged(dict(values)), actor=actor, now=now,
        kind=AuditKind.INSTANCE_VARIABLES_SET,
        payload={"before": before, "after": after, "reason": reason},
    )  # fmt: skip


def instance_send_message(
    *, instance_id: int, name: str, payload: dict[str, Any] | None, actor: User | None,
    now: datetime | None = None,
) -> ProcessInstance:  # fmt: skip
    """Deliver a named message to the waits of an instance that expect it; the
    payload lands under the wait's step id. InstanceConflict if nothing waits for it.
    Operators may send any message; the starter the process's `actions`."""
    if actor is not None and not permissions.can_operate(actor):
        instance = ProcessInstance.objects.select_related("version").filter(pk=instance_id).first()
        if instance is None:
            raise ProcessInstance.DoesNotExist(f"no instance {instance_id}")
        permissions.require(actor, permissions.message_refusal(actor, instance, name))
    if payload is not None and not isinstance(payload, dict):
        raise InvalidInput({"payload": [_("must be a JSON object")]})
    return _apply(
        instance_id,
        MessageReceived(name, payload or {}),
        actor=actor,
        now=now,
        kind=AuditKind.MESSAGE_RECEIVED,
        payload={"name": name},
    )


def _iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10  # YYYY-MM-DD, not the compact or week forms


def _check_form(task: HumanTask, outcome: str, data: dict[str, Any]) -> dict[str, list[str]]:
    problem = limits.json_problem(data)
    if problem:
        return {"data": [problem]}
    errors: dict[str, list[str]] = {}
    if outcome not in task.outcomes:
        errors["outcome"] = [
            _("must be one of %(choices)s") % {"choices": ", ".join(task.outcomes)}
        ]
    fields = {f["name"]: f for f in task.form}
    for name in data:
        if name not in fields:
            errors[f"data.{name}"] = [_("unknown field")]
    kinds: dict[str, type | tuple[type, ...]] = {
        "number": (int, float),
        "integer": int,
        "boolean": bool,
    }
    for name, spec in fields.items():
        value = data.get(name)
        empty = value is None or value == ""
        needed = spec.get("required") or outcome in (spec.get("required_for") or [])
        if empty:
            if needed:
                errors[f"data.{name}"] = [
                    _("required to %(outcome)s") % {"outcome": outcome}
                    if outcome in (spec.get("required_for") or [])
                    else _("required")
                ]
            continue
        if spec["type"] in {"text", "textarea"}:
            limit = limits.max_text_length()
            if not isinstance(value, str):
                errors[f"data.{name}"] = [_("expected text")]
            elif len(value) > limit:
                errors[f"data.{name}"] = [
                    _("at most %(limit)s characters (ORCHESTRATION_MAX_TEXT_LENGTH)")
                    % {"limit": limit}
                ]
            elif "pattern" in spec and not full_match(spec["pattern"], value):
                errors[f"data.{name}"] = [
                    _("must match %(pattern)s") % {"pattern": spec["pattern"]}
                ]
            continue
        if spec["type"] == "date":
            if not isinstance(value, str) or not _iso_date(value):
                errors[f"data.{name}"] = [_("expected an ISO 8601 date (YYYY-MM-DD)")]
            continue
        kind = kinds.get(spec["type"])
        if kind and (
            not isinstance(value, kind) or (spec["type"] != "boolean" and isinstance(value, bool))
        ):
            errors[f"data.{name}"] = [_("expected %(type)s") % {"type": spec["type"]}]
        elif spec["type"] == "choice" and value not in spec.get("choices", []):
            choices = ", ".join(spec.get("choices", []))
            errors[f"data.{name}"] = [_("must be one of %(choices)s") % {"choices": choices}]
    return errors


def _comment_from_data(task_id: int, data: dict[str, Any] | None, comment: str) -> str:
    """The decision's comment when it came only as `data.comment` and the form
    declares that field (docs/ui.md): it joins the thread as well. Reads the
    task's form only then (a plain decision costs no query here)."""
    given = data.get(COMMENT_FIELD) if isinstance(data, dict) else None
    if comment.strip() or not isinstance(given, str) or not given.strip():
        return comment
    form = HumanTask.objects.filter(pk=task_id).values_list("form", flat=True).first() or []
    return given if any(f.get("name") == COMMENT_FIELD for f in form) else comment


def _with_comment(task: HumanTask, data: dict[str, Any], comment: str) -> dict[str, Any]:
    """A form field named `comment` is the decision's comment: the comment
    given fills it (so its rules, such as `required_for`, apply); given both
    ways with different texts is refused."""
    if not comment.strip() or not any(f.get("name") == COMMENT_FIELD for f in task.form):
        return data
    given = data.get(COMMENT_FIELD)
    if given not in (None, "") and given != comment:
        raise InvalidInput(
            {"comment": [_("given twice (as comment and as data.comment): give it once")]}
        )
    return {**data, COMMENT_FIELD: comment}


def task_complete(
    *, task_id: int, outcome: str, data: dict[str, Any] | None, actor: User | None,
    comment: str = "", now: datetime | None = None,
) -> HumanTask:  # fmt: skip
    """Decide a human task. The decision commits with the transition it causes and
    the automated work after it is handed to the workers after commit. A
    `comment` joins the task's thread with the decision, or not at all.

    Raises HumanTask.DoesNotExist, PermissionDenied (not an assignee, or
    excluded), InstanceConflict("task_closed") for a second decision, or
    InvalidInput for a bad outcome, form data or comment; nothing changes then.
    """
    comment = _comment_from_data(task_id, data, comment)
    if comment.strip() and actor is not None:
        with transaction.atomic():
            task_comment(task_id=task_id, actor=actor, text=comment, now=now)
            return _complete(task_id, outcome, data, actor, now, comment)
    return _complete(task_id, outcome, data, actor, now, comment)


def _complete(
    task_id: int, outcome: str, data: dict[str, Any] | None, actor: User | None,
    now: datetime | None, comment: str,
) -> HumanTask:  # fmt: skip
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise InvalidInput({"data": [_("must be a JSON object")]})
    now = now or clock.now()
    loaded: dict[str, Any] = {}

    def lock() -> ProcessInstance:
        instance, task = _locked_task(task_id)
        loaded["data"] = _with_comment(task, data, comment)
        loaded["task"] = _decision(task, outcome, loaded["data"], actor)
        return instance

    def acting_for(task: HumanTask) -> Any:
        """A delegate decides for the task's owner; the vote records both."""
        if actor is not None and task.delegate_id == actor.pk:
            return task.claimed_by
        return None

    def apply(instance: ProcessInstance, writer: Writer) -> None:
        task, event = loaded["task"]
        _refuse_incident(instance, event)
        owner = acting_for(task)
        writer.vote(task, voter=actor, outcome=outcome, data=loaded["data"], on_behalf_of=owner)
        _transition(
            writer, instance, event, actor=actor, kind=AuditKind.TASK_COMPLETED,
            payload={"task": task.pk, "outcome": outcome,
                     **({"acting_for": owner.get_username()} if owner else {})},
        )  # fmt: skip

    def held(instance: ProcessInstance, writer: Writer) -> list[Event]:
        # The vote stands; the instance holds it until an operator retries.
        task, event = loaded["task"]
        writer.vote(task, voter=actor, outcome=outcome, data=loaded["data"],
                    on_behalf_of=acting_for(task))  # fmt: skip
        return [event]

    _guarded(lock, apply, held, actor=actor, now=now)
    task: HumanTask = loaded["task"][0]
    return task


def task_force_decide(
    *, task_id: int, actor: User, outcome: str, reason: str, now: datetime | None = None
) -> HumanTask:
    """An operator pushes an open task through with `outcome`, whatever its
    assignees, exclusions and quorum: a separate action from deciding, with a
    required reason, recorded as `task.forced` (the task's decider is the
    operator). Raises PermissionDenied (not an operator), InvalidInput (no
    reason, unknown outcome), InstanceConflict (the task is closed)."""
    reason = required_reason(reason, gettext_noop("say why the task is pushed through"))
    now = now or clock.now()
    loaded: dict[str, Any] = {}

    def lock() -> ProcessInstance:
        instance, task = _locked_task(task_id)
        if task.status != TaskStatus.OPEN:
            raise InstanceConflict("task_closed", _("task %(id)s is already %(status)s")
                                   % {"id": task.pk, "status": task.status})  # fmt: skip
        permissions.require(actor, permissions.force_refusal(actor, task))
        if outcome not in task.outcomes:
            raise InvalidInput({"outcome": [_("must be one of %(choices)s")
                                            % {"choices": ", ".join(task.outcomes)}]})  # fmt: skip
        earlier = list(task.votes.all())
        voted = any(v.voter_id == actor.pk for v in earlier)
        event = TaskVoted(
            task.token, task.step, outcome, {}, actor.get_username(), task.pk, actor.pk,
            [v.outcome for v in earlier] + [outcome], None, task.entry, forced=True,
        )  # fmt: skip
        loaded["task"] = (task, event, voted)
        return instance

    def apply(instance: ProcessInstance, writer: Writer) -> None:
        task, event, voted = loaded["task"]
        _refuse_incident(instance, event)
        if not voted:
            writer.vote(task, voter=actor, outcome=outcome, data={})
        _transition(writer, instance, event, actor=actor, kind=AuditKind.TASK_FORCED,
                    payload={"task": task.pk, "outcome": outcome, "reason": reason})  # fmt: skip

    def held(instance: ProcessInstance, writer: Writer) -> list[Event]:
        task, event, voted = loaded["task"]
        if not voted:
            writer.vote(task, voter=actor, outcome=outcome, data={})
        return [event]

    _guarded(lock, apply, held, actor=actor, now=now)
    task: HumanTask = loaded["task"][0]
    return task


def _locked_task(task_id: int) -> tuple[ProcessInstance, HumanTask]:
    """The task and its instance, locked: the instance first, then the task
    (the one lock order). HumanTask.DoesNotExist when there is no such task."""
    found = store.lock_for_decision(task_id)
    if found is None:
        raise HumanTask.DoesNotExist(f"no task {task_id}")
    return found


def _decision(
    task: HumanTask, outcome: str, data: dict[str, Any], actor: User | None
) -> tuple[HumanTask, TaskVoted]:
    """Check a decision on the task read under its locked instance; return the
    task and the vote event. Raises the domain errors task_complete documents."""
    if task.status != TaskStatus.OPEN:
        raise InstanceConflict("task_closed", _("task %(id)s is already %(status)s")
                               % {"id": task.pk, "status": task.status})  # fmt: skip
    permissions.require(actor, permissions.decide_refusal(actor, task))
    errors = _check_form(task, outcome, data)
    if errors:
        raise InvalidInput(errors)
    name = actor.get_username() if actor is not None else "system"
    voter_id = actor.pk if actor is not None else None
    earlier = list(task.votes.all())
    mine = next((v for v in earlier if voter_id is not None and v.voter_id == voter_id), None)
    if mine is not None:  # votes count people: one each
        raise InstanceConflict(
            "already_voted",
            _("%(name)s already voted %(outcome)s on task %(id)s")
            % {"name": name, "outcome": mine.outcome, "id": task.pk},
        )
    step = definition_of(task.instance.version).step(task.step)
    eligible = permissions.eligible_count(task) if quorum.needs_eligible(step) else None
    votes = [v.outcome for v in earlier] + [outcome]
    return task, TaskVoted(
        task.token, task.step, outcome, data, name, task.pk, voter_id, votes, eligible, task.entry
    )
