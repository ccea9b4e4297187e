"""Out of office: tasks for someone away go to whoever decides for them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from accounts.absences import resolve
from accounts.models import Absence
from accounts.selectors import absent_at
from orchestration import selectors, services
from orchestration.models import HumanTask, ProcessEvent
from tests.conftest import make_user
from tests.orchestration.engine.conftest import candidates, publish

pytestmark = pytest.mark.django_db

ASK = """
key: ask
name: Ask
start: ask
steps:
  ask:
    type: approval
    title: Sign it
    assignees: {users: [ann]}
    escalation: [{after: 1d, action: remind}]
    outcomes: {approve: done}
  done: {type: end, result: ok}
"""


@pytest.fixture
def people(roles):
    found = {n: make_user(n, email=f"{n}@example.com") for n in ("ann", "bob", "cy")}
    found["bob"].groups.add(Group.objects.get(name="requester"))  # he may start processes
    Group.objects.create(name="signers")
    return found


def away(user, clock, *, delegate=None, starts=0, days=7):
    start = clock() + timedelta(days=starts)
    return Absence.objects.create(
        user=user, starts_at=start, ends_at=start + timedelta(days=days), delegate=delegate
    )


def routed(instance) -> list[dict]:
    return [
        {k: e.payload[k] for k in ("from", "to", "why")}
        for e in ProcessEvent.objects.filter(instance=instance, kind="task.routed")
    ]


def test_chains_of_delegates_are_followed_and_cycles_found(people, clock) -> None:
    ann, bob, cy = people["ann"], people["bob"], people["cy"]
    away(ann, clock, delegate=bob)
    away(bob, clock, delegate=cy)
    (found,) = resolve([ann.pk, cy.pk], absent_at(clock()))
    assert (found.user, found.to) == (ann.pk, cy.pk)
    Absence.objects.filter(user=bob).update(delegate=ann)
    (found,) = resolve([ann.pk], absent_at(clock()))
    assert found.to is None and found.why == f"delegation cycle {ann.pk} -> {bob.pk} -> {ann.pk}"


def test_a_task_opening_while_its_assignee_is_away_goes_to_the_delegate(
    people, clock, worker
) -> None:
    ann, bob = people["ann"], people["bob"]
    away(ann, clock, delegate=bob)
    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    assert candidates(task) == ["bob"]
    assert routed(instance) == [{"from": ann.pk, "to": bob.pk, "why": f"user {ann.pk} is away"}]
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=bob)
    instance.refresh_from_db()
    assert instance.result == "ok"


def test_open_tasks_route_when_the_absence_starts(people, clock, worker) -> None:
    ann, bob = people["ann"], people["bob"]
    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    away(ann, clock, delegate=bob, starts=1)
    clock.advance(hours=12)
    worker.run_until_idle()
    assert candidates(task) == ["ann"]  # not yet
    clock.advance(hours=13)
    worker.run_until_idle()
    assert candidates(task) == ["bob"]
    assert routed(instance) == [{"from": ann.pk, "to": bob.pk, "why": f"user {ann.pk} is away"}]
    # The reminder that came due meanwhile went to bob only: ann is away.
    reminders = [m.to for m in mail.outbox if m.subject.startswith("Reminder")]
    assert reminders == [["bob@example.com"]]


def test_with_nobody_to_route_to_the_task_stays_and_the_reason_is_recorded(people, clock) -> None:
    ann = people["ann"]
    away(ann, clock)  # no delegate
    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    assert candidates(task) == ["ann"]
    assert routed(instance) == [
        {"from": ann.pk, "to": None, "why": f"user {ann.pk} is away and named no delegate"}
    ]


def test_an_absence_cannot_delegate_to_oneself_or_end_before_it_starts(people, clock) -> None:
    from django.db import IntegrityError, transaction

    ann = people["ann"]
    with pytest.raises(IntegrityError), transaction.atomic():
        away(ann, clock, delegate=ann)
    with pytest.raises(IntegrityError), transaction.atomic():
        away(ann, clock, days=-1)
    assert not Absence.objects.exists()


FOUR_EYES = """
key: four-eyes
name: Four eyes
start: ask
steps:
  ask:
    type: approval
    title: Sign it
    assignees: {users: [ann, cy], groups: [signers]}
    exclude: [starter]
    outcomes: {approve: done}
  done: {type: end, result: ok}
