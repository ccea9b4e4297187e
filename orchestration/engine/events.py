"""Events the core consumes and effects it returns: plain, JSON-friendly data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from orchestration.audit import AuditKind


# ---- events -------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    pass


@dataclass(frozen=True)
class StepSucceeded:
    token: str
    step: str
    execution: int
    outputs: dict[str, Any] = field(default_factory=dict)
    compensation: bool = False


@dataclass(frozen=True)
class StepFailed:
    token: str
    step: str
    execution: int
    attempt: int
    code: str
    message: str
    retryable: bool
    retry_after: float | None = None  # seconds, from an HTTP Retry-After
    compensation: bool = False


@dataclass(frozen=True)
class TaskVoted:
    """One person's decision on a task: a vote. The core decides whether the votes
    so far close the task (the step's quorum; today: the first vote does)."""

    token: str
    step: str
    outcome: str
    data: dict[str, Any]
    voter: str  # username, or "system"
    task: int = 0
    voter_id: int | None = None
    votes: list[str] = field(default_factory=list)  # every vote's outcome so far, this one too
    eligible: int | None = None  # people who may vote (for quorum all / N / %)
    entry: int | None = None  # which entry of a for_each chain the task is for
    forced: bool = False  # an operator's forced decision: closes the task, whatever the quorum


@dataclass(frozen=True)
class TimerFired:
    token: str
    step: str
    kind: str  # a TimerKind: wait, message_timeout, escalation
    level: int = 0  # for an escalation: which level of the step's `escalation`


@dataclass(frozen=True)
class MessageReceived:
    name: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ChildFinished:
    token: str
    step: str
    status: str
    result: str
    variables: dict[str, Any]
    error: str = ""  # why the child could not start (unknown version, bad input, max_depth)


@dataclass(frozen=True)
class Cancel:
    reason: str = ""


@dataclass(frozen=True)
class RetryFailed:
    pass


@dataclass(frozen=True)
class Moved:
    """In-flight migration to another version: tokens keep their place, renamed by `mapping`."""

    mapping: dict[str, str]


@dataclass(frozen=True)
class Jumped:
    """An operator moves the flow parked at `source` to `target` (a redo when
    `target` is an earlier step): what waited there is withdrawn."""

    source: str
    target: str
    reason: str = ""


@dataclass(frozen=True)
class VariablesChanged:
    """An operator set some of the instance's variables (conditions are
    checked against the new values)."""

    values: dict[str, Any]


Event = (
    Started
    | StepSucceeded
    | StepFailed
    | TaskVoted
    | TimerFired
    | MessageReceived
    | ChildFinished
    | Cancel
    | RetryFailed
    | Moved
    | Jumped
    | VariablesChanged
)

_EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (Started, StepSucceeded, StepFailed, TaskVoted, TimerFired, MessageReceived,
                ChildFinished, Cancel, RetryFailed, Moved, Jumped, VariablesChanged)
}  # fmt: skip


def event_to_json(event: Event) -> dict[str, Any]:
    """An event as JSON data (an incident keeps the events it must replay)."""
    return {"event": type(event).__name__, **asdict(event)}


def event_from_json(data: dict[str, Any]) -> Event:
    fields = dict(data)
    event: Event = _EVENT_TYPES[fields.pop("event")](**fields)
    return event


# ---- effects ------------------------------------------------------------------------
@dataclass(frozen=True)
class RunStep:
    """Schedule one attempt of an automated step (or of its compensation)."""

    token: str
    step: str
    execution: int
    attempt: int
    due_at: datetime
    compensation: bool = False


@dataclass(frozen=True)
class OpenTask:
    token: str
    step: str
    execution: int
    title: str
    users: list[str]
    groups: list[str]
    resolver: str | None
    exclude: list[str]
    priority: int  # 0-100
    due_at: datetime | None
    form: list[dict[str, Any]]
    outcomes: list[str]
    entry: int | None = None  # the entry of a for_each chain
    where: str = ""  # only people for whom this expression holds (over `user` too)
    policy: str = ""  # allocate to one of them: round_robin, least_open, random


@dataclass(frozen=True)
class CloseTask:
    """The votes on a task reached its quorum: it is decided with this outcome."""

    token: str
    step: str
    task: int
    outcome: str
    data: dict[str, Any]
    voter_id: int | None


@dataclass(frozen=True)
class AwaitMessage:
    """A token began waiting for one of these messages (a message wait names
    one; a `first_of` wait each of its message branches): the oldest buffered
    for the instance's business key (POST /api/v1/messages with a ttl) is
    delivered."""

    token: str
    step: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class StartTimer:
    token: str
    step: str
    kind: str
    due_at: datetime
    level: int = 0  # escalation level


@dataclass(frozen=True)
class ChangeAssignees:
    """An escalation moved a task: `replace` its assignees, or add these to them."""

    token: str
    step: str
    users: list[str]
    groups: list[str]
    replace: bool


@dataclass(frozen=True)
class Notify:
    """Tell people about a task by email (after commit, from the outbox): its
    current assignees (`users` and `groups` empty) or the ones named."""

    token: str
    step: str
    reason: str  # reminder, escalation
    users: list[str]
    groups: list[str]
    message: str = ""


@dataclass(frozen=True)
class Tell:
    """A notify step: email these people (after commit, from the outbox)."""

    step: str
    users: list[str]
    groups: list[str]
    resolver: str | None
    subject: str
    message: str


@dataclass(frozen=True)
class StartChild:
    token: str
    step: str
    definition: str
    version: int | None
    variables: dict[str, Any]


@dataclass(frozen=True)
class CancelToken:
    """Withdraw everything a token was waiting on: open tasks, timers, queued runs, children.

    `wait` says what it was parked on ("task", "step", ...), so the runtime only
    touches the tables that can hold something for it; "" means all of them."""

    token: str
    wait: str = ""
    step: str = ""  # where the token was parked (for "task": only steps with `due` or
    # `escalation` can have timers to withdraw)
    # An event attached to the step withdrew it: its tasks close as withdrawn.
    withdrawn: bool = False


@dataclass(frozen=True)
class Audit:
    kind: AuditKind
    step: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finished:
    """The instance reached a terminal status; the parent (if any) is told."""

    status: str
    result: str


Effect = (
    RunStep
    | OpenTask
    | CloseTask
    | ChangeAssignees
    | Notify
    | Tell
    | StartTimer
    | AwaitMessage
    | StartChild
    | CancelToken
    | Audit
    | Finished
)
