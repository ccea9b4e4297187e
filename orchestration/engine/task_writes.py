"""What the Writer does for human tasks: record votes, resolve assignee names,
find a token's open task, queue notifications, fix four-eyes exclusions.

A mixin of runtime.Writer, kept apart so that the writer's core (applying
events, work rows, flushing) stays readable.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestration.audit import AuditKind
from orchestration.engine import sealing, store
from orchestration.engine.events import Notify, Tell
from orchestration.engine.versions import definition_of
from orchestration.handlers import get_resolver
from orchestration.models import HumanTask, ProcessEvent, ProcessInstance, TaskVote
from orchestration.states import TaskStatus

if TYPE_CHECKING:
    from accounts.models import User


class TaskWrites:
    now: datetime
    _votes: list[TaskVote]
    _tasks_at_hand: dict[int, HumanTask]
    _user_ids: dict[str, int]
    _group_ids: dict[str, int]
    _events: list[ProcessEvent]
    _away: dict[int, int | None] | None

    def record(
        self, instance: ProcessInstance, kind: AuditKind, *, actor: User | None = None,
        step: str = "", payload: dict[str, Any] | None = None, from_status: str = "",
        to_status: str = "",
    ) -> None:  # fmt: skip
        raise NotImplementedError

    def vote(
        self, task: HumanTask, *, voter: User | None, outcome: str, data: dict[str, Any],
        on_behalf_of: User | None = None,
    ) -> None:  # fmt: skip
        """Record one person's decision on a task; whether it closes the task is
        the core's to say (apply a TaskVoted event after this)."""
        if data:
            data = sealing.seal_answers(definition_of(task.instance.version), task.step, data)
        self._votes.append(
            TaskVote(task_id=task.pk, voter=voter, on_behalf_of=on_behalf_of, outcome=outcome,
                     data=data, created_at=self.now)
        )  # fmt: skip
        self._tasks_at_hand[task.pk] = task

    def _assignee_ids(
        self, users: list[str], groups: list[str]
    ) -> tuple[dict[str, int], dict[str, int]]:
        wanted_users = set(users) - set(self._user_ids)
        wanted_groups = set(groups) - set(self._group_ids)
        if wanted_users or wanted_groups:
            found_users, found_groups = store.ids_by_name(wanted_users, wanted_groups)
            self._user_ids.update(found_users)
            self._group_ids.update(found_groups)
        return self._user_ids, self._group_ids

    def _route_absent(
        self, instance: ProcessInstance, step: str, people: list[int], excluded: dict[int, str]
    ) -> list[int]:
        """A task opening for someone away goes to whoever decides for them,
        unless the task excludes that person (then it stays, and says why)."""
        from accounts.absences import resolve
        from accounts.selectors import absent_at

        if not people:  # offered to groups only: nobody to route
            return people
        if self._away is None:  # one look per batch
            self._away = absent_at(self.now)
        if not self._away or not set(people) & set(self._away):
            return people
        routed = list(people)
        for found in resolve(people, self._away, excluded):
            # Nobody to route to: the task stays with them (and its groups and
            # escalation), and the audit row says why.
            if found.to is not None:
                routed.remove(found.user)
                if found.to not in routed:
                    routed.append(found.to)
            self.record(
                instance, AuditKind.TASK_ROUTED, step=step,
                payload={"from": found.user, "to": found.to, "why": found.why},
            )  # fmt: skip
        return routed

    def _open_tasks(self, instance: ProcessInstance, token: str) -> list[HumanTask]:
        """The open tasks a token waits on, in the order they opened: one, or
        one per open entry of a `for_each` chain (an escalation acts on each)."""
        tasks = list(
            HumanTask.objects.filter(
                instance_id=instance.pk, token=token, status=TaskStatus.OPEN
            ).order_by("pk")
        )
        for task in tasks:
            self._tasks_at_hand.setdefault(task.pk, task)
        return [self._tasks_at_hand[task.pk] for task in tasks]

    def _notify(self, instance: ProcessInstance, effect: Notify) -> None:
        """Emails to send after commit, one per open task of the token: outbox
        rows (ProcessEvent, not yet dispatched) that
        orchestration.side_effects.mail sends from the worker."""
        named = effect.users or effect.groups
        if named:
            users, groups = self._assignee_ids(effect.users, effect.groups)
            user_ids = [users[u] for u in effect.users if u in users]
            group_ids = [groups[g] for g in effect.groups if g in groups]
        for task in self._open_tasks(instance, effect.token):
            if not named:  # its current candidates
                user_ids, group_ids = list(task.candidate_users), list(task.candidate_groups)
            self.record(
                instance, AuditKind.NOTIFICATION, step=effect.step,
                payload={"reason": effect.reason, "task": task.pk, "title": task.title,
                         "users": user_ids, "groups": group_ids, "message": effect.message},
            )  # fmt: skip

    def _tell(self, instance: ProcessInstance, effect: Tell) -> None:
        """A notify step's email: an outbox row naming the people by id (the
        resolver's too); names that match nobody are noted beside them."""
        users, groups = self._assignee_ids(effect.users, effect.groups)
        user_ids = [users[u] for u in effect.users if u in users]
        if effect.resolver:
            found = get_resolver(effect.resolver)(starter=instance.started_by, instance=instance)
            user_ids += [user.pk for user in found if user.pk not in user_ids]
        missing = [u for u in effect.users if u not in users] + [
            g for g in effect.groups if g not in groups
        ]
        self.record(
            instance, AuditKind.NOTIFICATION, step=effect.step,
            payload={"reason": "told", "title": effect.subject[:500], "users": user_ids,
                     "groups": [groups[g] for g in effect.groups if g in groups],
                     "message": effect.message, **({"missing": missing} if missing else {})},
        )  # fmt: skip

    def _excluded(self, instance: ProcessInstance, rules: list[Any]) -> dict[int, str]:
        """Who may not decide a task opening now, by the step's `exclude` rules:
        user id -> why (the words a refusal uses)."""
        out: dict[int, str] = {}
        if "starter" in rules and instance.started_by_id:
            out[instance.started_by_id] = "started this instance"
        steps = {rule["step"] for rule in rules if isinstance(rule, dict)}
        if "previous_approvers" in rules or steps:
            # Decisions already written, and those this transaction is writing
            # (the vote that led here is among them).
            decided = list(
                TaskVote.objects.filter(
                    task__instance_id=instance.pk, voter__isnull=False
                ).values_list("voter_id", "task__step")
            )
            for vote in self._votes:
                task = self._tasks_at_hand.get(vote.task_id)
                if vote.voter_id and task is not None and task.instance_id == instance.pk:
                    decided.append((vote.voter_id, task.step))
            for voter, step in decided:
                if "previous_approvers" in rules or step in steps:
                    out.setdefault(voter, f"decided {step} earlier in this instance")
        return out
