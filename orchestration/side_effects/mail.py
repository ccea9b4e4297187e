"""Email about tasks, sent after commit from the outbox.

The engine writes a notification as an audit row (in the transaction that
decided to notify, so a rollback sends nothing). The side sweep reads the
sealed log past the mail cursor (side_effects/cursor.py) and sends what it
finds with Django's email framework; the cursor row is locked, so one sweep
sends at a time, and moving it is the only write. When sending fails (the SMTP
server is down), the cursor stays before the row and the next sweep tries
again: nothing is lost and nothing is sent inside a request.
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import translation
from django.utils.html import format_html_join
from django.utils.translation import gettext, gettext_lazy

from accounts.timezones import local_text
from orchestration import clock, sweeps
from orchestration.audit import AuditKind
from orchestration.audit.chain import unsealed
from orchestration.models import HumanTask, OutboxCursor, ProcessEvent, SweepFailure
from orchestration.safe_text import one_line
from orchestration.side_effects import cursor as outbox
from orchestration.side_effects import decision_links

log = logging.getLogger(__name__)

# In each reader's language (User.language, else LANGUAGE_CODE).
SUBJECTS = {
    "assigned": gettext_lazy("New task: {title}"),
    "delegated": gettext_lazy("Delegated to you: {title}"),
    "remind": gettext_lazy("Reminder: {title}"),
    "escalation": gettext_lazy("Escalated to you: {title}"),
    "notify": gettext_lazy("For your information: {title}"),
    "told": "{title}",  # a notify step's own subject
    "input": gettext_lazy("Your input is asked: {title}"),
}


def send_pending(*, limit: int = 50) -> int:
    """Send up to `limit` notifications; return how many were handled.

    New ones come from the sealed log past the mail cursor (chain order), and
    rows that failed before come back when their backoff is over. Each row
    alone (orchestration/sweeps.py): a row whose mail cannot be made is
    recorded, tried again later and given up after a few attempts, and the
    rows behind it go out; a message the server refuses for good (a 5xx,
    refused recipients) is noted and not tried again. A server that is down
    (any other OSError) leaves the cursor before the row it failed on."""
    now = clock.now()
    with transaction.atomic():
        position = outbox.locked(MAIL)
        if position is None:  # another sweep is sending
            return 0
        again = list(
            SweepFailure.objects.filter(sweep=MAIL, given_up=False, retry_at__lte=now)
            .order_by("row_id")
            .values_list("row_id", flat=True)[:limit]
        )
        entries = outbox.read(position, READ_BATCH)
        found, room = _notifications(entries), limit - len(again)
        new = found[:room]
        if len(found) > len(new):  # the rest waits for the next sweep
            entries = entries[: entries.index(new[-1]) + 1] if new else []
        pending = (
            ProcessEvent.objects.filter(pk__in=[*again, *(e.row_id for e in new)])
            .select_related("instance", "definition")
            .in_bulk()
        )
        rows = [pending[pk] for pk in [*again, *(e.row_id for e in new)] if pk in pending]
        addresses = _addresses(rows)
        tasks = {
            t.pk: t
            for t in HumanTask.objects.filter(
                pk__in=[row.payload.get("task") for row in rows if row.payload.get("task")]
            ).prefetch_related("exclusions")
        }
        connection = get_connection()
        tried: list[int] = []

        def send(row: ProcessEvent) -> None:
            tried.append(row.pk)
            for message in _messages(row, addresses, tasks):
                try:
                    connection.send_messages([message])
                except smtplib.SMTPException as exc:  # an OSError: the server's, unless...
                    if not _refused(exc):
                        raise
                    # This recipient will not take it, now or later: noted for
                    # operators, and the row's other messages still go out.
                    sweeps.give_up(MAIL, row.pk, exc, now)

        try:
            with connection:
                sweeps.each(MAIL, rows, send, row_id=lambda row: row.pk, now=now, passes=(OSError,))
        except OSError:
            # The server's trouble, not the row's: the row it failed on and those
            # behind it stay where they are (a retried row keeps its backoff).
            failed = tried.pop() if tried else None
            log.exception("the mail server failed at row %s; the rest stays queued", failed)
            at = [i for i, e in enumerate(entries) if e.row_id == failed]
            entries = entries[: at[0]] if at else []
        if entries:
            outbox.advance(position, entries[-1])
    return len(tried)


def waiting() -> QuerySet[ProcessEvent]:
    """The notifications not sent yet: not sealed yet, past the mail cursor, or
    failed and to be tried again (operators, tests). Read it again to see it change."""
    position = OutboxCursor.objects.filter(name=MAIL).first() or OutboxCursor(position=1)
    after = [e.row_id for e in outbox.read(position, 100_000)]
    retrying = SweepFailure.objects.filter(sweep=MAIL, given_up=False).values("row_id")
    return ProcessEvent.objects.filter(
        kind=AuditKind.NOTIFICATION, dispatched_at__isnull=True
    ).filter(Q(pk__in=after) | unsealed() | Q(pk__in=retrying))


READ_BATCH = 2000  # audit entries looked at per sweep, for the notifications among them


def _notifications(entries: list[outbox.Entry]) -> list[outbox.Entry]:
    """The entries that are notifications to send, in chain order (rows stamped
    by the outbox of an earlier release were sent then)."""
    if not entries:
        return []
    ids = [e.row_id for e in entries]
    found = set(
        ProcessEvent.objects.filter(
            kind=AuditKind.NOTIFICATION, pk__gte=min(ids), pk__lte=max(ids),
            dispatched_at__isnull=True,
        ).values_list("pk", flat=True)
    )  # fmt: skip
    return [e for e in entries if e.row_id in found]


MAIL = "mail"


def _refused(exc: smtplib.SMTPException) -> bool:
    """Refused recipients, or a permanent (5xx) answer to this message: the
    message's fault, not the server's trouble."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600


