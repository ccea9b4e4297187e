"""The inbox's tests run on the demo's people and purchase approval."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from accounts.roles import Role
from orchestration.demo import seed
from orchestration.models import HumanTask
from orchestration.testing import ProcessTest
from tests.orchestration.factories import PURCHASE_SOURCE


@pytest.fixture
def run(db) -> Iterator[ProcessTest]:
    seed.seed_users()
    with ProcessTest() as running:
        running.publish(PURCHASE_SOURCE)
        yield running


def purchase(run: ProcessTest, item: str = "desk", amount: int = 5000, *,
             as_: str = "alice") -> HumanTask:  # fmt: skip
    """Start a purchase that needs a manager; its open approval task."""
    instance = run.start("purchase-approval", {"item": item, "amount": amount}, as_=as_)
    (task,) = run.open_tasks(instance)
    return task


def login(client, username: str) -> User:
    user = User.objects.get(username=username)
    client.force_login(user)
    return user


SELF_REVIEW = """
key: self-review
name: Self review
start: review
steps:
  review:
    type: approval
    title: "Review {{ item }}"
    assignees: {users: [bob], groups: [managers]}
    exclude: [starter]
    due: 1h
    outcomes: {approve: done}
  done: {type: end, result: ok}
"""


def starter_in_the_group(run):
    """bob, a manager, may also start processes; he starts one task he is named
    for and offered through his group, and a purchase offered to managers."""
    bob = User.objects.get(username="bob")
    bob.groups.add(*(Group.objects.get(name=name) for name in (Role.REQUESTER, "requesters")))
    run.publish(SELF_REVIEW.replace("{{ item }}", "bob's desk"))
    named = run.open_tasks(run.start("self-review", {}, as_="bob"))[0]
    offered = purchase(run, "bob's chair", as_="bob")
    run.advance(hours=2)  # the review is overdue
    return named, offered
