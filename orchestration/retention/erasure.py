"""Erasure by data subject: a person's personal data goes now, wherever the
product keeps it, with a report of what was erased and what is kept and why.

A subject is a value (what a definition's `subject` names: a business key, an
employee's e-mail...) or a user account. Found: the instances whose subject
is that value (by its keyed digest) or that the user started, and every
instance, task, comment, audit row, webhook delivery, stored API answer,
API access line, buffered message and sweep failure whose text holds the
value (or the user's username, e-mail or full name). Erased: an ended
instance's personal data as the purge removes it (removal.py); audit rows
outside those instances lose their values (audit/removal.py); the rest is
deleted or blanked; a user account is pseudonymised (erased-<id>, no name,
no e-mail, no attributes, cannot sign in), so the decisions it made stay
attributable to one account without naming the person.

Kept, and said so in the report: instances on legal hold; running instances
(their steps still need their data: cancel them, or erase again once they
end); audit rows not yet read by every reader of the log (mail, webhooks:
run again in a minute); and the decisions themselves (outcome, step, time,
the pseudonymised account), which records law requires to keep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from accounts import permissions
from orchestration import clock
from orchestration.audit import AuditKind
from orchestration.audit import removal as audit_removal
from orchestration.candidates import open_tasks_naming
from orchestration.exceptions import InvalidInput
from orchestration.models import (
    BufferedMessage,
    HumanTask,
    ProcessEvent,
    ProcessInstance,
    SweepFailure,
    TaskComment,
    TaskVote,
    WebhookDelivery,
)
from orchestration.models.webhooks import DeliveryStatus
from orchestration.retention.holds import held_q, holds_on
from orchestration.retention.removal import NotSettled, Removed, delete_files, remove_instance
from orchestration.retention.subjects import keys_for
from orchestration.states import ENDED, InstanceStatus

ERASED = "[erased]"
_FINAL = {*ENDED, InstanceStatus.FAILED}


@dataclass
class ErasureReport:
    subject: str  # how the report names the subject: "a value" or "user #12"
    erased: dict[str, int] = field(default_factory=dict)
    kept: list[dict[str, str]] = field(default_factory=list)  # {"what": ..., "why": ...}

    @property
    def complete(self) -> bool:
        """Nothing kept that another run could erase (holds and the record of
        decisions are kept on purpose; running instances and unread rows wait)."""
        return not any(k.get("again") for k in self.kept)

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "erased": self.erased, "kept": self.kept,
                "complete": self.complete}  # fmt: skip


def _forms(value: str) -> list[str]:
    """The value as text holds it, and as JSON escapes it (SQLite's JSON columns)."""
    return list(dict.fromkeys([value, json.dumps(value)[1:-1]]))


def _holding(column: str, values: list[str], *, cast: bool = False) -> Q:
    name = f"{column}__text" if cast else column
    found = Q()
    for value in values:
        for form in _forms(value):
            found |= Q(**{f"{name}__icontains": form})
    return found


def _text(queryset: Any, column: str) -> Any:
    return queryset.annotate(**{f"{column}__text": Cast(column, TextField())})


def erase(*, actor: Any, reason: str, value: str | None = None, user: Any = None,
          dry_run: bool = False) -> ErasureReport:  # fmt: skip
    """Erase one subject's personal data now (see the module). Raises
    PermissionDenied, or InvalidInput naming the field. `dry_run` reports
    what would be erased and kept, and changes nothing."""
    permissions.require(actor, permissions.erase_refusal(actor))
    errors: dict[str, list[str]] = {}
    if (value is None or not str(value).strip()) == (user is None):
        errors["subject"] = ["name either a subject value or a user"]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["say why (the request's reference, say): the audit keeps it"]
    elif len(reason) > 2000:
        errors["reason"] = ["at most 2000 characters"]
    if value is not None and len(str(value)) > 500:
        errors["subject"] = ["at most 500 characters"]
    if errors:
        raise InvalidInput(errors)
    now = clock.now()
    needles = [str(value).strip()] if value is not None else _user_needles(user)
    report = ErasureReport(subject=f"user #{user.pk}" if user is not None else "a value")
    rule = f"erasure ({reason})"[:200]

    with transaction.atomic():
        instances = _instances(value, user, needles)
        removed, files = Removed(), []
        for instance in instances.select_related("version").order_by("pk"):
            if instance.status not in _FINAL or instance.ended_at is None:
                report.kept.append({"what": f"instance #{instance.pk}", "again": "yes", "why":
                    "running: its steps still need its data; cancel it, or erase again once it "
                    "ends"})  # fmt: skip
                continue
            held = holds_on(instance)
            if held:
                report.kept.append({"what": f"instance #{instance.pk}", "why":
                    f"legal hold #{held[0].pk}: {held[0].reason}"})  # fmt: skip
                continue
            if dry_run:
                removed.instances += 1
                continue
            try:
                with transaction.atomic():
                    done = remove_instance(instance, rule=rule, now=now)
                    _blank_business_key(instance, needles)
            except NotSettled:
                report.kept.append({"what": f"instance #{instance.pk}", "again": "yes", "why":
                    "some of its audit rows are not read by mail or webhooks yet: erase again "
                    "in a minute"})  # fmt: skip
                continue
            removed.add(done)
            files += done.files
        report.erased.update(removed.counts())
        report.erased["other_audit_rows"] = _audit_rows(needles, user, rule, now, report, dry_run)
        report.erased.update(_elsewhere(needles, dry_run))
        if user is not None:
            report.erased["accounts"] = 1
            offered = open_tasks_naming(get_user_model(), [user.pk])
            if offered:
                report.kept.append({"what": f"{len(offered)} open task(s) offered to the account",
                                    "why": "the account cannot sign in any more: reassign them",
                                    "again": "yes"})  # fmt: skip
            if not dry_run:
                _pseudonymise(user)
        report.kept.append({"what": "the decisions (outcome, step, time, the account)", "why":
            "the record of who decided what is kept as the law on business records requires; "
            "the account is pseudonymised"})  # fmt: skip
        if dry_run:
            transaction.set_rollback(True)
        else:
            ProcessEvent.objects.create(
                kind=AuditKind.SUBJECT_ERASED, actor=actor if getattr(actor, "pk", None) else None,
                reason=reason, created_at=now,
                payload={"subject": report.subject, "erased": report.erased,
                         "kept": [k["what"] for k in report.kept]},
            )  # fmt: skip
    if not dry_run:
        delete_files(files)
    return report


def _user_needles(user: Any) -> list[str]:
    full = " ".join(p for p in (user.first_name, user.last_name) if p).strip()
    return [n for n in (user.get_username(), user.email, full) if n and len(n) >= 3]


def _instances(value: str | None, user: Any, needles: list[str]) -> Any:
    """Every instance tied to the subject (see the module)."""
    tied = Q(pk__in=[])
    if value is not None:
        tied |= Q(subject_key__in=keys_for(value))
        tied |= Q(business_key__in=needles)
    if user is not None:
        tied |= Q(started_by=user)
    tied |= Q(pk__in=_text(ProcessInstance.objects.all(), "variables")
              .filter(_holding("variables", needles, cast=True)).values("pk"))  # fmt: skip
    tasks = _text(HumanTask.objects.all(), "data").filter(
        _holding("title", needles) | _holding("data", needles, cast=True)
        | _holding("delegate_note", needles)
    )  # fmt: skip
    tied |= Q(pk__in=tasks.values("instance_id"))
    tied |= Q(pk__in=TaskComment.objects.filter(_holding("text", needles))
              .values("task__instance_id"))  # fmt: skip
    votes = _text(TaskVote.objects.all(), "data").filter(_holding("data", needles, cast=True))
    tied |= Q(pk__in=votes.values("task__instance_id"))
    return ProcessInstance.objects.filter(tied)


def _blank_business_key(instance: ProcessInstance, needles: list[str]) -> None:
    if any(n.casefold() in instance.business_key.casefold() for n in needles):
        instance.business_key = ""
    instance.subject_key = ""
    instance.save(update_fields=["business_key", "subject_key"])


def _audit_rows(needles: list[str], user: Any, rule: str, now: Any, report: ErasureReport,
                dry_run: bool) -> int:  # fmt: skip
    """Audit rows outside the erased instances that hold the subject: by the
    user, or with the value in their payload or reason."""
    rows = _text(ProcessEvent.objects.exclude(kind=AuditKind.DATA_REMOVED), "payload").filter(
        _holding("payload", needles, cast=True) | _holding("reason", needles)
        | (Q(actor=user) if user is not None else Q(pk__in=[]))
    ).exclude(instance__in=ProcessInstance.objects.filter(held_q()))  # fmt: skip
    ids = set(rows.values_list("pk", flat=True))
    if not ids:
        return 0
    settled = set(rows.filter(audit_removal.settled()).values_list("pk", flat=True))
    if ids - settled:
        report.kept.append({"what": f"{len(ids - settled)} audit row(s)", "again": "yes", "why":
            "not read by mail or webhooks yet: erase again in a minute"})  # fmt: skip
    if dry_run or not settled:
        return len(settled)
    return audit_removal.remove_values(sorted(settled), rule=rule, now=now,
                                       record={"erasure": True})  # fmt: skip


def _elsewhere(needles: list[str], dry_run: bool) -> dict[str, int]:
    """The product's other copies: webhook bodies (pending ones are not sent
    any more), stored API answers, API access lines, buffered messages,
    sweep failures' error texts."""
    from api.models import ApiCall, IdempotentRequest

    deliveries = _text(WebhookDelivery.objects.all(), "body").filter(
        _holding("body", needles, cast=True)
    )  # fmt: skip
    answers = [r.pk for r in IdempotentRequest.objects.only("pk", "body").iterator()
               if any(f.casefold() in bytes(r.body).decode("utf-8", "replace").casefold()
                      for n in needles for f in _forms(n))]  # fmt: skip
    calls = ApiCall.objects.filter(_holding("path", needles))
    messages = _text(BufferedMessage.objects.all(), "payload").filter(
        _holding("payload", needles, cast=True) | _holding("business_key", needles)
    )  # fmt: skip
    failures = SweepFailure.objects.filter(_holding("error", needles))
    counts = {"webhook_deliveries": deliveries.count(), "stored_api_answers": len(answers),
              "api_access_lines": calls.count(), "buffered_messages": messages.count(),
              "sweep_failures": failures.count()}  # fmt: skip
    if dry_run:
        return counts
    marker = {"_removed": {"rule": "erasure", "at": clock.now().isoformat()}}
    deliveries.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).update(
        status=DeliveryStatus.FAILED, last_error="not sent: its body was erased"
    )  # fmt: skip
    WebhookDelivery.objects.filter(pk__in=deliveries.values("pk")).update(body=marker)
    IdempotentRequest.objects.filter(pk__in=answers).delete()
    for call in calls:
        for needle in needles:
            for form in _forms(needle):
                call.path = _replace_folded(call.path, form)
        call.save(update_fields=["path"])
    BufferedMessage.objects.filter(pk__in=messages.values("pk")).delete()
    SweepFailure.objects.filter(pk__in=failures.values("pk")).update(error=ERASED)
    return counts


def _replace_folded(text: str, needle: str) -> str:
    at = text.casefold().find(needle.casefold())
    while at >= 0 and needle:
        text = text[:at] + ERASED + text[at + len(needle) :]
        at = text.casefold().find(needle.casefold(), at + len(ERASED))
    return text


def _pseudonymise(user: Any) -> None:
    """The account stays (decisions point at it), the person goes."""
    model = get_user_model()
    user = model.objects.select_for_update().get(pk=user.pk)
    user.username = f"erased-{user.pk}"
    user.first_name = user.last_name = user.email = ""
    user.attributes = {}
    user.is_active = False
    user.password = make_password(None)
    user.save()
    user.absences.update(note="")
    TaskComment.objects.filter(author=user).update(text="")
    HumanTask.objects.filter(delegate=user).update(delegate_note="")
    from django.contrib.sessions.models import Session

    for session in Session.objects.iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
