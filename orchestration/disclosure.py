"""What a person sees of sensitive values: masked, unless they are allowed
to see them (permissions.can_see_sensitive), and then every view that showed
one is in the audit log (`sensitive.viewed`: who, which instance, where).

Every page and API response that shows stored variables, task data or votes
goes through here; the admin always shows them masked.
"""

from __future__ import annotations

from typing import Any

from accounts import permissions
from orchestration import clock, sensitive
from orchestration.audit import AuditKind
from orchestration.models import ProcessEvent, ProcessInstance

# Where a value was shown: the audit row and the metric name it.
API, INSTANCE_PAGE, TASK_PAGE = "api", "instance_page", "task_page"


def shown(user: Any, instance: ProcessInstance, *values: Any, where: str) -> tuple[Any, ...]:
    """`values` (stored JSON of `instance`: its variables, a task's data) as
    `user` may see them. One audit row when sensitive values were shown open."""
    if not any(sensitive.holds_sealed(v) for v in values):
        return values
    if not permissions.can_see_sensitive(user):
        return tuple(sensitive.masked(v) for v in values)
    try:
        opened = tuple(sensitive.opened(v) for v in values)
    except sensitive.Unreadable:  # a key was dropped too early: say so by masking
        return tuple(sensitive.masked(v) for v in values)
    ProcessEvent.objects.create(
        kind=AuditKind.SENSITIVE_VIEWED, actor=user, instance=instance,
        definition_id=instance.definition_id, version_id=instance.version_id,
        payload={"where": where}, created_at=clock.now(),
    )  # fmt: skip
    return opened
