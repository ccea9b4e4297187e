"""Who may start a process (`starters`) and who may decide its task (four-eyes)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from orchestration import services
from orchestration.models import HumanTask, ProcessInstance
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish

pytestmark = pytest.mark.django_db

ASK = """
key: ask
name: Ask
{starters}
start: ask
steps:
  ask:
    type: approval
    assignees: {{users: [sam, vera]}}
    exclude: [starter]
    outcomes: {{approve: done}}
  done: {{type: end, result: ok}}
"""


def define(starters: str = "") -> None:
    publish(ASK.format(starters=starters))


def start(user):
    return services.instance_start(key="ask", variables={}, actor=user)


def test_starters_by_user_admit_exactly_the_named_users(roles) -> None:
    define("starters: {users: [sam]}")
    sam = make_user("sam")  # no role at all: being named is enough
    requester = make_user("rita", "requester")  # the role alone is not
    assert start(sam).started_by == sam
    with pytest.raises(PermissionDenied):
        start(requester)
    assert ProcessInstance.objects.count() == 1


def test_starters_by_group_admit_exactly_the_members(roles) -> None:
    define("starters: {groups: [buyers]}")
    member = make_user("bea", "buyers")
    requester = make_user("rita", "requester", "sellers")
    assert start(member).started_by == member
    with pytest.raises(PermissionDenied):
        start(requester)
    assert ProcessInstance.objects.count() == 1


def test_without_starters_the_requester_role_decides(roles) -> None:
    define()
    assert start(make_user("rita", "requester")).status == "waiting"
    with pytest.raises(PermissionDenied):
        start(make_user("bea", "buyers"))


def test_four_eyes_excludes_a_starter_named_directly_as_assignee(roles) -> None:
    define("starters: {users: [sam]}")
    sam, vera = make_user("sam"), make_user("vera")
    instance = start(sam)
    task = HumanTask.objects.get(instance=instance)
    with pytest.raises(PermissionDenied):
        services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=sam)
    task.refresh_from_db()
    assert task.status == "open"
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=vera)
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "ok")
