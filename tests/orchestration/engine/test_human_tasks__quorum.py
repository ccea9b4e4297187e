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


# ---- rules a wrong implementation would also pass with friendlier examples -------------------
OVERLAP = """
key: overlap
name: Overlap
start: vote
steps:
  vote:
    type: approval
    assignees: {users: [both], groups: [legal, finance]}
    quorum: %s
    outcomes: {approve: yes, reject: no}
  yes: {type: end, result: approved}
  no: {type: end, result: rejected}
"""


@pytest.fixture
def overlapping(roles):
    """Three people behind four assignee rows and five memberships: `both` is
    named and in both groups, `lee` is in both groups, `fay` in one."""
    both = make_user("both", "legal", "finance")
    lee = make_user("lee", "legal", "finance")
    fay = make_user("fay", "finance")
    return both, lee, fay


@pytest.mark.parametrize(
    ("quorum", "closes_after"),
    [("all", 3), ("3", 3), ('"100%"', 3), ('"67%"', 3), ('"66%"', 2)],
)
def test_eligibility_counts_people_not_assignee_rows(overlapping, quorum, closes_after) -> None:
    # 67 % of 3 people is 2.01 -> 3 votes; of 4 rows (or 5 memberships) it would differ.
    publish(OVERLAP % quorum)
    instance = services.instance_start(key="overlap", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    for n, person in enumerate(overlapping[:closes_after], start=1):
        vote(task, person)
        expected = ("completed", "approved") if n == closes_after else ("waiting", "")
        assert result(instance) == expected, (quorum, n)


def test_all_rejects_once_a_single_eligible_person_said_no(overlapping) -> None:
    # Counting rows (4) instead of people (3) would leave `all` reachable after one no.
    publish(OVERLAP % "all")
    instance = services.instance_start(key="overlap", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    vote(task, overlapping[0])
    vote(task, overlapping[1], "reject")
    assert result(instance) == ("completed", "rejected")


def test_a_second_vote_with_another_outcome_is_refused_and_changes_nothing(board) -> None:
    _, members = board
    instance, task = run_board("3")
    vote(task, members[0], "approve")
    with pytest.raises(InstanceConflict) as refused:
        vote(task, members[0], "reject")
    assert refused.value.code == "already_voted"
    assert str(refused.value).startswith("m0 already voted approve on task")
    assert list(TaskVote.objects.filter(task=task).values_list("outcome", flat=True)) == ["approve"]
    assert result(instance) == ("waiting", "")


def test_a_veto_decides_at_once_though_the_quorum_is_still_reachable(board) -> None:
    # required 2 of 5: after one reject, four people could still bring two approvals.
    _, members = board
    instance, task = run_board("{required: 2, veto: [reject]}")
    vote(task, members[0], "reject")
    assert result(instance) == ("completed", "rejected")
    instance.refresh_from_db()
    assert instance.variables["vote"]["decided_by"] == "m0"


def test_without_a_veto_one_reject_leaves_a_reachable_quorum_open(board) -> None:
    _, members = board
    instance, task = run_board("2")
    vote(task, members[0], "reject")
    assert result(instance) == ("waiting", "")
    vote(task, members[1])
    vote(task, members[2])
    assert result(instance) == ("completed", "approved")


def test_a_percentage_rounds_up(board) -> None:
    # 50 % of 5 is 2.5: three approvals are needed, not two.
    _, members = board
    instance, task = run_board('"50%"')
    vote(task, members[0])
    vote(task, members[1])
    assert result(instance) == ("waiting", "")
    vote(task, members[2])
    assert result(instance) == ("completed", "approved")


def test_a_percentage_rejects_only_once_out_of_reach(board) -> None:
    # 50 % of 5 needs 3: after two rejects three people are left, still enough.
    _, members = board
    instance, task = run_board('"50%"')
    vote(task, members[0], "reject")
    vote(task, members[1], "reject")
    assert result(instance) == ("waiting", "")
    vote(task, members[2], "reject")
    assert result(instance) == ("completed", "rejected")


def test_a_named_exclusion_leaves_deciders_of_other_steps_eligible(roles) -> None:
    Group.objects.create(name="signers")
    ann, bob, cat = (make_user(n, "signers") for n in ("ann", "bob", "cat"))
    publish("""
key: named2
name: Named two
start: first
steps:
  first: {type: approval, assignees: {groups: [signers]}, outcomes: {approve: second}}
  second: {type: approval, assignees: {groups: [signers]}, outcomes: {approve: third}}
  third:
    type: approval
    assignees: {groups: [signers]}
    exclude: [{step: second}]
    quorum: all
    outcomes: {approve: done, reject: done}
  done: {type: end, result: ok}
""")
    instance = services.instance_start(key="named2", variables={}, actor=None)
    vote(HumanTask.objects.get(instance=instance, step="first"), ann)
    vote(HumanTask.objects.get(instance=instance, step="second"), bob)
    third = HumanTask.objects.get(instance=instance, step="third")
    with pytest.raises(PermissionDenied) as refused:
        vote(third, bob)
    assert "bob decided second earlier in this instance" in str(refused.value)
    # ann decided `first`, which `third` does not exclude: she votes, and `all`
    # counts two people (ann, cat), not three.
    vote(third, ann)
    assert result(instance) == ("waiting", "")
    vote(third, cat)
    assert result(instance) == ("completed", "ok")
