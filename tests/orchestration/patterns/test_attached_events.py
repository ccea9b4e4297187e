"""Events attached to a step beyond the interrupting ones of WCP19: events
that do not interrupt (a path starts beside the step: reminders and
notifications as steps, repeating timers), `error` events that catch a
step's business error code, and `condition` events (also as `first_of`
branches) that fire when an expression over the variables becomes true."""

from __future__ import annotations

import pytest

from orchestration.models import HumanTask, ProcessEvent
from tests.orchestration.engine import handlers as test_handlers
from tests.orchestration.patterns.conftest import calls, refused

pytestmark = pytest.mark.django_db

REMIND = """
key: remind
name: Remind
start: approve
steps:
  approve:
    type: approval
    assignees: {groups: [reviewers]}
    events:
      - {timer: 1d, every: 1d, interrupting: false, next: nudge}
      - {message: question, interrupting: false, next: answer}
      - {timer: 5d, next: expired}
    outcomes: {ok: done}
  nudge: {type: service, handler: test.a, next: nudged}
  nudged: {type: end, terminate: false}
  answer: {type: service, handler: test.b, next: answered}
  answered: {type: end, terminate: false}
  expired: {type: end, result: expired}
  done: {type: end, result: ok}
"""


def test_a_repeating_reminder_runs_beside_the_open_task(process) -> None:
    process.publish(REMIND)
    instance = process.start("remind")
    process.advance(days=1)
    process.advance(days=1)
    process.advance(hours=12)
    assert calls() == ["a", "a"]  # once a day, the task still open
    task = HumanTask.objects.get(instance=instance)
    assert task.status == "open"
    process.decide(task, "ok", as_="ria")
    process.advance(days=3)  # leaving the step stops the reminders (and the expiry)
    instance.refresh_from_db()
    assert (instance.status, instance.result, calls()) == ("completed", "ok", ["a", "a"])


def test_a_message_that_does_not_interrupt_starts_a_path_each_time(process) -> None:
    process.publish(REMIND)
    instance = process.start("remind")
    process.message(instance, "question", {"q": "which vendor?"})
    process.message(instance, "question", {"q": "and the price?"})
    assert calls() == ["b", "b"]
    instance.refresh_from_db()
    assert instance.status == "waiting" and instance.variables["approve"]["q"] == "and the price?"
    assert HumanTask.objects.get(instance=instance).status == "open"
    kinds = [n["kind"] for e in ProcessEvent.objects.filter(instance=instance)
             for n in e.payload.get("notes", [])]  # fmt: skip
    assert kinds.count("step.event") == 2 and "step.interrupted" not in kinds


def test_an_interrupting_timer_still_ends_the_step_beside_the_reminders(process) -> None:
    process.publish(REMIND)
    instance = process.start("remind")
    process.advance(days=5)
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "expired")
    assert HumanTask.objects.get(instance=instance).status == "withdrawn"


def test_the_instance_completes_only_when_the_paths_beside_it_are_done(process) -> None:
    process.publish(REMIND.replace("done: {type: end, result: ok}",
                                   "done: {type: end, result: ok, terminate: false}")
                    .replace("nudge: {type: service, handler: test.a, next: nudged}",
                             "nudge: {type: approval, assignees: {groups: [reviewers]},"
                             " outcomes: {seen: nudged}}"))  # fmt: skip
    instance = process.start("remind")
    process.advance(days=1)
    approve, nudge = HumanTask.objects.filter(instance=instance).order_by("pk")
    process.decide(approve, "ok", as_="ria")
    instance.refresh_from_db()
    assert instance.status == "waiting"  # the reminder's own task is still open
    process.decide(nudge, "seen", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "")


def test_an_error_event_catches_a_business_error_of_a_service(process) -> None:
    process.publish("""
key: stock
name: Stock
start: reserve
steps:
  reserve:
    type: service
    handler: test.a
    events:
      - {error: OUT_OF_STOCK, next: backorder}
    next: done
  backorder: {type: service, handler: test.b, next: late}
  late: {type: end, result: backordered}
  done: {type: end, result: ok}
""")
    test_handlers.PLAN["test.a"] = ["error:OUT_OF_STOCK"]
    instance = process.start("stock")
    assert (instance.result, calls()) == ("backordered", ["a", "b"])
    caught = instance.variables["reserve"]
    assert caught["interrupted_by"] == "OUT_OF_STOCK" and caught["error"]["code"] == "OUT_OF_STOCK"
    test_handlers.PLAN["test.a"] = ["error:OTHER"]
    other = process.start("stock")
    assert other.status == "failed"  # an error nobody catches fails the instance, as before


def test_an_error_event_catches_a_sub_process_that_ended_failed(process) -> None:
    process.publish("""
key: kyc
name: KYC
start: check
steps:
  check: {type: service, handler: test.a, next: refused}
  refused: {type: end, status: failed, result: NO_ID}
""")
    process.publish("""
key: onboard
name: Onboard
start: verify
steps:
  verify:
    type: subprocess
    definition: kyc
    events:
      - {error: NO_ID, next: manual}
    next: done
  manual: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: done}}
  done: {type: end, result: ok}
""")
    instance = process.start("onboard")
    assert instance.status == "waiting"
    assert instance.variables["verify"]["child"]["result"] == "NO_ID"
    assert HumanTask.objects.get(instance=instance).step == "manual"


