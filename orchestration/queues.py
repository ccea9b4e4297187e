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

from django.db import connections
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts import permissions
from orchestration.models import HumanTask, TaskVote

TABS = {
    "mine": _("My tasks"),
    "group": _("Group queue"),
    "delegated": _("Delegated to me"),
    "overdue": _("Overdue"),
    "done": _("Done by me"),
}
SORTS = {"due": _("Due date"), "priority": _("Priority"), "age": _("Oldest first")}
DUE_WINDOWS = {"overdue": _("Overdue"), "today": _("Due today"), "week": _("Due within 7 days"),
               "none": _("No due date")}  # fmt: skip
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


def _named(user: Any) -> Q:
    """Tasks that name the user as a candidate (not through a group)."""
    return Q(candidate_users__overlaps=[user.pk])


def _mine(user: Any) -> Q:
    """The open tasks assigned to the user by name or claimed by them: few,
    whatever their groups' backlog."""
    return Q(status="open") & (_named(user) | Q(claimed_by_id=user.pk))


def _tab_q(user: Any, tab: str, now: datetime) -> Q:
    """Each tab is the policy's query (what the user may decide) narrowed: to
    their named or claimed tasks, the offered ones nobody holds, their
    delegations, or the overdue ones."""
    if tab == "done":
        return Q(pk__in=TaskVote.objects.filter(voter_id=user.pk).values("task_id"))
    policy = permissions.tasks_decidable_q(user)
    if tab == "mine":
        return _mine(user) & policy & ~Q(delegate_id=user.pk)
    if tab == "group":
        return policy & Q(claimed_by__isnull=True) & ~_named(user) & ~Q(delegate_id=user.pk)
    if tab == "delegated":
        return Q(delegate_id=user.pk, status="open") & policy
    if tab == "overdue":
        return Q(status="open", due_at__lt=now) & policy
    raise ValueError(f"unknown tab {tab!r}")


# What the API's task list offers (GET /api/v1/tasks?view=...).
VIEWS = {"mine": "claimed by, named for or delegated to me", "offered": "claimable by me",
         "all": "every task I may see"}  # fmt: skip


def view_q(user: Any, view: str, now: datetime) -> Q:
    """The API's task lists, from the same rules as the inbox's tabs."""
    if view == "mine":
        held = _mine(user) | Q(delegate_id=user.pk, status="open")
        return held & permissions.tasks_decidable_q(user)
    if view == "offered":
        return _tab_q(user, "group", now)
    if view == "all":
        return permissions.tasks_visible_q(user)
    raise ValueError(f"unknown view {view!r}")


def _snooze_q(snoozed: bool, now: datetime) -> Q:
    if snoozed:
        return Q(snoozed_until__gt=now)
    return Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now)


# Tab counts stop here ("99+"): counting costs what the first COUNT_CAP rows
# cost, whatever a group's backlog, and nobody reads 4,812 as different from 99+.
COUNT_CAP = 100


def tab_counts(user: Any, *, now: datetime) -> dict[str, int]:
    """How many tasks each tab holds (snoozed ones not counted), up to
    COUNT_CAP, in one statement: each tab's query is a scalar subquery."""
    parts: list[str] = []
    params: list[Any] = []
    for tab in TABS:
        counted = _tab_q(user, tab, now) & _snooze_q(False, now)
        rows = HumanTask.objects.filter(counted).order_by().values("pk")[:COUNT_CAP]
        sql, more = rows.query.get_compiler(using=rows.db).as_sql()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS {tab}_rows)")  # noqa: S608 - compiled by the ORM; values are parameters
        params.extend(more)
    with connections[HumanTask.objects.db].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        counts = cursor.fetchone()
    return {tab: int(count) for tab, count in zip(TABS, counts, strict=True)}


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
        rows = rows.order_by("-priority", "pk")  # the order of index task_open_priority
        if after:
            value, pk = _read_cursor(after, int)
            rows = rows.filter(Q(priority__lt=value) | Q(priority=value, pk__gt=pk))
    elif f.sort == "age":
        rows = rows.order_by("created_at", "pk")  # the order of index task_open_age
        if after:
            moment, pk = _read_cursor(after, datetime.fromisoformat)
            rows = rows.filter(Q(created_at__gt=moment) | Q(created_at=moment, pk__gt=pk))
    else:
        # The order of the open-tasks due index (due_at, NULLs last): a page can
        # be read by walking it, instead of sorting every task the user may see.
        rows = rows.order_by(F("due_at").asc(nulls_last=True), "pk")
        if after:
            moment, pk = _read_cursor(after, _due_or_never)
            if moment == _NEVER:
                rows = rows.filter(due_at__isnull=True, pk__gt=pk)
            else:
                rows = rows.filter(
                    Q(due_at__gt=moment) | Q(due_at=moment, pk__gt=pk) | Q(due_at__isnull=True)
                )
    page = list(rows[: size + 1])
    more = len(page) > size
    page = page[:size]
    return page, (_cursor(page[-1], f.sort) if more and page else "")


def _cursor(task: HumanTask, sort: str) -> str:
    if sort == "priority":
        return f"{task.priority}~{task.pk}"
    moment = task.created_at if sort == "age" else (task.due_at or _NEVER)
    return f"{moment.astimezone(UTC).isoformat()}~{task.pk}"


def _due_or_never(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _read_cursor(text: str, read: Any) -> tuple[Any, int]:
    value, _, pk = text.rpartition("~")
    try:
        parsed = read(value)
        if isinstance(parsed, datetime) and parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, int(pk)
    except (ValueError, TypeError, OverflowError):
        raise BadCursor(f"{text[:40]!r} is not a page of this list") from None


def latest_change() -> int:
    """A number that grows whenever anything changes (the newest audit row's
    id): the inbox's cheap "changed since" check, one index read. Deliberately
    coarse: a change elsewhere costs one re-render of the list."""
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
