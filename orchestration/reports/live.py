"""What the report shows as it is now, beside the window's history: tasks
overdue at each step and incidents open (indexed counts on live rows)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count

from orchestration.models import HumanTask, ProcessInstance, ProcessVersion
from orchestration.states import InstanceStatus, TaskStatus


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
