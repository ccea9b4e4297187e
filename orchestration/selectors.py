"""Reads for definitions and versions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from orchestration import clock
from orchestration.engine.state import current_steps
from orchestration.engine.versions import forget_started_versions, version_for_start
from orchestration.models import (
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    StepRun,
)
from orchestration.states import TaskStatus, VersionStatus

__all__ = ["forget_started_versions", "version_for_start"]


def version_previous(version: ProcessVersion) -> ProcessVersion | None:
    return (
        ProcessVersion.objects.filter(
            definition_id=version.definition_id, number__lt=version.number
        )
        .order_by("-number")
        .first()
    )


def definition_list_published() -> QuerySet[ProcessDefinition]:
    """Definitions that can start instances, newest published version number annotated."""
    from django.db.models import Max, Q

    return (
        ProcessDefinition.objects.annotate(
            published_number=Max(
                "versions__number", filter=Q(versions__status=VersionStatus.PUBLISHED)
            )
        )
        .filter(published_number__isnull=False)
        .order_by("name")
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
    tasks = (
        HumanTask.objects.filter(instance=instance, status=TaskStatus.OPEN)
        .prefetch_related("assignees__user", "assignees__group")
        .order_by("pk")
    )
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
                "assignees": [
                    {"user": a.user.get_username()}
                    if a.user
                    else {"group": a.group.name if a.group else ""}
                    for a in task.assignees.all()
                ],
                "due_at": task.due_at.isoformat() if task.due_at else None,
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
                "started_at": run.started_at.isoformat() if run.started_at else None,
                "ended_at": run.ended_at.isoformat() if run.ended_at else None,
                "error": run.error,
            }
            for run in runs
        ],
        "parent": instance.parent_id,
        "started_by": instance.started_by.get_username() if instance.started_by else None,
        "created_at": instance.created_at.isoformat(),
        "ended_at": instance.ended_at.isoformat() if instance.ended_at else None,
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
