"""Claim, release, delegate, hand back, reassign: who holds a task, and the record."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from accounts import permissions
from orchestration import services
from orchestration.exceptions import InstanceConflict, InvalidInput
from orchestration.models import HumanTask, ProcessEvent, TaskVote
from tests.conftest import make_user
from tests.orchestration.engine.conftest import candidates, publish

pytestmark = pytest.mark.django_db

OFFERED = """
key: offered
name: Offered
start: ask
steps:
  ask:
    type: approval
    assignees: {groups: [clerks]}
    exclude: [starter]
    outcomes: {approve: done}
  done: {type: end, result: ok}
"""


@pytest.fixture
def desk(roles):
    Group.objects.create(name="clerks")
    people = {name: make_user(name, "clerks") for name in ("ann", "bob", "cy")}
    people["sam"] = make_user("sam", "requester", "clerks")
    people["opal"] = make_user("opal", "operator")
    people["out"] = make_user("out")
    publish(OFFERED)
    instance = services.instance_start(key="offered", variables={}, actor=people["sam"])
    return people, HumanTask.objects.get(instance=instance)


def decidable(user) -> list[int]:
    return list(
        HumanTask.objects.filter(permissions.tasks_decidable_q(user)).values_list("pk", flat=True)
    )


def history(task) -> list[tuple[str, str]]:
    return [
        (e.kind, e.actor.username if e.actor else "")
        for e in ProcessEvent.objects.filter(payload__task=task.pk)
        .exclude(kind="notification")
        .order_by("pk")
    ]


def test_a_claimed_task_leaves_the_other_queues(desk) -> None:
    people, task = desk
    assert task.pk in decidable(people["bob"])
    services.task_claim(task_id=task.pk, actor=people["ann"])
    services.task_claim(task_id=task.pk, actor=people["ann"])  # holding it already: nothing
    assert task.pk in decidable(people["ann"]) and task.pk not in decidable(people["bob"])
    with pytest.raises(PermissionDenied, match=f"^task {task.pk} is claimed by ann$"):
        services.task_claim(task_id=task.pk, actor=people["bob"])
    with pytest.raises(PermissionDenied, match="claimed by ann"):
        services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["bob"])
    services.task_release(task_id=task.pk, actor=people["ann"])
    assert task.pk in decidable(people["bob"])
    assert history(task) == [("task.claimed", "ann"), ("task.claimed", "ann"),
                             ("task.released", "ann")]  # fmt: skip


def test_the_excluded_and_outsiders_cannot_claim(desk) -> None:
    people, task = desk
    with pytest.raises(PermissionDenied, match="sam started this instance and is excluded"):
        services.task_claim(task_id=task.pk, actor=people["sam"])
    with pytest.raises(PermissionDenied, match=f"out is not an assignee of task {task.pk}"):
        services.task_claim(task_id=task.pk, actor=people["out"])


def test_a_delegate_decides_acting_for_the_owner(desk) -> None:
    people, task = desk
    services.task_delegate(
        task_id=task.pk, actor=people["ann"], to=people["out"], note="I am away today"
    )
    task.refresh_from_db()
    assert (task.claimed_by, task.delegate, task.delegate_note) == (
        people["ann"], people["out"], "I am away today",
    )  # fmt: skip
    assert task.pk in decidable(people["out"]) and task.pk not in decidable(people["bob"])
    with pytest.raises(PermissionDenied, match="cannot hand it on"):
        services.task_reassign(task_id=task.pk, actor=people["out"], to=people["cy"])
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["out"])
    (vote,) = TaskVote.objects.filter(task=task)
    assert (vote.voter, vote.on_behalf_of) == (people["out"], people["ann"])
    completed = ProcessEvent.objects.get(kind="task.completed")
    assert completed.payload["acting_for"] == "ann" and completed.actor == people["out"]


def test_a_delegate_hands_back_and_the_owner_decides(desk) -> None:
    people, task = desk
    services.task_delegate(task_id=task.pk, actor=people["ann"], to=people["bob"])
    with pytest.raises(PermissionDenied, match="cy is not the delegate"):
        services.task_hand_back(task_id=task.pk, actor=people["cy"])
    services.task_hand_back(task_id=task.pk, actor=people["bob"])
    task.refresh_from_db()
    assert (task.claimed_by, task.delegate) == (people["ann"], None)
    with pytest.raises(PermissionDenied, match="claimed by ann"):
        services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["bob"])
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["ann"])


def test_work_never_moves_to_someone_excluded(desk) -> None:
    people, task = desk
    with pytest.raises(InvalidInput) as raised:
        services.task_delegate(task_id=task.pk, actor=people["ann"], to=people["sam"])
    assert raised.value.errors == {
        "to": ["sam started this instance and is excluded from deciding it"]
    }
    task.refresh_from_db()
    assert task.delegate is None and task.claimed_by is None


def test_reassign_by_a_candidate_and_by_an_operator(desk) -> None:
    people, task = desk
    services.task_reassign(task_id=task.pk, actor=people["ann"], to=people["bob"])
    assert candidates(task) == ["bob"]
    assert decidable(people["ann"]) == [] and decidable(people["bob"]) == [task.pk]
    with pytest.raises(PermissionDenied, match=f"ann is not an assignee of task {task.pk}"):
        services.task_reassign(task_id=task.pk, actor=people["ann"], to=people["cy"])
    # An operator moves it only to someone the step offers it to: cy is a clerk
    # (though the reassignment left bob alone on it); out and opal are not.
    services.task_reassign(task_id=task.pk, actor=people["opal"], to=people["cy"])
    assert decidable(people["cy"]) == [task.pk]
    assert history(task)[-2:] == [("task.reassigned", "ann"), ("task.reassigned", "opal")]
    for outsider in ("out", "opal"):
        with pytest.raises(InvalidInput) as refused:
            services.task_reassign(task_id=task.pk, actor=people["opal"], to=people[outsider])
        assert refused.value.errors == {"to": [
            f"{outsider} is not a candidate for task {task.pk} (named or in a group its step"
            " offers it to, or escalates it to)"
        ]}  # fmt: skip
    assert decidable(people["opal"]) == [] and decidable(people["out"]) == []


def test_an_operator_cannot_decide_by_moving_work_to_themself(desk) -> None:
    # Found: opal (an operator, no clerk) reassigned a task to herself and decided it.
    people, task = desk
    for move in (services.task_reassign, services.task_delegate):
        with pytest.raises(InvalidInput, match="opal is not a candidate"):
            move(task_id=task.pk, actor=people["opal"], to=people["opal"])
    with pytest.raises(PermissionDenied, match="opal is not an assignee"):
        services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["opal"])
    # A clerk may still hand it to a deputy outside the group, to decide for them.
    services.task_delegate(task_id=task.pk, actor=people["ann"], to=people["out"])
    assert decidable(people["out"]) == [task.pk]


def test_closed_tasks_do_not_move(desk) -> None:
    people, task = desk
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["ann"])
    with pytest.raises(InstanceConflict, match="already completed"):
        services.task_claim(task_id=task.pk, actor=people["bob"])


def test_priority_orders_the_queue_and_snooze_hides_until_follow_up(roles, clock) -> None:
    from datetime import timedelta

    from orchestration import selectors

    Group.objects.create(name="clerks")
    ann = make_user("ann", "clerks")
    for key, priority in (("low", "low"), ("urgent", "urgent"), ("sixty", "60")):
        publish(f"""
