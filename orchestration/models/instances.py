"""Running processes and the durable work they create.

The engine's own tables are the record of what must happen next: a StepRun in
`ready` is an automated step waiting for a worker, a Timer in `pending` a
deadline, a HumanTask in `open` a person's decision. django-q2 only runs the
loops that pick them up; losing a queued job loses nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

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
        db_index=False, verbose_name=_("definition"),
    )  # fmt: skip
    version = models.ForeignKey(
        "orchestration.ProcessVersion",
        on_delete=models.PROTECT,
        related_name="instances",
        verbose_name=_("version"),
    )
    business_key = models.CharField(max_length=200, blank=True, verbose_name=_("business key"))
    # The trace it belongs to (W3C traceparent), when tracing is on: its steps'
    # attempts and its webhooks join the trace of the request that started it.
    traceparent = models.CharField(
        max_length=64, blank=True, default="", editable=False, verbose_name=_("trace")
    )
    status = models.CharField(
        max_length=16, choices=InstanceStatus.choices, verbose_name=_("status")
    )
    result = models.CharField(max_length=200, blank=True, verbose_name=_("result"))
    variables = models.JSONField(default=dict, verbose_name=_("variables"))
    state = models.JSONField(default=dict, verbose_name=_("state"))
    error = models.JSONField(null=True, blank=True, verbose_name=_("error"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("started by"),
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    parent_token = models.CharField(max_length=20, blank=True, verbose_name=_("parent token"))
    parent_step = models.CharField(max_length=100, blank=True, verbose_name=_("parent step"))
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=clock.now, verbose_name=_("updated at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    # When its personal data was removed (retention or erasure: the audit's
    # data.removed row says which and why); NULL while it is kept.
    purged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("purged at"))
    # The data subject it is about (the definition's `subject`), as a keyed
    # digest (retention/subjects.py): found by erasure and holds, never shown.
    subject_key = models.CharField(
        max_length=64, blank=True, default="", editable=False, verbose_name=_("subject key")
    )

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("start_processinstance", "Can start process instances"),
            ("operate_processinstance", "Can cancel, retry, message and migrate instances"),
            ("hold_processinstance", "Can place and lift legal holds"),
            ("erase_processinstance", "Can erase a data subject's personal data"),
            ("view_sensitive_processinstance", "Can see sensitive values (every view is audited)"),
        ]
        indexes = [
            models.Index(fields=["definition", "status"]),
            models.Index(fields=["status", "-updated_at"]),
            # Exact lookups only: no second pattern-ops index for LIKE.
            models.Index(fields=["business_key"], name="instance_business_key"),
            # The purge's work: ended, not purged yet (a row enters once, when it ends).
            models.Index(
                fields=["ended_at"],
                name="instance_to_purge",
                condition=models.Q(ended_at__isnull=False, purged_at__isnull=True),
            ),
            models.Index(
                fields=["subject_key"], name="instance_subject", condition=~models.Q(subject_key="")
            ),
        ]
        verbose_name = _("process instance")
        verbose_name_plural = _("process instances")

    def __str__(self) -> str:
        return f"#{self.pk} {self.definition_id and self.definition.key} ({self.status})"


class StepRun(models.Model):
    """One attempt of an automated step (or of its compensation): the work queue,
    the step record, and the fence against late results all at once."""

    # Lookups by instance use the unique (instance, step, ...) index.
    instance = models.ForeignKey(
        ProcessInstance,
        on_delete=models.CASCADE,
        related_name="runs",
        db_index=False,
        verbose_name=_("instance"),
    )
    step = models.CharField(max_length=100, verbose_name=_("step"))
    token = models.CharField(max_length=20, blank=True, verbose_name=_("token"))
    execution = models.PositiveIntegerField(verbose_name=_("execution"))
    attempt = models.PositiveIntegerField(verbose_name=_("attempt"))
    compensation = models.BooleanField(default=False, verbose_name=_("compensation"))
    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.READY, verbose_name=_("status")
    )
    due_at = models.DateTimeField(verbose_name=_("due at"))
    lease_until = models.DateTimeField(null=True, blank=True, verbose_name=_("lease until"))
    worker = models.CharField(max_length=64, blank=True, verbose_name=_("worker"))
    # An external step's topic: the run waits for an external worker's
    # fetch-and-lock (POST /api/v1/external-tasks/fetch-and-lock), never for
    # the engine's workers. Empty for every other run.
    topic = models.CharField(max_length=100, blank=True, default="", verbose_name=_("topic"))
    # Which queue the run waits in: IN_FLIGHT for an instance already under way
    # (after a person's decision, a message, a timer, a retry, a sub-process's
    # start), NEW for a new instance's first step. Workers take the first lane
    # before the second: under more starts than they can run, work people
    # already decided goes on at once instead of behind the backlog.
    IN_FLIGHT, NEW = 0, 1
    lane = models.PositiveSmallIntegerField(default=IN_FLIGHT, verbose_name=_("lane"))
    idempotency_key = models.CharField(max_length=200, verbose_name=_("idempotency key"))
    error = models.JSONField(null=True, blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))

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
        verbose_name = _("step run")
        verbose_name_plural = _("step runs")

    def __str__(self) -> str:
        return f"{self.step}#{self.execution}.{self.attempt} ({self.status})"


class HumanTask(models.Model):
    """A person's decision at an approval step."""

    # Lookups by instance use the (instance, token, status) index.
    instance = models.ForeignKey(
        ProcessInstance,
        on_delete=models.CASCADE,
        related_name="tasks",
        db_index=False,
        verbose_name=_("instance"),
    )
    step = models.CharField(max_length=100, verbose_name=_("step"))
    token = models.CharField(max_length=20, verbose_name=_("token"))
    execution = models.PositiveIntegerField(verbose_name=_("execution"))
    title = models.CharField(max_length=500, verbose_name=_("title"))
    status = models.CharField(
        max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN, verbose_name=_("status")
    )
    priority = models.PositiveIntegerField(
        default=50, verbose_name=_("priority")
    )  # 0-100, higher first
    # Out of the default views until then (never past its due time).
    snoozed_until = models.DateTimeField(null=True, blank=True, verbose_name=_("snoozed until"))
    due_at = models.DateTimeField(null=True, blank=True, verbose_name=_("due at"))
    form = models.JSONField(default=list, verbose_name=_("form"))
    outcomes = models.JSONField(default=list, verbose_name=_("outcomes"))
    # The step's `exclude` rules as written; who they exclude is fixed in
    # TaskExclusion rows when the task opens.
    exclude = models.JSONField(default=list, verbose_name=_("exclude"))
    outcome = models.CharField(max_length=100, blank=True, verbose_name=_("outcome"))
    data = models.JSONField(default=dict, verbose_name=_("data"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))
    # The candidate who took an offered task: it leaves the others' queues.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("claimed by"),
    )  # fmt: skip
    # Someone the owner handed the task to; they decide acting for the owner.
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("delegate"),
    )  # fmt: skip
    delegate_note = models.CharField(max_length=500, blank=True, verbose_name=_("delegate note"))
    # Which entry of a `for_each` chain this task is for (None: not a chain).
    entry = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("entry"))
    # Who may decide it: these users by name and the members of these groups
    # (ids; see models/fields.py). Kept after the task closes: its candidates
    # still see it. People's lists read the open tasks' GIN indexes on
    # PostgreSQL (migration 0028).
    candidate_users = IdListField(default=list, verbose_name=_("candidate users"))
    candidate_groups = IdListField(default=list, verbose_name=_("candidate groups"))

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
        verbose_name = _("human task")
        verbose_name_plural = _("human tasks")

    def __str__(self) -> str:
        return f"task #{self.pk} {self.step} ({self.status})"


