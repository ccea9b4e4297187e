"""Small presentation rules shared by the pages: which way an outcome points
(the button's colour), an outcome and a priority in the reader's words."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.translation import gettext_lazy

from tasks_ui.task_context import priority_word

register = template.Library()

# Outcomes that move the work forward, and those that stop it (docs/ui.md);
# any other outcome is a neutral button.
_FORWARD = frozenset(
    {
        "approve",
        "approved",
        "accept",
        "yes",
        "ok",
        "confirm",
        "continue",
        "proceed",
        "pass",
        "grant",
        "sign",
        "release",
        "done",
        "complete",
    }
)
_STOP = frozenset({"reject", "rejected", "deny", "decline", "no", "refuse", "cancel", "stop",
                   "abort", "fail", "veto", "block", "withdraw"})  # fmt: skip

# The common outcomes in the reader's language; a definition's own words
# (refer, escalate, ...) are shown as written.
_LABELS = {
    "approve": gettext_lazy("Approve"),
    "reject": gettext_lazy("Reject"),
    "accept": gettext_lazy("Accept"),
    "decline": gettext_lazy("Decline"),
    "confirm": gettext_lazy("Confirm"),
    "refer": gettext_lazy("Refer"),
    "yes": gettext_lazy("Yes"),
    "no": gettext_lazy("No"),
    "ok": gettext_lazy("OK"),
}


@register.filter
def intent(outcome: str) -> str:
    """The button class for an outcome: go, stop, or '' (neutral)."""
    word = outcome.lower()
    return "go" if word in _FORWARD else "stop" if word in _STOP else ""


@register.filter
def outcome_label(outcome: str) -> str:
    known = _LABELS.get(outcome.lower())
    return str(known) if known is not None else outcome[:1].upper() + outcome[1:]


@register.filter
def outcome_labels(outcomes: Iterable[str]) -> str:
    return ", ".join(outcome_label(o) for o in outcomes)


@register.filter
def priority(value: int) -> str:
    return priority_word(value)