key: p-{key}
name: P {key}
start: ask
steps:
  ask: {{type: approval, priority: {priority}, due: 2d, assignees: {{groups: [clerks]}},
        outcomes: {{ok: done}}}}
  done: {{type: end, result: ok}}
""")
        services.instance_start(key=f"p-{key}", variables={}, actor=None)
    queue = selectors.task_queue_for_user(ann, now=clock())
    assert [t.priority for t in queue] == [100, 60, 25]
    urgent = queue[0]
    with pytest.raises(InvalidInput) as raised:
        services.task_snooze(task_id=urgent.pk, actor=ann, until=clock() + timedelta(days=3))
    assert raised.value.errors == {
        "until": [f"after the task's due time ({urgent.due_at.isoformat()})"]
    }
    services.task_snooze(task_id=urgent.pk, actor=ann, until=clock() + timedelta(days=1))
    assert [t.priority for t in selectors.task_queue_for_user(ann, now=clock())] == [60, 25]
    later = clock() + timedelta(days=1)
    assert [t.priority for t in selectors.task_queue_for_user(ann, now=later)] == [100, 60, 25]


def test_priorities_outside_the_range_are_refused() -> None:
    from orchestration.definitions.errors import DefinitionInvalid

    with pytest.raises(DefinitionInvalid) as raised:
        publish(OFFERED.replace("exclude: [starter]", "priority: 101"))
    assert raised.value.messages == [
        "steps.ask.priority: 101 is not a priority (0-100, low, normal, high, urgent, or a"
        " template such as '{{ 90 if amount > 10000 else 50 }}')"
    ]


PRICED = """
key: priced
name: Priced
variables:
  amount: {type: number, required: true}
