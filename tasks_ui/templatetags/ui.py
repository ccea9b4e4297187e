"""Small presentation rules shared by the pages: which way an outcome points
(the button's colour) and a priority in words."""

from __future__ import annotations

from django import template

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


@register.filter
def intent(outcome: str) -> str:
    """The button class for an outcome: go, stop, or '' (neutral)."""
    word = outcome.lower()
    return "go" if word in _FORWARD else "stop" if word in _STOP else ""


@register.filter
def priority(value: int) -> str:
    return priority_word(value)