Recipient = tuple[int, str, str, str]  # user id, email address, time zone, language
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
    named = people.filter(pk__in=user_ids).values_list("pk", "email", "timezone", "language")
    for pk, email, zone, language in named:
        out[("user", pk)] = {(pk, email, zone, language)} if email else set()
    members = people.filter(groups__in=group_ids).values_list(
        "groups", "pk", "email", "timezone", "language"
    )
    for group, pk, email, zone, language in members:
        if group in group_ids and email:
            out.setdefault(("group", group), set()).add((pk, email, zone, language))
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
    definition = row.definition.key if row.definition else ""
    task = tasks.get(payload.get("task") or 0)
    due = task.due_at if task is not None else None

    def subject(language: str) -> str:
        # A title comes from a template over the requester's data: one line in a header.
        with translation.override(language or settings.LANGUAGE_CODE):
            words = str(SUBJECTS.get(payload.get("reason", ""), "{title}"))
        return one_line(words.format(title=title), 250)

    def lines(zone: str, language: str) -> list[str]:
        with translation.override(language or settings.LANGUAGE_CODE):
            out = [
                title,
                gettext("Process: %(definition)s, instance %(id)s, step %(step)s.")
                % {"definition": definition, "id": row.instance_id, "step": row.step},
                gettext("Due: %(due)s.") % {"due": local_text(due, zone)} if due else "",
                payload.get("message") or "",
                gettext("Open your task list to decide it.") if payload.get("task") else "",
            ]
        return [line for line in out if line]

    deciding = payload.get("reason") in DECIDING and task is not None and task.status == "open"
    if not deciding:
        # One message per time zone and language, so that everyone reads the
        # due time in theirs, in their words.
        by_reader: dict[tuple[str, str], list[str]] = {}
        for _, email, zone, language in found:
            by_reader.setdefault((zone if due else "", language), []).append(email)
        return [
            _email(subject(language), lines(zone, language), [], sorted(to))
            for (zone, language), to in sorted(by_reader.items())
        ]
    # One message each: every reader gets links signed for them; people the
    # task excludes (four-eyes) are not asked.
    assert task is not None
    excluded = {e.user_id for e in task.exclusions.all()}
    return [
        _email(subject(language), lines(zone, language), _links(task, user), [email])
        for user, email, zone, language in sorted(found, key=lambda r: r[1])
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