start: ask
steps:
  ask:
    type: approval
    priority: "{{ 'urgent' if amount > 10000 else (40 if amount > 100 else amount) }}"
    assignees: {groups: [clerks]}
    outcomes: {ok: done}
  done: {type: end, result: ok}
"""


def test_a_priority_template_reads_the_case_data(roles) -> None:
    from orchestration.models import HumanTask, ProcessInstance

    Group.objects.create(name="clerks")
    publish(PRICED)
    for amount in (20000, 500, 7):
        services.instance_start(key="priced", variables={"amount": amount}, actor=None)
    assert list(HumanTask.objects.order_by("pk").values_list("priority", flat=True)) == [
        100, 40, 7,
    ]  # fmt: skip
    # Out of range: that instance's step fails with the value named; nothing opens.
    bad = services.instance_start(key="priced", variables={"amount": -3}, actor=None)
    bad = ProcessInstance.objects.get(pk=bad.pk)
    assert bad.status == "failed" and "gave '-3'" in bad.error["message"]
    assert HumanTask.objects.count() == 3


def test_a_priority_template_is_checked_when_saved() -> None:
    from orchestration.definitions.errors import DefinitionInvalid

    with pytest.raises(DefinitionInvalid) as raised:
        publish(PRICED.replace("amount > 10000", "amount >"))
    assert [m.split(":")[0] for m in raised.value.messages] == ["steps.ask.priority"]


def test_a_comment_thread_for_whoever_may_see_the_task(desk) -> None:
    from orchestration.models import TaskComment

    people, task = desk
    services.task_comment(task_id=task.pk, actor=people["ann"], text="Which budget line?")
    services.task_comment(task_id=task.pk, actor=people["sam"], text="  Line 4.  ")
    with pytest.raises(HumanTask.DoesNotExist):  # an outsider does not see it at all
        services.task_comment(task_id=task.pk, actor=people["out"], text="hello")
    with pytest.raises(InvalidInput) as raised:
        services.task_comment(task_id=task.pk, actor=people["ann"], text="   ")
    assert raised.value.errors == {"text": ["required"]}
    thread = [(c.author.username, c.text) for c in TaskComment.objects.filter(task=task)]
    assert thread == [("ann", "Which budget line?"), ("sam", "Line 4.")]
    assert history(task)[-2:] == [("task.commented", "ann"), ("task.commented", "sam")]


QUORUM = """
key: board
name: Board
start: ask
steps:
  ask:
    type: approval
    assignees: {groups: [clerks]}
    quorum: all
    outcomes: {approve: yes, reject: no}
  yes: {type: end, result: approved}
  no: {type: end, result: rejected}
"""


def test_an_operator_pushes_a_task_through_with_a_reason_recorded_as_forced(desk) -> None:
    people, _ = desk
    publish(QUORUM)
    instance = services.instance_start(key="board", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["ann"])
    for actor, error in ((people["ann"], PermissionDenied), (people["out"], PermissionDenied)):
        with pytest.raises(error, match="lacks the operator role"):
            services.task_force_decide(task_id=task.pk, actor=actor, outcome="approve",
                                       reason="stuck")  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        services.task_force_decide(task_id=task.pk, actor=people["opal"], outcome="approve",
                                   reason="  ")  # fmt: skip
    assert refused.value.errors == {"reason": ["required: say why the task is pushed through"]}
    with pytest.raises(InvalidInput, match=r"must be one of (approve, reject|reject, approve)"):
        services.task_force_decide(task_id=task.pk, actor=people["opal"], outcome="maybe",
                                   reason="stuck")  # fmt: skip
    # One of four clerks voted; `all` would wait for the others: forced, it closes now.
    services.task_force_decide(task_id=task.pk, actor=people["opal"], outcome="approve",
                               reason="the board approved it on paper")  # fmt: skip
    task.refresh_from_db()
    instance.refresh_from_db()
    assert (task.status, task.outcome, task.decided_by) == ("completed", "approve", people["opal"])
    assert (instance.status, instance.result) == ("completed", "approved")
    (forced,) = ProcessEvent.objects.filter(instance=instance, kind="task.forced")
    assert forced.actor == people["opal"]
    assert forced.payload["reason"] == "the board approved it on paper"
    assert forced.payload["outcome"] == "approve"
    with pytest.raises(InstanceConflict, match="already completed"):
        services.task_force_decide(task_id=task.pk, actor=people["opal"], outcome="reject",
                                   reason="again")  # fmt: skip