class TaskVote(models.Model):
    """One person's decision on a task. The engine's core decides when the votes
    close the task (the step's quorum); the task then carries the outcome."""

    task = models.ForeignKey(
        HumanTask, on_delete=models.CASCADE, related_name="votes", verbose_name=_("task")
    )
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name=_("voter"),
    )  # fmt: skip
    # Who the voter acted for (a delegate deciding for someone out of office).
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name=_("on behalf of"),
    )  # fmt: skip
    outcome = models.CharField(max_length=100, verbose_name=_("outcome"))
    data = models.JSONField(default=dict, verbose_name=_("data"))
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "voter"], condition=models.Q(voter__isnull=False),
                name="one_vote_per_voter",
            )
        ]  # fmt: skip
        verbose_name = _("task vote")
        verbose_name_plural = _("task votes")

    def __str__(self) -> str:
        return f"vote {self.outcome} on task #{self.task_id}"


class TaskComment(models.Model):
    """A message in a task's thread (its people and operators write; see
    permissions.comment_refusal)."""

    task = models.ForeignKey(
        HumanTask, on_delete=models.CASCADE, related_name="comments", verbose_name=_("task")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    text = models.TextField(verbose_name=_("text"))
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("task comment")
        verbose_name_plural = _("task comments")

    def __str__(self) -> str:
        return f"comment on task #{self.task_id}"


class TaskExclusion(models.Model):
    """Someone who may see a task but not decide it (four-eyes), fixed when the
    task opens: its instance's starter (`exclude: [starter]`), whoever decided an
    earlier task of the instance (`previous_approvers`), or a named step's
    deciders (`{step: ...}`). `reason` says which rule."""

    task = models.ForeignKey(
        HumanTask, on_delete=models.CASCADE, related_name="exclusions", verbose_name=_("task")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    reason = models.CharField(max_length=120, verbose_name=_("reason"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "user"], name="one_exclusion_per_user")
        ]
        verbose_name = _("task exclusion")
        verbose_name_plural = _("task exclusions")

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
        ProcessInstance,
        on_delete=models.CASCADE,
        related_name="timers",
        db_index=False,
        verbose_name=_("instance"),
    )
    token = models.CharField(max_length=20, blank=True, verbose_name=_("token"))
    step = models.CharField(max_length=100, blank=True, verbose_name=_("step"))
    kind = models.CharField(max_length=32, verbose_name=_("kind"))
    due_at = models.DateTimeField(verbose_name=_("due at"))
    status = models.CharField(
        max_length=16,
        choices=TimerStatus.choices,
        default=TimerStatus.PENDING,
        verbose_name=_("status"),
    )
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))
    fired_at = models.DateTimeField(null=True, blank=True, verbose_name=_("fired at"))

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=models.Q(status="pending"), name="timer_pending"
            ),
            models.Index(fields=["instance", "token", "status"]),
        ]
        verbose_name = _("timer")
        verbose_name_plural = _("timers")

    def __str__(self) -> str:
        return f"{self.kind} @ {self.due_at:%Y-%m-%d %H:%M:%S} ({self.status})"

    @property
    def lateness_seconds(self) -> float | None:
        return (self.fired_at - self.due_at).total_seconds() if self.fired_at else None


