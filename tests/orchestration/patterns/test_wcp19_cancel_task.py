"""WCP19, cancel task: an event attached to a step withdraws it while it runs,
and the flow goes on from the event ("the requester withdrew the request").
Events attached to approval, service, http and sub-process steps: a message
(by name, or by business key), a timer or an `until` date; they interrupt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from orchestration import services
from orchestration.exceptions import InstanceConflict
from orchestration.models import HumanTask, StepRun, Timer
from orchestration.testing import ProcessTest
from tests.conftest import make_user
from tests.orchestration.patterns.conftest import notes, refused

pytestmark = pytest.mark.django_db

REQUEST = """
key: request
name: Request
start: approve
steps:
  approve:
    type: approval
    assignees: {groups: [managers]}
    escalation:
      - {after: 2d, action: remind}
    events:
      - {message: withdrawn, next: told}
      - {timer: 5d, next: expired}
    outcomes: {approve: ship, reject: refused}
  ship:
    type: service
    external: carrier
    events:
      - {message: withdrawn, next: told}
    next: shipped
  told: {type: end, result: withdrawn}
  expired: {type: end, result: expired}
  refused: {type: end, result: refused}
  shipped: {type: end, result: shipped}
"""


@pytest.fixture
def run(roles) -> Iterator[ProcessTest]:
    make_user("mia", "managers")
    with ProcessTest() as running:
        running.publish(REQUEST)
        yield running


def test_wcp19_cancel_task_a_message_withdraws_an_open_approval(run) -> None:
    instance = run.start("request")
    (task,) = run.open_tasks(instance)
    instance = run.message(instance, "withdrawn", {"by": "alice"})
    assert (instance.status, instance.result) == ("completed", "withdrawn")
    task.refresh_from_db()
    assert task.status == "withdrawn"  # not "cancelled": an event withdrew it
    assert instance.variables["approve"] == {
        "by": "alice", "interrupted_by": "withdrawn", "branch": 0,
    }  # fmt: skip
    # The escalation and the 5-day event went with the step.
    assert set(Timer.objects.filter(instance=instance).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert [(n["step"], n["by"]) for n in notes(instance, "step.interrupted")] == [
        ("approve", "withdrawn")
    ]


def test_wcp19_cancel_task_a_timer_event_routes_a_step_nobody_decided(run) -> None:
    instance = run.start("request")
    run.advance(days=5)
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "expired")
    assert instance.variables["approve"] == {"interrupted_by": "timer", "branch": 1}
    assert HumanTask.objects.get(instance=instance).status == "withdrawn"


def test_wcp19_cancel_task_a_decision_withdraws_the_events(run) -> None:
    instance = run.start("request")
    (task,) = run.open_tasks(instance)
    run.decide(task, "approve", as_="mia")
    run.advance(days=6)  # the 5-day event went with the decision
    instance.refresh_from_db()
    assert [t["step"] for t in instance.state["tokens"].values()] == ["ship"]
    pending = Timer.objects.filter(instance=instance, status="pending")
    assert not pending.exists()


def test_wcp19_cancel_task_a_message_fences_an_external_step_in_flight(run) -> None:
    instance = run.start("request")
    run.decide(run.open_tasks(instance)[0], "approve", as_="mia")
    (ship,) = StepRun.objects.filter(instance=instance, step="ship")
    assert ship.status == "ready"
    instance = run.message(instance, "withdrawn")
    assert (instance.status, instance.result) == ("completed", "withdrawn")
    ship.refresh_from_db()
    assert ship.status == "cancelled"  # an external worker's result now finds it fenced
    with pytest.raises(InstanceConflict):  # nothing waits for it any more
        services.instance_send_message(
            instance_id=instance.pk, name="withdrawn", payload={}, actor=None
        )


def test_wcp19_cancel_task_by_business_key_through_the_correlation(run) -> None:
    instance = services.instance_start(
        key="request", variables={}, actor=None, business_key="REQ-4", now=run.now
    )
    run.run()
    done = services.message_correlate(
        name="withdrawn", business_key="REQ-4", payload={}, actor=None, now=run.now
    )
    assert done.delivered == [instance.pk]
    run.run()
    instance.refresh_from_db()
    assert instance.result == "withdrawn"


def test_wcp19_cancel_task_a_message_kept_before_the_step_withdraws_it_on_arrival(run) -> None:
    services.message_correlate(
        name="withdrawn", business_key="REQ-5", payload={}, actor=None,
        ttl=timedelta(hours=1), now=run.now,
    )  # fmt: skip
    instance = services.instance_start(
        key="request", variables={}, actor=None, business_key="REQ-5", now=run.now
    )
    run.run()
    instance.refresh_from_db()
    assert instance.result == "withdrawn"


@pytest.mark.parametrize(
    ("events", "error"),
    [
        ("[{message: a, next: e}, {message: a, next: e}]",
         "steps.s.events[1].message: 'a' is already an event of this step"),
        ("[{message: a, timer: 1d, next: e}]",
         "steps.s.events[0]: needs exactly one of timer, until, message, condition"),
        ("[{timer: 1d, next: nowhere}]", "steps.s.events[0].next: "),
        ("[{message: a, next: e, interrupting: false}]",
         "steps.s.events[0].next: a path beside the step (interrupting: false) ends with"
         " terminate: false, or it would end the instance"),
        ("[{error: X, next: e, interrupting: false}]",
         "steps.s.events[0].interrupting: a step that failed cannot go on"),
        ("[{timer: 1d, every: 1h, next: e}]",
         "steps.s.events[0].every: repeats a timer event with interrupting: false"),
    ],
)  # fmt: skip
def test_attached_events_are_checked_one_by_one(db, events: str, error: str) -> None:
    source = (
        "key: s\nname: S\nstart: s\nsteps:\n"
        f"  s: {{type: service, handler: demo.check_budget, events: {events}, next: e}}\n"
        "  e: {type: end}\n"
    )
    messages = refused(source)
    assert any(m.startswith(error) for m in messages), messages


def test_a_first_of_wait_takes_its_events_as_branches(db) -> None:
    source = (
        "key: s\nname: S\nstart: w\nsteps:\n"
        "  w: {type: wait, first_of: [{message: a, next: e}, {timer: 1d, next: e}],"
        " events: [{message: b, next: e}]}\n"
        "  e: {type: end}\n"
    )
    assert refused(source) == [
        "steps.w: a first_of wait takes each event and next in its branches, not events"
    ]


def test_a_failed_step_waits_for_its_operator_not_for_its_events(process) -> None:
    from orchestration.models import ProcessInstance
    from tests.orchestration.engine import handlers as test_handlers

    process.publish("""
