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
import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html_join

from accounts.timezones import local_text
from orchestration import clock, sweeps
from orchestration.audit import AuditKind
from orchestration.models import HumanTask, ProcessEvent
from orchestration.safe_text import one_line
from orchestration.side_effects import decision_links

log = logging.getLogger(__name__)

SUBJECTS = {
    "assigned": "New task: {title}",
    "delegated": "Delegated to you: {title}",
    "remind": "Reminder: {title}",
    "escalation": "Escalated to you: {title}",
    "notify": "For your information: {title}",
}


def send_pending(*, limit: int = 50) -> int:
    """Send up to `limit` pending notifications; return how many were handled.

    Each row alone (orchestration/sweeps.py): a row whose mail cannot be made
    is recorded, tried again later and given up after a few attempts, and the
    rows behind it go out; a message the server refuses for good (a 5xx,
    refused recipients) is noted and not tried again. A server that is down
    (any other OSError) leaves the rest pending for the next sweep."""
    now = clock.now()
    with transaction.atomic():
        pending = ProcessEvent.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            kind=AuditKind.NOTIFICATION, dispatched_at__isnull=True
        )
        rows = list(
            sweeps.skip_held(pending, MAIL, now)
            .select_related("instance", "definition")
            .order_by("id")[:limit]
        )
        if not rows:
            return 0
        addresses = _addresses(rows)
        tasks = {
            t.pk: t
            for t in HumanTask.objects.filter(
                pk__in=[row.payload.get("task") for row in rows if row.payload.get("task")]
            ).prefetch_related("exclusions")
        }
        connection = get_connection()
        done: list[int] = []  # sent, or given up

        def send(row: ProcessEvent) -> None:
            for message in _messages(row, addresses, tasks):
                try:
                    connection.send_messages([message])
                except smtplib.SMTPException as exc:  # an OSError: the server's, unless...
                    if not _refused(exc):
                        raise
                    # This recipient will not take it, now or later: noted for
                    # operators, and the row's other messages still go out.
                    sweeps.give_up(MAIL, row.pk, exc, now)
            done.append(row.pk)

        try:
            with connection:
                sweeps.each(
                    MAIL, rows, send, row_id=lambda row: row.pk, now=now, passes=(OSError,),
                    # Given up: out of the outbox (the failure stays for operators).
                    given_up=lambda row: done.append(row.pk),
                )  # fmt: skip
        except OSError:
            log.exception("the mail server failed; %d notification(s) stay queued",
                          len(rows) - len(done))  # fmt: skip
        if done:
            ProcessEvent.objects.filter(pk__in=done).update(dispatched_at=now)
    return len(done)


MAIL = "mail"


def _refused(exc: smtplib.SMTPException) -> bool:
    """Refused recipients, or a permanent (5xx) answer to this message: the
    message's fault, not the server's trouble."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600


Recipient = tuple[int, str, str]  # user id, email address, time zone
# Reasons whose email asks the reader to decide: they carry decision links.
DECIDING = {"assigned", "remind", "escalation", "delegated"}


def _addresses(rows: list[ProcessEvent]) -> dict[tuple[str, int], set[Recipient]]:
    """Who every user and group the rows name reaches (id, address, zone), in
    three queries for the whole batch; people who are away are left out."""
    from accounts.selectors import absent_at

    absent = set(absent_at(clock.now()))
    user_ids = {u for row in rows for u in row.payload.get("users") or []}
    group_ids = {g for row in rows for g in row.payload.get("groups") or []}
    people = get_user_model().objects.filter(is_active=True).exclude(pk__in=absent)
    out: dict[tuple[str, int], set[Recipient]] = {}
    named = people.filter(pk__in=user_ids).values_list("pk", "email", "timezone")
    for pk, email, zone in named:
        out[("user", pk)] = {(pk, email, zone)} if email else set()
    members = people.filter(groups__in=group_ids).values_list("groups", "pk", "email", "timezone")
    for group, pk, email, zone in members:
        if group in group_ids and email:
            out.setdefault(("group", group), set()).add((pk, email, zone))
    return out


def _messages(
    row: ProcessEvent, addresses: dict[tuple[str, int], set[Recipient]],
    tasks: dict[int, HumanTask],
) -> list[EmailMessage]:  # fmt: skip
    payload = row.payload
    found: set[Recipient] = set()
    for user in payload.get("users") or []:
        found |= addresses.get(("user", user), set())
    for group in payload.get("groups") or []:
        found |= addresses.get(("group", group), set())
    if not found:
        return []  # nobody with an address: recorded, nothing to send
    title = payload.get("title", "")
    # A title comes from a template over the requester's data: one line in a header.
    subject = one_line(SUBJECTS.get(payload.get("reason", ""), "{title}").format(title=title), 250)
    definition = row.definition.key if row.definition else ""
    task = tasks.get(payload.get("task") or 0)
    due = task.due_at if task is not None else None

    def lines(zone: str) -> list[str]:
        out = [
            title,
            f"Process: {definition}, instance {row.instance_id}, step {row.step}.",
            f"Due: {local_text(due, zone)}." if due else "",
            payload.get("message") or "",
            "Open your task list to decide it.",
        ]
        return [line for line in out if line]

    deciding = payload.get("reason") in DECIDING and task is not None and task.status == "open"
    if not deciding:
        # One message per time zone, so that everyone reads the due time in theirs.
        by_zone: dict[str, list[str]] = {}
        for _, email, zone in found:
            by_zone.setdefault(zone if due else "", []).append(email)
        return [
            _email(subject, lines(zone), [], sorted(to)) for zone, to in sorted(by_zone.items())
        ]
    # One message each: every reader gets links signed for them; people the
    # task excludes (four-eyes) are not asked.
    assert task is not None
    excluded = {e.user_id for e in task.exclusions.all()}
    return [
        _email(subject, lines(zone), _links(task, user), [email])
        for user, email, zone in sorted(found, key=lambda r: r[1])
        if user not in excluded
    ]


def _links(task: HumanTask, user: int) -> list[tuple[str, str]]:
    base = settings.ORCHESTRATION_BASE_URL.rstrip("/")
    return [
        (
            outcome,
            base
            + reverse(
                "tasks_ui:decide-from-email", args=[decision_links.make(task, user, outcome)]
            ),
        )
        for outcome in decision_links.outcomes_without_input(task)
    ]


def _email(
    subject: str, lines: list[str], links: list[tuple[str, str]], to: list[str]
) -> EmailMessage:
    text = "\n".join([*lines, *(f"{outcome}: {url}" for outcome, url in links)])
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    # The HTML part says the same; every value is escaped.
    html = format_html_join("", "<p>{}</p>", ((line,) for line in lines)) + format_html_join(
        "", '<p><a href="{}">{}</a></p>', ((url, outcome) for outcome, url in links)
    )
    message.attach_alternative(html, "text/html")
    return message
