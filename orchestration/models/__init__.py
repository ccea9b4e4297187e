"""Models: definitions and versions, instances and their work, the event table."""

from orchestration.models.definitions import ProcessDefinition, ProcessEvent, ProcessVersion
from orchestration.models.instances import (
    BufferedMessage,
    HumanTask,
    LoopHeartbeat,
    ProcessInstance,
    StepRun,
    TaskAssignee,
    TaskComment,
    TaskExclusion,
    TaskVote,
    Timer,
)

__all__ = [
    "BufferedMessage",
    "HumanTask",
    "LoopHeartbeat",
    "ProcessDefinition",
    "ProcessEvent",
    "ProcessInstance",
    "ProcessVersion",
    "StepRun",
    "TaskAssignee",
    "TaskComment",
    "TaskExclusion",
    "TaskVote",
    "Timer",
]