def test_an_error_event_on_a_for_each_step_interrupts_it_as_a_whole(process) -> None:
    process.publish("""
key: lines
name: Lines
start: each
steps:
  each:
    type: service
    handler: test.a
    for_each: {items: "[1, 2, 3]", as: item}
    events:
      - {error: BAD_LINE, next: fix}
    next: done
  fix: {type: end, result: fix}
  done: {type: end, result: ok}
""")
    test_handlers.PLAN["test.a"] = ["ok", "error:BAD_LINE"]
    instance = process.start("lines")
    assert instance.result == "fix"
    statuses = [e["status"] for e in instance.variables["each"]["entries"]]
    assert statuses == ["completed", "failed", "not_started"]


CONDITION = """
key: watch
name: Watch
variables:
  count: {type: integer, default: 0}
start: split
steps:
  split: {type: parallel, branches: [price, review]}
  price: {type: service, handler: test.count, outputs: [count], next: again}
  again:
    type: decision
    branches:
      - {when: "count < 3", next: price}
    default: priced
  priced: {type: end, terminate: false}
  review:
    type: approval
    assignees: {groups: [reviewers]}
    events:
      - {condition: "count >= 2", next: too_many}
    outcomes: {ok: reviewed}
  reviewed: {type: end, terminate: false}
  too_many: {type: end, result: repriced}
"""


def test_a_condition_event_fires_when_the_variables_make_it_true(process) -> None:
    process.publish(CONDITION)
    instance = process.start("watch")
    # The other branch counted to 2: the condition turned true and withdrew the review.
    assert (instance.status, instance.result) == ("completed", "repriced")
    assert HumanTask.objects.get(instance=instance).status in {"withdrawn", "cancelled"}
    assert calls() == ["count", "count"]


def test_a_first_of_wait_may_race_a_condition(process) -> None:
    process.publish("""
key: race
name: Race
variables:
  limit: {type: integer, required: true}
  count: {type: integer, default: 0}
start: split
steps:
  split: {type: parallel, branches: [tick, hold]}
  tick: {type: service, handler: test.count, outputs: [count], next: ticked}
  ticked: {type: end, terminate: false}
  hold:
    type: wait
    first_of:
      - {condition: "count >= limit", next: reached}
      - {message: stop, next: stopped}
  reached: {type: end, result: reached}
  stopped: {type: end, result: stopped}
""")
    assert process.start("race", {"limit": 1}).result == "reached"
    waiting = process.start("race", {"limit": 5})
    assert waiting.status == "waiting"
    assert process.message(waiting, "stop").result == "stopped"


def test_events_beside_a_step_are_validated(process) -> None:
    joins = REMIND.replace("answered: {type: end, terminate: false}", "answered: {type: end}")
    assert (
        "steps.approve.events[1].next: a path beside the step (interrupting: false) ends with"
        " terminate: false, or it would end the instance" in refused(joins)
    )
    on_approval = REMIND.replace("{timer: 5d, next: expired}", "{error: X, next: expired}")
    assert "steps.approve.events[2].error: a approval step ends with no error code to catch" in (
        refused(on_approval)
    )
    bad = CONDITION.replace('"count >= 2"', '"count >="')
    assert any(m.startswith("steps.review.events[0].condition:") for m in refused(bad))


def test_an_operator_changing_a_variable_satisfies_a_condition(process) -> None:
    from django.core.exceptions import PermissionDenied

    from orchestration import services
    from orchestration.exceptions import InvalidInput
    from tests.conftest import make_user

    process.publish("""
key: budget
name: Budget
variables:
  budget: {type: number, default: 0}
start: approve
steps:
  approve:
    type: approval
    assignees: {groups: [reviewers]}
    events:
      - {condition: "budget > 10000", next: board}
    outcomes: {ok: done}
  board: {type: end, result: board}
  done: {type: end, result: ok}
""")
    instance = process.start("budget")
    assert process.set_variables(instance, budget=5000).status == "waiting"
    assert process.set_variables(instance, budget=20000).result == "board"
    after = ProcessEvent.objects.filter(instance=instance, kind="instance.variables_set").last()
    assert after.payload["before"] == {"budget": 5000} and after.payload["after"] == {
        "budget": 20000
    }
    other = process.start("budget")
    with pytest.raises(InvalidInput) as bad:
        services.instance_set_variables(instance_id=other.pk, values={"budget": "lots", "x": 1},
                                        reason="fix", actor=None)  # fmt: skip
    assert set(bad.value.errors) == {"variables.budget", "variables.x"}
    with pytest.raises(PermissionDenied):
        services.instance_set_variables(instance_id=other.pk, values={"budget": 1},
                                        reason="fix", actor=make_user("nina"))  # fmt: skip


def test_a_wait_carries_events_too(process) -> None:
    process.publish("""
key: contract
name: Contract
start: signature
steps:
  signature:
    type: wait
    message: signed
    events:
      - {timer: 2d, every: 2d, interrupting: false, next: chase}
      - {message: cancelled, next: dropped}
    next: done
  chase: {type: service, handler: test.a, next: chased}
  chased: {type: end, terminate: false}
  dropped: {type: end, result: dropped}
  done: {type: end, result: signed}
""")
    instance = process.start("contract")
    process.advance(days=2)
    process.advance(days=2)
    assert calls() == ["a", "a"]  # chased twice while the signature is awaited
    assert process.message(instance, "signed").result == "signed"
    other = process.start("contract")
    assert process.message(other, "cancelled").result == "dropped"
    process.advance(days=5)
    assert calls() == ["a", "a"]  # neither wait is chased any more
