"""Decide from email: signed, single-use, expiring links, one per outcome.

A link names a task, a user and an outcome, signed with the site's secret (so
it cannot be altered) and expiring ORCHESTRATION_EMAIL_LINK_HOURS after it was
made, on the engine's clock. Following it shows a confirmation page (a GET
changes nothing); confirming posts the decision through task_complete, the
same service and policy check as every other entry point. A link is used up
once its user has decided the task or the task is closed (selectors.link_spent);
a used, expired, tampered or no longer allowed link gets a page saying so and
changes nothing.
Only outcomes that need no form input get links.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing

from orchestration import clock

if TYPE_CHECKING:
    from orchestration.models import HumanTask

SALT = "orchestration.email-decision"


@dataclass(frozen=True)
class Link:
    task: int
    user: int
    outcome: str


class LinkRefused(Exception):
    """The link cannot be used; the message says why, in words for its reader."""


def hours() -> int:
    return int(settings.ORCHESTRATION_EMAIL_LINK_HOURS)


def make(task: HumanTask, user_id: int, outcome: str, *, now: datetime | None = None) -> str:
    expires = (now or clock.now()) + timedelta(hours=hours())
    payload = {"t": task.pk, "u": user_id, "o": outcome, "e": expires.timestamp()}
    return signing.dumps(payload, salt=SALT)  # four small fields: compressing never wins


def read(token: str, *, now: datetime | None = None) -> Link:
    """The link's content, or LinkRefused (tampered, expired)."""
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise LinkRefused("This link is not valid: it may have been altered.") from None
    if (now or clock.now()).timestamp() > float(payload["e"]):
        raise LinkRefused("This link has expired. Open your task list to decide the task.")
    return Link(int(payload["t"]), int(payload["u"]), str(payload["o"]))


def outcomes_without_input(task: HumanTask) -> list[str]:
    """Outcomes a click can decide: no form field is required for them."""
    needed = {f["name"] for f in task.form if f.get("required")}
    return [
        outcome
        for outcome in task.outcomes
        if not needed and not any(outcome in (f.get("required_for") or []) for f in task.form)
    ]
