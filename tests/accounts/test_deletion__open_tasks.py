"""A user or group who may still decide open tasks cannot silently vanish."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db.models import ProtectedError
from django.urls import reverse

from orchestration import services
from orchestration.models import HumanTask, TaskAssignee
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish

pytestmark = pytest.mark.django_db

ASK = """
key: ask
name: Ask
start: ask
steps:
  ask: {type: approval, assignees: {users: [vera], groups: [buyers]}, outcomes: {ok: done}}
  done: {type: end, result: ok}
"""


@pytest.fixture
def task(roles) -> HumanTask:
    make_user("vera")
    Group.objects.create(name="buyers")
    publish(ASK)
    services.instance_start(key="ask", variables={}, actor=None)
    return HumanTask.objects.get()


def test_deleting_an_assignee_of_an_open_task_is_refused_naming_the_task(task) -> None:
    vera = task.assignees.get(user__isnull=False).user
    with pytest.raises(ProtectedError) as raised:
        vera.delete()
    assert raised.value.protected_objects == {task}
    with pytest.raises(ProtectedError) as raised:
        Group.objects.get(name="buyers").delete()
    assert raised.value.protected_objects == {task}
    assert TaskAssignee.objects.filter(task=task).count() == 2


def test_once_the_task_is_closed_the_assignment_goes_with_the_user(task) -> None:
    services.instance_cancel(instance_id=task.instance_id, actor=None)
    task.assignees.get(user__isnull=False).user.delete()
    Group.objects.get(name="buyers").delete()
    assert not TaskAssignee.objects.filter(task=task).exists()


def test_the_admin_shows_the_open_task_instead_of_deleting(client, task) -> None:
    admin = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    vera = task.assignees.get(user__isnull=False).user
    page = client.get(reverse("admin:accounts_user_delete", args=[vera.pk]))
    assert page.status_code == 200
    assert "would require deleting the following protected related objects" in (
        page.content.decode()
    )
    client.post(reverse("admin:accounts_user_delete", args=[vera.pk]), {"post": "yes"})
    assert TaskAssignee.objects.filter(user=vera).exists()
