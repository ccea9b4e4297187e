"""WCP11 implicit termination: an `end` with `terminate: false` ends only its
branch; a parallel waits for one branch fewer, a region ends when nothing is
left inside it, and the instance completes when nothing is left at all."""

from __future__ import annotations

import pytest

from tests.orchestration.patterns.conftest import calls, refused

pytestmark = pytest.mark.django_db

NO_JOIN = """
key: fanout
name: Fan out
start: split
steps:
  split: {type: parallel, branches: [tell, review]}
  tell: {type: service, handler: test.a, next: told}
  told: {type: end, terminate: false, result: told}
  review: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: reviewed}}
  reviewed: {type: end, terminate: false, result: reviewed}
"""


def test_wcp11_the_instance_completes_when_no_branch_is_left(process) -> None:
    process.publish(NO_JOIN)
    instance = process.start("fanout")
    # One branch ended on its own; the other still waits for a person.
    assert (instance.status, calls()) == ("waiting", ["a"])
    process.decide(process.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "reviewed")
    assert instance.state["tokens"] == {} and instance.state["joins"] == {}


def test_wcp11_a_join_waits_only_for_branches_that_did_not_end(process) -> None:
    process.publish("""
key: maybe
name: Maybe
variables:
  skip: {type: boolean, required: true}
start: split
steps:
  split: {type: parallel, branches: [a, check]}
  a: {type: service, handler: test.a, next: meet}
  check:
    type: decision
    branches:
      - {when: skip, next: skipped}
    default: review
  review: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: meet}}
  skipped: {type: end, terminate: false}
  meet: {type: join, next: after}
  after: {type: service, handler: test.c, next: done}
  done: {type: end, result: ok}
""")
    quick = process.start("maybe", {"skip": True})
    assert (quick.status, calls()) == ("completed", ["a", "c"])  # the join did not wait
    slow = process.start("maybe", {"skip": False})
    assert slow.status == "waiting"
    process.decide(process.open_tasks(slow)[0], "ok", as_="ria")
    slow.refresh_from_db()
    assert (slow.status, calls()) == ("completed", ["a", "c", "a", "c"])


def test_wcp11_a_region_ends_when_nothing_is_left_inside(process) -> None:
    process.publish("""
key: boxed
name: Boxed
start: box
steps:
  box:
    type: region
    start: split
    steps:
      split: {type: parallel, branches: [x, y]}
      x: {type: service, handler: test.a, next: x_done}
      x_done: {type: end, terminate: false}
      y: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: y_done}}
      y_done: {type: end, terminate: false, result: both}
    next: after
  after: {type: service, handler: test.c, next: done}
  done: {type: end, result: ok}
""")
    instance = process.start("boxed")
    assert calls() == ["a"]
    process.decide(process.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, calls()) == ("completed", ["a", "c"])
    assert instance.variables["box"] == {"result": "both", "end": "y_done"}


def test_quiet_ends_are_validated(process) -> None:
    loud = NO_JOIN.replace("told: {type: end, terminate: false, result: told}",
                           "told: {type: end, result: told}").replace(
        "reviewed: {type: end, terminate: false, result: reviewed}",
        "reviewed: {type: end, result: reviewed}")  # fmt: skip
    assert (
        "steps.split.branches: branches never meet at a join (or end each with terminate: false)"
        in refused(loud)
    )
    failed = NO_JOIN.replace("terminate: false, result: told", "terminate: false, status: failed")
    assert (
        "steps.told.terminate: an end with a status ends the instance: it cannot be false"
        in refused(failed)
    )
    one_alone = """
key: alone
name: Alone
start: split
steps:
  split: {type: parallel, branches: [a, b]}
  a: {type: service, handler: test.a, next: meet}
  b: {type: service, handler: test.b, next: stop}
  stop: {type: end, result: stop}
  meet: {type: join, next: done}
  done: {type: end, result: ok}
"""
    assert (
        "steps.split.branches[1]: never reaches the join 'meet': end it with terminate: false"
        " to let it finish on its own" in refused(one_alone)
    )
