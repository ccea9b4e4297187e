"""The workflow resource patterns (WRP) the engine supports directly, each run
through the real services: who work is offered or allocated to (creation and
push), how people take it (pull), how it moves on (detour), how it starts
(auto-start) and work that needs several people. Allocation policies and
capabilities are in test_wrp08_allocation.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import User
from orchestration import queues, services
from orchestration.models import HumanTask, StepRun, TaskComment
from orchestration.testing import ProcessTest
from tests.conftest import make_user
from tests.orchestration.engine import handlers as test_handlers

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(roles) -> Iterator[ProcessTest]:
    """ann and ben buy (group buyers); max manages ann; otto operates."""
    test_handlers.reset()
    max_ = make_user("max", "approver")
    make_user("ann", "buyers", "approver", "requester", manager=max_)
    make_user("ben", "buyers", "approver", "requester")
    make_user("otto", "operator")
    with ProcessTest() as running:
        yield running
    test_handlers.reset()


def user(name: str) -> User:
    return User.objects.get(username=name)


def approval(key: str, assignees: str, *, extra: str = "", variables: str = "") -> str:
    return f"""
key: {key}
name: {key}
{variables}
start: ask
steps:
  ask:
    type: approval
    title: "{key}"
    assignees: {assignees}
    {extra}
    outcomes: {{approve: done, reject: done}}
  done: {{type: end, result: ok}}
"""


def offered(instance) -> tuple[list[str], list[str], str | None]:
    from django.contrib.auth.models import Group

    task = HumanTask.objects.get(instance=instance, status="open")
    users = User.objects.filter(pk__in=task.candidate_users).values_list("username", flat=True)
    groups = Group.objects.filter(pk__in=task.candidate_groups).values_list("name", flat=True)
    return sorted(users), sorted(groups), task.claimed_by.username if task.claimed_by else None


def open_task(instance) -> HumanTask:
    return HumanTask.objects.get(instance=instance, status="open")


# ---- creation patterns ------------------------------------------------------------------
def test_wrp1_direct_allocation_names_the_person(run) -> None:
    run.publish(approval("direct", "{users: [ben]}"))
    assert offered(run.start("direct")) == (["ben"], [], None)


def test_wrp2_role_based_allocation_offers_to_a_group(run) -> None:
    run.publish(approval("role", "{groups: [buyers]}"))
    assert offered(run.start("role")) == ([], ["buyers"], None)


def test_wrp3_deferred_allocation_names_the_person_at_run_time(run) -> None:
    variables = "variables: {approver: {type: string, required: true}}"
    run.publish(approval("deferred", '{users: ["{{ approver }}"]}', variables=variables))
    assert offered(run.start("deferred", {"approver": "ann"})) == (["ann"], [], None)
    assert offered(run.start("deferred", {"approver": "ben"})) == (["ben"], [], None)


def test_wrp4_authorization_only_the_offered_may_decide_only_starters_start(run) -> None:
    run.publish(approval("auth", "{users: [ben]}").replace("name: auth",
                "name: auth\nstarters: {users: [ann]}"))  # fmt: skip
    with pytest.raises(PermissionDenied):
        run.start("auth", as_="ben")
    instance = run.start("auth", as_="ann")
    with pytest.raises(PermissionDenied):
        run.decide(open_task(instance), "approve", as_="ann")
    run.decide(open_task(instance), "approve", as_="ben")


def test_wrp5_separation_of_duties_keeps_the_first_decider_from_the_second(run) -> None:
    run.publish("""
key: sod
name: sod
start: first
steps:
  first: {type: approval, assignees: {groups: [buyers]}, outcomes: {approve: second}}
  second:
    type: approval
    assignees: {groups: [buyers]}
    exclude: [{step: first}]
    outcomes: {approve: done}
  done: {type: end, result: ok}
