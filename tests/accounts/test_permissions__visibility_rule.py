"""Task visibility is one rule: the query expressions the selectors use and the
per-object checks the services use agree on every row of a generated data set."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth.models import Group

from accounts import permissions
from orchestration.models import HumanTask, ProcessInstance
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish

pytestmark = pytest.mark.django_db

ONE = """
key: one
name: One
start: done
steps:
  done: {type: end, result: ok}
"""


def test_query_and_per_object_rules_agree_on_every_row(roles) -> None:
    rng = random.Random(20261201)
    groups = [Group.objects.create(name=f"team{n}") for n in range(4)]
    users = []
    for n in range(12):
        user = make_user(f"user{n}", is_active=n != 11)  # one inactive
        user.groups.add(*rng.sample(groups, rng.randint(0, 2)))
        users.append(user)
    users.append(make_user("opal", "operator"))
    version = publish(ONE)
    for n in range(60):
        instance = ProcessInstance.objects.create(
            definition=version.definition, version=version, status="waiting",
            started_by=rng.choice([*users, None]),
        )  # fmt: skip
        task = HumanTask.objects.create(
            instance=instance, step="ask", token="1", execution=1, title=f"t{n}",
            status=rng.choice(["open", "open", "completed", "cancelled"]), outcomes=["ok"],
            claimed_by=rng.choice([None, None, *users]),
            delegate=rng.choice([None, None, None, *users]),
        )  # fmt: skip
        for user in rng.sample(users, rng.randint(0, 2)):  # four-eyes exclusions
            task.exclusions.create(user=user, reason="decided an earlier step")
        task.candidate_users = [u.pk for u in rng.sample(users, rng.randint(0, 2))]
        task.candidate_groups = [g.pk for g in rng.sample(groups, rng.randint(0, 2))]
        if instance.started_by and rng.random() < 0.3:  # starters who are assignees too
            task.candidate_users = list({*task.candidate_users, instance.started_by.pk})
        task.save(update_fields=["candidate_users", "candidate_groups"])
    tasks = list(HumanTask.objects.select_related("instance").prefetch_related("exclusions"))
    checked = {"decide": 0, "see": 0}
    for user in users:
        decidable = set(
            HumanTask.objects.filter(permissions.tasks_decidable_q(user)).values_list(
                "pk", flat=True
            )
        )
        visible = set(
            HumanTask.objects.filter(permissions.tasks_visible_q(user)).values_list("pk", flat=True)
        )
        for task in tasks:
            assert (task.pk in decidable) is permissions.can_decide(user, task), (user, task)
            assert (task.pk in visible) is permissions.can_see_task(user, task), (user, task)
            checked["decide"] += task.pk in decidable
            checked["see"] += task.pk in visible
    # The data set exercises both answers of both rules.
    assert 0 < checked["decide"] < len(users) * len(tasks)
    assert checked["decide"] < checked["see"] < len(users) * len(tasks)
