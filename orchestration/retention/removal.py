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
from django.db.models import F, Q

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
    """Some instances' audit rows are not sealed or not read by every reader
    of the log yet: tried again in a later round."""

    def __init__(self, instances: list[int]) -> None:
        self.instances = instances
        super().__init__(f"instances {instances}: audit rows not settled yet")


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
    """Remove one ended instance's personal data (see remove_instances)."""
    return remove_instances([instance], rule=rule, now=now)


def remove_instances(
    instances: list[ProcessInstance], *, rule: str, now: datetime,
    settled: audit_removal.Settled | None = None,
) -> Removed:  # fmt: skip
    """Remove the personal data of ended instances under one rule, in the
    caller's transaction (the instances locked by the caller), with a
    statement per table for all of them, and one `data.removed` row. Raises
    NotSettled naming those whose audit rows are not all settled yet
    (nothing changed then)."""
    ids = [instance.pk for instance in instances]
    settled = settled or audit_removal.Settled.now()
    rows: dict[int, list[int]] = {pk: [] for pk in ids}
    for pk, owner in ProcessEvent.objects.filter(instance_id__in=ids).values_list(
        "pk", "instance_id"
    ):
        rows[owner].append(pk)
    late = [owner for owner, pks in rows.items() if not all(map(settled.holds, pks))]
    if late:
        raise NotSettled(late)
    done = Removed(instances=len(ids))
    gone = marker(rule, now)
    with transaction.atomic():
        for instance in instances:
            if not is_removed(instance.variables):
                instance.variables = marker(rule, now, sorted(instance.variables))
            state = dict(instance.state or {})
            if state.get("binds"):
                state["binds"] = {}
            instance.state = state
            if isinstance(instance.error, dict) and "message" in instance.error:
                instance.error = {k: v for k, v in instance.error.items() if k != "message"}
            instance.purged_at = now
        ProcessInstance.objects.bulk_update(
            instances, ["variables", "state", "error", "purged_at"], batch_size=500
        )
        tasks = HumanTask.objects.filter(instance_id__in=ids)
        done.tasks = tasks.update(title=F("step"), delegate_note="")
        tasks.exclude(data={}).update(data=gone)
        done.votes = TaskVote.objects.filter(task__instance_id__in=ids).exclude(data={}).update(
            data=gone)  # fmt: skip
        done.comments = TaskComment.objects.filter(task__instance_id__in=ids).exclude(
            text="").update(text="")  # fmt: skip
        for attachment in Attachment.objects.filter(instance_id__in=ids).exclude(name=""):
            if attachment.file and attachment.file.name:
                done.files.append(attachment.file.name)
            attachment.name, attachment.file = "", ""
            attachment.save(update_fields=["name", "file"])
            done.attachments += 1
        for run in StepRun.objects.filter(instance_id__in=ids, error__has_key="message").only(
            "pk", "error"
        ):  # the code and type stay: what failed, not what it said
            run.error = {k: v for k, v in (run.error or {}).items() if k != "message"}
            run.save(update_fields=["error"])
        Timer.objects.filter(instance_id__in=ids).exclude(payload={}).update(payload={})
        done.deliveries = WebhookDelivery.objects.filter(
            Q(event__instance_id__in=ids)
            & ~Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
        ).update(body=gone)
        done.audit_rows = audit_removal.remove_values(
            [pk for pks in rows.values() for pk in pks], rule=rule, now=now,
            instance_id=ids[0] if len(ids) == 1 else None, record={"instances": ids},
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
