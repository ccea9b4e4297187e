"""Every write goes through these functions (admin, views, API, commands, jobs)."""

from orchestration.services.attachments import attachment_add
from orchestration.services.instances import (
    instance_cancel,
    instance_move,
    instance_resume,
    instance_retry,
    instance_send_message,
    instance_set_variables,
    instance_start,
    instance_suspend,
    task_complete,
    task_force_decide,
)
from orchestration.services.messages import Correlated, message_correlate
from orchestration.services.migrations import instance_migrate, instance_migration_plan
from orchestration.services.tasks import (
    absences_route_started,
    task_ask_input,
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
    "attachment_add",
    "draft_errors",
    "instance_cancel",
    "instance_migrate",
    "instance_migration_plan",
    "instance_move",
    "instance_resume",
    "instance_retry",
    "instance_send_message",
    "instance_set_variables",
    "instance_start",
    "instance_suspend",
    "message_correlate",
    "task_ask_input",
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
