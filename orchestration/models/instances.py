"""Running processes and the durable work they create.

The engine's own tables are the record of what must happen next: a StepRun in
`ready` is an automated step waiting for a worker, a Timer in `pending` a
deadline, a HumanTask in `open` a person's decision. django-q2 only runs the
loops that pick them up; losing a queued job loses nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orchestration import clock
from orchestration.models.fields import IdListField
from orchestration.states import InstanceStatus, RunStatus, TaskStatus, TimerStatus


class ProcessInstance(models.Model):
    """One run of a published version. `state` is the engine's token state (see
    engine/core.py); status, result and variables are columns for querying."""

    # Every index is written on every transition (status changes make updates
    # non-HOT), so none is kept that another index already covers: (definition,
    # status) serves lookups by definition.
    definition = models.ForeignKey(
        "orchestration.ProcessDefinition", on_delete=models.PROTECT, related_name="instances",
        db_index=False,
    )  # fmt: skip
    version = models.ForeignKey(
        "orchestration.ProcessVersion", on_delete=models.PROTECT, related_name="instances"
    )
    business_key = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=InstanceStatus.choices)
    result = models.CharField(max_length=200, blank=True)
    variables = models.JSONField(default=dict)
    state = models.JSONField(default=dict)
    error = models.JSONField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    parent_token = models.CharField(max_length=20, blank=True)
    parent_step = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("start_processinstance", "Can start process instances"),
            ("operate_processinstance", "Can cancel, retry, message and migrate instances"),
        ]
        indexes = [
            models.Index(fields=["definition", "status"]),
            models.Index(fields=["status", "-updated_at"]),
            # Exact lookups only: no second pattern-ops index for LIKE.
            models.Index(fields=["business_key"], name="instance_business_key"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.definition_id and self.definition.key} ({self.status})"


class StepRun(models.Model):
    """One attempt of an automated step (or of its compensation): the work queue,
    the step record, and the fence against late results all at once."""

    # Lookups by instance use the unique (instance, step, ...) index.
    instance = models.ForeignKey(
        ProcessInstance, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    step = models.CharField(max_length=100)
    token = models.CharField(max_length=20, blank=True)
    execution = models.PositiveIntegerField()
    attempt = models.PositiveIntegerField()
    compensation = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.READY)
    due_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=64, blank=True)
    # An external step's topic: the run waits for an external worker's
    # fetch-and-lock (POST /api/v1/external-tasks/fetch-and-lock), never for
    # the engine's workers. Empty for every other run.
    topic = models.CharField(max_length=100, blank=True, default="")
    # Which queue the run waits in: IN_FLIGHT for an instance already under way
    # (after a person's decision, a message, a timer, a retry, a sub-process's
    # start), NEW for a new instance's first step. Workers take the first lane
    # before the second: under more starts than they can run, work people
    # already decided goes on at once instead of behind the backlog.
    IN_FLIGHT, NEW = 0, 1
    lane = models.PositiveSmallIntegerField(default=IN_FLIGHT)
    idempotency_key = models.CharField(max_length=200)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "step", "execution", "compensation", "attempt"],
                name="steprun_attempt_unique",
            ),
            # Never two live attempts of one step execution: a retry is created only
            # after the previous attempt ended.
            models.UniqueConstraint(
                fields=["instance", "step", "execution", "compensation"],
                condition=models.Q(status__in=["ready", "running"]),
                name="steprun_one_live_attempt",
            ),
        ]
        indexes = [
            models.Index(
                fields=["lane", "due_at"],
                condition=models.Q(status="ready", topic=""),
                name="steprun_ready",
            ),
            models.Index(
                fields=["lease_until"],
                condition=models.Q(status="running", topic=""),
                name="steprun_leased",
            ),
            models.Index(
                fields=["topic", "due_at"],
                condition=models.Q(status__in=["ready", "running"]) & ~models.Q(topic=""),
                name="steprun_external",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step}#{self.execution}.{self.attempt} ({self.status})"


class HumanTask(models.Model):
    """A person's decision at an approval step."""

    # Lookups by instance use the (instance, token, status) index.
    instance = models.ForeignKey(
        ProcessInstance, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    step = models.CharField(max_length=100)
    token = models.CharField(max_length=20)
    execution = models.PositiveIntegerField()
    title = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    priority = models.PositiveIntegerField(default=50)  # 0-100, higher first
    # Out of the default views until then (never past its due time).
    snoozed_until = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    form = models.JSONField(default=list)
    outcomes = models.JSONField(default=list)
    # The step's `exclude` rules as written; who they exclude is fixed in
    # TaskExclusion rows when the task opens.
    exclude = models.JSONField(default=list)
    outcome = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    # The candidate who took an offered task: it leaves the others' queues.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    # Someone the owner handed the task to; they decide acting for the owner.
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    delegate_note = models.CharField(max_length=500, blank=True)
    # Which entry of a `for_each` chain this task is for (None: not a chain).
    entry = models.PositiveIntegerField(null=True, blank=True)
    # Who may decide it: these users by name and the members of these groups
    # (ids; see models/fields.py). Kept after the task closes: its candidates
    # still see it. People's lists read the open tasks' GIN indexes on
    # PostgreSQL (migration 0028).
    candidate_users = IdListField(default=list)
    candidate_groups = IdListField(default=list)

    class Meta:
        ordering = ["id"]
        indexes = [
            # (due_at, id): the inbox's default order, ties included, and due work.
            models.Index(
                fields=["due_at", "id"], condition=models.Q(status="open"), name="task_open_due"
            ),
            # The inbox's other orders: a page of a large group queue walks them.
            models.Index(
                fields=["-priority", "id"],
                condition=models.Q(status="open"),
                name="task_open_priority",
            ),
            models.Index(
                fields=["created_at", "id"], condition=models.Q(status="open"), name="task_open_age"
            ),
            models.Index(fields=["instance", "token", "status"]),
        ]

    def __str__(self) -> str:
        return f"task #{self.pk} {self.step} ({self.status})"


class TaskVote(models.Model):
    """One person's decision on a task. The engine's core decides when the votes
    close the task (the step's quorum); the task then carries the outcome."""

    task = models.ForeignKey(HumanTask, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    # Who the voter acted for (a delegate deciding for someone out of office).
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    outcome = models.CharField(max_length=100)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "voter"], condition=models.Q(voter__isnull=False),
                name="one_vote_per_voter",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"vote {self.outcome} on task #{self.task_id}"


class TaskComment(models.Model):
    """A message in a task's thread (its people and operators write; see
    permissions.comment_refusal)."""

    task = models.ForeignKey(HumanTask, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"comment on task #{self.task_id}"


class TaskExclusion(models.Model):
    """Someone who may see a task but not decide it (four-eyes), fixed when the
    task opens: its instance's starter (`exclude: [starter]`), whoever decided an
    earlier task of the instance (`previous_approvers`), or a named step's
    deciders (`{step: ...}`). `reason` says which rule."""

    task = models.ForeignKey(HumanTask, on_delete=models.CASCADE, related_name="exclusions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=120)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "user"], name="one_exclusion_per_user")
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} excluded from task #{self.task_id} ({self.reason})"


# Migrations 0007 and 0026 name this as the on_delete of the assignee rows
# that migration 0028 folded into HumanTask.candidate_users/candidate_groups:
# it stays importable. Deleting a candidate of an open task is refused by
# orchestration/candidates.py.
protect_open_tasks = models.CASCADE


class Timer(models.Model):
    """A deferred event for one instance, due at `due_at`: a wait, a message
    timeout, a child's result for its parent, a cancellation for a child."""

    # Lookups by instance use the (instance, token, status) index.
    instance = models.ForeignKey(
        ProcessInstance, on_delete=models.CASCADE, related_name="timers", db_index=False
    )
    token = models.CharField(max_length=20, blank=True)
    step = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=32)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=TimerStatus.choices, default=TimerStatus.PENDING
    )
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=models.Q(status="pending"), name="timer_pending"
            ),
            models.Index(fields=["instance", "token", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.due_at:%Y-%m-%d %H:%M:%S} ({self.status})"

    @property
    def lateness_seconds(self) -> float | None:
        return (self.fired_at - self.due_at).total_seconds() if self.fired_at else None


class LoopHeartbeat(models.Model):
    """An engine loop that is alive (seen recently); loops are started when none is."""

    name = models.CharField(max_length=64, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class BufferedMessage(models.Model):
    """A message that arrived for a business key before any instance waited
    for it (POST /api/v1/messages with a ttl): the first wait for its name by an
    instance with that business key takes it, until it expires."""

    name = models.CharField(max_length=100)
    business_key = models.CharField(max_length=200)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    consumed_by = models.ForeignKey(
        ProcessInstance, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["name", "business_key", "id"],
                condition=models.Q(consumed_at__isnull=True),
                name="message_buffered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} for {self.business_key}"


class AllocationTurn(models.Model):
    """Whose turn it is for a step allocated `round_robin`: the last person
    given a task of this definition's step (locked while the next is chosen,
    so two tasks opening at once go to two people)."""

    definition = models.CharField(max_length=100)
    step = models.CharField(max_length=100)
    last_user_id = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["definition", "step"], name="allocation_turn_unique")
        ]

    def __str__(self) -> str:
        return f"{self.definition}.{self.step}"
