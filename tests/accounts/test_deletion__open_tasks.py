"""A user or group who may still decide open tasks cannot silently vanish."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import ProtectedError
from django.urls import reverse

from accounts.models import User
from orchestration import services
from orchestration.models import HumanTask
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
    vera = User.objects.get(username="vera")
    # Refused while deleting (pre_delete): the deleting transaction is rolled
    # back, here to a savepoint.
    with pytest.raises(ProtectedError) as raised, transaction.atomic():
        vera.delete()
    assert raised.value.protected_objects == {task}
    assert f"#{task.pk}" in str(raised.value)
    with pytest.raises(ProtectedError) as raised, transaction.atomic():
        Group.objects.filter(name="buyers").delete()  # a queryset's delete too
    assert raised.value.protected_objects == {task}
    task.refresh_from_db()
    assert User.objects.filter(username="vera").exists()
    assert Group.objects.filter(name="buyers").exists()
    assert (task.candidate_users, len(task.candidate_groups)) == ([vera.pk], 1)


def test_once_the_task_is_closed_the_assignment_goes_with_the_user(task) -> None:
    other = publish_second_task()
    services.instance_cancel(instance_id=task.instance_id, actor=None)
    vera = User.objects.get(username="vera")
    kept = User.objects.get(username="walt")
    vera.delete()
    Group.objects.get(name="buyers").delete()
    task.refresh_from_db()
    other.refresh_from_db()
    assert (task.candidate_users, task.candidate_groups) == ([], [])
    # Another closed task's other candidate stays.
    assert other.candidate_users == [kept.pk]


def publish_second_task() -> HumanTask:
    make_user("walt")
    publish(ASK.replace("ask", "ask2").replace("[vera]", "[vera, walt]"))
    instance = services.instance_start(key="ask2", variables={}, actor=None)
    task = HumanTask.objects.get(instance_id=instance.pk)
    services.instance_cancel(instance_id=instance.pk, actor=None)
    return task


def test_the_admin_shows_the_open_task_instead_of_deleting(client, task) -> None:
    admin = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    vera = User.objects.get(username="vera")
    buyers = Group.objects.get(name="buyers")
    for url in (reverse("admin:accounts_user_delete", args=[vera.pk]),
                reverse("admin:auth_group_delete", args=[buyers.pk])):  # fmt: skip
        page = client.get(url)
        assert page.status_code == 200
        text = page.content.decode()
        assert "would require deleting the following protected related objects" in text
        assert f"task #{task.pk}" in text
        client.post(url, {"post": "yes"})
    assert User.objects.filter(pk=vera.pk).exists()
    assert Group.objects.filter(pk=buyers.pk).exists()
