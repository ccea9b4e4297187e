"""Who decides: quorum over distinct people, vetoes, and four-eyes exclusions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from orchestration import services
from orchestration.definitions.errors import DefinitionInvalid
from orchestration.exceptions import InstanceConflict
from orchestration.models import HumanTask, ProcessEvent, TaskVote
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish

pytestmark = pytest.mark.django_db

BOARD = """
key: board
name: Board
start: vote
steps:
  vote:
    type: approval
    assignees: {{groups: [board]}}
    quorum: {quorum}
    outcomes: {{approve: yes, reject: no}}
  yes: {{type: end, result: approved}}
  no: {{type: end, result: rejected}}
"""


@pytest.fixture
def board(roles):
    group = Group.objects.create(name="board")
    members = [make_user(f"m{n}", "board") for n in range(5)]
    make_user("away", "board", is_active=False)  # not eligible: inactive
    return group, members


def run_board(quorum: str):
    publish(BOARD.format(quorum=quorum))
    instance = services.instance_start(key="board", variables={}, actor=None)
    return instance, HumanTask.objects.get(instance=instance)


def vote(task, user, outcome="approve"):
    return services.task_complete(task_id=task.pk, outcome=outcome, data={}, actor=user)


def result(instance):
    instance.refresh_from_db()
    return instance.status, instance.result


def test_all_needs_every_eligible_person(board) -> None:
    _, members = board
    instance, task = run_board("all")
    for member in members[:4]:
        assert vote(task, member).status == "open"
    assert result(instance) == ("waiting", "")
    vote(task, members[4])
    assert result(instance) == ("completed", "approved")
    instance.refresh_from_db()
    assert instance.variables["vote"]["votes"] == {"approve": 5}
    assert TaskVote.objects.filter(task=task).count() == 5


def test_a_count_closes_at_n_and_rejects_once_out_of_reach(board) -> None:
    _, members = board
    instance, task = run_board("3")
    vote(task, members[0], "reject")
    vote(task, members[1], "reject")
    assert result(instance) == ("waiting", "")  # 3 approvals still possible of 5
    vote(task, members[2], "reject")  # now only 2 people left: 3 approvals cannot happen
    assert result(instance) == ("completed", "rejected")
    with pytest.raises(InstanceConflict, match="already completed"):
        vote(task, members[3])


def test_a_percentage_of_the_eligible(board) -> None:
    _, members = board
    instance, task = run_board('"60%"')  # 60 % of 5 eligible: 3
    vote(task, members[0])
    vote(task, members[1])
    assert result(instance) == ("waiting", "")
    vote(task, members[2])
    assert result(instance) == ("completed", "approved")


def test_a_veto_decides_at_once(board) -> None:
    _, members = board
    instance, task = run_board("{required: all, veto: [reject]}")
    vote(task, members[0])
    vote(task, members[1], "reject")
    assert result(instance) == ("completed", "rejected")


def test_votes_count_people_once(board) -> None:
    _, members = board
    instance, task = run_board("2")
    vote(task, members[0])
    with pytest.raises(InstanceConflict, match="m0 already voted approve on task"):
        vote(task, members[0])
    assert result(instance) == ("waiting", "")
    kinds = list(
        ProcessEvent.objects.filter(instance=instance, kind="task.completed").values_list(
            "payload", flat=True
        )
    )
    assert len(kinds) == 1
    assert ProcessEvent.objects.filter(instance=instance).last().payload["notes"][0] == {
        "kind": "task.vote_recorded", "step": "vote", "outcome": "approve", "by": "m0",
        "votes": {"approve": 1},
    }  # fmt: skip


def test_a_quorum_must_know_what_it_counts() -> None:
    with pytest.raises(DefinitionInvalid) as raised:
        publish(BOARD.format(quorum="2").replace("approve: yes", "accept: yes"))
    assert raised.value.messages == [
        "steps.vote.quorum: name the outcome the quorum counts ({required: ..., outcome: ...});"
        " this step has no 'approve' outcome"
    ]


CHAIN = """
key: chain2
name: Two signatures
start: first
steps:
  first: {type: approval, assignees: {groups: [signers]}, outcomes: {approve: second}}
  second:
    type: approval
    assignees: {groups: [signers]}
    exclude: [previous_approvers]
    quorum: 2
    outcomes: {approve: done, reject: done}
  done: {type: end, result: signed}
"""


def test_previous_approvers_may_see_but_not_decide(roles) -> None:
    Group.objects.create(name="signers")
    ann, bob, cat = (make_user(n, "signers") for n in ("ann", "bob", "cat"))
    publish(CHAIN)
    instance = services.instance_start(key="chain2", variables={}, actor=None)
    vote(HumanTask.objects.get(instance=instance, step="first"), ann)
    second = HumanTask.objects.get(instance=instance, step="second")
    with pytest.raises(
        PermissionDenied,
        match=r"^ann decided first earlier in this instance and is excluded from deciding it",
    ):
        vote(second, ann)
    # Eligible for the quorum are bob and cat only; both must approve.
    vote(second, bob)
    instance.refresh_from_db()
    assert instance.status == "waiting"
    vote(second, cat)
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "signed")


def test_a_named_steps_deciders_are_excluded(roles) -> None:
    Group.objects.create(name="signers")
    ann, bob = make_user("ann", "signers"), make_user("bob", "signers")
    publish("""
key: named
name: Named
start: first
steps:
  first: {type: approval, assignees: {groups: [signers]}, outcomes: {approve: third}}
  third:
    type: approval
    assignees: {groups: [signers]}
    exclude: [{step: first}]
    outcomes: {approve: done}
  done: {type: end, result: ok}
""")
    instance = services.instance_start(key="named", variables={}, actor=None)
    vote(HumanTask.objects.get(instance=instance, step="first"), bob)
    third = HumanTask.objects.get(instance=instance, step="third")
    with pytest.raises(PermissionDenied, match="bob decided first earlier in this instance"):
        vote(third, bob)
    vote(third, ann)
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "ok")


@pytest.mark.parametrize(
    ("exclude", "message"),
    [
        ("[{step: nowhere}]", "steps.second.exclude[0].step: unknown step 'nowhere'"),
        ("[{step: done}]", "steps.second.exclude[0].step: 'done' is not an approval step"),
        (
            "[{step: second}]",
            "steps.second.exclude[0].step: a step cannot exclude its own deciders",
        ),
    ],
)
def test_named_exclusions_are_checked_when_saved(exclude, message) -> None:
    with pytest.raises(DefinitionInvalid) as raised:
        publish(CHAIN.replace("exclude: [previous_approvers]", f"exclude: {exclude}"))
    assert message in raised.value.messages