"""


def test_a_task_opening_never_goes_to_a_delegate_it_excludes(people, clock) -> None:
    # Found: ann's delegate bob started the instance; the task went to him
    # (excluded, four-eyes) and nobody named could decide it.
    ann, bob = people["ann"], people["bob"]
    away(ann, clock, delegate=bob)
    publish(FOUR_EYES)
    instance = services.instance_start(key="four-eyes", variables={}, actor=bob)
    task = HumanTask.objects.get(instance=instance)
    assert sorted(candidates(task)) == ["ann", "cy", "signers"]
    assert routed(instance) == [{
        "from": ann.pk, "to": None,
        "why": f"user {ann.pk} is away; delegate {bob.pk} started this instance and may not decide",
    }]  # fmt: skip


def test_open_tasks_are_not_routed_to_a_delegate_they_exclude(people, clock, worker) -> None:
    ann, bob = people["ann"], people["bob"]
    publish(FOUR_EYES)
    theirs = services.instance_start(key="four-eyes", variables={}, actor=bob)
    other = services.instance_start(key="four-eyes", variables={}, actor=None)
    away(ann, clock, delegate=bob, starts=1)
    clock.advance(days=1, seconds=1)
    worker.run_until_idle()
    # bob started one of them: that one stays with ann; the other goes to bob.
    assert sorted(candidates(HumanTask.objects.get(instance=theirs))) == [
        "ann", "cy", "signers",
    ]  # fmt: skip
    assert sorted(candidates(HumanTask.objects.get(instance=other))) == [
        "bob", "cy", "signers",
    ]  # fmt: skip
    assert [r["to"] for r in routed(theirs)] == [None]
    assert [r["to"] for r in routed(other)] == [bob.pk]


def test_a_task_nobody_may_decide_is_found_and_said_out_loud(people, clock) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from orchestration.testing import ProcessTest

    ann, bob, cy = people["ann"], people["bob"], people["cy"]
    publish(FOUR_EYES.replace("{users: [ann, cy], groups: [signers]}", "{users: [bob]}"))
    with ProcessTest(start=clock()) as run:
        assert run.stranded() == []
        instance = services.instance_start(key="four-eyes", variables={}, actor=bob)
        task = HumanTask.objects.get(instance=instance)
        assert run.stranded() == [(task.pk, "nobody may decide it (offered to bob; 1 excluded)")]
    # Not silently: the engine said so when it opened the task.
    (said,) = ProcessEvent.objects.filter(instance=instance, kind="task.stranded")
    assert said.payload == {"why": "every person it is offered to is excluded from deciding it"}
    with pytest.raises(CommandError, match=r"^1 open task\(s\) nobody may decide$"):
        call_command("stranded_tasks", stdout=StringIO())
    # Someone else who may decide it: no longer stranded.
    task.candidate_users = [*task.candidate_users, cy.pk]
    task.save(update_fields=["candidate_users"])
    out = StringIO()
    call_command("stranded_tasks", stdout=out)
    assert out.getvalue().strip() == "every open task has someone who may decide it"
    ann.is_active = False
    ann.save()
    task.candidate_users = [ann.pk]  # inactive people decide nothing either
    task.save(update_fields=["candidate_users"])
    assert len(selectors.stranded_tasks()) == 1


def test_a_group_whose_only_members_are_excluded_strands_its_task(people, clock) -> None:
    bob = people["bob"]
    bob.groups.add(Group.objects.get(name="signers"))
    publish(FOUR_EYES.replace("{users: [ann, cy], groups: [signers]}", "{groups: [signers]}"))
    instance = services.instance_start(key="four-eyes", variables={}, actor=bob)
    task = HumanTask.objects.get(instance=instance)
    assert [(t.pk, why) for t, why in selectors.stranded_tasks()] == [
        (task.pk, "nobody may decide it (offered to signers; 1 excluded)")
    ]
    people["cy"].groups.add(Group.objects.get(name="signers"))
    assert selectors.stranded_tasks() == []