""")
    instance = run.start("sod")
    run.decide(open_task(instance), "approve", as_="ann")
    with pytest.raises(PermissionDenied):
        run.decide(open_task(instance), "approve", as_="ann")
    run.decide(open_task(instance), "approve", as_="ben")


FAMILIAR = """
key: familiar
name: familiar
start: first
steps:
  first: {type: approval, assignees: {groups: [buyers]}, outcomes: {approve: second}}
  second:
    type: approval
    assignees: {users: ["{{ first.decided_by }}"]}
    outcomes: {approve: third}
  third:
    type: approval
    assignees: {users: ["{{ first.decided_by }}"]}
    outcomes: {approve: done}
  done: {type: end, result: ok}
"""


def test_wrp7_retain_familiar_the_next_task_goes_to_who_did_the_last(run) -> None:
    run.publish(FAMILIAR)
    instance = run.start("familiar")
    run.decide(open_task(instance), "approve", as_="ben")
    assert offered(instance) == (["ben"], [], None)


def test_wrp6_case_handling_the_whole_case_stays_with_one_person(run) -> None:
    run.publish(FAMILIAR)
    instance = run.start("familiar")
    run.decide(open_task(instance), "approve", as_="ann")
    for _ in range(2):
        assert offered(instance) == (["ann"], [], None)
        run.decide(open_task(instance), "approve", as_="ann")
    instance.refresh_from_db()
    assert instance.status == "completed"


def test_wrp10_organizational_allocation_to_the_starters_manager(run) -> None:
    run.publish(approval("org", "{resolver: starter_manager}"))
    assert offered(run.start("org", as_="ann")) == (["max"], [], None)


def test_wrp11_automatic_execution_needs_nobody(run) -> None:
    run.publish("""
key: auto
name: auto
start: work
steps:
  work: {type: service, handler: test.a, next: done}
  done: {type: end, result: ok}
