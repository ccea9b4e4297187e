"""The users and groups a task names as its candidates (HumanTask.candidate_users
and candidate_groups) cannot silently vanish: deleting one that an open task
still names is refused, naming the tasks (reassign or cancel them first); once
its tasks are closed, its id leaves their lists with it.

The lists are columns, not rows with foreign keys, so this module is what a
foreign key's on_delete used to be: signal handlers connected in apps.py, and
`open_tasks_naming` for the admin's delete confirmation page.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import ProtectedError, Q

from orchestration.models import HumanTask
from orchestration.states import TaskStatus

_CHUNK = 500


def _naming(model: type[Any], ids: list[int]) -> Q:
    field = "candidate_groups" if issubclass(model, Group) else "candidate_users"
    return Q(**{f"{field}__overlaps": ids})


def open_tasks_naming(model: type[Any], ids: list[int], using: str = "default") -> list[HumanTask]:
    """Open tasks that name one of these users (or groups) as a candidate."""
    rows = HumanTask.objects.using(using).filter(_naming(model, ids), status=TaskStatus.OPEN)
    return list(rows.order_by("pk"))


def refuse_deleting_candidates(sender: type[Any], instance: Any, using: str, **_: Any) -> None:
    """pre_delete: a candidate of an open task stays (ProtectedError names the tasks)."""
    tasks = open_tasks_naming(sender, [instance.pk], using)
    if tasks:
        who = "group" if issubclass(sender, Group) else "user"
        raise ProtectedError(
            f"this {who} may still decide open tasks "
            + ", ".join(f"#{t.pk}" for t in tasks)
            + ": reassign or cancel them first",
            set(tasks),
        )


def forget_deleted_candidate(sender: type[Any], instance: Any, using: str, **_: Any) -> None:
    """post_delete: the id leaves the lists of the (closed) tasks that named it."""
    field = "candidate_groups" if issubclass(sender, Group) else "candidate_users"
    rows = HumanTask.objects.using(using).filter(_naming(sender, [instance.pk]))
    while batch := list(rows.only("pk", field)[:_CHUNK]):
        for task in batch:
            setattr(task, field, [i for i in getattr(task, field) if i != instance.pk])
        HumanTask.objects.using(using).bulk_update(batch, [field])


def connect() -> None:
    from django.db.models.signals import post_delete, pre_delete

    for model in (get_user_model(), Group):
        pre_delete.connect(refuse_deleting_candidates, sender=model,
                           dispatch_uid=f"candidates-protect-{model}")  # fmt: skip
        post_delete.connect(forget_deleted_candidate, sender=model,
                            dispatch_uid=f"candidates-forget-{model}")  # fmt: skip


def names_of(tasks: list[HumanTask]) -> dict[int, tuple[list[str], list[str]]]:
    """Each task's candidates by name: (usernames, group names), in the order
    the task lists them (two queries for any number of tasks; a deleted id
    is not listed)."""
    user_ids = {u for t in tasks for u in t.candidate_users}
    group_ids = {g for t in tasks for g in t.candidate_groups}
    users = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    groups = dict(Group.objects.filter(pk__in=group_ids).values_list("pk", "name"))
    return {
        t.pk: (
            [users[u] for u in t.candidate_users if u in users],
            [groups[g] for g in t.candidate_groups if g in groups],
        )
        for t in tasks
    }