key: charge
name: Charge
start: charge
steps:
  charge:
    type: service
    handler: test.a
    events: [{timer: 1d, next: gave_up}, {message: stop, next: gave_up}]
    next: done
  gave_up: {type: end, result: gave_up}
  done: {type: end, result: ok}
""")
    test_handlers.PLAN["test.a"] = ["error:DECLINED"]
    instance = process.start("charge")
    assert instance.status == "failed"
    process.advance(days=2)
    with pytest.raises(InstanceConflict):
        services.instance_send_message(instance_id=instance.pk, name="stop", payload={},
                                       actor=None)  # fmt: skip
    instance = ProcessInstance.objects.get(pk=instance.pk)
    assert (instance.status, instance.result) == ("failed", "")


def test_wcp19_cancel_task_a_message_withdraws_a_running_sub_process(process) -> None:
    from orchestration.models import ProcessInstance

    process.publish("""
key: inner
name: Inner
start: hold
steps:
  hold: {type: wait, message: go, next: done}
  done: {type: end, result: ok}
""")
    process.publish("""
key: outer
name: Outer
start: call
steps:
  call:
    type: subprocess
    definition: inner
    events: [{message: stop, next: stopped}]
    next: done
  stopped: {type: end, result: stopped}
  done: {type: end, result: ok}
""")
    instance = process.start("outer")
    (child,) = ProcessInstance.objects.filter(parent=instance)
    instance = process.message(instance, "stop")
    child.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "stopped")
    assert child.status == "cancelled"
