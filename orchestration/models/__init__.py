"""Models: definitions and versions, instances and their work, the event table."""

from orchestration.models.attachments import Attachment
from orchestration.models.definitions import ProcessDefinition, ProcessEvent, ProcessVersion
from orchestration.models.instances import (
    AllocationTurn,
    BufferedMessage,
    HumanTask,
    LoopHeartbeat,
    ProcessInstance,
    StepRun,
    TaskComment,
    TaskExclusion,
    TaskVote,
    Timer,
)
from orchestration.models.metrics import MetricSample
from orchestration.models.reports import EdgeDay, StepDay
from orchestration.models.retention import HoldScope, LegalHold
from orchestration.models.seals import AuditArchive, AuditSeal
from orchestration.models.sweeps import SweepFailure
from orchestration.models.webhooks import (
    WEBHOOK_EVENTS,
    DeliveryStatus,
    OutboxCursor,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

__all__ = [
    "WEBHOOK_EVENTS",
    "AllocationTurn",
    "Attachment",
    "AuditArchive",
    "AuditSeal",
    "BufferedMessage",
    "DeliveryStatus",
    "EdgeDay",
    "HoldScope",
    "HumanTask",
    "LegalHold",
    "LoopHeartbeat",
    "MetricSample",
    "OutboxCursor",
    "ProcessDefinition",
    "ProcessEvent",
    "ProcessInstance",
    "ProcessVersion",
    "StepDay",
    "StepRun",
    "SweepFailure",
    "TaskComment",
    "TaskExclusion",
    "TaskVote",
    "Timer",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
