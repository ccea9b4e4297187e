"""WCP8 multi-merge, WCP21 structured loop, WCP23 transient trigger, WCP24
persistent trigger and WCP43 explicit termination, each run through the
real services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestration import services
from orchestration.exceptions import NoMatch
from orchestration.models import HumanTask
from tests.orchestration.patterns.conftest import calls

pytestmark = pytest.mark.django_db


def test_wcp8_multi_merge_each_branch_runs_the_shared_step_once(process) -> None:
    process.publish("""
key: merge
name: Merge
start: split
steps:
  split: {type: parallel, branches: [a, b]}
  a: {type: service, handler: test.a, next: shared}
  b: {type: service, handler: test.b, next: shared}
  shared: {type: service, handler: test.c, next: meet}
  meet: {type: join, next: done}
  done: {type: end, result: ok}
""")
    instance = process.start("merge")
    # Two threads reach `shared` without synchronising: it runs once for each.
    assert instance.status == "completed"
    assert sorted(calls()) == ["a", "b", "c", "c"]


LOOP = """
key: loop
name: Loop
variables:
  n: {type: integer, required: true}
  count: {type: integer, default: 0}
start: %(start)s
steps:
  check:
    type: decision
    branches:
      - {when: "count < n", next: body}
    default: done
  body: {type: service, handler: test.count, outputs: [count], next: check}
  done: {type: end, result: ok}
"""


@pytest.mark.parametrize(
    ("start", "n", "runs"),
    [("check", 3, 3), ("check", 0, 0), ("body", 3, 3), ("body", 0, 1)],
    ids=["while-3", "while-0", "repeat-3", "repeat-0"],
)
def test_wcp21_structured_loop_pre_and_post_tested(process, start, n, runs) -> None:
    # Entering at the condition is a while loop (the body may not run);
    # entering at the body is a repeat loop (it runs at least once).
    process.publish(LOOP % {"start": start})
    instance = process.start("loop", {"n": n})
    assert (instance.status, calls(), instance.variables["count"]) == (
        "completed", ["count"] * runs, runs
    )  # fmt: skip


WAITS = """
key: waits
name: Waits
start: ask
steps:
  ask: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: signal}}
  signal: {type: wait, message: go, next: done}
  done: {type: end, result: ok}
"""


def test_wcp23_transient_trigger_is_lost_when_nothing_waits(process) -> None:
    process.publish(WAITS)
    instance = services.instance_start(key="waits", variables={}, actor=None, business_key="K1")
    process.run()
    # Nothing waits for `go` yet: without a ttl the trigger is refused, not kept.
    with pytest.raises(NoMatch):
        services.message_correlate(name="go", business_key="K1", payload={}, actor=None,
                                   now=process.now)  # fmt: skip
    process.decide(process.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert instance.status == "waiting"  # the earlier trigger did not count


def test_wcp24_persistent_trigger_is_kept_until_the_wait_takes_it(process) -> None:
    process.publish(WAITS)
    instance = services.instance_start(key="waits", variables={}, actor=None, business_key="K2")
    process.run()
    kept = services.message_correlate(
        name="go", business_key="K2", payload={"n": 1}, actor=None, ttl=timedelta(days=1),
        now=process.now,
    )  # fmt: skip
    assert kept.delivered == [] and kept.buffered is not None
    process.decide(process.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, instance.variables["signal"]) == ("completed", {"n": 1})


def test_wcp43_explicit_termination_ends_every_branch(process) -> None:
    process.publish("""
key: stop
name: Stop
variables:
  fatal: {type: boolean, required: true}
start: split
steps:
  split: {type: parallel, branches: [precheck, review]}
  precheck: {type: service, handler: test.a, next: check}
  check:
    type: decision
    branches:
      - {when: fatal, next: abort}
    default: meet
  review: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: meet}}
  meet: {type: join, next: done}
  abort: {type: end, result: aborted}
  done: {type: end, result: ok}
""")
    instance = process.start("stop", {"fatal": True})
    # One branch reached an end: the instance ends, the other branch's task goes.
    assert (instance.status, instance.result) == ("completed", "aborted")
    assert HumanTask.objects.get(instance=instance).status == "cancelled"
    ok = process.start("stop", {"fatal": False})
    process.decide(process.open_tasks(ok)[0], "ok", as_="ria")
    ok.refresh_from_db()
    assert (ok.status, ok.result) == ("completed", "ok")
