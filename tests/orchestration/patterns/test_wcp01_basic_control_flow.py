"""The basic control-flow patterns (WCP1-5), cycles (WCP10) and cancelling a
case (WCP20), each run through the real services."""

from __future__ import annotations

import pytest

from orchestration import services
from tests.orchestration.patterns.conftest import calls

pytestmark = pytest.mark.django_db


def test_wcp1_sequence_steps_run_one_after_another(process) -> None:
    process.publish("""
key: seq
name: Seq
start: a
steps:
  a: {type: service, handler: test.a, next: b}
  b: {type: service, handler: test.b, next: c}
  c: {type: service, handler: test.c, next: done}
  done: {type: end, result: ok}
""")
    instance = process.start("seq")
    assert (instance.status, calls()) == ("completed", ["a", "b", "c"])


PARALLEL = """
key: par
name: Par
start: split
steps:
  split: {type: parallel, branches: [a, b]}
  a: {type: service, handler: test.a, next: joined}
  b: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: joined}}
  joined: {type: join, next: c}
  c: {type: service, handler: test.c, next: done}
  done: {type: end, result: ok}
"""


def test_wcp2_parallel_split_and_wcp3_synchronization(process) -> None:
    process.publish(PARALLEL)
    instance = process.start("par")
    # Both branches started; the service branch finished and waits at the join.
    assert calls() == ["a"] and len(process.open_tasks(instance)) == 1
    process.decide(process.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, calls()) == ("completed", ["a", "c"])  # c once, after both


CHOICE = """
key: choice
name: Choice
variables:
  amount: {type: number, required: true}
start: route
steps:
  route:
    type: decision
    branches:
      - {when: "amount > 100", next: a}
    default: b
  a: {type: service, handler: test.a, next: merged}
  b: {type: service, handler: test.b, next: merged}
  merged: {type: service, handler: test.c, next: done}
  done: {type: end, result: ok}
"""


@pytest.mark.parametrize(("amount", "path"), [(500, ["a", "c"]), (50, ["b", "c"])])
def test_wcp4_exclusive_choice_and_wcp5_simple_merge(process, amount, path) -> None:
    process.publish(CHOICE)
    instance = process.start("choice", {"amount": amount})
    assert (instance.status, calls()) == ("completed", path)


def test_wcp10_arbitrary_cycles_rework_until_approved(process) -> None:
    process.publish("""
key: rework
name: Rework
start: draft
steps:
  draft: {type: service, handler: test.a, next: review}
  review:
    type: approval
    assignees: {groups: [reviewers]}
    outcomes: {approve: done, rework: draft}
  done: {type: end, result: ok}
""")
    instance = process.start("rework")
    for _ in range(2):
        process.decide(process.open_tasks(instance)[0], "rework", as_="ria")
    process.decide(process.open_tasks(instance)[0], "approve", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, calls()) == ("completed", ["a", "a", "a"])


def test_wcp20_cancel_case_withdraws_everything_under_way(process) -> None:
    process.publish(PARALLEL)
    instance = process.start("par")
    (task,) = process.open_tasks(instance)
    services.instance_cancel(instance_id=instance.pk, actor=None)
    process.run()
    instance.refresh_from_db()
    task.refresh_from_db()
    assert (instance.status, task.status) == ("cancelled", "cancelled")
