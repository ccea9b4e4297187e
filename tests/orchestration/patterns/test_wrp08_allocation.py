"""Allocation without code (resource patterns): capability rules over the
attributes people carry (WRP-8), and allocating a group's task to one of its
members (WRP-14) in turn (WRP-16), to the least loaded (WRP-17) or at random
(WRP-15). Four-eyes and absences still apply."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.models import Absence, User
from orchestration.models import HumanTask, ProcessEvent
from tests.conftest import make_user
from tests.orchestration.patterns.conftest import refused

pytestmark = pytest.mark.django_db

SPEND = """
key: spend
name: Spend
variables:
  amount: {type: number, required: true}
  region: {type: string, default: emea}
start: approve
steps:
  approve:
    type: approval
    title: "Spend {{ amount }}"
    assignees:
      groups: [buyers]
      %(rule)s
    exclude: [starter]
    outcomes: {approve: done}
  done: {type: end, result: ok}
"""


def spend(rule: str) -> str:
    return SPEND % {"rule": rule}


@pytest.fixture
def buyers(process):
    """ann (limit 1,000, emea), ben (limit 10,000, emea, skills it), cat
    (limit 50,000, apac); all buyers. dan is a buyer who starts instances."""
    people = {
        "ann": {"approval_limit": 1000, "region": "emea"},
        "ben": {"approval_limit": 10000, "region": "emea", "skills": ["it"]},
        "cat": {"approval_limit": 50000, "region": "apac"},
    }
    for name, attributes in people.items():
        user = make_user(name, "buyers", "approver")
        user.attributes = attributes
        user.save()
    make_user("dan", "buyers", "requester")
    return process


def holders(instance) -> tuple[list[str], str | None]:
    (task,) = HumanTask.objects.filter(instance=instance)
    named = User.objects.filter(pk__in=task.candidate_users)
    users = sorted(named.values_list("username", flat=True))
    return users, task.claimed_by.username if task.claimed_by else None


def test_wrp8_capability_based_allocation_by_approval_limit_and_region(buyers) -> None:
    buyers.publish(spend('where: "user.approval_limit >= amount and user.region == region"'))
    small = buyers.start("spend", {"amount": 800})
    assert holders(small) == (["ann", "ben"], None)  # offered to both, taken by neither
    large = buyers.start("spend", {"amount": 5000})
    assert holders(large) == (["ben"], None)
    asia = buyers.start("spend", {"amount": 5000, "region": "apac"})
    assert holders(asia) == (["cat"], None)
    # ann may not decide what she does not qualify for, whatever her group.
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        buyers.decide(HumanTask.objects.get(instance=large), "approve", as_="ann")


def test_wrp8_a_person_without_the_attribute_does_not_qualify_and_it_is_said(buyers) -> None:
    buyers.publish(spend("where: \"'it' in user.skills\""))
    instance = buyers.start("spend", {"amount": 10})
    assert holders(instance) == (["ben"], None)
    (row,) = ProcessEvent.objects.filter(instance=instance, kind="task.allocated")
    assert row.payload["qualified"] == 1 and row.payload["unreadable"] == ["ann", "cat", "dan"]


def test_nobody_qualifying_strands_the_task_and_says_why(buyers) -> None:
    buyers.publish(spend('where: "user.approval_limit >= amount"'))
    instance = buyers.start("spend", {"amount": 1_000_000})
    assert holders(instance) == ([], None)
    (row,) = ProcessEvent.objects.filter(instance=instance, kind="task.stranded")
    assert row.payload["why"] == "nobody qualifies under its assignees' where rule"
    assert [pk for pk, _ in buyers.stranded()] == [HumanTask.objects.get(instance=instance).pk]


def test_wrp14_wrp16_round_robin_allocates_each_task_to_the_next_member(buyers) -> None:
    buyers.publish(spend("policy: round_robin"))
    dan = "dan"
    taken = [holders(buyers.start("spend", {"amount": 10}, as_=dan))[1] for _ in range(5)]
    # In turn among the buyers who may decide (dan started them: four-eyes).
    assert taken == ["ann", "ben", "cat", "ann", "ben"]
    (task, *_) = HumanTask.objects.order_by("pk")
    assert (task.candidate_users, task.candidate_groups) == ([task.claimed_by_id], [])


def test_wrp17_shortest_queue_allocates_to_the_least_loaded(buyers) -> None:
    buyers.publish(spend("policy: least_open"))
    first = [holders(buyers.start("spend", {"amount": 10}, as_="dan"))[1] for _ in range(3)]
    assert first == ["ann", "ben", "cat"]  # equal queues: the first by id
    ann_task = HumanTask.objects.filter(claimed_by__username="ann").get()
    buyers.decide(ann_task, "approve", as_="ann")  # ann's queue is empty again
    assert holders(buyers.start("spend", {"amount": 10}, as_="dan"))[1] == "ann"


def test_wrp15_random_allocation_spreads_over_everyone_who_qualifies(buyers) -> None:
    buyers.publish(spend("policy: random\n      where: \"user.region == 'emea'\""))
    taken = {holders(buyers.start("spend", {"amount": 10}, as_="dan"))[1] for _ in range(40)}
    assert taken == {"ann", "ben"}  # never cat (apac), never dan (four-eyes)


def test_allocation_passes_over_people_who_are_away(buyers) -> None:
    buyers.publish(spend("policy: round_robin"))
    ann = User.objects.get(username="ann")
    Absence.objects.create(user=ann, starts_at=buyers.now - timedelta(days=1),
                           ends_at=buyers.now + timedelta(days=1))  # fmt: skip
    taken = [holders(buyers.start("spend", {"amount": 10}, as_="dan"))[1] for _ in range(3)]
    assert taken == ["ben", "cat", "ben"]


def test_allocation_rules_are_validated(buyers) -> None:
    assert any(m.startswith("steps.approve.assignees.where:")
               for m in refused(spend('where: "user.limit >="')))  # fmt: skip
    assert any(m.startswith("steps.approve.assignees.policy: must be one of")
               for m in refused(spend("policy: fastest")))  # fmt: skip
    nobody = SPEND.replace("      groups: [buyers]\n", "") % {"rule": "policy: random"}
    assert "steps.approve.assignees.policy: needs users, groups or a resolver to choose from" in (
        refused(nobody)
    )
    escalation = spend("policy: random").replace(
        "    outcomes:",
        "    escalation:\n      - {after: 1d, action: add, to: {groups: [buyers],"
        " policy: random}}\n    outcomes:",
    )
    assert "steps.approve.escalation[0].to.policy: applies to an approval's assignees only" in (
        refused(escalation)
    )
    assert "steps.approve.assignees.where: unknown variable 'amout'" in refused(
        spend('where: "user.approval_limit >= amout"')
    )