""")
    instance = run.start("auto")
    assert instance.status == "completed" and not HumanTask.objects.exists()


# ---- push patterns ----------------------------------------------------------------------
def test_wrp12_offer_to_a_single_person_who_may_then_take_it(run) -> None:
    run.publish(approval("single", "{users: [ben]}"))
    instance = run.start("single")
    assert offered(instance) == (["ben"], [], None)  # offered: nobody holds it yet
    services.task_claim(task_id=open_task(instance).pk, actor=user("ben"))
    assert offered(instance)[2] == "ben"


def test_wrp13_offer_to_several_the_first_to_take_it_holds_it(run) -> None:
    run.publish(approval("many", "{groups: [buyers]}"))
    instance = run.start("many")
    task = open_task(instance)
    services.task_claim(task_id=task.pk, actor=user("ann"))
    with pytest.raises(PermissionDenied):
        services.task_claim(task_id=task.pk, actor=user("ben"))


def test_wrp19_distribution_on_enablement_a_task_exists_once_its_step_is_reached(run) -> None:
    run.publish(FAMILIAR)
    instance = run.start("familiar")
    assert list(HumanTask.objects.values_list("step", flat=True)) == ["first"]
    run.decide(open_task(instance), "approve", as_="ann")
    assert list(HumanTask.objects.order_by("pk").values_list("step", flat=True)) == [
        "first", "second"
    ]  # fmt: skip


# ---- pull patterns ----------------------------------------------------------------------
def test_wrp21_wrp22_a_person_takes_an_offered_task_then_decides_it(run) -> None:
    run.publish(approval("pull", "{groups: [buyers]}"))
    instance = run.start("pull")
    services.task_claim(task_id=open_task(instance).pk, actor=user("ben"))
    run.decide(open_task(instance), "approve", as_="ben")
    instance.refresh_from_db()
    assert instance.status == "completed"


def test_wrp23_a_person_decides_an_offered_task_without_taking_it_first(run) -> None:
    run.publish(approval("direct-decide", "{groups: [buyers]}"))
    instance = run.start("direct-decide")
    run.decide(open_task(instance), "approve", as_="ann")
    assert HumanTask.objects.get(instance=instance).decided_by == user("ann")


def test_wrp24_wrp25_wrp26_queue_order_by_the_system_and_by_the_person(run) -> None:
    level = "variables: {level: {type: integer, required: true}}"
    run.publish(approval("queue", "{groups: [buyers]}", extra='priority: "{{ level }}"',
                         variables=level))  # fmt: skip
    low, high = (run.start("queue", {"level": n}) for n in (10, 90))
    ann = user("ann")

    def titles(**kw) -> list[int]:
        page, _ = queues.task_page(ann, queues.TaskFilter(tab="group", **kw), now=run.now)
        return [t.instance_id for t in page]

    # The system's order (WRP-24): by due date (none here), then as they came;
    # the person's (WRP-25): by priority, or only what passes a filter.
    assert titles() == [low.pk, high.pk]
    assert titles(sort="priority") == [high.pk, low.pk]
    assert titles(sort="age") == [low.pk, high.pk]
    assert titles(priority=50) == [high.pk]
    # Selection autonomy (WRP-26): any of them, in any order.
    run.decide(open_task(low), "approve", as_="ann")
    assert titles() == [high.pk]


# ---- detour patterns --------------------------------------------------------------------
def test_wrp27_delegation_the_delegate_decides_for_the_owner(run) -> None:
    run.publish(approval("delegate", "{users: [ann]}"))
    instance = run.start("delegate")
    services.task_delegate(task_id=open_task(instance).pk, actor=user("ann"), to=user("ben"))
    run.decide(open_task(instance), "approve", as_="ben")
    assert HumanTask.objects.get(instance=instance).decided_by == user("ben")


def test_wrp28_escalation_moves_an_idle_task_to_others(run) -> None:
    level = "{after: 1d, action: reassign, to: {users: [ben]}}"
    run.publish(approval("escalate", "{users: [ann]}", extra=f"escalation:\n      - {level}"))
    instance = run.start("escalate")
    run.advance(days=1, minutes=1)
    assert offered(instance)[0] == ["ben"]


def test_wrp29_deallocation_gives_a_taken_task_back_to_everyone(run) -> None:
    run.publish(approval("release", "{groups: [buyers]}"))
    instance = run.start("release")
    services.task_claim(task_id=open_task(instance).pk, actor=user("ann"))
    services.task_release(task_id=open_task(instance).pk, actor=user("ann"))
    assert offered(instance) == ([], ["buyers"], None)
    services.task_claim(task_id=open_task(instance).pk, actor=user("ben"))


def test_wrp30_stateful_reallocation_keeps_the_work_done_so_far(run) -> None:
    run.publish(approval("realloc", "{groups: [buyers]}"))
    instance = run.start("realloc")
    task = open_task(instance)
    services.task_claim(task_id=task.pk, actor=user("ann"))
    services.task_comment(task_id=task.pk, actor=user("ann"), text="vendor checked")
    services.task_reassign(task_id=task.pk, actor=user("ann"), to=user("ben"))
    assert offered(instance)[2] == "ben"
    assert list(TaskComment.objects.filter(task=task).values_list("text", flat=True)) == [
        "vendor checked"
    ]


def test_wrp31_stateless_reallocation_starts_the_work_afresh(run) -> None:
    run.publish(approval("restart", "{groups: [buyers]}"))
    instance = run.start("restart")
    first = open_task(instance)
    services.task_claim(task_id=first.pk, actor=user("ann"))
    services.task_comment(task_id=first.pk, actor=user("ann"), text="half done")
    services.instance_move(instance_id=instance.pk, source="ask", target="ask",
                           reason="start over with someone else", actor=user("otto"))  # fmt: skip
    fresh = open_task(instance)
    assert fresh.pk != first.pk and offered(instance) == ([], ["buyers"], None)
    assert not TaskComment.objects.filter(task=fresh).exists()


def test_wrp32_suspension_and_resumption_of_a_work_item(run) -> None:
    run.publish(approval("pause", "{users: [ann]}"))
    instance = run.start("pause")
    task = open_task(instance)
    ann = user("ann")

    def mine() -> list[int]:
        return [t.pk for t in queues.task_page(ann, queues.TaskFilter(), now=run.now)[0]]

    services.task_snooze(task_id=task.pk, actor=ann, until=run.now + timedelta(days=2))
    assert mine() == []  # suspended: out of her list
    services.task_snooze(task_id=task.pk, actor=ann, until=None)  # resumed
    assert mine() == [task.pk]


def test_wrp33_skip_an_operator_pushes_a_task_through(run) -> None:
    run.publish(approval("skip", "{users: [ann]}"))
    instance = run.start("skip")
    services.task_force_decide(task_id=open_task(instance).pk, actor=user("otto"),
                               outcome="approve", reason="ann is on leave")  # fmt: skip
    run.run()
    instance.refresh_from_db()
    assert instance.status == "completed"


def test_wrp34_redo_sends_the_flow_back_to_a_decided_step(run) -> None:
    run.publish(FAMILIAR)
    instance = run.start("familiar")
    run.decide(open_task(instance), "approve", as_="ann")
    services.instance_move(instance_id=instance.pk, source="second", target="first",
                           reason="decided on the wrong quote", actor=user("otto"))  # fmt: skip
    assert open_task(instance).step == "first"


# ---- auto-start patterns ------------------------------------------------------------------
def test_wrp36_wrp37_automated_work_starts_as_soon_as_it_is_created(run) -> None:
    run.publish("""
