"""What a person's task lists hold: the inbox's tabs, filters and pages.

Every list starts from the policy module's query (`tasks_decidable_q`,
`tasks_visible_q`), so a tab never shows a task its reader may not act on.
Pages are keyset pages (the sort key and the id of the last row shown), so
page 500 costs what page 1 costs; the number of queries does not grow with the
rows either (rows carry their definition; nothing else is read per row).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from accounts import permissions
from orchestration.models import HumanTask, TaskAssignee, TaskVote

TABS = {
    "mine": "My tasks",
    "group": "Group queue",
    "delegated": "Delegated to me",
    "overdue": "Overdue",
    "done": "Done by me",
}
SORTS = {"due": "Due date", "priority": "Priority", "age": "Oldest first"}
DUE_WINDOWS = {"overdue": "Overdue", "today": "Due today", "week": "Due within 7 days",
               "none": "No due date"}  # fmt: skip
# Sorts tasks without a due date after every dated one.
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class TaskFilter:
    tab: str = "mine"
    definition: str = ""  # a definition key
    due: str = ""  # a DUE_WINDOWS key
    priority: int | None = None  # at least
    search: str = ""  # in the title or the business key
    sort: str = "due"
    snoozed: bool = False  # only the snoozed tasks instead of the others


class BadCursor(ValueError):
    pass


def _tab_q(user: Any, tab: str, now: datetime) -> Q:
    decidable = permissions.tasks_decidable_q(user)
    named = Q(Exists(TaskAssignee.objects.filter(task=OuterRef("pk"), user_id=user.pk)))
    if tab == "mine":
        return decidable & (named | Q(claimed_by_id=user.pk))
    if tab == "group":
        return decidable & Q(claimed_by__isnull=True) & ~named & ~Q(delegate_id=user.pk)
    if tab == "delegated":
        return decidable & Q(delegate_id=user.pk)
    if tab == "overdue":
        return decidable & Q(due_at__lt=now)
    if tab == "done":
        return Q(Exists(TaskVote.objects.filter(task=OuterRef("pk"), voter_id=user.pk)))
    raise ValueError(f"unknown tab {tab!r}")


def _snooze_q(snoozed: bool, now: datetime) -> Q:
    if snoozed:
        return Q(snoozed_until__gt=now)
    return Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now)


def tab_counts(user: Any, *, now: datetime) -> dict[str, int]:
    """How many tasks each tab holds (snoozed ones not counted), one query each."""
    return {
        tab: HumanTask.objects.filter(_tab_q(user, tab, now) & _snooze_q(False, now)).count()
        for tab in TABS
    }


def _filtered(user: Any, f: TaskFilter, now: datetime) -> QuerySet[HumanTask]:
    rows = HumanTask.objects.filter(_tab_q(user, f.tab, now))
    if f.tab != "done":
        rows = rows.filter(_snooze_q(f.snoozed, now))
    if f.definition:
        rows = rows.filter(instance__definition__key=f.definition)
    if f.priority is not None:
        rows = rows.filter(priority__gte=f.priority)
    if f.due == "overdue":
        rows = rows.filter(due_at__lt=now)
    elif f.due == "today":
        rows = rows.filter(due_at__lt=now + timedelta(days=1))
    elif f.due == "week":
        rows = rows.filter(due_at__lt=now + timedelta(days=7))
    elif f.due == "none":
        rows = rows.filter(due_at__isnull=True)
    if f.search:
        rows = rows.filter(
            Q(title__icontains=f.search) | Q(instance__business_key__icontains=f.search)
        )
    return rows


def task_page(
    user: Any, f: TaskFilter, *, now: datetime, after: str = "", size: int = 25
) -> tuple[list[HumanTask], str]:
    """One page of the tab's tasks in the filter's order, and the cursor of the
    next page ("" when this is the last). `after` is a cursor from a previous
    page; BadCursor when it is not one."""
    rows = _filtered(user, f, now).select_related("instance__definition", "claimed_by")
    if f.sort == "priority":
        rows = rows.order_by("-priority", "pk")
        if after:
            value, pk = _read_cursor(after, int)
            rows = rows.filter(Q(priority__lt=value) | Q(priority=value, pk__gt=pk))
    elif f.sort == "age":
        rows = rows.order_by("created_at", "pk")
        if after:
            moment, pk = _read_cursor(after, datetime.fromisoformat)
            rows = rows.filter(Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk))
    else:
        rows = rows.alias(due_key=Coalesce(F("due_at"), Value(_NEVER))).order_by("due_key", "pk")
        if after:
            moment, pk = _read_cursor(after, datetime.fromisoformat)
            rows = rows.filter(Q(due_key__gt=moment) | Q(due_key=moment, pk__gt=pk))
    page = list(rows[: size + 1])
    more = len(page) > size
    page = page[:size]
    return page, (_cursor(page[-1], f.sort) if more and page else "")


def _cursor(task: HumanTask, sort: str) -> str:
    if sort == "priority":
        return f"{task.priority}~{task.pk}"
    moment = task.created_at if sort == "age" else (task.due_at or _NEVER)
    return f"{moment.astimezone(UTC).isoformat()}~{task.pk}"


def _read_cursor(text: str, read: Any) -> tuple[Any, int]:
    value, _, pk = text.rpartition("~")
    try:
        parsed = read(value)
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, int(pk)
    except (ValueError, TypeError, OverflowError):
        raise BadCursor(f"{text[:40]!r} is not a page of this list") from None


def latest_change(user: Any) -> int:
    """A number that grows whenever a task the user may see changes hands or
    closes (the newest audit row about a task): the inbox's cheap "changed
    since" check. Deliberately coarse: a change elsewhere costs one re-render."""
    from orchestration.models import ProcessEvent

    newest = ProcessEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    return int(newest or 0)


def filter_from(params: Mapping[str, Any]) -> TaskFilter:
    """A TaskFilter from cleaned form data (tasks_ui.forms.InboxFilterForm)."""
    return TaskFilter(
        tab=params.get("tab") or "mine",
        definition=params.get("definition") or "",
        due=params.get("due") or "",
        priority=params.get("priority"),
        search=(params.get("q") or "").strip(),
        sort=params.get("sort") or "due",
        snoozed=bool(params.get("snoozed")),
    )
