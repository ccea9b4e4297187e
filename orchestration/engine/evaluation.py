"""What the core evaluates from a definition at run time: conditions, input
expressions, templates (task titles, assignees), dates. Every failure is a
StepError, which fails that step of that instance with `EVALUATION`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orchestration.definitions import expressions
from orchestration.engine.calendars import deadline
from orchestration.engine.events import OpenTask


class StepError(Exception):
    """Evaluating the definition failed at run time (an expression, a date)."""


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    try:
        return expressions.evaluate(text, variables)
    except expressions.ExpressionError as exc:
        raise StepError(f"{text!r}: {exc}") from None


def truthy(text: str, variables: Mapping[str, Any]) -> bool:
    return bool(evaluate(text, variables))


def render(template: str, variables: Mapping[str, Any]) -> str:
    try:
        return expressions.render(template, variables)
    except expressions.ExpressionError as exc:
        raise StepError(f"{template!r}: {exc}") from None


def as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise StepError(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise StepError(f"{value!r} has no time zone")
    return parsed


DEFAULT_PRIORITY = 50
# The names a definition may use for priorities, as numbers (0-100).
PRIORITY_NAMES = {"low": 25, "normal": 50, "high": 75, "urgent": 100}


def priority(value: int | str, variables: Mapping[str, Any]) -> int:
    """A step's `priority`: a number, a name, or a template over the case's
    variables that renders to one of them (else StepError)."""
    if isinstance(value, str) and "{{" in value:
        text = render(value, variables).strip()
        if text in PRIORITY_NAMES:
            return PRIORITY_NAMES[text]
        try:
            number = int(text)
        except ValueError:
            number = -1
        if not 0 <= number <= 100:
            raise StepError(
                f"priority {value!r} gave {text[:40]!r}: not 0-100, low, normal, high or urgent"
            )
        return number
    return PRIORITY_NAMES[value] if isinstance(value, str) else int(value)


def open_task(
    token: str, step_id: str, step: Mapping[str, Any], execution: int,
    variables: Mapping[str, Any], now: datetime, calendar: Mapping[str, Any] | None = None,
    entry: int | None = None, shown: Mapping[str, Any] | None = None,
) -> OpenTask:  # fmt: skip
    """The task an approval step opens, its templates rendered against `variables`
    (its due time in working time when the definition has a calendar); its
    title against `shown`, the variables with sensitive values masked."""
    assignees = step["assignees"]
    due = deadline(now, step["due"], calendar) if "due" in step else None
    return OpenTask(
        token=token,
        step=step_id,
        execution=execution,
        title=render(
            step.get("title") or step.get("name") or step_id, variables if shown is None else shown
        ),
        users=[render(u, variables) for u in assignees.get("users") or []],
        groups=[render(g, variables) for g in assignees.get("groups") or []],
        resolver=assignees.get("resolver"),
        exclude=list(step.get("exclude") or []),
        priority=priority(step.get("priority", DEFAULT_PRIORITY), variables),
        due_at=due,
        form=list(step.get("form") or []),
        outcomes=list(step["outcomes"]),
        entry=entry,
        where=assignees.get("where", ""),
        policy=assignees.get("policy", ""),
    )