key: chain
name: chain
start: a
steps:
  a: {type: service, handler: test.a, next: b}
  b: {type: service, handler: test.b, next: done}
  done: {type: end, result: ok}
""")
    instance = run.start("chain")
    # Each step's run was created and leased to a worker in the same breath:
    # no run waited for anyone to pick it up.
    runs = StepRun.objects.filter(instance=instance).order_by("pk")
    assert [(r.step, r.created_at == r.started_at) for r in runs] == [("a", True), ("b", True)]


def test_wrp38_piled_execution_one_person_decides_a_pile_of_the_same_task(run, client) -> None:
    run.publish(approval("pile", "{groups: [buyers]}"))
    instances = [run.start("pile") for _ in range(3)]
    client.force_login(user("ben"))
    ids = [open_task(i).pk for i in instances]
    client.post("/inbox/bulk/", {"action": "approve", "task": ids})
    run.run()
    assert set(HumanTask.objects.values_list("status", flat=True)) == {"completed"}


# ---- multiple resources -----------------------------------------------------------------
def test_wrp42_simultaneous_execution_one_person_holds_several_tasks(run) -> None:
    run.publish(approval("several", "{groups: [buyers]}"))
    tasks = [open_task(run.start("several")) for _ in range(2)]
    for task in tasks:
        services.task_claim(task_id=task.pk, actor=user("ann"))
    assert HumanTask.objects.filter(claimed_by=user("ann"), status="open").count() == 2


def test_wrp43_additional_resources_a_task_needs_two_people(run) -> None:
    run.publish(approval("two", "{groups: [buyers]}", extra="quorum: {required: 2}"))
    instance = run.start("two")
    run.decide(open_task(instance), "approve", as_="ann")
    instance.refresh_from_db()
    assert instance.status == "waiting"  # one of two
    run.decide(open_task(instance), "approve", as_="ben")
    instance.refresh_from_db()
    assert instance.status == "completed"


# ---- auto-start: chained execution --------------------------------------------------------
def test_wrp39_chained_execution_the_next_task_of_the_case_opens_after_deciding(
    run, client
) -> None:
    run.publish(FAMILIAR)
    instance = run.start("familiar")
    first = open_task(instance)
    client.force_login(user("ann"))
    done = client.post(f"/tasks/{first.pk}/decide/", {"outcome": "approve"})
    second = open_task(instance)
    # ann decided `first`; `second` is hers (retain familiar): it opens next.
    assert done.status_code == 302 and done.url == f"/tasks/{second.pk}/"
    run.publish(approval("solo", "{groups: [buyers]}"))
    solo = run.start("solo")
    finished = client.post(f"/tasks/{open_task(solo).pk}/decide/", {"outcome": "approve"})
    assert finished.status_code == 302 and finished.url == "/inbox/"  # nothing more here
