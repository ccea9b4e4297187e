"""Every write goes through these functions (admin, views, API, commands, jobs)."""

from orchestration.services.instances import (
    instance_cancel,
    instance_migrate,
    instance_retry,
    instance_send_message,
    instance_start,
    task_complete,
    task_force_decide,
)
from orchestration.services.messages import Correlated, message_correlate
from orchestration.services.tasks import (
    absences_route_started,
    task_claim,
    task_comment,
    task_delegate,
    task_hand_back,
    task_reassign,
    task_release,
    task_snooze,
)
from orchestration.services.versions import (
    DraftResult,
    draft_errors,
    validation_context,
    version_delete_draft,
    version_deprecate,
    version_publish,
    version_retire,
    version_save_draft,
)

__all__ = [
    "Correlated",
    "DraftResult",
    "absences_route_started",
    "draft_errors",
    "instance_cancel",
    "instance_migrate",
    "instance_retry",
    "instance_send_message",
    "instance_start",
    "message_correlate",
    "task_claim",
    "task_comment",
    "task_complete",
    "task_delegate",
    "task_force_decide",
    "task_hand_back",
    "task_reassign",
    "task_release",
    "task_snooze",
    "validation_context",
    "version_delete_draft",
    "version_deprecate",
    "version_publish",
    "version_retire",
    "version_save_draft",
]
