"""Reads for definitions and versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext, gettext_lazy

from orchestration import candidates, clock
from orchestration.audit import AuditKind
from orchestration.definitions.graph import all_steps
from orchestration.engine.state import current_steps
from orchestration.engine.versions import forget_started_versions, version_for_start
from orchestration.models import (
    HumanTask,
    ProcessInstance,
    ProcessVersion,
    StepRun,
    Timer,
)
from orchestration.retention.holds import is_held
from orchestration.states import TaskStatus, TimerStatus, VersionStatus

__all__ = ["forget_started_versions", "version_for_start"]


def _iso(moment: datetime | None) -> str | None:
    """A time as the API writes it everywhere: RFC 3339 in UTC with `Z` (the
    form DRF gives the datetimes it renders itself)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def version_previous(version: ProcessVersion) -> ProcessVersion | None:
    return (
        ProcessVersion.objects.filter(
            definition_id=version.definition_id, number__lt=version.number
        )
        .order_by("-number")
        .first()
    )


def instance_status_data(instance_id: int) -> dict[str, Any]:
    """Everything an operator asks about one instance, as JSON-ready data.

    Raises ProcessInstance.DoesNotExist.
    """
    instance = (
        ProcessInstance.objects.select_related("definition", "version", "started_by")
        .filter(pk=instance_id)
        .first()
    )
    if instance is None:
        raise ProcessInstance.DoesNotExist(f"no instance {instance_id}")
    tasks = list(HumanTask.objects.filter(instance=instance, status=TaskStatus.OPEN).order_by("pk"))
    named = candidates.names_of(tasks)
    runs = StepRun.objects.filter(instance=instance).order_by("pk")
    return {
        "id": instance.pk,
        "definition": instance.definition.key,
        "version": instance.version.number,
        "business_key": instance.business_key,
        "status": instance.status,
        "result": instance.result,
        "error": instance.error,
        "variables": instance.variables,
        "current_steps": sorted(current_steps(instance.state)),
        "open_tasks": [
            {
                "id": task.pk,
                "step": task.step,
                "title": task.title,
                "assignees": [{"user": name} for name in named[task.pk][0]]
                + [{"group": name} for name in named[task.pk][1]],
                "due_at": _iso(task.due_at),
            }
            for task in tasks
        ],
        "steps": [
            {
                "step": run.step,
                "execution": run.execution,
                "attempt": run.attempt,
                "compensation": run.compensation,
                "status": run.status,
                "started_at": _iso(run.started_at),
                "ended_at": _iso(run.ended_at),
                "error": run.error,
            }
            for run in runs
        ],
        "parent": instance.parent_id,
        "started_by": instance.started_by.get_username() if instance.started_by else None,
        "created_at": _iso(instance.created_at),
        "ended_at": _iso(instance.ended_at),
        # Retention (orchestration/retention): when its personal data was
        # removed (variables then hold only the `_removed` marker), and
        # whether a legal hold keeps it from the purge and erasure.
        "purged_at": _iso(instance.purged_at),
        "on_hold": is_held(instance),
    }


