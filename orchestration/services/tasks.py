"""Moving human work: claim, release, delegate, hand back, reassign.

None of these changes the instance's state, but each takes the instance row
lock first (the one lock order), so a claim never races a decision, re-reads
the task under it, asks the policy module, and writes the task and one audit
row (with who acted for whom) in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts import permissions
from accounts.absences import resolve
from accounts.models import Absence
from accounts.selectors import absent_at
from orchestration import clock, sweeps
from orchestration.audit import AuditKind
from orchestration.engine import store
from orchestration.engine.runtime import Writer
from orchestration.exceptions import InstanceConflict, InvalidInput
from orchestration.models import HumanTask, TaskComment
from orchestration.services.reasons import required_reason

if TYPE_CHECKING:
    from accounts.models import User


def _move(
    task_id: int, actor: User | None, now: datetime | None,
    change: Callable[[HumanTask], tuple[AuditKind, dict[str, Any]]],
    announce: list[dict[str, Any]] | None = None,
) -> HumanTask:  # fmt: skip
    with transaction.atomic():
        found = store.lock_for_decision(task_id)
        if found is None:
            raise HumanTask.DoesNotExist(f"no task {task_id}")
        instance, task = found
        if task.status != "open":
            raise InstanceConflict("task_closed", _("task %(id)s is already %(status)s")
                                   % {"id": task.pk, "status": task.status})  # fmt: skip
        kind, payload = change(task)
        store.save_task_holders(task)
        writer = Writer(now or clock.now())
        writer.record(
            instance, kind, actor=actor, step=task.step,
            payload={"task": task.pk, **payload},
        )  # fmt: skip
        for notification in announce or []:  # email after commit, from the outbox
            writer.record(instance, AuditKind.NOTIFICATION, step=task.step, payload=notification)
        writer.flush()
    return task


def _name(user: User | None) -> str:
    return user.get_username() if user is not None else "system"


def task_claim(*, task_id: int, actor: User, now: datetime | None = None) -> HumanTask:
    """Take an offered task: it leaves the other candidates' queues and only the
    claimer (or their delegate) decides it. Claiming a task one already holds
    does nothing. Raises PermissionDenied naming the rule (claimed by someone
    else, excluded, not a candidate) or InstanceConflict when it is closed."""

    def change(task: HumanTask) -> tuple[AuditKind, dict[str, Any]]:
        permissions.require(actor, permissions.claim_refusal(actor, task))
        task.claimed_by = actor
        return AuditKind.TASK_CLAIMED, {"by": _name(actor)}

    return _move(task_id, actor, now, change)


def task_release(*, task_id: int, actor: User, now: datetime | None = None) -> HumanTask:
    """Give a claimed task back to all its candidates (the claimer, or an operator)."""

    def change(task: HumanTask) -> tuple[AuditKind, dict[str, Any]]:
        permissions.require(actor, permissions.owner_refusal(actor, task))
        if task.claimed_by_id is None:
            raise InstanceConflict("not_claimed", _("task %(id)s is not claimed") % {"id": task.pk})
        was = task.claimed_by
        task.claimed_by, task.delegate, task.delegate_note = None, None, ""
        return AuditKind.TASK_RELEASED, {"from": _name(was)}

    return _move(task_id, actor, now, change)


def task_delegate(
    *, task_id: int, actor: User, to: User, note: str = "", now: datetime | None = None
) -> HumanTask:
    """Hand a task to `to` to decide for its owner (the actor becomes the owner
    by claiming it, if nobody held it). `to` must not be excluded from it."""
    if len(note) > 500:
        raise InvalidInput({"note": [_("at most 500 characters")]})
    announce: list[dict[str, Any]] = []

    def change(task: HumanTask) -> tuple[AuditKind, dict[str, Any]]:
        permissions.require(actor, permissions.owner_refusal(actor, task))
        _eligible(to, task, mover=actor)
        owner = task.claimed_by or actor
        task.claimed_by, task.delegate, task.delegate_note = owner, to, note
        announce.append(
            {"reason": "delegated", "title": task.title, "users": [to.pk], "groups": [],
             "message": note, "task": task.pk}
        )  # fmt: skip
        return AuditKind.TASK_DELEGATED, {
            "to": _name(to), "acting_for": _name(owner), "note": note,
        }  # fmt: skip

    return _move(task_id, actor, now, change, announce)


def task_hand_back(*, task_id: int, actor: User, now: datetime | None = None) -> HumanTask:
    """The delegate returns the task to its owner undecided."""

    def change(task: HumanTask) -> tuple[AuditKind, dict[str, Any]]:
        permissions.require(actor, permissions.hand_back_refusal(actor, task))
        task.delegate, task.delegate_note = None, ""
        return AuditKind.TASK_HANDED_BACK, {"to": _name(task.claimed_by)}

    return _move(task_id, actor, now, change)


def task_reassign(*, task_id: int, actor: User, to: User, now: datetime | None = None) -> HumanTask:
    """Ownership moves to `to`: the task is assigned to them alone (claimed by
    them). Its holder, a candidate or an operator may, and only to one of its
    candidates who is not excluded (permissions.recipient_refusal)."""

    def change(task: HumanTask) -> tuple[AuditKind, dict[str, Any]]:
        permissions.require(actor, permissions.owner_refusal(actor, task))
        _eligible(to, task, mover=actor, reassign=True)
        was = task.claimed_by
        store.change_candidates(task, [to.pk], [], replace=True)
        task.claimed_by, task.delegate, task.delegate_note = to, None, ""
        return AuditKind.TASK_REASSIGNED, {"to": _name(to), "from": _name(was)}

    return _move(task_id, actor, now, change)


def task_ask_input(
    *, task_id: int, actor: User, to: User, reason: str, now: datetime | None = None
) -> HumanTask:
    """An operator asks `to` for input on an open task without handing it
    over: `to` joins its candidates (sees it, may comment; decides only while
    nobody holds it) and is told by email. Audited with the reason."""
    text = required_reason(reason, gettext_noop("say what input is asked"))
    announce: list[dict[str, Any]] = []

    def change(task: HumanTask) -> tuple[AuditKind, dict[str, Any]]:
        permissions.require(actor, permissions.force_refusal(actor, task))
        problem = permissions.input_refusal(task, to)
        if problem is not None:
            raise InvalidInput({"to": [problem]})
        if to.pk not in task.candidate_users:
            store.change_candidates(task, [to.pk], [], replace=False)
        announce.append({"reason": "input", "title": task.title, "users": [to.pk],
                         "groups": [], "message": text, "task": task.pk})  # fmt: skip
        return AuditKind.TASK_INPUT_ASKED, {"to": _name(to), "reason": text}

    return _move(task_id, actor, now, change, announce)


def task_snooze(
    *, task_id: int, actor: User, until: datetime | None, now: datetime | None = None
) -> HumanTask:
    """Put a task out of the default views until a follow-up time (None: back
    now). Never past its due time: that is refused, naming it."""
    now = now or clock.now()

    def change(task: HumanTask) -> tuple[AuditKind, dict[str, Any]]:
        permissions.require(actor, permissions.owner_refusal(actor, task))
        if until is not None and until <= now:
            raise InvalidInput({"until": [_("must be in the future")]})
        if until is not None and task.due_at is not None and until > task.due_at:
            raise InvalidInput(
                {
                    "until": [
                        _("after the task's due time (%(due)s)") % {"due": task.due_at.isoformat()}
                    ]
                }
            )
        task.snoozed_until = until
        return AuditKind.TASK_SNOOZED, {"until": until.isoformat() if until else None}

    return _move(task_id, actor, now, change)


def _eligible(user: User, task: HumanTask, *, mover: User, reassign: bool = False) -> None:
    """Work moves only to whom the policy allows; the recipient is input."""
    refusal = permissions.recipient_refusal(user, task, mover=mover, reassign=reassign)
    if refusal is not None:
        raise InvalidInput({"to": [refusal]})


def absences_route_started(*, now: datetime | None = None, limit: int = 50) -> int:
    """Absences whose window has started: open tasks assigned to the absent user
    by name go to whoever decides for them (audited); returns how many absences
    were handled. Run by the worker's sweep; each absence once."""
    now = now or clock.now()
    with transaction.atomic():
        started = Absence.objects.select_for_update(skip_locked=True).filter(
            routed_at__isnull=True, starts_at__lte=now
        )
        absences = list(sweeps.skip_held(started, ROUTING, now).order_by("starts_at")[:limit])
        done: list[int] = []

        def route(absence: Absence) -> None:
            if absence.ends_at > now:
                _route_tasks_of(absence.user_id, now)
            done.append(absence.pk)

        # One absence that cannot be routed is tried again later, then left
        # (its tasks keep their groups and escalation); the others go on.
        sweeps.each(ROUTING, absences, route, row_id=lambda a: a.pk, now=now,
                    given_up=lambda a: done.append(a.pk))  # fmt: skip
        Absence.objects.filter(pk__in=done).update(routed_at=now)
    return len(done)


