"""The kinds of audit rows (ProcessEvent.kind): one vocabulary for every writer."""

from __future__ import annotations

from enum import StrEnum


class AuditKind(StrEnum):
    INSTANCE_STARTED = "instance.started"
    INSTANCE_FAILED = "instance.failed"
    INSTANCE_COMPLETED = "instance.completed"
    INSTANCE_CANCELLED = "instance.cancelled"
    INSTANCE_COMPENSATED = "instance.compensated"
    INSTANCE_INCIDENT = "instance.incident"
    INSTANCE_INCIDENT_RETRIED = "instance.incident_retried"
    INSTANCE_RETRIED = "instance.retried"
    INSTANCE_RETRY_REQUESTED = "instance.retry_requested"
    INSTANCE_MIGRATED = "instance.migrated"
    INSTANCE_VERSION_CHANGED = "instance.version_changed"
    INSTANCE_CANCELLED_BY = "instance.cancelled_by"
    INSTANCE_CANCEL_REQUESTED = "instance.cancel_requested"
    INSTANCE_EVENT = "instance.event"
    INSTANCE_SUSPENDED = "instance.suspended"  # an operator put it on hold (reason)
    INSTANCE_RESUMED = "instance.resumed"  # ... and took it off hold (reason, events held)
    INSTANCE_VARIABLES_SET = "instance.variables_set"  # an operator changed variables (reason)
    INSTANCE_MOVED = "instance.moved"  # an operator moved a token from one step to another
    STEP_ENTERED = "step.entered"
    STEP_SUCCEEDED = "step.succeeded"
    STEP_FAILED = "step.failed"
    STEP_RETRY_SCHEDULED = "step.retry_scheduled"
    STEP_RESULT_DISCARDED = "step.result_discarded"
    STEP_ERROR_ROUTED = "step.error_routed"
    TASK_VOTED = "task.voted"
    TASK_VOTE_RECORDED = "task.vote_recorded"
    TASK_ESCALATED = "task.escalated"
    TASK_ASSIGNEES_CHANGED = "task.assignees_changed"
    NOTIFICATION = "notification"
    TASK_CLAIMED = "task.claimed"
    TASK_RELEASED = "task.released"
    TASK_DELEGATED = "task.delegated"
    TASK_HANDED_BACK = "task.handed_back"
    TASK_REASSIGNED = "task.reassigned"
    TASK_SNOOZED = "task.snoozed"
    TASK_ROUTED = "task.routed"
    TASK_INPUT_ASKED = "task.input_asked"  # an operator added someone for their input
    TASK_ALLOCATED = "task.allocated"  # assignees' where/policy chose who may take it
    TASK_STRANDED = "task.stranded"
    TASK_COMMENTED = "task.commented"
    ATTACHMENT_ADDED = "attachment.added"
    TASK_COMPLETED = "task.completed"
    TASK_FORCED = "task.forced"
    TASK_UNKNOWN_ASSIGNEES = "task.unknown_assignees"
    TIMER_FIRED = "timer.fired"
    MESSAGE_RECEIVED = "message.received"
    MESSAGE_BUFFERED = "message.buffered"
    CHILD_FINISHED = "child.finished"
    WAIT_TIMED_OUT = "wait.timed_out"
    WAIT_FIRST = "wait.first"  # a first_of wait: which event came first
    STEP_INTERRUPTED = "step.interrupted"  # an event attached to the step withdrew it
    STEP_EVENT = "step.event"  # an event with interrupting: false started a path beside it
    JOIN_PASSED = "join.passed"  # a partial join had enough branches: what became of the rest
    JOIN_IGNORED = "join.ignored"  # a branch arrived after its partial join had passed
    REGION_QUEUED = "region.queued"  # an exclusive region waits for its turn
    REGION_ENDED = "region.ended"  # an end inside a region was reached: it goes on at its next
    ENTRIES_COMPLETED = "step.entries_completed"  # a for_each step: how many of how many
    ENTRY_ADDED = "step.entry_added"  # a message added an entry to a running for_each step
    ENTRY_IGNORED = "step.entry_ignored"  # an entry finished after its step had completed
    COMPENSATION_STARTED = "compensation.started"
    COMPENSATION_FINISHED = "compensation.finished"
    EVENT_IGNORED = "event.ignored"
    EVENT_HELD = "event.held"
    ABSENCE_RECORDED = "absence.recorded"
    ABSENCE_DELETED = "absence.deleted"
    PREFERENCES_CHANGED = "user.preferences_changed"  # a person's own language or time zone
    VERSION_DRAFT_CREATED = "version.draft_created"
    VERSION_DRAFT_UPDATED = "version.draft_updated"
    VERSION_DRAFT_DELETED = "version.draft_deleted"
    VERSION_PUBLISHED = "version.published"
    VERSION_DEPRECATED = "version.deprecated"
    VERSION_RETIRED = "version.retired"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    WEBHOOK_SUBSCRIBED = "webhook.subscribed"
    WEBHOOK_REPLAYED = "webhook.replayed"
