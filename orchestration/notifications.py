"""Email about tasks, sent after commit from the outbox.

The engine writes a notification as an audit row whose `dispatched_at` is NULL
(in the transaction that decided to notify, so a rollback sends nothing). The
worker's sweep sends pending rows with Django's email framework and stamps
them; a row is claimed with SKIP LOCKED, so one worker sends it. When sending
fails (the SMTP server is down), the rows stay pending and the next sweep tries
again: nothing is lost and nothing is sent inside a request.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils.html import format_html_join

from orchestration import clock
from orchestration.audit import AuditKind
from orchestration.models import ProcessEvent

log = logging.getLogger(__name__)

SUBJECTS = {
    "assigned": "New task: {title}",
    "delegated": "Delegated to you: {title}",
    "remind": "Reminder: {title}",
    "escalation": "Escalated to you: {title}",
    "notify": "For your information: {title}",
}


def send_pending(*, limit: int = 50) -> int:
    """Send up to `limit` pending notifications; return how many were sent."""
    with transaction.atomic():
        rows = list(
            ProcessEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(kind=AuditKind.NOTIFICATION, dispatched_at__isnull=True)
            .select_related("instance", "definition")
            .order_by("id")[:limit]
        )
        if not rows:
            return 0
        addresses = _addresses(rows)
        messages = [message for row in rows if (message := _message(row, addresses)) is not None]
        try:
            get_connection().send_messages(messages)
        except OSError:  # smtplib's errors are OSErrors: leave them pending
            log.exception("sending %d notifications failed; they stay queued", len(messages))
            return 0
        ProcessEvent.objects.filter(pk__in=[row.pk for row in rows]).update(
            dispatched_at=clock.now()
        )
    return len(rows)


def _addresses(rows: list[ProcessEvent]) -> dict[tuple[str, int], set[str]]:
    """The email addresses of every user and group the rows name, in two
    queries for the whole batch; people who are away are left out."""
    from django.contrib.auth.models import Group

    from accounts.absences import away

    absent = set(away(clock.now()))
    user_ids = {u for row in rows for u in row.payload.get("users") or []}
    group_ids = {g for row in rows for g in row.payload.get("groups") or []}
    people = get_user_model().objects.filter(is_active=True).exclude(pk__in=absent)
    out: dict[tuple[str, int], set[str]] = {}
    for pk, email in people.filter(pk__in=user_ids).values_list("pk", "email"):
        out[("user", pk)] = {email} if email else set()
    members = Group.objects.filter(pk__in=group_ids).values_list("pk", "user__email")
    allowed = set(people.filter(groups__in=group_ids).values_list("email", flat=True))
    for pk, email in members:
        out.setdefault(("group", pk), set())
        if email and email in allowed:
            out[("group", pk)].add(email)
    return out


def _message(row: ProcessEvent, addresses: dict[tuple[str, int], set[str]]) -> EmailMessage | None:
    payload = row.payload
    found: set[str] = set()
    for user in payload.get("users") or []:
        found |= addresses.get(("user", user), set())
    for group in payload.get("groups") or []:
        found |= addresses.get(("group", group), set())
    to = sorted(found)
    if not to:
        return None  # nobody with an address: recorded, nothing to send
    title = payload.get("title", "")
    subject = SUBJECTS.get(payload.get("reason", ""), "{title}").format(title=title)
    definition = row.definition.key if row.definition else ""
    lines = [
        title,
        f"Process: {definition}, instance {row.instance_id}, step {row.step}.",
        payload.get("message") or "",
        "Open your task list to decide it.",
    ]
    lines = [line for line in lines if line]
    message = EmailMultiAlternatives(subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, to)
    # The HTML part says the same; every value is escaped.
    message.attach_alternative(format_html_join("", "<p>{}</p>", ((line,) for line in lines)),
                               "text/html")  # fmt: skip
    return message
