"""Allocation without code: which of the people an approval names may take
its task (`assignees.where`, a rule over their attributes), and to which one
of them the task is allocated (`assignees.policy`).

Runs in the runtime, while the transition that opens the task is applied:
the people are the named users, the resolver's and every active member of
the named groups, less those the task excludes (four-eyes) and those away.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Q

from orchestration.engine.evaluation import StepError, truthy
from orchestration.models import AllocationTurn, HumanTask
from orchestration.states import TaskStatus

POLICIES = ("round_robin", "least_open", "random")


@dataclass
class Allocation:
    qualified: list[int]  # user ids, ascending
    chosen: int | None  # the one the task is allocated to (with a policy)
    unreadable: list[str]  # usernames whose attributes the rule could not read


def allocate(
    *, definition: str, step: str, token_key: str, variables: Mapping[str, Any],
    users: Iterable[int], groups: Iterable[int], leave_out: Iterable[int], where: str,
    policy: str,
) -> Allocation:  # fmt: skip
    """The people who qualify and, with a policy, the one who gets the task."""
    pool = set(users) | _members(groups)
    pool -= set(leave_out)
    people = _people(pool)
    qualified, unreadable = [], []
    for pk, person in sorted(people.items()):
        if not where:
            qualified.append(pk)
            continue
        try:
            if truthy(where, {**variables, "user": person}):
                qualified.append(pk)
        except StepError:
            # An attribute the person lacks: they do not qualify (said in the audit).
            unreadable.append(person["username"])
    chosen = None
    if policy and qualified:
        if policy == "round_robin":
            chosen = _in_turn(definition, step, qualified)
        elif policy == "least_open":
            chosen = _least_open(qualified)
        else:
            chosen = _drawn(token_key, qualified)
    return Allocation(qualified, chosen, unreadable)


def _members(groups: Iterable[int]) -> set[int]:
    ids = list(groups)
    if not ids:
        return set()
    through = get_user_model().groups.through
    return set(through.objects.filter(group_id__in=ids).values_list("user_id", flat=True))


def _people(pool: set[int]) -> dict[int, dict[str, Any]]:
    """What a rule sees of each active person: their attributes, `username`
    and `groups` (names)."""
    if not pool:
        return {}
    model = get_user_model()
    rows = model.objects.filter(pk__in=pool, is_active=True).values_list(
        "pk", model.USERNAME_FIELD, "attributes"
    )
    names: dict[int, list[str]] = {}
    memberships = model.groups.through.objects.filter(user_id__in=pool).values_list(
        "user_id", "group_id"
    )
    group_names = dict(Group.objects.values_list("pk", "name"))
    for user_id, group_id in memberships:
        names.setdefault(user_id, []).append(group_names.get(group_id, ""))
    return {
        pk: {**(attributes or {}), "username": username, "groups": sorted(names.get(pk, []))}
        for pk, username, attributes in rows
    }


def _in_turn(definition: str, step: str, qualified: list[int]) -> int:
    """The next qualified person after the one who got this step's last task
    (in id order, wrapping), under a row lock."""
    AllocationTurn.objects.bulk_create(
        [AllocationTurn(definition=definition, step=step)], ignore_conflicts=True
    )
    turn = AllocationTurn.objects.select_for_update().get(definition=definition, step=step)
    last = turn.last_user_id
    chosen = next((pk for pk in qualified if last is None or pk > last), qualified[0])
    turn.last_user_id = chosen
    turn.save(update_fields=["last_user_id"])
    return chosen


def _least_open(qualified: list[int]) -> int:
    """The qualified person holding the fewest open tasks (ties: the lowest id)."""
    counts = dict(
        HumanTask.objects.filter(status=TaskStatus.OPEN, claimed_by_id__in=qualified)
        .values_list("claimed_by_id")
        .annotate(n=Count("id", filter=Q(status=TaskStatus.OPEN)))
    )
    return min(qualified, key=lambda pk: (counts.get(pk, 0), pk))


def _drawn(token_key: str, qualified: list[int]) -> int:
    """A draw that is uniform over the qualified people yet the same every time
    this task is opened (a replayed transition allocates it alike)."""
    digest = hashlib.sha256(token_key.encode()).digest()
    return qualified[int.from_bytes(digest[:8], "big") % len(qualified)]