def engine_status(*, since: datetime) -> dict[str, Any]:
    """Counts an operator (or a metrics scrape) needs: live loops, work waiting,
    overdue work, and how late timers fired since `since` (p50/p99/max seconds)."""
    from django.db.models import Count

    from orchestration.engine.wakeup import loops_alive
    from orchestration.models import ProcessEvent, Timer
    from orchestration.states import RunStatus, TimerStatus

    now = clock.now()
    runs = dict(
        StepRun.objects.filter(status__in=[RunStatus.READY, RunStatus.RUNNING])
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    lateness = sorted(
        float(p["lateness_s"])
        for p in ProcessEvent.objects.filter(
            created_at__gte=since, payload__has_key="lateness_s"
        ).values_list("payload", flat=True)
    )

    def pct(q: float) -> float | None:
        return (
            round(lateness[min(len(lateness) - 1, int(len(lateness) * q))], 3) if lateness else None
        )

    instances = dict(
        ProcessInstance.objects.filter(ended_at__isnull=True)
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return {
        "loops_alive": loops_alive(),
        "instances_live": instances,
        "steps_ready": runs.get(RunStatus.READY, 0),
        "steps_ready_overdue": StepRun.objects.filter(
            status=RunStatus.READY, due_at__lt=now - timedelta(seconds=5)
        ).count(),
        "steps_running": runs.get(RunStatus.RUNNING, 0),
        "leases_expired": StepRun.objects.filter(
            status=RunStatus.RUNNING, lease_until__lt=now
        ).count(),
        "timers_pending": Timer.objects.filter(status=TimerStatus.PENDING).count(),
        "timers_overdue": Timer.objects.filter(
            status=TimerStatus.PENDING, due_at__lt=now - timedelta(seconds=5)
        ).count(),
        "tasks_open": HumanTask.objects.filter(status=TaskStatus.OPEN).count(),
        "timers_fired": len(lateness),
        "timer_lateness_p50_s": pct(0.5),
        "timer_lateness_p99_s": pct(0.99),
        "timer_lateness_max_s": lateness[-1] if lateness else None,
    }


def task_queue_for_user(user: Any, *, now: datetime) -> QuerySet[HumanTask]:
    """Open tasks `user` may decide now, highest priority first, then soonest due;
    snoozed ones stay out until their follow-up time."""
    from django.db.models import F, Q

    from accounts import permissions

    return (
        HumanTask.objects.filter(permissions.tasks_decidable_q(user))
        .filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
        .select_related("instance__definition")
        .order_by("-priority", F("due_at").asc(nulls_last=True), "pk")
    )


# What each kind of task event says in a task's history ({by}: the actor).
_TASK_WORDS = {
    "task.completed": gettext_lazy("{by} decided {outcome}"),
    "task.forced": gettext_lazy("{by} pushed it through as {outcome} (operator): {reason}"),
    "task.stranded": gettext_lazy("nobody may decide it: {why}"),
    "task.claimed": gettext_lazy("{by} claimed it"),
    "task.released": gettext_lazy("{by} released it to the group"),
    "task.delegated": gettext_lazy("{by} delegated it to {to}"),
    "task.handed_back": gettext_lazy("{by} handed it back to {to}"),
    "task.reassigned": gettext_lazy("{by} reassigned it from {from} to {to}"),
    "task.snoozed": gettext_lazy("{by} snoozed it until {until}"),
    "task.routed": gettext_lazy("routed from an absent person to {to_name} ({why})"),
    "task.commented": gettext_lazy("{by} commented"),
    "task.assignees_changed": gettext_lazy("assignees changed: users {users}, groups {groups}"),
    "task.input_asked": gettext_lazy("{by} asked {to} for input (operator): {reason}"),
    "task.allocated": gettext_lazy(
        "allocated by its assignees' rule ({policy}): {qualified} qualified"
    ),
    "instance.moved": gettext_lazy("{by} moved the flow from {from} to {to} (operator): {reason}"),
    "instance.suspended": gettext_lazy("{by} suspended the instance (operator): {reason}"),
    "instance.resumed": gettext_lazy("{by} resumed the instance (operator): {reason}"),
}
# Notes inside a transition's row that close a task of their step.
_NOTE_WORDS = {
    "step.interrupted": gettext_lazy("withdrawn: the event {by} came"),
    "join.passed": gettext_lazy("withdrawn: {arrived} of {started} branches were enough"),
}
# Rows about the whole instance that its open tasks live through.
_INSTANCE_KINDS = ("instance.suspended", "instance.resumed")


def task_history(task: HumanTask) -> list[dict[str, Any]]:
    """The task's timeline from the audit log, oldest first: who did what, when,
    acting for whom, and the escalations that fired at its step. One query."""
    from orchestration.models import ProcessEvent

    # Every row of the instance since the task opened (one query): its step's,
    # the instance-wide ones, and transitions whose notes withdrew it.
    events = (
        ProcessEvent.objects.filter(instance_id=task.instance_id, created_at__gte=task.created_at)
        .exclude(kind=AuditKind.NOTIFICATION)
        .select_related("actor")
        .order_by("pk")
    )
    closed = task.decided_at
    out: list[dict[str, Any]] = []
    for event in events:
        payload = event.payload or {}
        if task.status == "withdrawn" and closed is not None and event.created_at == closed:
            for note in payload.get("notes") or []:
                words = _NOTE_WORDS.get(note.get("kind", ""))
                if words and _withdrew(task, note):
                    out.append({"when": event.created_at, "kind": note["kind"],
                                "text": str(words).format_map(_Blank(note)), "acting_for": "",
                                "note": ""})  # fmt: skip
        moved_here = event.kind == "instance.moved" and payload.get("from") == task.step
        if event.step != task.step and event.kind not in _INSTANCE_KINDS and not moved_here:
            continue
        if payload.get("task") not in {None, task.pk}:
            continue  # another task of the same step (a chain's entry)
        by = event.actor.get_username() if event.actor else gettext("the system")
        words = _TASK_WORDS.get(event.kind)
        if words:
            values = {**{k: v for k, v in payload.items() if isinstance(v, str | int | list)},
                      "by": by}  # fmt: skip
            values.setdefault("to_name", payload.get("to", ""))
            try:
                text = str(words).format_map(_Blank(values))
            except (ValueError, IndexError):
                text = event.kind
            out.append({"when": event.created_at, "text": text, "kind": event.kind,
                        "acting_for": payload.get("acting_for") or "",
                        "note": payload.get("note") or ""})  # fmt: skip
        for note in payload.get("notes") or []:
            if note.get("kind") == "task.escalated":
                out.append({"when": event.created_at, "kind": "task.escalated",
                            "text": gettext("escalation level %(level)d: %(action)s")
                            % {"level": note["level"] + 1, "action": note["action"]},
                            "acting_for": "", "note": ""})  # fmt: skip
    return out


def _withdrew(task: HumanTask, note: dict[str, Any]) -> bool:
    """Whether a note in the transition that withdrew the task says why: a
    partial join that passed, or an event on its step or on a region its
    step is inside (which withdrew everything inside)."""
    if note.get("kind") == "join.passed" or note.get("step") == task.step:
        return True
    from orchestration.engine.versions import definition_of

    regions = definition_of(task.instance.version).regions
    step = task.step
    while step in regions:
        step = regions[step]
        if note.get("step") == step:
            return True
    return False


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "?"


def completed_steps(instance: ProcessInstance) -> list[tuple[str, int]]:
    """The steps the instance has entered, in order, with the audit row that
    entered each (the path taken; the current steps are among them). One query."""
    from orchestration.models import ProcessEvent

    rows = ProcessEvent.objects.filter(instance_id=instance.pk).values_list("pk", "payload")
    return [(step, pk) for pk, payload in rows.order_by("pk")
            for step in (payload or {}).get("entered") or []]  # fmt: skip


def published_version_of(definition: Any) -> ProcessVersion | None:
    """The definition's newest published version, or None."""
    found: ProcessVersion | None = (
        ProcessVersion.objects.filter(definition=definition, status=VersionStatus.PUBLISHED)
        .order_by("-number")
        .first()
    )
    return found


def published_versions() -> list[ProcessVersion]:
    """The newest published version of every definition, by definition name."""
    newest: dict[int, ProcessVersion] = {}
    rows = (
        ProcessVersion.objects.filter(status=VersionStatus.PUBLISHED)
        .select_related("definition")
        .order_by("definition__name", "definition_id", "-number")
    )
    for version in rows:
        newest.setdefault(version.definition_id, version)
    return list(newest.values())


def instance_list(
    *, definition: str = "", version: int | None = None, status: str = "",
    started_by: str = "", started_after: datetime | None = None,
    started_before: datetime | None = None, search: str = "",
) -> QuerySet[ProcessInstance]:  # fmt: skip
    """Instances for the operators' list, newest first (callers page it)."""
    rows = ProcessInstance.objects.select_related("definition", "version", "started_by")
    if definition:
        rows = rows.filter(definition__key=definition)
    if version is not None:
        rows = rows.filter(version__number=version)
    if status:
        rows = rows.filter(status=status)
    if started_by:
        rows = rows.filter(started_by__username=started_by)
    if started_after is not None:
        rows = rows.filter(created_at__gte=started_after)
    if started_before is not None:
        rows = rows.filter(created_at__lt=started_before)
    if search:
        rows = rows.filter(business_key__icontains=search)
    return rows.order_by("-pk")


def link_spent(task: HumanTask, user_id: int) -> bool:
    """Whether a decision link of `user_id` for `task` is used up (see
    email_links): its user decided the task, or the task closed."""
    from orchestration.models import TaskVote

    return task.status != "open" or TaskVote.objects.filter(task=task, voter_id=user_id).exists()


def stranded_tasks(*, chunk: int = 500) -> list[tuple[HumanTask, str]]:
    """Open tasks nobody may decide, with why: no active person among their
    assignees (named, or in an assignee group) outside their exclusions, and
    no delegate who may. The engine must never leave one behind (`manage.py
    stranded_tasks`, and orchestration.testing.ProcessTest.stranded in tests)."""
    from django.contrib.auth import get_user_model

    people = get_user_model().objects.filter(is_active=True)
    found: list[tuple[HumanTask, str]] = []
    open_tasks = HumanTask.objects.filter(status="open").order_by("pk")
    last = 0
    while True:
        tasks = list(open_tasks.filter(pk__gt=last).prefetch_related("exclusions")[:chunk])
        if not tasks:
            return found
        last = tasks[-1].pk
        named = {u for t in tasks for u in t.candidate_users}
        named |= {t.delegate_id for t in tasks if t.delegate_id}
        active = set(people.filter(pk__in=named).values_list("pk", flat=True))
        members: dict[int, set[int]] = {}
        groups = {g for t in tasks for g in t.candidate_groups}
        for group, user in people.filter(groups__in=groups).values_list("groups", "pk"):
            members.setdefault(group, set()).add(user)
        names = candidates.names_of(tasks)
        for task in tasks:
            excluded = {e.user_id for e in task.exclusions.all()}
            eligible = {u for u in task.candidate_users if u in active}
            for group in task.candidate_groups:
                eligible |= members.get(group, set())
            if task.delegate_id in active:
                eligible.add(task.delegate_id)
            if not eligible - excluded:
                users, group_names = names[task.pk]
                who = ", ".join(sorted([*users, *group_names])) or "nobody"
                found.append((task, f"nobody may decide it (offered to {who}; "
                                    f"{len(excluded)} excluded)"))  # fmt: skip


_TIMER_WORDS = {
    "wait": gettext_lazy("the wait ends"),
    "message_timeout": gettext_lazy("waiting for a message times out"),
    "first_of": gettext_lazy("a timer branch fires"),
    "attached": gettext_lazy("a timer event fires"),
}


def pending_timers(instance: ProcessInstance) -> list[dict[str, Any]]:
    """The instance's pending timers and escalations, soonest first, each said
    in words (an escalation with its level and action). Deliveries between
    instances (a child's result, a cancellation, a buffered message) are left
    out: nobody waits for them."""
    steps = all_steps(instance.version.spec)
    out = []
    rows = Timer.objects.filter(instance=instance, status=TimerStatus.PENDING)
    for timer in rows.order_by("due_at", "pk"):
        if timer.kind == "escalation":
            level = int((timer.payload or {}).get("level", 0))
            levels = (steps.get(timer.step) or {}).get("escalation") or []
            action = levels[level]["action"] if level < len(levels) else "?"
            what = gettext("escalation level %(level)d: %(action)s") % {
                "level": level + 1, "action": action}  # fmt: skip
        elif timer.kind in _TIMER_WORDS:
            what = str(_TIMER_WORDS[timer.kind])
        else:
            continue
        out.append({"step": timer.step, "what": what, "due_at": timer.due_at})
    return out


def readable_attachments(user: Any, instance: ProcessInstance) -> list[Any]:
    """The instance's files `user` may read (permissions.can_read_attachment),
    oldest first: one query for the rows, and the instance-wide rule asked once
    for all the files added to the instance itself (not once per file)."""
    from accounts import permissions
    from orchestration.models import Attachment

    rows = Attachment.objects.filter(instance=instance).select_related(
        "task__instance", "instance", "uploaded_by"
    )
    whole: bool | None = None
    out = []
    for row in rows:
        if row.task is not None:
            readable = permissions.can_see_task(user, row.task)
        else:
            if whole is None:
                whole = permissions.can_read_attachment(user, row)
            readable = whole
        if readable:
            out.append(row)
    return out