ROUTING = "absence routing"


def _route_tasks_of(user_id: int, now: datetime) -> None:
    absent = absent_at(now)
    if user_id not in absent:
        return
    offered = HumanTask.objects.filter(status="open", candidate_users__overlaps=[user_id])
    instances = store.lock_instances(offered.values_list("instance_id", flat=True))
    # Read again under the locks: a task decided or moved meanwhile is read as
    # it is now.
    tasks = list(offered.filter(instance_id__in=list(instances)).prefetch_related("exclusions"))
    writer = Writer(now)
    for task in tasks:
        # Per task: a delegate one task excludes (four-eyes) may decide another.
        excluded = {e.user_id: e.reason for e in task.exclusions.all()}
        (found,) = resolve([user_id], absent, excluded)
        if found.to is not None:
            store.route_candidate(task, user_id, found.to)
        writer.record(
            instances[task.instance_id], AuditKind.TASK_ROUTED, step=task.step,
            payload={"task": task.pk, "from": user_id, "to": found.to, "why": found.why},
        )  # fmt: skip
    writer.flush()


def task_comment(
    *, task_id: int, actor: User, text: str, now: datetime | None = None
) -> TaskComment:
    """Add a message to a task's thread: the people in the task and operators
    (permissions.comment_refusal), open or closed. Text is required, at most
    ORCHESTRATION_MAX_TEXT_LENGTH characters."""
    from orchestration import limits

    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise InvalidInput({"text": [_("required")]})
    if len(text) > limits.max_text_length() or "\x00" in text:
        raise InvalidInput({"text": [_("at most %(limit)s characters, no NUL")
                                     % {"limit": limits.max_text_length()}]})  # fmt: skip
    now = now or clock.now()
    with transaction.atomic():
        found = store.lock_for_decision(task_id)
        if found is None:
            raise HumanTask.DoesNotExist(f"no task {task_id}")
        instance, task = found
        if not permissions.can_see_task(actor, task):
            raise HumanTask.DoesNotExist(f"no task {task_id}")  # hidden rows do not exist
        permissions.require(actor, permissions.comment_refusal(actor, task))
        comment = TaskComment.objects.create(task=task, author=actor, text=text, created_at=now)
        writer = Writer(now)
        writer.record(instance, AuditKind.TASK_COMMENTED, actor=actor, step=task.step,
                      payload={"task": task.pk, "comment": comment.pk})  # fmt: skip
        writer.flush()
    return comment