class LoopHeartbeat(models.Model):
    """An engine loop that is alive (seen recently); loops are started when none is."""

    name = models.CharField(max_length=64, unique=True, verbose_name=_("name"))
    seen_at = models.DateTimeField(verbose_name=_("seen at"))

    class Meta:
        verbose_name = _("loop heartbeat")
        verbose_name_plural = _("loop heartbeats")

    def __str__(self) -> str:
        return self.name


class BufferedMessage(models.Model):
    """A message that arrived for a business key before any instance waited
    for it (POST /api/v1/messages with a ttl): the first wait for its name by an
    instance with that business key takes it, until it expires."""

    name = models.CharField(max_length=100, verbose_name=_("name"))
    business_key = models.CharField(max_length=200, verbose_name=_("business key"))
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    consumed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("consumed at"))
    consumed_by = models.ForeignKey(
        ProcessInstance,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("consumed by"),
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["name", "business_key", "id"],
                condition=models.Q(consumed_at__isnull=True),
                name="message_buffered",
            )
        ]
        verbose_name = _("buffered message")
        verbose_name_plural = _("buffered messages")

    def __str__(self) -> str:
        return f"{self.name} for {self.business_key}"


class AllocationTurn(models.Model):
    """Whose turn it is for a step allocated `round_robin`: the last person
    given a task of this definition's step (locked while the next is chosen,
    so two tasks opening at once go to two people)."""

    definition = models.CharField(max_length=100, verbose_name=_("definition"))
    step = models.CharField(max_length=100, verbose_name=_("step"))
    last_user_id = models.BigIntegerField(null=True, verbose_name=_("last user id"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["definition", "step"], name="allocation_turn_unique")
        ]
        verbose_name = _("allocation turn")
        verbose_name_plural = _("allocation turns")

    def __str__(self) -> str:
        return f"{self.definition}.{self.step}"
