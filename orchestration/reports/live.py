"""What the report shows as it is now, beside the window's history: tasks
overdue at each step, incidents open and instances over their expected
durations (indexed counts on live rows). The page and the API read the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from orchestration.models import HumanTask, ProcessInstance, ProcessVersion
from orchestration.reports.sla import OverSla, over_sla, sla_of
from orchestration.states import InstanceStatus, TaskStatus


@dataclass
class Now:
    overdue: dict[str, int]  # step -> open tasks past their due time
    incidents_open: int
    over_sla: OverSla


def now_figures(version: ProcessVersion, now: datetime, *, listed: int = 50) -> Now:
    """The version's live figures; `listed`: how many instances over their
    expected durations to name (the furthest over first)."""
    return Now(
        overdue=overdue_by_step(version, now),
        incidents_open=incidents_open(version),
        over_sla=over_sla(version.pk, sla_of(version.spec.get("sla")), now, limit=listed),
    )


def overdue_by_step(version: ProcessVersion, now: datetime) -> dict[str, int]:
    return dict(
        HumanTask.objects.filter(instance__version=version, status=TaskStatus.OPEN,
                                 due_at__lt=now)
        .values_list("step")
        .annotate(n=Count("pk"))
        .order_by()
    )  # fmt: skip


def incidents_open(version: ProcessVersion) -> int:
    return ProcessInstance.objects.filter(version=version, status=InstanceStatus.INCIDENT).count()
