"""What removing an ended instance's personal data removes, for the purge and
erasure alike: its variables, the `for_each` items it kept, its error
messages, its tasks' titles, form answers, votes' answers, comments and
delegation notes, its attachments (the files deleted), its timers' and
delivered webhooks' bodies, and its audit rows' values (audit/removal.py).
What stays: the instance and its steps, statuses, outcomes, who decided,
timing and the business key (the dashboard's figures do not change), and
the markers saying what was removed, when and under which rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from orchestration.audit import removal as audit_removal
from orchestration.audit.hashchain import REMOVED
from orchestration.models import (
    Attachment,
    HumanTask,
    ProcessEvent,
    ProcessInstance,
    StepRun,
    TaskComment,
    TaskVote,
    Timer,
    WebhookDelivery,
)
from orchestration.models.webhooks import DeliveryStatus


class NotSettled(Exception):
    """Some of the instance's audit rows are not sealed or not read by every
    consumer of the log yet: tried again in a later round."""


@dataclass
class Removed:
    instances: int = 0
    tasks: int = 0
    comments: int = 0
    votes: int = 0
    attachments: int = 0
    audit_rows: int = 0
    deliveries: int = 0
    files: list[str] = field(default_factory=list)  # storage names, deleted after commit

    def add(self, other: Removed) -> None:
        for name in ("instances", "tasks", "comments", "votes", "attachments", "audit_rows",
                     "deliveries"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.files += other.files

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ("instances", "tasks", "comments",
                                                      "votes", "attachments", "audit_rows",
                                                      "deliveries")}  # fmt: skip


def marker(rule: str, now: datetime, names: list[str] | None = None) -> dict[str, Any]:
    """What a removed JSON value becomes: what went, when, under which rule."""
    return {REMOVED: {"rule": rule, "at": now.isoformat(), **({"names": names} if names else {})}}


def is_removed(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get(REMOVED), dict)


def remove_instance(instance: ProcessInstance, *, rule: str, now: datetime) -> Removed:
    """Remove one ended instance's personal data, in the caller's transaction
    (`instance` locked by the caller). Raises NotSettled when its audit rows
    are not all settled yet (nothing changed then)."""
    done = Removed(instances=1)
    events = ProcessEvent.objects.filter(instance=instance)
    rows = list(events.values_list("pk", flat=True))
    settled = set(events.filter(audit_removal.settled()).values_list("pk", flat=True))
    if len(settled) != len(rows):
        raise NotSettled(f"instance {instance.pk}: {len(rows) - len(settled)} audit rows unsettled")
    with transaction.atomic():
        instance.variables = marker(rule, now, sorted(instance.variables)) if not is_removed(
            instance.variables) else instance.variables  # fmt: skip
        state = dict(instance.state or {})
        if state.get("binds"):
            state["binds"] = {}
        instance.state = state
        if isinstance(instance.error, dict) and "message" in instance.error:
            instance.error = {k: v for k, v in instance.error.items() if k != "message"}
        instance.purged_at = now
        instance.save(update_fields=["variables", "state", "error", "purged_at"])

        tasks = HumanTask.objects.filter(instance=instance)
        for task in tasks.only("pk", "step", "title", "data", "delegate_note"):
            task.title, task.delegate_note = task.step, ""
            task.data = marker(rule, now) if task.data else task.data
            task.save(update_fields=["title", "data", "delegate_note"])
            done.tasks += 1
        done.votes = TaskVote.objects.filter(task__instance=instance).exclude(data={}).update(
            data=marker(rule, now))  # fmt: skip
        done.comments = TaskComment.objects.filter(task__instance=instance).exclude(
            text="").update(text="")  # fmt: skip
        for attachment in Attachment.objects.filter(instance=instance).exclude(name=""):
            if attachment.file:
                done.files.append(attachment.file.name)
            attachment.name, attachment.file = "", ""
            attachment.save(update_fields=["name", "file"])
            done.attachments += 1
        for run in StepRun.objects.filter(instance=instance, error__has_key="message").only(
            "pk", "error"
        ):  # the code and type stay: what failed, not what it said
            run.error = {k: v for k, v in run.error.items() if k != "message"}
            run.save(update_fields=["error"])
        Timer.objects.filter(instance=instance).exclude(payload={}).update(payload={})
        done.deliveries = WebhookDelivery.objects.filter(
            Q(event__instance=instance)
            & ~Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
        ).update(body=marker(rule, now))
        done.audit_rows = audit_removal.remove_values(
            rows, rule=rule, now=now, instance_id=instance.pk,
            record={"instance": instance.pk},
        )  # fmt: skip
    return done


def delete_files(names: list[str]) -> None:
    """The attachments' files, after the removal committed (a rollback keeps them)."""
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # gone already, or the storage refuses: the row says it was removed
            continue
